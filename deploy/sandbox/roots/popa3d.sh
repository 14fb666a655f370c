# Root "popa3d" for deploy/sandbox/popa3d-sandbox.sh: popa3d, a POP3 server without CAPA, run
# inetd-style by socat. Read by test-root.sh.
packages=(popa3d socat)
