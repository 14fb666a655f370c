#!/usr/bin/env python3
"""Writes the hand-made seed inputs of each fuzz target into tests/fuzz/corpus/<target>/seed-*.

Seeds are realistic server transcripts (Dovecot greetings, CAPA, UIDL/LIST listings, RETR bodies
with dot-stuffing, IMAP greetings, FETCH with literals, APPENDUID) and the hostile inputs of
docs/protocol-notes.md ("Hostile inputs popgate survives"), laid out as each target reads its input (the header comment of
each <target>.cpp). Re-running rewrites the seed-* files only; files that libFuzzer added by
merging (named by their SHA-1) are left alone.
  usage: tests/fuzz/make-seeds.py [CORPUS_DIR]   (default: corpus/ beside this script)
"""

import os
import struct
import sys

CORPUS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")

# Header bytes: chunk-pattern seeds and limits (see each target's contract comment).
NO_LIMIT = 0xFF


def write(target, name, data):
    directory = os.path.join(CORPUS, target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "seed-" + name), "wb") as f:
        f.write(data)


def b(text):
    return text.encode("utf-8") if isinstance(text, str) else text


# ---- POP3 status lines: [seed][limit] stream ----
def pop3_reply(name, stream, seed=0x11, limit=NO_LIMIT):
    write("pop3_reply_fuzz", name, bytes([seed, limit]) + b(stream))


pop3_reply("dovecot-session",
           "+OK Dovecot (Debian) ready.\r\n"
           "+OK\r\n"
           "+OK Logged in.\r\n"
           "+OK 2 messages:\r\n"
           "+OK 1 messages deleted.\r\n"
           "+OK Logging out, messages deleted.\r\n", seed=0x05)
pop3_reply("apop-greeting", "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n")
pop3_reply("resp-codes",
           "-ERR [IN-USE] Mailbox is locked by another POP3 session.\r\n"
           "-ERR [SYS/TEMP] Temporary failure, try again later\r\n"
           "-ERR [SYS/PERM] Permanent failure\r\n"
           "-ERR [LOGIN-DELAY] Too soon since last login\r\n"
           "-ERR [AUTH] Authentication failed.\r\n"
           "+OK [XTRA/one/two] fine\r\n", seed=0x02)
pop3_reply("sasl-continuations", "+ \r\n+ dXNlcgBwYXNz\r\n+\r\n+OK Logged in.\r\n", seed=0x09)
pop3_reply("bare-lf-and-case", "+ok lower case\n-err also\n+OK\n-ERR\r\n", seed=0x01)
pop3_reply("not-status", "+OKAY\r\n* OK [CAPABILITY IMAP4rev1] ready\r\n", seed=0x13)
pop3_reply("lone-cr", "+OK text\rmore\r\n-ERR \r\r\n", seed=0x07)
pop3_reply("nul-byte", b"+OK abc\x00def\r\n+OK after\r\n", seed=0x0A)
pop3_reply("overlong", "+OK " + "A" * 5000 + "\r\n+OK next\r\n", seed=0xFE)
pop3_reply("small-limit", "+OK 1 2\r\n-ERR [IN-USE] x\r\n", seed=0x03, limit=8)
pop3_reply("unclosed-code", "+OK [IN-USE no bracket\r\n-ERR [] empty\r\n-ERR [A//B] x\r\n"
           "+OK [\xc3\xa9] 8bit\r\n+OK [CODE]text\r\n")
pop3_reply("empty-lines", "\r\n\n+OK\r\n")
pop3_reply("eof-mid-line", "+OK Dovecot rea", seed=0x21)

# ---- dot-unstuffing: [seed][limit] stream ----
def dot(name, stream, seed=0x11, limit=NO_LIMIT):
    write("dot_unstuffer_fuzz", name, bytes([seed, limit]) + b(stream))


MESSAGE = ("Return-Path: <alice@example.org>\r\n"
           "Delivered-To: bob@example.net\r\n"
           "Message-ID: <20240101.1@example.org>\r\n"
           "Date: Tue, 1 Jul 2003 10:52:37 +0200\r\n"
           "From: Alice <alice@example.org>\r\n"
           "Subject: dots\r\n"
           "\r\n"
           "..leading dot line\r\n"
           "...two dots\r\n"
           ". \r\n"
           "not at start .\r\n"
           "..\r\n")
