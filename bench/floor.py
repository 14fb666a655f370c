#!/usr/bin/env python3
"""floor.py — the server floor: the fastest one client connection per side can move a POP3
mailbox into an IMAP folder, given what the two servers allow.

    floor.py --pop-port P --pop-user U --imap-port I --imap-user V
             [--modes plus,multi,minus] [--batch N] [--window W] [--folder-prefix F] [--json]

Passwords are pw-USER (the sandbox's convention); everything is plaintext on 127.0.0.1 (the ports
may be latproxy.py's, to measure at a distance).

POP phase (timed from connect to the QUIT reply): USER, PASS, UIDL, then RETR of every message
pipelined (up to W commands outstanding, default 100), replies parsed from one big buffer and
dot-unstuffed. Messages stay in memory; nothing is deleted.

IMAP phase, once per mode (timed from connect to the last APPEND's tagged OK), each into a fresh
folder F-<mode>-<pid> created before and deleted after the timed part (after checking that STATUS
counts every message):
  plus   one APPEND per message, all pipelined, literals {n+} (needs LITERAL+)
  multi  MULTIAPPEND: APPEND commands of N messages each (default 50), {n+} literals, pipelined
         (needs MULTIAPPEND and LITERAL+)
  minus  LITERAL- (Gmail-like servers): literals of at most 4096 bytes non-synchronizing, larger
         ones sent as {n} and held until the server's "+" continuation; everything else pipelined
A mode the server does not advertise is reported as skipped, not faked.

The floor of a mode is max(pop_s, imap_s): a client that overlaps both sides perfectly cannot be
faster with one connection per side. Output: a table, or with --json one JSON object
{"messages", "bytes", "pop_s", "imap_s": {mode: s}, "floor_s": {mode: s}, "skipped": {mode: why}}.
"""

import argparse
import json
import os
import socket
import sys
import threading
import time

HOST = "127.0.0.1"
NONSYNC_MAX = 4096  # LITERAL-: the largest literal that may be sent without waiting for "+"
SEND_CHUNK = 256 * 1024


