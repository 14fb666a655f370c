#!/usr/bin/env bash
# make-certs.sh DIR — a throw-away certificate authority for sandboxes and tests.
# Writes into DIR (created if missing), unless DIR/ca.pem already exists:
#   ca.pem / ca.key                 self-signed CA "popgate sandbox CA"
#   localhost.pem / localhost.key   leaf for DNS:localhost, IP:127.0.0.1 (signed by the CA)
#   other.pem / other.key           leaf for DNS:other.example only (same CA: trusted, wrong name)
#   selfsigned.pem / selfsigned.key self-signed leaf for localhost (no CA vouches for it)
set -euo pipefail
dir=${1:?usage: make-certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
[ -f ca.pem ] && exit 0
umask 077
days=3650
openssl req -x509 -newkey rsa:2048 -nodes -days "$days" -subj "/CN=popgate sandbox CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout ca.key -out ca.pem 2>/dev/null
leaf() {  # leaf NAME SAN
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$1.key" -out "$1.csr" 2>/dev/null
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$2" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days "$days" \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
leaf localhost "DNS:localhost,IP:127.0.0.1"
leaf other "DNS:other.example"
openssl req -x509 -newkey rsa:2048 -nodes -days "$days" -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout selfsigned.key -out selfsigned.pem 2>/dev/null
chmod 644 ./*.pem
chmod 640 ./*.key
