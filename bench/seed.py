#!/usr/bin/env python3
"""seed.py — realistic benchmark mail for popgate, written straight into a sandbox Maildir.

    seed.py write  MAILDIR COUNT [--seed S] [--prefix P] [--owner UID:GID] [--big-mb MB]
                   [--manifest FILE] [--pop PORT USER]
    seed.py files  OUTDIR COUNT [--seed S] [--prefix P]          the same messages as .eml files
    seed.py verify MANIFEST FOLDER_DIR [--sample K]               byte-compare a target folder

`write` adds COUNT messages to MAILDIR/new (creating MAILDIR/{cur,new,tmp} when missing), owned by
UID:GID — the sandbox's MAIL_UID/MAIL_GID from `dovecot-sandbox.sh env`, since as root Dovecot
reads mail as that user. Files hold CRLF line ends, exactly the bytes a client will RETR (the
sandbox stores mail with mail_save_crlf = yes); the name carries S= and W= (both the file size, as
CRLF is already the wire form) so Dovecot need not stat or read them to know their size. Dovecot
notices new/ on its next sync of the mailbox: with --pop, seed.py logs in over POP3 (plaintext
USER/PASS, password pw-USER), and checks that STAT shows COUNT messages of the expected total size.
--manifest writes one "sha256 size message-id" line per message for `verify`.

The mix is deterministic (random.Random(seed), fixed dates): 90% text/plain messages of 2-20 KB
with realistic headers (Received, From, To, Subject, Date, Message-ID, MIME), about a fifth of
them with UTF-8 8-bit text (and an encoded-word Subject), about a sixth with lines that begin with
a dot (including a line that is just "."), and 10% multipart/mixed messages of 50-300 KB carrying
a base64 attachment. --big-mb MB instead writes ONE message of about MB MiB (base64 attachment).

Why not `dovecot-sandbox.sh seed`: it runs one doveadm process per message (measured on this
machine kind, busy: 20 messages in 1.7 s, about 12 messages/s), so 2000 messages would take close
to three minutes; seed.py writes them in about a second.

`verify` hashes every message file in FOLDER_DIR/cur and FOLDER_DIR/new and compares the multiset
of (sha256, size) with the manifest: exit 0 when equal, else 1 with what is missing or extra.
--sample K also prints a byte-level diff position for the first K mismatching messages whose
Message-ID is found in both.
"""

import argparse
import base64
import hashlib
import os
import random
import socket
import sys
import time

WORDS = """the of and to in is that for it as was with be by on not he this are or his from at which
but have an they you were her she there one all we their been has when who will more no if out so
said what up its about into than them can only other new some could time these two may then do
first any my now such like our over man me even most made after also did many before must through
back years where much your way well down should because each just those people how too little
state good very make world still own see men work long get here between both life being under never
day same another know while last might us great old year off come since against go came right used
take three meeting budget report quarterly invoice shipment delivery server backup schedule review
draft agenda minutes proposal contract update release patch ticket customer account password reset
newsletter conference travel hotel flight booking receipt payment reminder deadline project""".split()

UTF8_SNIPPETS = [
    "Grüße aus München, schöne Woche!",
    "Ça va très bien, merci — à bientôt.",
    "Привет, как дела? Всё хорошо.",
    "Монгол хэл дээрх мэндчилгээ: Сайн байна уу?",
    "日本語のテキストも含まれています。",
    "Ελληνικά: Καλημέρα σας!",
    "Smörgåsbord, crème brûlée, jalapeño, naïve café.",
    "emoji: 📬 ✅ 🚀",
]

NAMES = ["Alice Martin", "Bob Chen", "Carla Rossi", "Dmitri Ivanov", "Eva Müller", "Farid Haddad",
         "Grace Kim", "Hiro Tanaka", "Ines García", "Jonas Berg", "Kofi Mensah", "Lena Novak"]
DOMAINS = ["example.com", "example.org", "mail.example.net", "isp.example", "work.example"]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
BASE_TIME = 1_700_000_000  # fixed: the same seed gives the same bytes on every run


def rfc5322_date(ts, offset_min):
    t = time.gmtime(ts + offset_min * 60)
    sign = "+" if offset_min >= 0 else "-"
    off = abs(offset_min)
    return (f"{DAYS[t.tm_wday]}, {t.tm_mday:02d} {MONTHS[t.tm_mon - 1]} {t.tm_year} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {sign}{off // 60:02d}{off % 60:02d}")


def encoded_word(text):
    return "=?UTF-8?B?" + base64.b64encode(text.encode()).decode() + "?="