class Buffered:
    """A socket with one growing receive buffer: lines and POP3 multi-line bodies are cut out of it
    with bytes.find, without a Python-level loop per line."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.pos = 0

    def _compact(self):
        """Drop consumed bytes now and then (keeping the last CRLF a terminator search may need),
        so the buffer does not grow forever. Only called before a search starts."""
        if self.pos > (4 << 20):
            del self.buf[:self.pos - 2]
            self.pos = 2

    def _fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError("server closed the connection")
        self.buf += data

    def line(self):
        """The next line without its CRLF."""
        self._compact()
        start = self.pos
        while True:
            end = self.buf.find(b"\r\n", start)
            if end >= 0:
                out = bytes(self.buf[self.pos:end])
                self.pos = end + 2
                return out
            start = max(self.pos, len(self.buf) - 1)
            self._fill()

    def pop_body(self):
        """The body of a POP3 multi-line reply (after its status line), dot-unstuffed."""
        self._compact()
        search = self.pos - 2  # the status line's CRLF starts the terminator of an empty body
        while True:
            end = self.buf.find(b"\r\n.\r\n", search)
            if end >= 0:
                break
            search = max(self.pos - 2, len(self.buf) - 4)
            self._fill()
        body = bytes(self.buf[self.pos:end + 2])
        self.pos = end + 5
        if body.startswith(b".."):
            body = body[1:]
        return body.replace(b"\r\n..", b"\r\n.")


def connect(port):
    sock = socket.create_connection((HOST, port), timeout=300)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


# ---------------------------------------------------------------------------------------------
# POP3

def pop_ok(reader, what):
    line = reader.line()
    if not line.startswith(b"+OK"):
        raise RuntimeError(f"POP3 {what}: {line[:200]!r}")
    return line


def pop_phase(port, user, window, on_message=None):
    """Returns (messages, seconds); with on_message, hands each message to it instead of keeping
    them (the streamed floor)."""
    t0 = time.perf_counter()
    sock = connect(port)
    r = Buffered(sock)
    pop_ok(r, "greeting")
    sock.sendall(f"USER {user}\r\n".encode())
    pop_ok(r, "USER")
    sock.sendall(f"PASS pw-{user}\r\n".encode())
    pop_ok(r, "PASS")
    sock.sendall(b"UIDL\r\n")
    pop_ok(r, "UIDL")
    count = 0
    while r.line() != b".":
        count += 1
    messages = []
    sent = 0
    while len(messages) < count:
        # Keep up to `window` RETRs in flight: one send for the whole refill.
        upto = min(count, len(messages) + window)
        if upto > sent:
            sock.sendall(b"".join(f"RETR {i}\r\n".encode() for i in range(sent + 1, upto + 1)))
            sent = upto
        pop_ok(r, f"RETR {len(messages) + 1}")
        body = r.pop_body()
        if on_message is not None:
            on_message(body)
            body = b""  # only the count matters here
        messages.append(body)
    sock.sendall(b"QUIT\r\n")
    pop_ok(r, "QUIT")
    sock.close()
    return messages, time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# IMAP

class ImapSession:
    """A logged-in IMAP connection. A reader thread consumes responses while the main thread
    writes, so pipelined commands never deadlock on full socket buffers."""

    def __init__(self, port, user):
        self.sock = connect(port)
        self.r = Buffered(self.sock)
        greeting = self.r.line()
        if not greeting.startswith(b"* OK"):
            raise RuntimeError(f"IMAP greeting: {greeting[:200]!r}")
        self.caps = set()
        self._grab_caps(greeting)
        self.tag_no = 0
        status, lines = self.command(f"LOGIN {user} pw-{user}")
        if status[0] != "OK":
            raise RuntimeError(f"IMAP LOGIN: {status}")
        self.caps = set()
        for l in lines + [status[1]]:
            self._grab_caps(l)
        if not self.caps:
            _, lines = self.command("CAPABILITY")
            for l in lines:
                self._grab_caps(l)

    def _grab_caps(self, line):
        if isinstance(line, str):
            line = line.encode()
        for marker in (b"[CAPABILITY ", b"* CAPABILITY "):
            i = line.find(marker)
            if i >= 0:
                rest = line[i + len(marker):].split(b"]")[0]
                self.caps = {c.upper().decode() for c in rest.split()}

    def next_tag(self):
        self.tag_no += 1
        return f"f{self.tag_no}"

    def command(self, text):
        """One simple command, answered before the next: (status word, rest) and untagged lines."""
        tag = self.next_tag()
        self.sock.sendall(f"{tag} {text}\r\n".encode())
        untagged = []
        while True:
            line = self.r.line()
            if line.startswith(tag.encode() + b" "):
                word, _, rest = line[len(tag) + 1:].partition(b" ")
                return (word.decode(), rest.decode("utf-8", "replace")), untagged
            untagged.append(line)

    def close(self):
        try:
            self.sock.sendall(b"z LOGOUT\r\n")
        except OSError:
            pass
        self.sock.close()


def append_all(session, folder, messages, mode, batch, window=0):
    """Pipelines every APPEND, at most `window` outstanding (0 = no limit); returns when the last
    tagged reply arrived. Raises on any NO/BAD."""
    sock, r = session.sock, session.r
    # Commands: lists of messages (one per APPEND, or `batch` with MULTIAPPEND).
    group = batch if mode == "multi" else 1
    commands = [messages[k:k + group] for k in range(0, len(messages), group)]
    tags = [session.next_tag() for _ in commands]
    tagset = {t.encode(): i for i, t in enumerate(tags)}
    continuation = threading.Semaphore(0)
    slots = threading.Semaphore(window if window > 0 else len(commands) + 1)
    state = {"done": 0, "errors": [], "exc": None}
    finished = threading.Event()

    def reader():
        try:
            while state["done"] < len(commands):
                line = r.line()
                if line.startswith(b"+"):
                    continuation.release()
                    continue
                tag, _, rest = line.partition(b" ")
                if tag in tagset:
                    state["done"] += 1
                    slots.release()
                    if not rest.startswith(b"OK"):
                        state["errors"].append(line[:200])
        except Exception as exc:  # noqa: BLE001 — reported by the main thread
            state["exc"] = exc
            for _ in commands:  # never leave the writer waiting for a "+" or a slot
                continuation.release()
                slots.release()
        finally:
            finished.set()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    out = []
    size = 0

    def flush():
        nonlocal out, size
        if out:
            sock.sendall(b"".join(out))
            out, size = [], 0

    for tag, group_msgs in zip(tags, commands):
        if not slots.acquire(blocking=False):
            flush()  # what is buffered must go out before we wait for its replies
            slots.acquire()
        out.append(f"{tag} APPEND {folder}".encode())
        for m in group_msgs:
            if mode == "minus" and len(m) > NONSYNC_MAX:
                out.append(f" {{{len(m)}}}\r\n".encode())
                flush()
                continuation.acquire()  # the server's "+": only now may the literal follow
                if state["exc"]:
                    raise state["exc"]
            else:
                out.append(f" {{{len(m)}+}}\r\n".encode())
            out.append(m)
            size += len(m)
        out.append(b"\r\n")
        if size >= SEND_CHUNK:
            flush()
    flush()
    finished.wait()
    if state["exc"]:
        raise state["exc"]
    if state["errors"]:
        raise RuntimeError(f"{len(state['errors'])} APPENDs failed, first: {state['errors'][0]!r}")



def check_and_drop(setup, folder, expected, what):
    """Counts the messages in `folder` (STATUS), deletes it and closes `setup`; raises unless the
    count is `expected` (a floor that lost messages is no floor)."""
    _, lines = setup.command(f"STATUS {folder} (MESSAGES)")
    got = -1
    for l in lines:
        if b"MESSAGES " in l:
            got = int(l.split(b"MESSAGES ")[1].split(b")")[0])
    setup.command(f"DELETE {folder}")
    setup.close()
    if got != expected:
        raise RuntimeError(f"{folder} holds {got} messages after {what}, expected {expected}")

def imap_phase(port, user, folder, messages, mode, batch):
    """Setup (untimed): create the folder. Timed: connect, LOGIN, every APPEND. Check and cleanup
    (untimed): STATUS must count every message, then the folder is deleted."""
    setup = ImapSession(port, user)
    needs = {"plus": ["LITERAL+"], "multi": ["LITERAL+", "MULTIAPPEND"],
             "minus": []}[mode]
    missing = [c for c in needs if c not in setup.caps]
    if mode == "minus" and not ({"LITERAL-", "LITERAL+"} & setup.caps):
        missing.append("LITERAL-")
    if missing:
        setup.close()
        return None, "server does not advertise " + ", ".join(missing)
    status, _ = setup.command(f"CREATE {folder}")
    if status[0] != "OK":
        raise RuntimeError(f"IMAP CREATE {folder}: {status}")
    t0 = time.perf_counter()
    session = ImapSession(port, user)
    append_all(session, folder, messages, mode, batch)
    elapsed = time.perf_counter() - t0
    session.close()
    check_and_drop(setup, folder, len(messages), "APPEND")
    return elapsed, None


def append_stream(session, folder, next_message, mode, batch):
    """Streams APPENDs as messages arrive (next_message() returns bytes, or None at the end):
    with "multi", one MULTIAPPEND command is kept open for up to `batch` messages, each literal
    sent as soon as its message is there. A NOOP after the last command marks the end of the
    replies. Returns the number of messages."""
    sock, r = session.sock, session.r
    state = {"errors": [], "exc": None}
    done = threading.Event()

    def reader():
        try:
            while True:
                line = r.line()
                tag, _, rest = line.partition(b" ")
                if tag == b"zend":
                    return
                if tag.startswith(b"f") and not rest.startswith(b"OK"):
                    state["errors"].append(line[:200])
        except Exception as exc:  # noqa: BLE001 — reported by the main thread
            state["exc"] = exc
        finally:
            done.set()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    count = 0
    open_count = 0  # messages in the MULTIAPPEND command being written
    while True:
        m = next_message()
        if m is None:
            break
        count += 1
        if mode == "multi":
            head = f"{session.next_tag()} APPEND {folder}".encode() if open_count == 0 else b""
            open_count += 1
            tail = b""
            if open_count == batch:
                tail, open_count = b"\r\n", 0
            sock.sendall(head + f" {{{len(m)}+}}\r\n".encode() + m + tail)
        else:
            sock.sendall(f"{session.next_tag()} APPEND {folder} {{{len(m)}+}}\r\n".encode() + m
                         + b"\r\n")
    sock.sendall((b"\r\n" if open_count else b"") + b"zend NOOP\r\n")
    done.wait()
    if state["exc"]:
        raise state["exc"]
    if state["errors"]:
        raise RuntimeError(f"{len(state['errors'])} APPENDs failed, first: {state['errors'][0]!r}")
    return count


def streamed_floor(a, mode):
    """Both sides at once, one connection each: a child process drains POP3 (pipelined RETR) and
    passes every message through a pipe; this process APPENDs each as soon as it is there. Timed
    from the start of both to the last APPEND's reply."""
    folder = f"{a.folder_prefix}-stream-{mode}-{os.getpid()}"
    setup = ImapSession(a.imap_port, a.imap_user)
    needs = ["LITERAL+"] + (["MULTIAPPEND"] if mode == "multi" else [])
    missing = [c for c in needs if c not in setup.caps]
    if missing:
        setup.close()
        return None, None, "server does not advertise " + ", ".join(missing)
    setup.command(f"CREATE {folder}")
    rfd, wfd = os.pipe()
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child: the POP3 side
        os.close(rfd)
        out = os.fdopen(wfd, "wb", buffering=0)
        code = 0
        try:
            def send(body):
                out.write(len(body).to_bytes(8, "big") + body)
            _, pop_s = pop_phase(a.pop_port, a.pop_user, a.window, on_message=send)
            out.write((2**64 - 1).to_bytes(8, "big") + int(pop_s * 1e6).to_bytes(8, "big"))
        except Exception as exc:  # noqa: BLE001
            print(f"floor: POP side failed: {exc}", file=sys.stderr)
            code = 1
        os._exit(code)
    os.close(wfd)
    pipe = os.fdopen(rfd, "rb", buffering=1 << 20)
    pop_s = [None]

    def next_message():
        n = int.from_bytes(pipe.read(8), "big")
        if n == 2**64 - 1:
            pop_s[0] = int.from_bytes(pipe.read(8), "big") / 1e6
            return None
        body = pipe.read(n)
        if len(body) != n:
            raise RuntimeError("the POP side ended early")
        return body

    try:
        session = ImapSession(a.imap_port, a.imap_user)
        count = append_stream(session, folder, next_message, mode, a.batch)
        elapsed = time.perf_counter() - t0
        session.close()
    finally:
        _, status = os.waitpid(pid, 0)
        pipe.close()
    if status != 0:
        raise RuntimeError("the POP side of the streamed floor failed")
    check_and_drop(setup, folder, count, "the streamed APPENDs")
    return elapsed, count, None


