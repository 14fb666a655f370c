#!/usr/bin/env python3
"""latproxy.py — a WAN stand-in on loopback for popgate's benchmark.

    latproxy.py [--max-inflight BYTES] ONE_WAY_MS LISTEN_PORT:TARGET_PORT [LISTEN_PORT:TARGET_PORT ...]
    latproxy.py --selftest [--mb MB]

Every pair listens on 127.0.0.1:LISTEN_PORT and forwards each accepted connection to
127.0.0.1:TARGET_PORT. Every chunk read from either side is written to the other side ONE_WAY_MS
milliseconds after it was read, in the order it was read, so a request/response exchange costs
2 x ONE_WAY_MS (the RTT). Bandwidth is not limited: what a distant server costs a client is the
waiting for replies, and that is what this shows. End of stream (half-close) and resets travel with
the same delay, after the data before them. Many connections at once: one asyncio event loop,
callback protocols (no per-chunk coroutine), one timer per direction at a time.

--max-inflight bounds the bytes one direction holds (delayed plus not yet written): beyond it the
proxy stops reading that side, like a TCP window (default 16 MiB, well above the bandwidth-delay
product of a loopback link at these delays, so it is never the limit).

--selftest measures the proxy's own overhead on loopback with 0 ms delay: bulk throughput and
request/response round trips per second, direct and through a latproxy.py subprocess, and prints
the ratios (1.0 = no overhead) as one JSON line on stdout.

Standard library only. Prints "latproxy: listening ..." on stderr once every port is bound; the
benchmark waits for the ports rather than for that line.
"""

import asyncio
import collections
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

READ_SIZE = 256 * 1024  # what asyncio's selector transport reads at most per call anyway


class Direction:
    """One way of one connection: chunks read from `source` wait in a FIFO until their due time and
    are then written to `sink`. A single timer, armed for the head of the FIFO, keeps the order."""

    def __init__(self, loop, delay, max_inflight):
        self.loop = loop
        self.delay = delay
        self.max_inflight = max_inflight
        self.queue = collections.deque()  # (due time, bytes) ; bytes None = end of stream
        self.timer = None
        self.inflight = 0           # bytes in the queue plus bytes buffered by the sink transport
        self.source = None          # transport we read from (paused when inflight is too high)
        self.sink = None            # transport we write to (None until the upstream is connected)
        self.source_paused = False
        self.sink_blocked = False   # the sink transport asked us to pause (its buffer is full)
        self.finished = False       # end of stream delivered to the sink
        self.on_finished = None

    def push(self, data):
        """A chunk (or None for end of stream) was read from the source."""
        due = self.loop.time() + self.delay
        self.queue.append((due, data))
        if data is not None:
            self.inflight += len(data)
            if self.inflight > self.max_inflight and not self.source_paused and self.source:
                self.source.pause_reading()
                self.source_paused = True
        self._arm()

    def _arm(self):
        if self.timer is not None or not self.queue or self.sink is None or self.sink_blocked:
            return
        due = self.queue[0][0]
        if due <= self.loop.time():
            self._flush()
        else:
            self.timer = self.loop.call_at(due, self._on_timer)

    def _on_timer(self):
        self.timer = None
        self._flush()

    def _flush(self):
        """Write every chunk that is due, in order; stop early when the sink's buffer is full."""
        now = self.loop.time()
        sink = self.sink
        while self.queue and self.queue[0][0] <= now and not self.sink_blocked:
            _, data = self.queue.popleft()
            if data is None:
                self.finished = True
                if sink.can_write_eof() and not sink.is_closing():
                    try:
                        sink.write_eof()
                    except OSError:
                        sink.close()
                else:
                    sink.close()
                if self.on_finished:
                    self.on_finished()
                return
            self.inflight -= len(data)
            if not sink.is_closing():
                sink.write(data)  # may call pause_writing() synchronously → sink_blocked
        self._maybe_resume_source()
        self._arm()

    def _maybe_resume_source(self):
        if self.source_paused and self.inflight <= self.max_inflight // 2 and self.source:
            self.source_paused = False
            try:
                self.source.resume_reading()
            except (RuntimeError, AttributeError):
                pass

    def sink_pause(self):
        self.sink_blocked = True

    def sink_resume(self):
        self.sink_blocked = False
        self._arm()

    def abort(self):
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.queue.clear()


class Side(asyncio.Protocol):
    """One socket of a proxied connection (the accepted client or the upstream server).
    `incoming` carries what this socket reads; `outgoing` is the direction that writes to it."""

    def __init__(self, pair, incoming, outgoing):
        self.pair = pair
        self.incoming = incoming
        self.outgoing = outgoing
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.incoming.source = transport
        self.outgoing.sink = transport
        self.outgoing._arm()

    def data_received(self, data):
        self.incoming.push(data)

    def eof_received(self):
        self.incoming.push(None)
        return True  # keep our writing half open: the other direction may still carry data

    def connection_lost(self, exc):
        if exc is not None:
            # A reset: the peer learns of it after the same delay, like the data before it.
            self.incoming.push(None)
            self.pair.reset_later()
        self.pair.side_closed()

    def pause_writing(self):
        self.outgoing.sink_pause()

    def resume_writing(self):
        self.outgoing.sink_resume()