class Generator:
    """Builds message i of a deterministic sequence; every message depends only on (seed, i)."""

    def __init__(self, seed, prefix):
        self.seed = seed
        self.prefix = prefix
        pool_rng = random.Random(f"pool-{seed}")
        # A pool of ready-made text lines: composing bodies from it is ~50x faster than per word.
        self.lines = []
        for _ in range(600):
            n = pool_rng.randint(6, 13)
            line = " ".join(pool_rng.choice(WORDS) for _ in range(n))
            self.lines.append(line[0].upper() + line[1:] + ".")
        self.utf8_lines = [s for s in UTF8_SNIPPETS]

    def _text_body(self, rng, target, utf8, dots):
        out = []
        size = 0
        while size < target:
            r = rng.random()
            if utf8 and r < 0.08:
                line = rng.choice(self.utf8_lines)
            elif dots and r < 0.12:
                # Lines a POP3 server must dot-stuff: ".", "..", ".leading text".
                line = rng.choice([".", "..", ". indented after a dot", ".hidden-file", "...and so on"])
            elif r < 0.18:
                line = ""  # paragraph break
            elif r < 0.22:
                line = "> " + rng.choice(self.lines)  # quoted reply
            else:
                line = rng.choice(self.lines)
            out.append(line)
            size += len(line.encode()) + 2
        return out

    def message(self, i, big_bytes=0):
        rng = random.Random(f"{self.seed}-{self.prefix}-{i}")
        sender = rng.choice(NAMES)
        sender_addr = sender.split()[0].lower() + "@" + rng.choice(DOMAINS)
        to_addr = f"{self.prefix}@bench.example"
        ts = BASE_TIME + i * 617 + rng.randint(0, 600)
        utf8 = rng.random() < 0.2
        dots = rng.random() < 0.17
        attach = big_bytes > 0 or rng.random() < 0.10
        subject_text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))).capitalize()
        if utf8:
            subject = encoded_word(rng.choice(UTF8_SNIPPETS)[:24] + " " + subject_text)
            from_hdr = f"{encoded_word(sender + ' ü')} <{sender_addr}>"
        else:
            subject = subject_text
            from_hdr = f"{sender} <{sender_addr}>"
        msgid = f"<{self.prefix}.{i}.{rng.getrandbits(48):012x}@bench.example>"
        relay = f"mx{rng.randint(1, 9)}.{rng.choice(DOMAINS)}"
        headers = [
            f"Return-Path: <{sender_addr}>",
            f"Received: from {relay} ({relay} [192.0.2.{rng.randint(1, 254)}])",
            f"\tby pop.bench.example with ESMTPS id {rng.getrandbits(40):010x}",
            f"\tfor <{to_addr}>; {rfc5322_date(ts + 3, 0)}",
            f"Received: from localhost by {relay}; {rfc5322_date(ts + 1, 60)}",
            f"From: {from_hdr}",
            f"To: <{to_addr}>",
            f"Subject: {subject}",
            f"Date: {rfc5322_date(ts, rng.choice([-300, 0, 60, 120, 330]))}",
            f"Message-ID: {msgid}",
            "MIME-Version: 1.0",
        ]
        charset = "utf-8" if utf8 else "us-ascii"
        cte = "8bit" if utf8 else "7bit"
        if not attach:
            headers += [f"Content-Type: text/plain; charset={charset}; format=flowed",
                        f"Content-Transfer-Encoding: {cte}"]
            body = self._text_body(rng, rng.randint(2 * 1024, 20 * 1024) - 700, utf8, dots)
        else:
            boundary = f"=_bench_{rng.getrandbits(64):016x}"
            headers.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
            att_size = big_bytes if big_bytes else rng.randint(50 * 1024, 300 * 1024) * 3 // 4
            text = self._text_body(rng, rng.randint(500, 3000), utf8, dots)
            # randbytes keeps the attachment deterministic; 76-character base64 lines.
            payload = base64.encodebytes(rng.randbytes(att_size)).decode().rstrip("\n").split("\n")
            name = rng.choice(["report.pdf", "photo.jpg", "archive.zip", "scan.tiff"])
            body = (["This is a multi-part message in MIME format.", "", f"--{boundary}",
                     f"Content-Type: text/plain; charset={charset}",
                     f"Content-Transfer-Encoding: {cte}", ""] + text +
                    ["", f"--{boundary}",
                     f'Content-Type: application/octet-stream; name="{name}"',
                     "Content-Transfer-Encoding: base64",
                     f'Content-Disposition: attachment; filename="{name}"', ""] + payload +
                    ["", f"--{boundary}--"])
        lines = headers + [""] + body
        return msgid, ("\r\n".join(lines) + "\r\n").encode("utf-8")


