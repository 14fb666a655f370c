#!/usr/bin/env python3
"""imap-tool.py — what the sandbox scripts ask of a server that keeps its own mail format (Cyrus),
over IMAP at 127.0.0.1:PORT (plaintext LOGIN):

  imap-tool.py append PORT USER PASSWORD FOLDER FILE...   store each FILE, byte for byte, as one
                                                           message of FOLDER (created on [TRYCREATE])
  imap-tool.py uids   PORT USER PASSWORD FOLDER           print the UIDs of FOLDER's messages, one
                                                           a line, ascending (exit 4: no such folder)

`append` sends a file that holds a NUL byte as a BINARY literal (~{n}, RFC 3516) when the server
offers BINARY. Python's imaplib is not used: it rewrites line ends, and every byte must arrive as
it is. It prints one line per file the server refused ("refused FILE: <the server's answer>") and
exits 3 when there was one. Any other failure: exit 1.
"""
import socket
import sys


class Session:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.buf = b""
        self.tag = 0
        greeting = self.line()
        if not greeting.startswith(b"* OK"):
            raise RuntimeError("greeting: %r" % greeting)

    def line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise RuntimeError("the server closed the connection")
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def tagged(self, tag):
        """The tagged answer to `tag`, untagged lines skipped (and returned)."""
        untagged = []
        while True:
            line = self.line()
            if line.startswith(tag + b" "):
                return line[len(tag) + 1:], untagged
            untagged.append(line)

    def capabilities(self):
        """The words of the server's CAPABILITY answer, upper-case."""
        words = []
        for line in self.untagged_of(b"CAPABILITY"):
            if line.upper().startswith(b"* CAPABILITY "):
                words += line.upper().split()[2:]
        return words

    def untagged_of(self, text):
        """Sends `text`; the untagged lines of its answer (fails unless it ends in OK)."""
        self.tag += 1
        tag = b"S%04d" % self.tag
        self.sock.sendall(tag + b" " + text + b"\r\n")
        answer, untagged = self.tagged(tag)
        if not answer.startswith(b"OK"):
            raise RuntimeError("%s: %r" % (text.decode(), answer))
        return untagged

    def command(self, text, literal=None, binary=False):
        """Sends `text`, then `literal` as a synchronizing literal when given; the tagged answer."""
        self.tag += 1
        tag = b"S%04d" % self.tag
        if literal is None:
            self.sock.sendall(tag + b" " + text + b"\r\n")
            return self.tagged(tag)[0]
        prefix = b"~{%d}" if binary else b"{%d}"
        self.sock.sendall(tag + b" " + text + b" " + prefix % len(literal) + b"\r\n")
        while True:
            line = self.line()
            if line.startswith(b"+"):
                break
            if line.startswith(tag + b" "):
                return line[len(tag) + 1:]  # refused before the literal
        self.sock.sendall(literal + b"\r\n")
        return self.tagged(tag)[0]


def quoted(text):
    return b'"' + text.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def login(port, user, password):
    s = Session(port)
    answer = s.command(b"LOGIN " + quoted(user.encode()) + b" " + quoted(password.encode()))
    if not answer.startswith(b"OK"):
        raise RuntimeError("LOGIN: %r" % answer)
    return s


def append(s, folder, files):
    binary = b"BINARY" in s.capabilities()
    refused = 0
    for name in files:
        with open(name, "rb") as f:
            message = f.read()
        nul = b"\0" in message and binary
        command = b"APPEND " + quoted(folder)
        answer = s.command(command, message, nul)
        if answer.startswith(b"NO") and b"[TRYCREATE]" in answer:
            created = s.command(b"CREATE " + quoted(folder))
            if not created.startswith(b"OK"):
                raise RuntimeError("CREATE %s: %r" % (folder.decode(), created))
            answer = s.command(command, message, nul)
        if not answer.startswith(b"OK"):
            print("refused %s: %s" % (name, answer.decode("utf-8", "replace")))
            refused += 1
    return 3 if refused else 0


def uids(s, folder):
    answer = s.command(b"EXAMINE " + quoted(folder))
    if not answer.startswith(b"OK"):
        print("no folder %s: %s" % (folder.decode(), answer.decode("utf-8", "replace")),
              file=sys.stderr)
        return 4
    found = []
    for line in s.untagged_of(b"UID SEARCH ALL"):
        if line.upper().startswith(b"* SEARCH"):
            found += [int(n) for n in line.split()[2:]]
    for uid in sorted(found):
        print(uid)
    return 0


def main(argv):
    if len(argv) < 6 or argv[1] not in ("append", "uids") or (argv[1] == "append" and len(argv) < 7):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    s = login(int(argv[2]), argv[3], argv[4])
    folder = argv[5].encode()
    status = append(s, folder, argv[6:]) if argv[1] == "append" else uids(s, folder)
    s.command(b"LOGOUT")
    return status


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (OSError, RuntimeError) as e:
        print("imap-tool.py: %s" % e, file=sys.stderr)
        sys.exit(1)