dot("retr-dovecot", MESSAGE + ".\r\n", seed=0x05)
dot("uidl-listing", "1 000000017c8a1d2e\r\n2 000000027c8a1d2e\r\n3 whq2gt\r\n.\r\n")
dot("list-listing", "1 1205\r\n2 305 extra\r\n.\r\n")
dot("capa", "TOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\nUSER\r\n"
    "SASL PLAIN LOGIN\r\nSTLS\r\nEXPIRE NEVER\r\n.\r\n", seed=0x01)
dot("pipelined-bodies", "a\r\n.\r\n.\r\n..x\r\n.\r\nb\r\n.\r\n", seed=0x02)
dot("empty-message", ".\r\n")
dot("bare-lf-end-is-not-end", "line\n.\nmore\r\n.\n\r\n.\r\n", seed=0x0D)
dot("lone-cr-after-dot", ".\rX\r\n.\r\r\n.\r\n", seed=0x06)
dot("eof-mid-message", "Subject: x\r\n\r\nbody without end\r\n.", seed=0x0F)
dot("nul-and-8bit", b"\x00\xff\xfe\r\n.\x00\r\n\xc3\xa4\r\n.\r\n", seed=0x04)
dot("over-limit", MESSAGE + ".\r\n", seed=0x08, limit=0x44)
dot("tiny-limit", "abc\r\n.\r\n", seed=0x01, limit=3)
dot("long-line", "X" * 3000 + "\r\n.\r\n", seed=0xFF)

# ---- IMAP responses: [seed][line limit][literal limit] stream ----
def imap(name, stream, seed=0x11, line_limit=NO_LIMIT, literal_limit=NO_LIMIT):
    write("imap_response_fuzz", name, bytes([seed, line_limit, literal_limit]) + b(stream))


def literal(data):
    data = b(data)
    return b"{%d}\r\n" % len(data) + data


imap("dovecot-greeting-login",
     "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS "
     "AUTH=PLAIN] Dovecot (Debian) ready.\r\n"
     "a1 OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT THREAD=REFS "
     "MULTIAPPEND UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC "
     "ESEARCH SEARCHRES WITHIN CONTEXT=SEARCH LIST-STATUS BINARY MOVE SPECIAL-USE] Logged in\r\n",
     seed=0x05)
imap("append-flow",
     "+ OK\r\n"
     "a3 OK [APPENDUID 1700000000 42] Append completed (0.003 + 0.000 + 0.002 secs).\r\n"
     "a4 OK [APPENDUID 1700000000 42:44,47] Append completed.\r\n"
     "a5 NO [TRYCREATE] Mailbox doesn't exist: Work\r\n"
     "a6 NO [OVERQUOTA] Quota exceeded (mailbox for user is full)\r\n"
     "a7 BAD Error in IMAP command APPEND: Invalid arguments.\r\n"
     "a8 OK Append completed.\r\n", seed=0x02)
imap("untagged-any-time",
     b"* 3 EXISTS\r\n* 0 RECENT\r\n* 2 EXPUNGE\r\n* OK [ALERT] System maintenance at 22:00\r\n"
     b"* SEARCH 4 7 9\r\n* CAPABILITY IMAP4rev1 LITERAL- UIDPLUS\r\n"
     b"* 1 FETCH (UID 5 BODY[HEADER.FIELDS (MESSAGE-ID)] "
     + literal("Message-ID: <abc@example.com>\r\n\r\n") + b")\r\n"
     b"a9 OK Fetch completed.\r\n", seed=0x01)
imap("literal8-and-two-literals",
     b"* 1 FETCH (BINARY[] ~" + literal(b"ab\x00cd") + b" BODY[1] " + literal("x\r\ny")
     + b")\r\n* 2 FETCH (BODY[] {0}\r\n)\r\n", seed=0x09)
imap("bye-mid-literal", "* 1 FETCH (BODY[] {50}\r\nFrom: a\r\n* BYE Server shutting down.\r\n",
     seed=0x03)
imap("server-literal-plus", "* 1 FETCH (BODY[] {5+}\r\nhello)\r\n")
imap("huge-literal", "* 1 FETCH (BODY[] {99999999999999999999}\r\n* 1 FETCH (BODY[] "
     "{4294967296}\r\n")