def pop_stat(port, user):
    """(count, octets) from POP3 STAT, plaintext USER/PASS on 127.0.0.1:port."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        f = s.makefile("rb")
        replies = []
        assert f.readline().startswith(b"+OK")
        for cmd in (f"USER {user}", f"PASS pw-{user}", "STAT", "QUIT"):
            s.sendall(cmd.encode() + b"\r\n")
            line = f.readline()
            if not line.startswith(b"+OK"):
                raise RuntimeError(f"POP3 {cmd.split()[0]} failed: {line!r}")
            replies.append(line)
        _, count, octets = replies[2].split()[:3]
        return int(count), int(octets)


def write_maildir(maildir, count, seed=4, prefix="bench", owner=None, big_mb=0):
    """Adds `count` messages to maildir/new; returns (manifest lines, total bytes, messages that
    were there before)."""
    gen = Generator(seed, prefix)
    uid, gid = (int(x) for x in owner.split(":")) if owner else (-1, -1)
    for sub in ("", "cur", "new", "tmp"):
        d = os.path.join(maildir, sub)
        os.makedirs(d, mode=0o700, exist_ok=True)
        if uid >= 0:
            os.chown(d, uid, gid)
    newdir = os.path.join(maildir, "new")
    before = sum(len(os.listdir(os.path.join(maildir, d))) for d in ("cur", "new"))
    manifest = []
    total = 0
    big = int(big_mb * 1024 * 1024 * 3 / 4) if big_mb else 0
    for i in range(count):
        msgid, data = gen.message(i, big)
        size = len(data)
        total += size
        # Unique, sortable maildir name: fixed time, message number, seed, prefix.
        name = f"{BASE_TIME + i}.M{i:06d}P{seed}Q{prefix}.bench,S={size},W={size}"
        path = os.path.join(newdir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        if uid >= 0:
            os.chown(path, uid, gid)
        manifest.append(f"{hashlib.sha256(data).hexdigest()} {size} {msgid}")
    return manifest, total, before


def check_pop(port, user, expected_count, expected_octets=None):
    """Makes Dovecot sync the mailbox (a POP3 login does) and checks STAT."""
    count, octets = pop_stat(port, user)
    if count != expected_count:
        raise RuntimeError(f"POP3 STAT of {user} shows {count} messages, expected {expected_count}")
    if expected_octets is not None and octets != expected_octets:
        raise RuntimeError(f"POP3 STAT of {user} shows {octets} octets, expected {expected_octets}")
    return count, octets


def cmd_write(a):
    manifest, total, before = write_maildir(a.maildir, a.count, a.seed, a.prefix, a.owner,
                                            a.big_mb)
    if a.manifest:
        with open(a.manifest, "w") as fh:
            fh.write("\n".join(manifest) + "\n")
    if a.pop:
        try:
            check_pop(int(a.pop[0]), a.pop[1], before + a.count, total if before == 0 else None)
        except RuntimeError as exc:
            sys.exit(f"seed: {exc}")
    print(f"seed: wrote {a.count} messages, {total} bytes into {a.maildir}", file=sys.stderr)


def cmd_files(a):
    gen = Generator(a.seed, a.prefix)
    os.makedirs(a.outdir, exist_ok=True)
    for i in range(a.count):
        _, data = gen.message(i)
        with open(os.path.join(a.outdir, f"{i:06d}.eml"), "wb") as fh:
            fh.write(data)


def cmd_verify(a):
    expected = {}
    msgids = {}
    with open(a.manifest) as fh:
        for line in fh:
            if not line.strip():
                continue
            digest, size, msgid = line.split(" ", 2)
            key = (digest, int(size))
            expected[key] = expected.get(key, 0) + 1
            msgids[msgid.strip()] = key
    found = {}
    by_msgid = {}
    for sub in ("cur", "new"):
        d = os.path.join(a.folder, sub)
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            with open(os.path.join(d, name), "rb") as fh:
                data = fh.read()
            key = (hashlib.sha256(data).hexdigest(), len(data))
            found[key] = found.get(key, 0) + 1
            start = data.find(b"\nMessage-ID: ")
            if start >= 0:
                mid = data[start + 13:data.find(b"\r\n", start + 1)].decode("latin-1")
                by_msgid[mid] = data
    missing = sum(max(0, n - found.get(k, 0)) for k, n in expected.items())
    extra = sum(max(0, n - expected.get(k, 0)) for k, n in found.items())
    if missing or extra:
        print(f"verify: {missing} expected messages missing or altered, {extra} unexpected "
              f"files in {a.folder}", file=sys.stderr)
        shown = 0
        for mid, key in msgids.items():
            if found.get(key) or mid not in by_msgid or shown >= a.sample:
                continue
            print(f"verify: {mid}: target copy differs ({len(by_msgid[mid])} bytes, "
                  f"expected {key[1]})", file=sys.stderr)
            shown += 1
        return 1
    print(f"verify: all {sum(expected.values())} messages byte-identical", file=sys.stderr)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("maildir")
    w.add_argument("count", type=int)
    w.add_argument("--seed", type=int, default=4)
    w.add_argument("--prefix", default="bench")
    w.add_argument("--owner")
    w.add_argument("--big-mb", type=float, default=0)
    w.add_argument("--manifest")
    w.add_argument("--pop", nargs=2, metavar=("PORT", "USER"))
    f = sub.add_parser("files")
    f.add_argument("outdir")
    f.add_argument("count", type=int)
    f.add_argument("--seed", type=int, default=4)
    f.add_argument("--prefix", default="bench")
    v = sub.add_parser("verify")
    v.add_argument("manifest")
    v.add_argument("folder")
    v.add_argument("--sample", type=int, default=5)
    a = p.parse_args()
    if a.cmd == "write":
        cmd_write(a)
    elif a.cmd == "files":
        cmd_files(a)
    else:
        sys.exit(cmd_verify(a))


if __name__ == "__main__":
    main()