class Pair:
    """A proxied connection: client ⇄ proxy ⇄ upstream, two Directions."""

    def __init__(self, loop, delay, max_inflight):
        self.loop = loop
        self.delay = delay
        self.up = Direction(loop, delay, max_inflight)    # client → server
        self.down = Direction(loop, delay, max_inflight)  # server → client
        self.client = None
        self.server = None
        self.open_sides = 2
        self.up.on_finished = self._check_done
        self.down.on_finished = self._check_done

    def _check_done(self):
        if self.up.finished and self.down.finished:
            self.close_all()

    def reset_later(self):
        self.loop.call_later(self.delay, self.close_all)

    def side_closed(self):
        self.open_sides -= 1
        if self.open_sides <= 0:
            self.up.abort()
            self.down.abort()

    def close_all(self):
        for side in (self.client, self.server):
            if side is not None and side.transport is not None and not side.transport.is_closing():
                side.transport.close()


async def serve(delay_s, pairs, max_inflight):
    loop = asyncio.get_running_loop()

    def make_client_side(target_port):
        pair = Pair(loop, delay_s, max_inflight)
        client = Side(pair, pair.up, pair.down)
        pair.client = client

        async def connect_upstream():
            try:
                _, server = await loop.create_connection(
                    lambda: Side(pair, pair.down, pair.up), "127.0.0.1", target_port)
                pair.server = server
            except OSError:
                pair.close_all()

        loop.create_task(connect_upstream())
        return client

    servers = []
    for listen_port, target_port in pairs:
        servers.append(await loop.create_server(
            lambda t=target_port: make_client_side(t), "127.0.0.1", listen_port,
            reuse_address=True, backlog=512))
    print(f"latproxy: listening, {delay_s * 1000:g} ms each way, "
          + ", ".join(f"{l}->{t}" for l, t in pairs), file=sys.stderr, flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for s in servers:
        s.close()


# ---------------------------------------------------------------------------------------------
# --selftest: the proxy's own overhead, 0 ms delay, direct versus proxied.

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sink_server(port, ready):
    """Serves one connection at a time. First byte 'B': discard everything until EOF, then answer
    the byte count. First byte 'P': echo every 64-byte record back (ping-pong)."""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(8)
    ready.set()
    while True:
        conn, _ = srv.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        kind = conn.recv(1)
        if kind == b"B":
            total = 0
            while True:
                d = conn.recv(1 << 20)
                if not d:
                    break
                total += len(d)
            conn.sendall(str(total).encode())
        elif kind == b"P":
            buf = b""
            while True:
                d = conn.recv(4096)
                if not d:
                    break
                buf += d
                while len(buf) >= 64:
                    conn.sendall(buf[:64])
                    buf = buf[64:]
        conn.close()


def _bulk(port, total_bytes):
    block = os.urandom(1 << 20)
    with socket.create_connection(("127.0.0.1", port)) as s:
        t0 = time.perf_counter()
        s.sendall(b"B")
        sent = 0
        while sent < total_bytes:
            s.sendall(block)
            sent += len(block)
        s.shutdown(socket.SHUT_WR)
        got = int(s.recv(64).decode())
        elapsed = time.perf_counter() - t0
    assert got == sent, (got, sent)
    return sent / elapsed / 1e6  # MB/s


def _pingpong(port, rounds):
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(b"P")
        rec = b"x" * 64
        t0 = time.perf_counter()
        for _ in range(rounds):
            s.sendall(rec)
            got = b""
            while len(got) < 64:
                got += s.recv(64 - len(got))
        elapsed = time.perf_counter() - t0
    return rounds / elapsed  # round trips per second


def selftest(mb):
    sink_port, proxy_port = _free_port(), _free_port()
    ready = threading.Event()
    threading.Thread(target=_sink_server, args=(sink_port, ready), daemon=True).start()
    ready.wait()
    proxy = subprocess.Popen([sys.executable, os.path.abspath(__file__), "0",
                              f"{proxy_port}:{sink_port}"], stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", proxy_port)).close()
                break
            except OSError:
                time.sleep(0.05)
        total = mb * (1 << 20)
        # Best of three of each, alternating, so a noisy neighbour hurts both alike.
        direct_bw = max(_bulk(sink_port, total) for _ in range(3))
        proxy_bw = max(_bulk(proxy_port, total) for _ in range(3))
        direct_rt = max(_pingpong(sink_port, 2000) for _ in range(3))
        proxy_rt = max(_pingpong(proxy_port, 2000) for _ in range(3))
    finally:
        proxy.terminate()
        proxy.wait()
    print(json.dumps({
        "direct_MBps": round(direct_bw, 1), "proxied_MBps": round(proxy_bw, 1),
        "throughput_ratio": round(proxy_bw / direct_bw, 3),
        "direct_rtt_us": round(1e6 / direct_rt, 1), "proxied_rtt_us": round(1e6 / proxy_rt, 1),
        "roundtrip_ratio": round(proxy_rt / direct_rt, 3)}))


def main(argv):
    if argv and argv[0] == "--selftest":
        mb = int(argv[2]) if len(argv) >= 3 and argv[1] == "--mb" else 256
        selftest(mb)
        return 0
    max_inflight = 16 << 20
    if len(argv) >= 2 and argv[0] == "--max-inflight":
        max_inflight = int(argv[1])
        argv = argv[2:]
    if len(argv) < 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    try:
        delay_ms = float(argv[0])
        pairs = []
        for spec in argv[1:]:
            listen, target = spec.split(":")
            pairs.append((int(listen), int(target)))
    except ValueError:
        print("latproxy: usage: latproxy.py ONE_WAY_MS LISTEN_PORT:TARGET_PORT [...]", file=sys.stderr)
        return 2
    asyncio.run(serve(delay_ms / 1000.0, pairs, max_inflight))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