imap("text-braces", "* OK [ALERT] note {x}\r\n* BYE bye {5}\r\nhello\r\n* NO {}\r\n", seed=0x0E)
imap("preauth-and-bye", "* PREAUTH [CAPABILITY IMAP4rev1] Logged in as bob\r\n* BYE\r\n")
imap("gmail-nul", b"* BYE [ALERT] Fatal error: NUL in literal\r\n* OK a\x00b\r\n")
imap("no-status-tag", "a1 FOO bar\r\na2 BYE x\r\nnot-a-tag\r\n+x\r\n*x\r\n* 99999999999 EXISTS\r\n")
imap("ok-without-appenduid", "a3 OK Append completed.\r\na4 OK [APPENDUID 0 5] zero\r\n"
     "a5 OK [APPENDUID 1 5:3] reversed\r\na6 OK [APPENDUID 1 1,1] repeated\r\n"
     "a7 OK [APPENDUID 1 *] star\r\na8 OK [APPENDUID 1 1:100000] many\r\n")
imap("small-limits", "* 1 FETCH (BODY[] {20}\r\n12345678901234567890)\r\n* OK long text here\r\n",
     seed=0x04, line_limit=5, literal_limit=5)
imap("bare-lf", "* OK ready\na1 OK done\n+ \n")

# ---- IMAP commands and headers ----
def imap_command(name, value, user="me@gmail.com", password="hunter2", tag="a1",
                 flags="\\Seen $Label", bits=0, t=1057049557, offset=120, size=1205):
    data = bytes([bits]) + struct.pack("<qhQ", t, offset, size)
    value = b(value)
    data += struct.pack("<H", len(value)) + value
    for part in (user, password, tag):
        part = b(part)
        data += bytes([len(part)]) + part
    data += b(flags)
    write("imap_command_fuzz", name, data)


imap_command("header-block",
             "Return-Path: <alice@example.org>\r\nDate: Tue, 1 Jul 2003 10:52:37 +0200\r\n"
             "From: Alice\r\n <alice@example.org>\r\nSubject: folded\r\n\tline\r\n\r\nbody\r\n",
             user="Subject")
imap_command("date-obsolete", "Tue, 1 Jul 03 10:52 PDT (Pacific)", bits=0x21, offset=-420)
imap_command("date-comments", " 1 jul 2003 10:52:37 (comment (nested)) +0200 (CEST)",
             bits=0x40, offset=0)
imap_command("date-leap-second", "Sat, 31 Dec 2016 23:59:60 +0000", t=0, offset=1440)
imap_command("mailbox-utf8", "Entw\u00fcrfe/\u65e5\u672c\u8a9e & more \U0001F600", bits=0x03)
imap_command("mailbox-invalid-utf8", b"\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82", bits=0x7F)
imap_command("quoted-password", "Sent Items", user="user name", password='pa"ss\\word x',
             tag="A0001", flags="\\Seen \\Flagged \\Answered", t=-1, offset=-32768)
imap_command("literal-password", "INBOX", user="bob", password="line\r\nA1 LOGOUT\r\n",
             flags="\\Recent", bits=0x80, size=4097)
imap_command("literal-user", "a1 LOGIN {5}", user="b\u00f6b", password="x" * 200, flags="",
             t=253402300799, offset=1439)
imap_command("login-line", "a1 LOGIN \"me\" \"secret\"\r\n", user="", password="",
             tag="+bad", flags="(bad) $Forwarded", size=0)
imap_command("authenticate-line", "a2 AUTHENTICATE PLAIN dXNlcgB1c2VyAHBhc3M=", bits=0xA5,
             flags="\\ \\\\x", t=-62135596800, offset=100)

# ---- POP3 listings, commands, traces, SASL ----
def pop3_listing(name, body, verb="USER", arg="me", secret="hunter2", bits=0):
    data = bytes([bits])
    for part in (verb, arg, secret):
        part = b(part)
        data += bytes([len(part)]) + part
    write("pop3_listing_fuzz", name, data + b(body))


pop3_listing("uidl", "1 000000017c8a1d2e\r\n2 000000027c8a1d2e\r\n3  spaced  \r\n"
             "4 " + "x" * 71 + "\r\n5\r\n0 zero\r\n2147483648 big\r\n6 a b\r\n7 tab\there\r\n")
pop3_listing("list", "1 1205\r\n2 305 extra text\r\n3 18446744073709551616\r\n"
             "4 9223372036854775807\r\n5 -1\r\n 6 7 \n", verb="PASS", arg="hunter2")
pop3_listing("capa", "TOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nUSER\r\nsasl login plain\r\n"
             "STLS\r\nEXPIRE 31 USER\r\nEXPIRE NEVER\r\nEXPIRE x\r\nLOGIN-DELAY 900\r\n",
             verb="CAPA", arg="", bits=0x0F)
pop3_listing("apop-greeting", "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>",
             verb="APOP", arg="mrose", secret="tanstaaf", bits=0x50)