def main():
    p = argparse.ArgumentParser(description="server floor for POP3 → IMAP")
    p.add_argument("--pop-port", type=int, required=True)
    p.add_argument("--pop-user", required=True)
    p.add_argument("--imap-port", type=int, required=True)
    p.add_argument("--imap-user", required=True)
    p.add_argument("--modes", default="plus,multi")
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--window", type=int, default=100)
    p.add_argument("--folder-prefix", default="Floor")
    p.add_argument("--stream", default="",
                   help="also the streamed floor (both sides at once) for these modes: plus,multi")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()

    messages, pop_s = pop_phase(a.pop_port, a.pop_user, a.window)
    result = {"messages": len(messages), "bytes": sum(map(len, messages)), "pop_s": round(pop_s, 3),
              "imap_s": {}, "floor_s": {}, "skipped": {}}
    for mode in a.modes.split(","):
        folder = f"{a.folder_prefix}-{mode}-{os.getpid()}"
        elapsed, why = imap_phase(a.imap_port, a.imap_user, folder, messages, mode, a.batch)
        if elapsed is None:
            result["skipped"][mode] = why
            continue
        result["imap_s"][mode] = round(elapsed, 3)
        result["floor_s"][mode] = round(max(pop_s, elapsed), 3)
    for mode in filter(None, a.stream.split(",")):
        elapsed, count, why = streamed_floor(a, mode)
        if elapsed is None:
            result["skipped"]["stream-" + mode] = why
            continue
        if count != len(messages):
            raise RuntimeError(f"streamed floor moved {count} messages, expected {len(messages)}")
        result["floor_s"]["stream-" + mode] = round(elapsed, 3)
    if a.json:
        print(json.dumps(result))
    else:
        print(f"{result['messages']} messages, {result['bytes'] / 1e6:.1f} MB; "
              f"POP3 pipelined RETR {pop_s:.2f} s")
        for mode, s in result["imap_s"].items():
            print(f"  IMAP {mode:5s} {s:.2f} s   floor {result['floor_s'][mode]:.2f} s")
        for mode, s in result["floor_s"].items():
            if mode.startswith("stream-"):
                print(f"  streamed {mode[7:]:5s} (both sides at once) {s:.2f} s")
        for mode, why in result["skipped"].items():
            print(f"  IMAP {mode:5s} skipped: {why}")


if __name__ == "__main__":
    main()
