#!/usr/bin/env python3
"""idle_polls.py — what thousands of idle accounts cost one popgate process (issue 15).

    bench/idle_polls.sh [--accounts 1000,5000] [--interval 60] [--measure 120] [--json FILE]
                        [--modes resumed,full] [--compare OLD_POPGATE]
    idle_polls.py --popgate BIN --work DIR --sandboxes DIR [same options]

--compare OLD_POPGATE[,...] measures earlier builds first, against the same Dovecot in the same run,
so that a change is judged by before/after ratios rather than by figures from different days on
a machine shared with other work. --modes resumed skips the never-resuming Dovecot.

A provider's cost is mostly idle polls: TLS handshake, login, UIDL, nothing new, QUIT. For each
N in --accounts, a sandbox Dovecot gets N POP3 users with empty mailboxes; `popgate run` polls all
N over POP3S (implicit TLS, certificate verified) every --interval seconds. Once every account
has been polled once (the start-up burst is not what a provider pays for), popgate's CPU time
(utime + stime from /proc/PID/stat) and its poll count (/metrics, popgate_polls_total) are read,
and again --measure seconds later:

  CPU % of one core   = CPU seconds / wall seconds of the window
  CPU per idle poll   = CPU seconds / polls in the window
  peak RSS            = VmHWM of the daemon at the end (the start-up, configuration loading
                        included); VmRSS then is reported too (rss_at_end_mib, in the JSON)

Each N runs twice: against a Dovecot that lets clients resume TLS sessions (one pop3-login
process, so one ticket key) and against one that never does (Dovecot's default high-security
login mode: a fresh login process, with fresh keys, per connection), where every poll is a full
handshake: what popgate did for every server before it kept sessions. The debug trace's "* TLS session resumed" lines are counted over
a short extra run to prove which was which.

Then fetchmail does the same polls in one run, against the same (resuming) Dovecot (`fetchmail -f RC` polls every account once, POP3S
with sslcertck, keep, nothing new): its CPU time (getrusage of the child) per account.

Goals (issue 15): <= 5 % of one core for 1,000 accounts a minute; RSS <= 64 MB at 5,000 accounts;
CPU per idle poll <= 1/5 of fetchmail's.
"""

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import SANDBOX, Sandbox, log, port_free, run  # noqa: E402 — bench/bench.py

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of a running process, in seconds."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_kib(pid, field="VmHWM"):
    """The peak (VmHWM) or current (VmRSS) resident set of a running process, in KiB."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field}")


def polls_total(admin_port):
    """The sum of popgate_polls_total over every account."""
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=30) as r:
        text = r.read().decode()
    return sum(float(m.group(1)) for m in re.finditer(r"^popgate_polls_total\{[^}]*\} (\S+)$",
                                                        text, re.M))


def free_port(start):
    for p in range(start, start + 500):
        if port_free(p):
            return p
    raise RuntimeError(f"no free port from {start}")


class IdleBench:
    def __init__(self, a):
        self.work = a.work
        self.sandboxes = a.sandboxes
        self.interval = a.interval
        self.measure = a.measure
        self.base = a.baseport
        self.rows = []

    def start_sandbox(self, n, resumable):
        users = [f"u{i:05d}" for i in range(n)] + ["central"]
        sb = Sandbox(os.path.join(self.sandboxes, "idle"), self.base, users)
        os.environ["SANDBOX_POP3_LOGIN"] = "one" if resumable else "per-connection"
        try:
            sb.start()
        finally:
            os.environ.pop("SANDBOX_POP3_LOGIN", None)
        return sb, users[:-1]

    def config(self, sb, users, admin_port, log_level="info"):
        state = os.path.join(self.work, "state-idle")
        shutil.rmtree(state, ignore_errors=True)
        lines = [f"state_dir: {state}", f"log_level: {log_level}", "max_parallel_polls: 4",
                 "admin:", f"  listen: 127.0.0.1:{admin_port}",
                 "target:", "  host: localhost", f"  port: {sb.imaps}", "  tls: implicit",
                 f"  ca_file: {sb.ca}", "  username: central", "  password: pw-central",
                 "  connections: 1",
                 "defaults:", f"  poll_interval: {self.interval}s", "  keep: true",
                 "  host: localhost", f"  port: {sb.pop3s}", "  tls: implicit", f"  ca_file: {sb.ca}",
                 "accounts:"]
        for u in users:
            lines.append(f"  - {{name: {u}, username: {u}, password: pw-{u}}}")
        path = os.path.join(self.work, "idle.yaml")
        # Inline passwords: popgate run refuses the file unless only its owner can read it.
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
            fh.write("\n".join(lines) + "\n")
        os.chmod(path, 0o600)
        return path

    def daemon(self, popgate, config, log_file):
        out = open(log_file, "w")
        return subprocess.Popen([popgate, "run", "--config", config], stdout=out,
                                stderr=subprocess.STDOUT)

    def wait_polls(self, proc, admin_port, at_least, deadline_s):
        deadline = time.time() + deadline_s
        while time.time() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"popgate run exited {proc.returncode}")
            try:
                if polls_total(admin_port) >= at_least:
                    return
            except OSError:
                pass
            time.sleep(1)
        raise RuntimeError(f"fewer than {at_least} polls after {deadline_s} s")

    def stop(self, proc):
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def measure_popgate(self, n, resumable, popgate, name):
        """Both builds (--compare) against one Dovecot, one after the other."""
        label = "sessions resumed" if resumable else "full handshakes (server never resumes)"
        log(f"{n} accounts, {label}: starting Dovecot")
        sb, users = self.start_sandbox(n, resumable)
        try:
            rows = [self.measure_one(sb, users, n, label, resumable, p, nm)
                    for p, nm in zip(popgate, name)]
            fm = self.fetchmail(sb, users, n) if resumable else None
        finally:
            sb.stop()
            shutil.rmtree(sb.dir, ignore_errors=True)
        return rows, fm

    def measure_one(self, sb, users, n, label, resumable, popgate, name):
        log(f"{n} accounts, {label}: popgate {name} ({popgate})")
        admin_port = free_port(self.base + 2000)
        config = self.config(sb, users, admin_port)
        logf = os.path.join(self.work, f"idle-{n}-{'resumed' if resumable else 'full'}-{name}.log")
        proc = self.daemon(popgate, config, logf)
        try:
            # The start-up burst: every account polled once.
            self.wait_polls(proc, admin_port, n, 20 * self.interval + 600)
            c0, p0, t0 = cpu_seconds(proc.pid), polls_total(admin_port), time.time()
            log(f"{n} accounts: first round done; measuring {self.measure} s")
            time.sleep(self.measure)
            c1, p1, t1 = cpu_seconds(proc.pid), polls_total(admin_port), time.time()
            rss, rss_now = rss_kib(proc.pid), rss_kib(proc.pid, "VmRSS")
        finally:
            self.stop(proc)
        failures = len(re.findall(r"failed", open(logf).read()))
        resumed, full = self.count_handshakes(popgate, sb, users[: min(50, n)])
        polls = p1 - p0
        cpu = c1 - c0
        row = dict(accounts=n, build=name, tls=label, window_s=round(t1 - t0, 1), polls=int(polls),
                   polls_per_min=round(polls * 60 / (t1 - t0), 1),
                   cpu_s=round(cpu, 2), cpu_pct_one_core=round(100 * cpu / (t1 - t0), 2),
                   cpu_ms_per_poll=round(1000 * cpu / polls, 3) if polls else None,
                   peak_rss_mib=round(rss / 1024, 1), rss_at_end_mib=round(rss_now / 1024, 1),
                   failed_polls_logged=failures,
                   trace_resumed=resumed, trace_full=full)
        log(json.dumps(row))
        self.rows.append(row)
        return row

    def count_handshakes(self, popgate, sb, users):
        """`popgate once` with the debug trace over a few accounts (sessions are kept in memory, so
        the first connections of the run are full handshakes and the later ones may resume): how
        many TLS handshakes were resumed and how many were full."""
        config = self.config(sb, users, free_port(self.base + 2500), log_level="debug")
        p = run([popgate, "once", "--config", config], check=False)
        text = p.stdout + p.stderr
        return (len(re.findall(r"\*: TLS session resumed", text)),
                len(re.findall(r"\*: TLS full handshake", text)))

    def fetchmail(self, sb, users, n):
        log(f"{n} accounts: fetchmail, one run over every account")
        home = os.path.join(self.work, "fetchmail-idle")
        shutil.rmtree(home, ignore_errors=True)
        os.makedirs(home)
        rc = os.path.join(home, "fetchmailrc")
        with open(rc, "w") as fh:
            fh.write("set no bouncemail\nset no syslog\n")
            for u in users:
                fh.write(f"poll localhost with protocol POP3 port {sb.pop3s} auth password\n"
                         f"  user \"{u}\" there with password \"pw-{u}\" is me here\n"
                         f"  options keep ssl sslcertck sslcertfile \"{sb.ca}\"\n"
                         "  mda \"/bin/true\"\n")
        os.chmod(rc, 0o600)
        uid, gid = (int(x) for x in sb.owner.split(":"))
        for f in (home, rc):
            os.chown(f, uid, gid)
        cmd = ["runuser", "-u", "popgate-sandbox", "--", "env", f"FETCHMAILHOME={home}",
               f"HOME={home}", "fetchmail", "-f", rc, "-i", os.path.join(home, "fetchids"),
               "--nodetach", "--nosyslog"]
        if os.getuid() != 0:
            cmd = cmd[4:]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.time()
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
        wall = time.time() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # 1 = no mail: what an idle poll should say. Anything else is a failed run.
        if p.returncode not in (0, 1):
            raise RuntimeError(f"fetchmail exited {p.returncode}:\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
        errors = len(re.findall(r"error|failed", p.stdout + p.stderr, re.I))
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        row = dict(accounts=n, tool="fetchmail", wall_s=round(wall, 1), cpu_s=round(cpu, 2),
                   cpu_ms_per_poll=round(1000 * cpu / n, 3), errors_logged=errors)
        log(json.dumps(row))
        self.rows.append(row)
        return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--popgate", required=True)
    ap.add_argument("--compare", help="earlier popgate builds (comma-separated), measured "
                    "before --popgate against the same Dovecot in the same run (before/after)")
    ap.add_argument("--work", required=True)
    ap.add_argument("--sandboxes", required=True)
    ap.add_argument("--accounts", default="1000,5000")
    ap.add_argument("--interval", type=int, default=60)
    ap.add_argument("--measure", type=int, default=120)
    ap.add_argument("--modes", default="resumed,full",
                    help="resumed (a Dovecot that resumes TLS sessions), full (one that never does)")
    ap.add_argument("--baseport", type=int, default=43000)
    ap.add_argument("--json")
    a = ap.parse_args()
    b = IdleBench(a)
    earlier = a.compare.split(",") if a.compare else []
    names = ["before"] if len(earlier) == 1 else [os.path.basename(p) for p in earlier]
    builds = (earlier + [a.popgate], names + ["this"])
    modes = a.modes.split(",")
    load0 = os.getloadavg()
    results = []
    for n in (int(x) for x in a.accounts.split(",")):
        rows, fm = b.measure_popgate(n, True, *builds) if "resumed" in modes else ([], None)
        if "full" in modes:
            rows += b.measure_popgate(n, False, *builds)[0]
        if fm is None:  # fetchmail runs against the resuming Dovecot (it never resumes anyway)
            sb, users = b.start_sandbox(n, True)
            try:
                fm = b.fetchmail(sb, users, n)
            finally:
                sb.stop()
                shutil.rmtree(sb.dir, ignore_errors=True)
        results.append((n, rows, fm))
    load1 = os.getloadavg()
    print()
    print(f"load average (1/5/15 min) at start {load0[0]:.2f}/{load0[1]:.2f}/{load0[2]:.2f}, "
          f"at end {load1[0]:.2f}/{load1[1]:.2f}/{load1[2]:.2f}; {os.cpu_count()} CPUs")
    print("| accounts | build | TLS | polls/min | CPU % of one core | CPU ms per idle poll | "
          "peak RSS MiB | fetchmail CPU ms per poll | popgate / fetchmail |")
    print("|---:|---|---|---:|---:|---:|---:|---:|---:|")
    for n, rows, fm in results:
        for row in rows:
            ratio = row["cpu_ms_per_poll"] / fm["cpu_ms_per_poll"] if row["cpu_ms_per_poll"] else 0
            print(f"| {n} | {row['build']} | {row['tls']} | {row['polls_per_min']} | "
                  f"{row['cpu_pct_one_core']} | {row['cpu_ms_per_poll']} | {row['peak_rss_mib']} | "
                  f"{fm['cpu_ms_per_poll']} | {ratio:.2f} |")
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(dict(load_start=load0, load_end=load1, rows=b.rows), fh, indent=1)


if __name__ == "__main__":
    main()
