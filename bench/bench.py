#!/usr/bin/env python3
"""bench.py — the measuring half of bench/run.sh (run.sh installs, builds and cleans up; this
starts the sandboxes and the proxy, seeds, runs every tool, verifies, and reports).

    bench.py --popgate BIN --work DIR --sandboxes DIR [--quick] [--cases a,b,c,d]
             [--repeats 3] [--json FILE]

Cases (see README.md, "Benchmarks"):
  a  loopback, 2000 messages: popgate once vs fetchmail + dovecot-lda vs the server floor
     (LITERAL+ and MULTIAPPEND); one popgate run over TLS (POP3S + STARTTLS) as information
  b  20 ms RTT (latproxy.py, 10 ms each way, POP3 and IMAP), 300 messages: the same three
  c  Gmail-like IMAP (LITERAL-, no MULTIAPPEND) at 20 ms RTT, 300 messages: popgate vs the
     LITERAL+ floor measured against the normal Dovecot through the same proxy
  d  memory: peak RSS of popgate once for one 30 MB message and for 500 accounts x 4 messages;
     CPU time per message from case a

Every timed run starts from the same state: popgate's state_dir removed, the target folder
deleted (popgate creates it again, as it would in real life), the POP box checked by STAT (all
tools keep the messages on the server, so the box never changes). Each popgate run is verified:
the target folder must hold exactly N messages, byte-identical to the seeded ones. Tools are run
in turn (popgate, fetchmail, floor, popgate, ...) so that a noisy neighbour hurts all alike; the
median of the repeats is reported.

To see where a popgate run spends its time: BENCH_LOG_LEVEL=debug runs popgate with the protocol
trace (timestamps to the millisecond, IMAP sessions numbered imap#1...), and BENCH_TRACE_DIR=DIR
keeps each popgate run's output there. BENCH_WRAP="perf record -g -o FILE" runs popgate under
a profiler (or any command that takes the popgate command line after its own).

Everything this process starts (sandboxes, proxy) is stopped in a finally block; run.sh's trap
does it once more from the pid files and sandbox directories in --work / --sandboxes.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

# Gmail lets one account hold 15 IMAP sessions at once; case c uses them all.
GMAIL_CONNECTIONS = 15

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seed as seedlib  # noqa: E402 — bench/seed.py

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SANDBOX = os.path.join(ROOT, "deploy", "sandbox", "dovecot-sandbox.sh")
LDA = "/usr/lib/dovecot/dovecot-lda"
TIMEOUT = 1800  # seconds: no single tool run may take longer than this


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(cmd, timeout=TIMEOUT, check=True, **kw):
    """A subprocess with a deadline; returns CompletedProcess (stdout/stderr as text)."""
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {p.returncode}:\n{p.stdout}{p.stderr}")
    return p


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def wait_port(port, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


class Sandbox:
    """One dovecot-sandbox.sh instance."""

    def __init__(self, directory, base, users, gmail_like=False):
        self.dir = directory
        self.base = base
        self.users = users
        self.gmail_like = gmail_like
        self.pop = base + 110
        self.imap = base + 143
        self.pop3s = base + 995
        self.imaps = base + 993

    def start(self):
        env = dict(os.environ, SANDBOX_GMAIL_LIKE="1" if self.gmail_like else "0")
        run([SANDBOX, "start", self.dir, str(self.base)] + self.users, env=env)
        self.env = dict(line.split("=", 1) for line in
                        run([SANDBOX, "env", self.dir]).stdout.split())
        self.owner = f"{self.env['MAIL_UID']}:{self.env['MAIL_GID']}"
        self.conf = self.env["CONF"]
        self.ca = self.env["CA_FILE"]

    def stop(self):
        run([SANDBOX, "stop", self.dir], check=False)

    def maildir(self, user, folder="INBOX"):
        home = os.path.join(self.dir, "home", user, "Maildir")
        return home if folder == "INBOX" else os.path.join(home, "." + folder.replace("/", "."))

    def doveadm(self, *args, check=True):
        return run(["doveadm", "-c", self.conf] + list(args), check=check)

    def delete_folder(self, user, folder):
        self.doveadm("mailbox", "delete", "-u", user, "-s", folder, check=False)
        # A folder doveadm could not delete (it should always can) must not fake a fresh start.
        if os.path.exists(self.maildir(user, folder)):
            shutil.rmtree(self.maildir(user, folder))

    def create_folder(self, user, folder):
        run([SANDBOX, "create", self.dir, user, folder])

    def count(self, user, folder):
        return int(run([SANDBOX, "count", self.dir, user, folder]).stdout.strip())

    def counts(self, user, mask):
        """{folder: messages} for every folder matching a doveadm mask, in one doveadm run."""
        out = self.doveadm("-f", "flow", "mailbox", "status", "-u", user, "messages", mask,
                           check=False).stdout
        result = {}
        for line in out.splitlines():
            m = re.match(r'^(?:mailbox=)?(\S+) messages=(\d+)', line)
            if m:
                result[m.group(1)] = int(m.group(2))
        return result

    def seed(self, user, count, seed, prefix, manifest=None, big_mb=0):
        """seed.py's writer, in this process (500 accounts would pay 500 interpreter starts)."""
        lines, total, before = seedlib.write_maildir(self.maildir(user), count, seed, prefix,
                                                     self.owner, big_mb)
        if manifest:
            with open(manifest, "w") as fh:
                fh.write("\n".join(lines) + "\n")
        seedlib.check_pop(self.pop, user, before + count, total if before == 0 else None)

    def pop_stat(self, user, port=None):
        return seedlib.pop_stat(port or self.pop, user)