pop3_listing("traces", "PASS secret\r\npass\r\nPASSsecret\r\nAPOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"
             "AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\nAUTH\r\nRETR 1\r\n", verb="AUTH", arg="PLAIN",
             secret=" \t secret with spaces\r\n", bits=0xF0)
pop3_listing("base64", "dGVzdA==", verb="RETR", arg="1", secret="")
pop3_listing("base64-noncanonical", "dGVzdB==", verb="BAD VERB", arg="x\r\nDELE 1", secret="=")
pop3_listing("long-command", "", verb="USER", arg="u" * 250, secret="\x00")

# ---- config: YAML files ----
def config(name, text):
    write("config_fuzz", name, b(text))


CONTRACT_EXAMPLE = """\
state_dir: /var/lib/popgate        # required. The ledger (SQLite) and the spool live here.
log_level: info                    # error | warning | info | debug
log_format: text                   # text | json
max_parallel_polls: 4              # accounts polled at the same time
admin:                             # optional; absent = no endpoint
  listen: 127.0.0.1:8025           # host:port. Loopback by default; 0.0.0.0 only when written.
  token_file: /run/secrets/admin   # optional.
target:                            # the one central IMAP mailbox
  host: imap.gmail.com
  port: 993
  tls: implicit
  ca_file: /etc/popgate/ca.pem
  username: me@gmail.com
  password_file: /run/secrets/gmail
  auth: auto
  connections: 4
  timeout: 60s
defaults:
  poll_interval: 5m
accounts:
  - name: work
    host: pop.work.example
    port: 995
    tls: implicit
    username: me
    password_env: WORK_POP_PASSWORD
    auth: auto
    folder: Work
    poll_interval: 5m
    keep: true
    delete_after_days: 0
    max_message_size: 35MB
    flags: []
    timeout: 60s
"""
config("contract-example", CONTRACT_EXAMPLE)
VALID = """\
state_dir: state
log_level: debug
log_format: json
admin:
  listen: '[::1]:8025'
target:
  host: imap.example.net
  tls: starttls
  username: me@example.net
  password_env: IMAP_PASSWORD
  auth: plain
  connections: 2
  timeout: 1m30s
defaults:
  poll_interval: 1h30m
  password_env: POP_PASSWORD
accounts:
  - name: work
    host: pop.work.example
    username: me
    folder: "Entw\u00fcrfe/Work"
    flags: ['\\Seen', '$Label']
    max_message_size: 10MB
  - name: home.1
    host: 192.0.2.7
    port: 110
    tls: none
    username: "home user"
    password: inline-secret
    auth: apop
    keep: false
"""
config("valid-env-secrets", VALID)
config("typo-key", VALID.replace("poll_interval: 1h30m", "polll_interval: 1h30m"))
config("bad-values", VALID.replace("tls: starttls", "tls: maybe").replace("connections: 2",
                                                                         "connections: 99"))
config("two-secrets", VALID.replace("password: inline-secret",
                                    "password: a\n    password_env: B"))
config("keep-conflict", VALID.replace("keep: false", "keep: false\n    delete_after_days: 3"))
config("duplicate-key", VALID.replace("log_level: debug", "log_level: debug\nlog_level: info"))
config("two-documents", VALID + "---\nstate_dir: /x\n")
config("tab-indent", "state_dir: /x\ntarget:\n\thost: a\n")
config("not-a-mapping", "- a\n- b\n")
config("empty", "")
config("anchors-aliases", "defaults: &d\n  poll_interval: 30s\ntarget: *d\naccounts: [*d, *d]\n"
       "state_dir: /s\n")
config("flow-style", "{state_dir: /s, target: {host: h, username: u, password: p}, "
       "accounts: [{name: a, host: h, username: u, password: p, timeout: 0s, port: 70000}]}\n")
config("nested", "state_dir: " + "[" * 64 + "]" * 64 + "\n")
config("unterminated", "state_dir: \"/var/lib\ntarget: {host: [\n")
config("odd-scalars", "state_dir: ~/x\nmax_parallel_polls: 0x10\nlog_level: !!binary aW5mbw==\n"
       "accounts:\n  - name: 'a b'\n    poll_interval: 5\n    max_message_size: 1KB\n"
       "    delete_after_days: -1\n    timeout: 2h\n")
config("paths", "state_dir: \"/tmp/a\\0b\"\ntarget:\n  host: h\n  username: u\n"
       "  password_file: ../../etc/missing\n  ca_file: ca.pem\naccounts: []\n")