def fresh_folder(sb, folder):
    """An empty target folder that exists, as it does on every pass but a first one (fetchmail's
    LDA and the floor get theirs created before the clock starts, too)."""
    sb.delete_folder("me", folder)
    sb.create_folder("me", folder)


def reported_seconds(out):
    """The "(T s)" popgate once prints at the end of an account's line; summed over accounts."""
    return sum(float(m) for m in re.findall(r"\(([0-9.]+) s\)\s*$", out, re.M))


class Bench:
    def __init__(self, a):
        self.a = a
        self.popgate = a.popgate
        self.work = a.work
        self.rows = []
        self.checks = []
        self.pass_times = {}
        self.meta = {}
        self.sandboxes = []
        self.proxy = None
        base = int(os.environ.get("BENCH_BASEPORT", "41000"))
        self.base = base
        q = a.quick
        self.n_a = 200 if q else 2000
        self.n_b = 60 if q else 300
        self.big_mb = 5 if q else 30
        self.accounts = 50 if q else 500
        self.repeats = a.repeats if a.repeats else (1 if q else 3)
        self.cases = a.cases.split(",")
        # Ports: sandbox A at base, Gmail-like sandbox G at base+1000, proxy ports above.
        self.proxy_ports = {"a_pop": base + 2110, "a_imap": base + 2143,
                            "g_pop": base + 3110, "g_imap": base + 3143}

    # -- set-up -----------------------------------------------------------------------------

    def check_ports(self):
        wanted = [self.base + d for d in (110, 143, 993, 995)]
        if "c" in self.cases:
            wanted += [self.base + 1000 + d for d in (110, 143, 993, 995)]
        if "b" in self.cases or "c" in self.cases:
            wanted += list(self.proxy_ports.values())
        taken = [p for p in wanted if not port_free(p)]
        if taken:
            raise RuntimeError(f"ports in use: {taken} (set BENCH_BASEPORT to another base)")

    def setup(self):
        self.check_ports()
        os.makedirs(self.work, exist_ok=True)
        users = ["me", "src", "s300", "big"] + [f"m{i:03d}" for i in range(self.accounts)]
        self.A = Sandbox(os.path.join(self.a.sandboxes, "a"), self.base, users)
        log(f"starting sandbox Dovecot A in {self.A.dir} (ports {self.base}+110/143/993/995)")
        self.sandboxes.append(self.A)
        self.A.start()
        self.manifests = {}
        if "a" in self.cases:
            self._seed(self.A, "src", self.n_a, "src")
        if "b" in self.cases or "c" in self.cases:
            self._seed(self.A, "s300", self.n_b, "s300")
        if "c" in self.cases:
            self.G = Sandbox(os.path.join(self.a.sandboxes, "g"), self.base + 1000,
                             ["me", "s300"], gmail_like=True)
            log(f"starting Gmail-like sandbox Dovecot G in {self.G.dir}")
            self.sandboxes.append(self.G)
            self.G.start()
            self._seed(self.G, "s300", self.n_b, "s300")
        if "d" in self.cases:
            self._seed(self.A, "big", 1, "big", big_mb=self.big_mb)
            t0 = time.perf_counter()
            for i in range(self.accounts):
                self.A.seed(f"m{i:03d}", 4, 7, f"m{i:03d}")
            log(f"seeded {self.accounts} accounts x 4 messages in {time.perf_counter() - t0:.1f} s")
        if "b" in self.cases or "c" in self.cases:
            self.start_proxy(10)

    def _seed(self, sb, user, n, prefix, big_mb=0):
        manifest = os.path.join(self.work, f"manifest-{os.path.basename(sb.dir)}-{user}.txt")
        t0 = time.perf_counter()
        sb.seed(user, n, 4, prefix, manifest=manifest, big_mb=big_mb)
        count, octets = sb.pop_stat(user)
        log(f"seeded {user} in {os.path.basename(sb.dir)}: {count} messages, {octets / 1e6:.1f} MB "
            f"({time.perf_counter() - t0:.1f} s, POP3 STAT confirms)")
        self.manifests[(sb.dir, user)] = (manifest, count, octets)

    def start_proxy(self, one_way_ms):
        pp = self.proxy_ports
        pairs = [f"{pp['a_pop']}:{self.A.pop}", f"{pp['a_imap']}:{self.A.imap}"]
        if "c" in self.cases:
            pairs += [f"{pp['g_pop']}:{self.G.pop}", f"{pp['g_imap']}:{self.G.imap}"]
        self.proxy = subprocess.Popen([sys.executable, os.path.join(HERE, "latproxy.py"),
                                       str(one_way_ms)] + pairs,
                                      stderr=open(os.path.join(self.work, "latproxy.log"), "w"))
        with open(os.path.join(self.work, "latproxy.pid"), "w") as fh:
            fh.write(str(self.proxy.pid))
        for p in pp.values():
            if "c" in self.cases or p in (pp["a_pop"], pp["a_imap"]):
                wait_port(p)
        log(f"latproxy.py: {one_way_ms} ms each way in front of {', '.join(pairs)}")

    def teardown(self):
        if self.proxy and self.proxy.poll() is None:
            self.proxy.terminate()
            try:
                self.proxy.wait(10)
            except subprocess.TimeoutExpired:
                self.proxy.kill()
        for sb in self.sandboxes:
            sb.stop()

    # -- the tools ----------------------------------------------------------------------------

    def popgate_config(self, name, sb, accounts, imap_port, pop_tls="none", imap_tls="none",
                       connections=4):
        """Writes a config; accounts = [(account name, POP user, POP port, folder)]."""
        state = os.path.join(self.work, f"state-{name}")
        lines = [f"state_dir: {state}", f"log_level: {os.environ.get('BENCH_LOG_LEVEL', 'info')}", "target:",
                 f"  host: {'localhost' if imap_tls != 'none' else '127.0.0.1'}",
                 f"  port: {imap_port}", f"  tls: {imap_tls}", "  username: me",
                 "  password: pw-me", f"  connections: {connections}"]
        if imap_tls != "none":
            lines.append(f"  ca_file: {sb.ca}")
        lines.append("accounts:")
        for acct, user, port, folder in accounts:
            lines += [f"  - name: {acct}",
                      f"    host: {'localhost' if pop_tls != 'none' else '127.0.0.1'}",
                      f"    port: {port}", f"    tls: {pop_tls}", f"    username: {user}",
                      f"    password: pw-{user}", f"    folder: {folder}", "    keep: true"]
            if pop_tls != "none":
                lines.append(f"    ca_file: {sb.ca}")
        path = os.path.join(self.work, f"popgate-{name}.yaml")
        with open(path, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        os.chmod(path, 0o600)  # it holds passwords: popgate refuses a config others can read
        return path, state

    def run_popgate(self, config, state, reset):
        """One `popgate once`, from a fresh state; returns wall s, peak RSS KiB, cpu s, output."""
        shutil.rmtree(state, ignore_errors=True)
        reset()
        tfile = os.path.join(self.work, "time.out")
        t0 = time.perf_counter()
        wrap = os.environ.get("BENCH_WRAP", "").split()  # e.g. "perf record -o /tmp/p.data"
        p = run(["/usr/bin/time", "-f", "%M %U %S", "-o", tfile, *wrap, self.popgate, "once",
                 "--config", config], check=False)
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            raise RuntimeError(f"popgate once exited {p.returncode}:\n{p.stdout}{p.stderr[-3000:]}")
        if os.environ.get("BENCH_TRACE_DIR"):
            with open(os.path.join(os.environ["BENCH_TRACE_DIR"], f"run-{time.time():.3f}.log"), "w") as fh:
                fh.write(p.stdout + p.stderr)
        rss, user, sys_ = open(tfile).read().split()[-3:]
        return wall, int(rss), float(user) + float(sys_), p.stdout.strip()

    def verify(self, sb, pop_user, user, folder, n, manifest_key=None):
        got = sb.count(user, folder)
        if got != n:
            raise RuntimeError(f"verification failed: {user}/{folder} holds {got} messages, "
                               f"expected {n}")
        if manifest_key:
            manifest = self.manifests[manifest_key][0]
            p = run([sys.executable, os.path.join(HERE, "seed.py"), "verify", manifest,
                     sb.maildir(user, folder)], check=False)
            if p.returncode != 0:
                raise RuntimeError(f"verification failed: {p.stderr.strip()}")

    def fetchmail_setup(self, sb, pop_user, pop_port, folder):
        """A fetchmail home owned by the mail user, an rc file and an LDA config (the sandbox's
        own, with a log file that user may write)."""
        home = os.path.join(self.work, f"fetchmail-{pop_user}-{pop_port}")
        shutil.rmtree(home, ignore_errors=True)
        os.makedirs(home)
        uid, gid = (int(x) for x in sb.owner.split(":"))
        lda_conf = os.path.join(home, "lda.conf")
        with open(lda_conf, "w") as fh:
            fh.write(f"!include {sb.conf}\nlog_path = {home}/lda.log\n"
                     "lda_mailbox_autocreate = yes\n")
        rc = os.path.join(home, "fetchmailrc")
        with open(rc, "w") as fh:
            fh.write("set no bouncemail\nset no syslog\n"
                     f"poll 127.0.0.1 with protocol POP3 port {pop_port} auth password\n"
                     f"  user \"{pop_user}\" there with password \"pw-{pop_user}\" is me here\n"
                     # no TLS (sslproto ''): no STLS upgrade, so no certificate nags either
                     "  options keep fetchall no rewrite sslproto ''\n"
                     f"  mda \"{LDA} -c {lda_conf} -d me -m {folder}\"\n")
        os.chmod(rc, 0o600)
        for root, dirs, files in os.walk(home):
            for n in [root] + [os.path.join(root, f) for f in files]:
                os.chown(n, uid, gid)
        return home, rc

    def run_fetchmail(self, sb, home, rc, folder):
        """One fetchmail pass as the mail user; returns wall s."""
        sb.delete_folder("me", folder)
        sb.create_folder("me", folder)
        for f in (".fetchids", "fetchids", ".fetchmail.pid"):
            try:
                os.unlink(os.path.join(home, f))
            except FileNotFoundError:
                pass
        cmd = ["runuser", "-u", "popgate-sandbox", "--", "env", f"FETCHMAILHOME={home}",
               f"HOME={home}", "fetchmail", "-f", rc, "-i", os.path.join(home, "fetchids"),
               "--nodetach", "--nosyslog"]
        if os.getuid() != 0:
            cmd = cmd[4:]  # not root: the sandbox's mail user is this user
        t0 = time.perf_counter()
        p = run(cmd, check=False)
        wall = time.perf_counter() - t0
        if p.returncode not in (0,):
            raise RuntimeError(f"fetchmail exited {p.returncode}:\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
        return wall

    def run_floor(self, pop_port, pop_user, imap_port, modes, prefix, stream=""):
        p = run([sys.executable, os.path.join(HERE, "floor.py"), "--pop-port", str(pop_port),
                 "--pop-user", pop_user, "--imap-port", str(imap_port), "--imap-user", "me",
                 "--modes", modes, "--folder-prefix", prefix, "--stream", stream, "--json"])
        return json.loads(p.stdout)

    # -- reporting ----------------------------------------------------------------------------

    def add_row(self, case, tool, n, runs, **extra):
        secs = statistics.median(runs) if runs else None
        row = {"case": case, "tool": tool, "messages": n,
               "seconds": round(secs, 3) if secs is not None else None,
               "runs": [round(r, 3) for r in runs],
               "msgs_per_s": round(n / secs, 1) if secs else None}
        row.update(extra)
        self.rows.append(row)
        return row

    def info(self, case, what, value):
        """A ratio worth reading that is not one of the issue's targets."""
        self.checks.append({"case": case, "target": what, "value": round(value, 2),
                            "limit": None, "status": "info"})

    def check(self, case, what, value, limit, higher_is_better):
        ok = value >= limit if higher_is_better else value <= limit
        self.checks.append({"case": case, "target": what, "value": round(value, 2),
                            "limit": limit, "status": "PASS" if ok else "MISS"})
        return ok

    # -- cases ----------------------------------------------------------------------------------

    def compare(self, case, n, pop_port_pg, imap_port_pg, pop_user, pg_sb, fm_pop_port,
                floor_pop, floor_imap, floor_modes, stream_modes, connections=4):
        """popgate vs fetchmail vs floor, interleaved repeats; returns the medians."""
        A = self.A
        cfg, state = self.popgate_config(case, pg_sb, [("bench", pop_user, pop_port_pg, "PG")],
                                         imap_port_pg, connections=connections)
        if fm_pop_port:
            fm_home, fm_rc = self.fetchmail_setup(A, pop_user, fm_pop_port, "FM")
        pg_runs, pg_cpu, pg_rss, fm_runs, floors = [], [], [], [], []
        for r in range(self.repeats):
            count, _ = pg_sb.pop_stat(pop_user)
            if count != n:
                raise RuntimeError(f"POP box of {pop_user} holds {count}, expected {n}")
            wall, rss, cpu, out = self.run_popgate(cfg, state, lambda: fresh_folder(pg_sb, "PG"))
            self.verify(pg_sb, pop_user, "me", "PG", n, (pg_sb.dir, pop_user))
            log(f"{case} popgate run {r + 1}: {wall:.2f} s, {rss / 1024:.1f} MiB peak, "
                f"cpu {cpu:.2f} s — {out}")
            pg_runs.append(wall); pg_cpu.append(cpu); pg_rss.append(rss)
            self.pass_times.setdefault(case, []).append(reported_seconds(out))
            if fm_pop_port:
                wall = self.run_fetchmail(A, fm_home, fm_rc, "FM")
                got = A.count("me", "FM")
                if got != n:
                    raise RuntimeError(f"fetchmail delivered {got} of {n} messages")
                log(f"{case} fetchmail run {r + 1}: {wall:.2f} s")
                fm_runs.append(wall)
            if floor_pop is None:  # case c measures its floors first, on their own
                continue
            fl = self.run_floor(floor_pop, pop_user, floor_imap, floor_modes, f"Floor{case}",
                                stream_modes)
            if fl["messages"] != n:
                raise RuntimeError(f"floor moved {fl['messages']} messages, expected {n}")
            log(f"{case} floor run {r + 1}: pop {fl['pop_s']} s, imap {fl['imap_s']}"
                + (f", skipped {fl['skipped']}" if fl["skipped"] else ""))
            floors.append(fl)
        A.delete_folder("me", "FM")
        pg_sb.delete_folder("me", "PG")
        return pg_runs, pg_cpu, pg_rss, fm_runs, floors

    def floor_rows(self, case, n, floors, label_extra=""):
        """Adds one row per floor mode; returns {mode: median floor s}."""
        medians = {}
        pop_med = statistics.median(f["pop_s"] for f in floors)
        for mode in floors[0]["floor_s"]:
            runs = [f["floor_s"][mode] for f in floors]
            if mode.startswith("stream-"):
                name = {"stream-plus": "floor streamed LITERAL+",
                        "stream-multi": "floor streamed MULTIAPPEND x50"}[mode] + label_extra
                note = "both sides at once, one connection each (information)"
            else:
                imap = statistics.median(f["imap_s"][mode] for f in floors)
                name = {"plus": "floor LITERAL+", "multi": "floor MULTIAPPEND x50",
                        "minus": "floor LITERAL-"}[mode] + label_extra
                note = f"POP {pop_med:.2f} s, IMAP {imap:.2f} s; floor = max"
            self.add_row(case, name, n, runs, note=note)
            medians[mode] = statistics.median(runs)
        return medians

    def pass_note(self, case):
        t = statistics.median(self.pass_times[case])
        return (f"process wall time; popgate's own pass time (its \"(T s)\") median {t:.2f} s, "
                f"the rest is start-up, ledger and exit")

    def case_a(self):
        n = self.n_a
        log(f"case a: loopback, {n} messages")
        pg, cpu, rss, fm, floors = self.compare("a", n, self.A.pop, self.A.imap, "src", self.A,
                                                self.A.pop, self.A.pop, self.A.imap, "plus,multi",
                                                "multi")
        fl = self.floor_rows("a", n, floors)
        best = min(v for k, v in fl.items() if not k.startswith("stream-"))
        pg_s, fm_s = statistics.median(pg), statistics.median(fm)
        ok1 = self.check("a", "popgate >= 3x faster than fetchmail", fm_s / pg_s, 3, True)
        ok2 = self.check("a", "popgate <= 1.15x best floor", pg_s / best, 1.15, False)
        self.info("a", "popgate / streamed MULTIAPPEND floor (both sides at once)",
                  pg_s / fl["stream-multi"])
        self.add_row("a", "popgate (4 conns)", n, pg, vs_floor=round(pg_s / best, 2),
                     fetchmail_over_this=round(fm_s / pg_s, 2),
                     target=">=3x fetchmail, <=1.15x floor", status="PASS" if ok1 and ok2 else "MISS",
                     cpu_s=round(statistics.median(cpu), 3),
                     peak_rss_mib=round(statistics.median(rss) / 1024, 1),
                     note=self.pass_note("a"))
        self.add_row("a", "fetchmail + dovecot-lda", n, fm, vs_floor=round(fm_s / best, 2),
                     fetchmail_over_this=1.0)
        self.cpu_per_msg_ms = statistics.median(cpu) / n * 1000
        # Information: the same pass over TLS (implicit POP3S, STARTTLS IMAP), once.
        cfg, state = self.popgate_config("a-tls", self.A, [("bench", "src", self.A.pop3s, "PG")],
                                         self.A.imap, pop_tls="implicit", imap_tls="starttls")
        wall, rss1, cpu1, out = self.run_popgate(cfg, state, lambda: fresh_folder(self.A, "PG"))
        self.verify(self.A, "src", "me", "PG", n, (self.A.dir, "src"))
        self.A.delete_folder("me", "PG")
        log(f"a popgate TLS run: {wall:.2f} s — {out}")
        self.add_row("a", "popgate TLS (POP3S+STARTTLS)", n, [wall],
                     vs_floor=round(wall / best, 2), fetchmail_over_this=round(fm_s / wall, 2),
                     note="information, 1 run", cpu_s=round(cpu1, 3),
                     peak_rss_mib=round(rss1 / 1024, 1))

    def case_b(self):
        n = self.n_b
        pp = self.proxy_ports
        log(f"case b: 20 ms RTT, {n} messages")
        pg, cpu, rss, fm, floors = self.compare("b", n, pp["a_pop"], pp["a_imap"], "s300", self.A,
                                                pp["a_pop"], pp["a_pop"], pp["a_imap"],
                                                "plus,multi", "multi")
        fl = self.floor_rows("b", n, floors)
        best = min(v for k, v in fl.items() if not k.startswith("stream-"))
        pg_s, fm_s = statistics.median(pg), statistics.median(fm)
        ok1 = self.check("b", "popgate >= 10x faster than fetchmail (20 ms RTT)", fm_s / pg_s, 10, True)
        ok2 = self.check("b", "popgate <= 2x best floor (20 ms RTT)", pg_s / best, 2, False)
        self.info("b", "popgate / streamed MULTIAPPEND floor (both sides at once)",
                  pg_s / fl["stream-multi"])
        self.add_row("b", "popgate (4 conns)", n, pg, vs_floor=round(pg_s / best, 2),
                     fetchmail_over_this=round(fm_s / pg_s, 2),
                     target=">=10x fetchmail, <=2x floor", status="PASS" if ok1 and ok2 else "MISS",
                     cpu_s=round(statistics.median(cpu), 3), note=self.pass_note("b"))
        self.add_row("b", "fetchmail + dovecot-lda", n, fm, vs_floor=round(fm_s / best, 2),
                     fetchmail_over_this=1.0, note="POP3 through the proxy, LDA local")

    def case_c(self):
        n = self.n_b
        pp = self.proxy_ports
        log(f"case c: Gmail-like target at 20 ms RTT, {n} messages")
        # Correctness first: a first pass into a folder that does not exist yet.
        cfg, state = self.popgate_config("c", self.G, [("bench", "s300", pp["g_pop"], "PG")],
                                         pp["g_imap"], connections=GMAIL_CONNECTIONS)
        try:
            wall, _, _, out = self.run_popgate(cfg, state, lambda: self.G.delete_folder("me", "PG"))
            self.verify(self.G, "s300", "me", "PG", n, (self.G.dir, "s300"))
            self.check("c", "first pass creates the missing folder (Gmail-like)", 1, 1, True)
            log(f"c popgate first pass (folder missing): {wall:.2f} s — {out}")
        except RuntimeError as exc:
            first = str(exc).splitlines()[1] if len(str(exc).splitlines()) > 1 else str(exc)
            log(f"c popgate first pass (folder missing) FAILED: {first}")
            self.checks.append({"case": "c", "target": "first pass creates the missing folder "
                                "(Gmail-like)", "value": 0, "limit": 1, "status": "MISS",
                                "error": first})
        # Floors first (so they are reported even when popgate fails): LITERAL+ against the
        # normal Dovecot A through the same proxy; and, as information, what LITERAL- allows a
        # one-connection client on the Gmail-like server G.
        floors, minus = [], []
        for r in range(self.repeats):
            floors.append(self.run_floor(pp["a_pop"], "s300", pp["a_imap"], "plus", "Floorc",
                                         "plus"))
            minus.append(self.run_floor(pp["g_pop"], "s300", pp["g_imap"], "minus", "Floorcm"))
            log(f"c floor run {r + 1}: LITERAL+ {floors[-1]['floor_s']}, "
                f"LITERAL- {minus[-1]['floor_s']}")
        fl = self.floor_rows("c", n, floors, " (normal Dovecot)")
        self.floor_rows("c", n, minus, " (Gmail-like, info)")
        # popgate: POP from G, IMAP to G (LITERAL-, no MULTIAPPEND), both through the proxy.
        # Without LITERAL+ each message over 4 KB costs a round trip for its "+": parallel
        # sessions are the way, as many as Gmail allows one account.
        pg, cpu, rss, _, _ = self.compare("c", n, pp["g_pop"], pp["g_imap"], "s300", self.G,
                                          None, None, None, None, None,
                                          connections=GMAIL_CONNECTIONS)
        pg_s = statistics.median(pg)
        ok = self.check("c", "popgate <= 3x LITERAL+ floor (Gmail-like, 20 ms RTT)",
                        pg_s / fl["plus"], 3, False)
        self.info("c", "popgate / streamed LITERAL+ floor (both sides at once)",
                  pg_s / fl["stream-plus"])
        self.add_row("c", f"popgate ({GMAIL_CONNECTIONS} conns) -> Gmail-like", n, pg,
                     vs_floor=round(pg_s / fl["plus"], 2), target="<=3x LITERAL+ floor",
                     status="PASS" if ok else "MISS", cpu_s=round(statistics.median(cpu), 3),
                     note=self.pass_note("c"))

    def case_d(self):
        A = self.A
        log(f"case d: memory ({self.big_mb} MB message; {self.accounts} accounts x 4)")
        cfg, state = self.popgate_config("d1", A, [("big", "big", A.pop, "Big")], A.imap)
        runs, rss1 = [], []
        for r in range(self.repeats):
            wall, rss, cpu, out = self.run_popgate(cfg, state, lambda: A.delete_folder("me", "Big"))
            self.verify(A, "big", "me", "Big", 1, (A.dir, "big"))
            log(f"d1 popgate run {r + 1}: {wall:.2f} s, peak RSS {rss / 1024:.1f} MiB — {out}")
            runs.append(wall); rss1.append(rss)
        A.delete_folder("me", "Big")
        peak = max(rss1) / 1024
        ok = self.check("d", f"peak RSS <= 32 MiB, one {self.big_mb} MB message", peak, 32, False)
        self.add_row("d", f"popgate, 1 x {self.big_mb} MB message", 1, runs, peak_rss_mib=round(peak, 1),
                     target="RSS <= 32 MiB", status="PASS" if ok else "MISS",
                     note="peak RSS = max of the runs")

        accounts = [(f"m{i:03d}", f"m{i:03d}", A.pop, f"Acct{i:03d}") for i in range(self.accounts)]
        cfg, state = self.popgate_config("d2", A, accounts, A.imap)

        def reset():
            folders = list(A.counts("me", "Acct*"))
            if folders:  # one doveadm run for all of them
                A.doveadm("mailbox", "delete", "-u", "me", "-s", *folders)

        runs, rss2, cpus = [], [], []
        for r in range(self.repeats):
            wall, rss, cpu, out = self.run_popgate(cfg, state, reset)
            counts = A.counts("me", "Acct*")
            total = sum(counts.values())
            if len(counts) != self.accounts or total != 4 * self.accounts:
                raise RuntimeError(f"{self.accounts} accounts: {len(counts)} folders, {total} messages")
            log(f"d2 popgate run {r + 1}: {wall:.2f} s, peak RSS {rss / 1024:.1f} MiB, cpu {cpu:.2f} s")
            runs.append(wall); rss2.append(rss); cpus.append(cpu)
        reset()
        peak = max(rss2) / 1024
        ok = self.check("d", f"peak RSS <= 64 MiB, {self.accounts} accounts x 4", peak, 64, False)
        self.add_row("d", f"popgate, {self.accounts} accounts x 4", 4 * self.accounts, runs,
                     peak_rss_mib=round(peak, 1), target="RSS <= 64 MiB",
                     status="PASS" if ok else "MISS", cpu_s=round(statistics.median(cpus), 3))
        if hasattr(self, "cpu_per_msg_ms"):
            self.add_row("d", f"popgate CPU per message (case a)", self.n_a, [],
                         note=f"{self.cpu_per_msg_ms:.3f} ms user+sys per message")
            self.meta["cpu_ms_per_message"] = round(self.cpu_per_msg_ms, 3)

    # -- main -----------------------------------------------------------------------------------

    def proxy_selftest(self):
        p = run([sys.executable, os.path.join(HERE, "latproxy.py"), "--selftest", "--mb", "256"])
        st = json.loads(p.stdout)
        self.meta["latproxy_selftest"] = st
        log(f"latproxy.py at 0 ms: {st['proxied_MBps']} MB/s vs {st['direct_MBps']} MB/s direct "
            f"(ratio {st['throughput_ratio']}); round trip {st['proxied_rtt_us']} us vs "
            f"{st['direct_rtt_us']} us")

    def report(self):
        cols = [("case", 4), ("tool", 34), ("n", 5), ("seconds", 8), ("msgs/s", 8),
                ("xfloor", 7), ("fm/this", 8), ("RSS MiB", 8), ("target", 30), ("status", 6)]
        head = " ".join(f"{c:<{w}}" for c, w in cols)
        lines = [head, "-" * len(head)]
        for r in self.rows:
            def f(v, fmt):
                return "" if v is None else format(v, fmt)
            vals = [r["case"], r["tool"], str(r["messages"]), f(r["seconds"], ".2f"),
                    f(r["msgs_per_s"], ".0f"), f(r.get("vs_floor"), ".2f"),
                    f(r.get("fetchmail_over_this"), ".1f"), f(r.get("peak_rss_mib"), ".1f"),
                    r.get("target", ""), r.get("status", "")]
            lines.append(" ".join(f"{v:<{w}}" for v, (_, w) in zip(vals, cols)))
            if r.get("note"):
                lines.append(" " * 5 + "  " + r["note"])
        lines.append("")
        lines.append("Targets:")
        for c in self.checks:
            if c.get("error"):
                # The informative part of a popgate failure is its "failed: ..." text.
                err = " ".join(c["error"].split())
                err = re.split(r" \d{4}-\d\d-\d\dT", err)[0]  # drop the log lines after it
                i = err.find("failed: ")
                lines.append(f"  {c['case']}  {c['target']}: {c['status']}: "
                             f"{err[i if i >= 0 else 0:][:220]}")
                continue
            if c["status"] == "info":
                lines.append(f"  {c['case']}  {c['target']:<55} {c['value']:>7}  (information)")
                continue
            lines.append(f"  {c['case']}  {c['target']:<55} {c['value']:>7}  (limit {c['limit']})  "
                         f"{c['status']}")
        if "latproxy_selftest" in self.meta:
            st = self.meta["latproxy_selftest"]
            lines.append(f"latproxy.py overhead at 0 ms: throughput ratio {st['throughput_ratio']} "
                         f"({st['proxied_MBps']} vs {st['direct_MBps']} MB/s), added round-trip "
                         f"{st['proxied_rtt_us'] - st['direct_rtt_us']:.0f} us")
        text = "\n".join(lines)
        print(text, flush=True)
        if self.a.json:
            with open(self.a.json, "w") as fh:
                json.dump({"meta": self.meta, "rows": self.rows, "checks": self.checks}, fh, indent=2)
        return all(c["status"] in ("PASS", "info") for c in self.checks)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--popgate", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--sandboxes", required=True)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--cases", default="a,b,c,d")
    p.add_argument("--repeats", type=int, default=0)
    p.add_argument("--json")
    a = p.parse_args()
    b = Bench(a)
    b.meta.update({"quick": a.quick, "cases": a.cases, "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
                   "host_cpus": os.cpu_count(), "loadavg_start": os.getloadavg()})
    # SIGTERM (run.sh's trap, a timeout) becomes an exception, so the finally block runs.
    def on_term(*_):
        raise KeyboardInterrupt("SIGTERM")
    signal.signal(signal.SIGTERM, on_term)
    try:
        b.proxy_selftest()
        b.setup()
        for case in b.cases:
            try:
                getattr(b, f"case_{case}")()
            except (RuntimeError, OSError, subprocess.TimeoutExpired, ValueError) as exc:
                # A failed or wrong run fails its case; the other cases still run.
                log(f"case {case} FAILED: {exc}")
                b.checks.append({"case": case, "target": "case ran and verified",
                                 "value": 0, "limit": 1, "status": "FAIL",
                                 "error": str(exc)[:2000]})
    finally:
        b.meta["loadavg_end"] = os.getloadavg()
        b.teardown()
    ok = b.report()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
