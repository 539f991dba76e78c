#!/usr/bin/env python3
"""The benchmark: the paper's workloads and C10K's strategies, in one run.

    python3 bench/run.py --quick            # under 10 minutes on a 2-core machine
    python3 bench/run.py --full             # the whole matrix, more rounds and rates
    python3 bench/run.py --report DIR       # redraw the report from DIR/results.json

Builds nothing: point --build at a build of the project (make bench does both). Every server
runs one loop pinned to CPU 0 and the load generator (bench/load's c10k-load) runs on CPU 1;
rounds are interleaved across servers so drift hits all alike; each number is the median of
its rounds, shown with min and max. Writes DIR/results.json, DIR/report.md and the figures
(gnuplot, PNG and SVG) into --out (default results/<date>-<profile>).
"""
import argparse
import datetime
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runner import load, measure, report, servers  # noqa: E402

PROFILES = {
    # seconds per closed-loop run; open-loop seconds per rate point; request rates (per second)
    "quick": dict(rounds=2, seconds=3, warmup=1, open_seconds=2, idle=10000, idle_rounds=1,
                  plain_rates=[6000, 12000, 18000, 24000, 30000],
                  specweb_rates=[3000, 6000, 9000, 12000, 15000],
                  accept_limits=[1, 10, 0]),
    # about 35 minutes on a 2-core machine
    "full": dict(rounds=3, seconds=5, warmup=2, open_seconds=3, idle=10000, idle_rounds=2,
                 plain_rates=[4000, 8000, 12000, 16000, 20000, 24000, 27000, 30000, 33000, 36000],
                 specweb_rates=[2000, 4000, 6000, 8000, 10000, 12000, 13500, 15000, 16500, 18000],
                 accept_limits=[1, 10, 0]),
    # a check of the runner itself, not a measurement: seconds, not minutes
    "smoke": dict(rounds=1, seconds=1, warmup=1, open_seconds=1, idle=300, idle_rounds=1,
                  plain_rates=[1000, 3000], specweb_rates=[1000], accept_limits=[1, 0]),
}
SPECWEB_CALLS = 5  # requests per connection in the SPECweb99-like sessions (keep-alive)


class bench:
    """One benchmark run: the servers, the scratch folder, and the records it collects."""

    def __init__(self, args):
        self.args = args
        self.p = PROFILES[args.profile]
        self.build = os.path.abspath(args.build)
        self.out = os.path.abspath(args.out)
        self.work = tempfile.mkdtemp(prefix="c10k-bench-")
        self.records = []
        self.notes = []
        self.next_port = 19000
        self.fileset = os.path.join(self.work, "files")

    def port(self):
        """The next port nothing listens on (a server left from an earlier run would answer)."""
        while True:
            self.next_port += 1
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.next_port)) != 0:
                    return self.next_port

    def note(self, text):
        print(f"  note: {text}", flush=True)
        self.notes.append(text)

    def record(self, **r):
        self.records.append(r)
        self.save()

    def save(self):
        with open(os.path.join(self.out, "results.json"), "w") as f:
            json.dump({"meta": self.meta, "records": self.records, "notes": self.notes}, f, indent=1)

    # --- setup -------------------------------------------------------------------------------

    def prepare(self):
        os.makedirs(self.out, exist_ok=True)
        self.meta = machine_meta(self.args, self.p)
        missing = [t for t in ("examples/c10k-server", "bench/load/c10k-load", "bench/load/c10k-fileset")
                   if not os.access(os.path.join(self.build, t), os.X_OK)]
        if missing:
            sys.exit(f"bench/run.py: {', '.join(missing)} missing under {self.build}: build first (make bench)")
        subprocess.run([f"{self.build}/bench/load/c10k-fileset", "--out", self.fileset, "--seed", "1", "--dirs", "10"],
                       check=True, stdout=subprocess.DEVNULL)
        self.specs = {}
        wanted = [servers.c10k(b) for b in servers.BACKENDS]
        wanted += [servers.c10k("io_uring", "fiber"), servers.c10k("epoll", "fiber")]
        wanted += [servers.reactor("epoll"), servers.reactor("io_uring"), servers.threads(), servers.nginx()]
        for spec in wanted:
            why = spec.available(self.build)
            if why:
                self.note(f"{spec.name}: skipped, {why}")
            else:
                self.specs[spec.name] = spec

    def start(self, name, accept_limit=None):
        """Starts the server and warms it (one unmeasured second of /plain load)."""
        srv = servers.start(self.specs[name], self.build, self.port(), self.fileset, self.work, accept_limit)
        load.closed(self.build, srv.port, self.work, self.p["warmup"], 16, 1, "plain", 0, "warmup")
        return srv

    def have(self, names):
        """The servers of `names` that can run here, each once, in order."""
        return [n for i, n in enumerate(names) if n in self.specs and n not in names[:i]]

    # --- one measured load run ---------------------------------------------------------------

    def measured(self, srv, run_load):
        """Runs run_load() against srv; returns its result with the server's CPU time, system
        calls per request (servers with /stats) and the load generator's own CPU use added."""
        pids = srv.pids()
        c0 = measure.cpu_ns(pids)
        s0 = measure.server_counters(srv.port) if srv.spec.has_stats else None
        u0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        r = run_load()
        u1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        c1 = measure.cpu_ns(pids)
        s1 = measure.server_counters(srv.port) if srv.spec.has_stats else None
        if "failed" in r:
            return r
        # Measured runs have no warm-up of their own (the server was warmed when it started),
        # so the CPU time and the counters span just the replies counted.
        replies = r.get("replies", 0)
        measured_s = r.get("duration_s", 0)
        r["server_cpu_ns_per_reply"] = (c1 - c0) / replies if replies else None
        r["server_cpu_share"] = (c1 - c0) / 1e9 / measured_s if measured_s else None
        r["load_cpu_share"] = ((u1.ru_utime - u0.ru_utime) + (u1.ru_stime - u0.ru_stime)) / measured_s if measured_s else None
        if s0 and s1 and "syscalls" in s1:
            served = s1.get("requests", 0) - s0.get("requests", 0) - 1  # less the /stats request itself
            r["syscalls_per_reply"] = (s1["syscalls"] - s0["syscalls"]) / served if served > 0 else None
        return r

    # --- experiments -------------------------------------------------------------------------

    def closed_loop(self, exp, names, pipeline, workload="plain"):
        """Closed-loop runs of 64 connections on every server, rounds interleaved."""
        names = self.have(names)
        print(f"{exp}: {', '.join(names)}", flush=True)
        running = {}
        for n in names:
            try:
                running[n] = self.start(n)
            except RuntimeError as e:
                self.note(str(e))
        try:
            for rnd in range(self.p["rounds"]):
                for n, srv in running.items():
                    r = self.measured(srv, lambda: load.closed(self.build, srv.port, self.work, self.p["seconds"],
                                                              64, pipeline, workload, 0, exp))
                    self.record(**{**r, "exp": exp, "server": n, "round": rnd, "workload": workload})
                    print(f"  {n} round {rnd}: {fmt_rate(r)}", flush=True)
        finally:
            for srv in running.values():
                srv.stop()

    def idle(self, exp, names):
        """Per server: /plain closed loop without, with, and again without N idle connections
        held open, and the resident memory those connections cost."""
        names = self.have(names)
        count = self.p["idle"]
        print(f"{exp}: {count} idle connections; {', '.join(names)}", flush=True)
        for rnd in range(self.p["idle_rounds"]):
            for n in names:
                try:
                    srv = self.start(n)
                except RuntimeError as e:
                    self.note(str(e))
                    continue
                try:
                    base = self.measured(srv, lambda: load.closed(self.build, srv.port, self.work, self.p["seconds"],
                                                                  64, 1, "plain", 0, exp))
                    time.sleep(0.5)
                    rss0 = measure.rss_bytes(srv.pids())
                    with load.idle_connections(self.build, srv.port, self.work, count) as idle:
                        t0 = time.time()
                        if not idle.wait_ready():
                            self.note(f"{n}: {count} idle connections did not all open ({tail(idle.log_path)})")
                            continue
                        opened_s = time.time() - t0
                        time.sleep(1.0)
                        rss1 = measure.rss_bytes(srv.pids())
                        with_idle = self.measured(srv, lambda: load.closed(self.build, srv.port, self.work,
                                                                           self.p["seconds"], 64, 1, "plain",
                                                                           0, exp + "-idle"))
                    # The same run again once the idle connections are gone: the baseline is the
                    # mean of before and after, so that drift does not pass for their cost.
                    time.sleep(1.0)
                    after = self.measured(srv, lambda: load.closed(self.build, srv.port, self.work, self.p["seconds"],
                                                                   64, 1, "plain", 0, exp))
                    if _ok(base) and _ok(after):
                        base = {**base, "reply_rate": (base["reply_rate"] + after["reply_rate"]) / 2,
                                "before_rate": base["reply_rate"], "after_rate": after["reply_rate"]}
                    self.record(exp=exp, server=n, round=rnd, idle=count, base=base, with_idle=with_idle,
                                rss_before=rss0, rss_idle=rss1, rss_per_idle=(rss1 - rss0) / count, open_s=opened_s)
                    print(f"  {n}: {fmt_rate(base)} -> {fmt_rate(with_idle)} with {count} idle; "
                          f"{(rss1 - rss0) / count:.0f} B resident per idle connection", flush=True)
                finally:
                    srv.stop()

    def open_loop(self, exp, names, workload, rates, calls, idle=0, accept_limits=(None,)):
        """Reply rate against request rate (httperf-style), per server and accept limit."""
        names = self.have(names)
        print(f"{exp}: {workload}, {idle} idle, rates {rates}; {', '.join(names)}", flush=True)
        for n in names:
            for limit in accept_limits:
                label = n if limit is None else f"{n} accept-limit {limit or 'inf'}"
                try:
                    srv = self.start(n, accept_limit=limit)
                except RuntimeError as e:
                    self.note(str(e))
                    continue
                try:
                    ctx = load.idle_connections(self.build, srv.port, self.work, idle) if idle else None
                    if ctx:
                        ctx.__enter__()
                        if not ctx.wait_ready():
                            self.note(f"{label}: {idle} idle connections did not all open ({tail(ctx.log_path)})")
                            ctx.__exit__(None, None, None)
                            continue
                    try:
                        for rate in rates:
                            r = self.measured(srv, lambda: load.open_loop(
                                self.build, srv.port, self.work, max(1, rate // calls), self.p["open_seconds"],
                                calls, workload, 2, exp))
                            self.record(**{**r, "exp": exp, "server": label, "rate": rate, "idle": idle,
                                           "workload": workload})
                            print(f"  {label} @ {rate}/s: {fmt_rate(r)}", flush=True)
                            time.sleep(0.5)
                    finally:
                        if ctx:
                            ctx.__exit__(None, None, None)
                finally:
                    srv.stop()

    def micro(self):
        exe = f"{self.build}/bench/micro/c10k-micro"
        if not os.access(exe, os.X_OK):
            self.note("micro-benchmarks: c10k-micro not built (apt-get install libbenchmark-dev)")
            return
        print("micro-benchmarks", flush=True)
        out = os.path.join(self.out, "micro.json")
        min_time = "0.05" if self.args.profile == "quick" else "0.5"
        p = subprocess.run(["taskset", "-c", load.LOAD_CPU, exe, f"--benchmark_min_time={min_time}",
                            "--benchmark_format=json", f"--benchmark_out={out}"],
                           capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            self.note(f"c10k-micro failed: {p.stderr[-300:]}")

    def run(self):
        self.prepare()
        started = time.time()
        p = self.p
        all_c10k = [f"c10k {b}" for b in servers.BACKENDS]
        strategies = ["c10k io_uring", "c10k io_uring fiber", "c10k epoll", "c10k epoll fiber",
                      "reactor io_uring", "reactor epoll", "threads", "nginx"]
        self.closed_loop("plain", all_c10k + strategies[1:], pipeline=1)
        self.closed_loop("pipelined", ["c10k io_uring", "c10k epoll", "reactor io_uring", "reactor epoll", "nginx"]
                         + (["c10k epoll-et", "c10k poll", "c10k select", "threads"] if args.profile == "full" else []),
                         pipeline=16)
        self.idle("idle", strategies + (["c10k epoll-et", "c10k poll"] if args.profile == "full" else []))
        # The paper's figures: reply rate against request rate, 0 and 10,000 idle connections.
        # select cannot watch descriptors past FD_SETSIZE (1024), so it sits out the idle runs.
        idle_backends = [f"c10k {b}" for b in servers.BACKENDS if b != "select"]
        self.open_loop("onebyte", all_c10k, "plain", p["plain_rates"], 1)
        self.open_loop("onebyte-idle", idle_backends, "plain", p["plain_rates"], 1, idle=p["idle"])
        self.open_loop("specweb", all_c10k, "specweb", p["specweb_rates"], SPECWEB_CALLS)
        self.open_loop("specweb-idle", idle_backends, "specweb", p["specweb_rates"], SPECWEB_CALLS, idle=p["idle"])
        self.open_loop("accept", ["c10k epoll"] + (["c10k select", "c10k io_uring"] if args.profile == "full" else []),
                       "plain", p["plain_rates"], 1, accept_limits=p["accept_limits"])
        self.micro()
        self.meta["elapsed_s"] = time.time() - started
        self.save()
        shutil.rmtree(self.work, ignore_errors=True)


def _ok(r):
    return r is not None and "failed" not in r


def fmt_rate(r):
    if "failed" in r:
        return "FAILED " + r["failed"]
    errs = sum(r.get("errors", {}).values())
    cpu = r.get("server_cpu_ns_per_reply")
    return (f"{r.get('reply_rate', 0):,.0f} replies/s"
            + (f", {cpu:,.0f} ns CPU/reply" if cpu else "")
            + (f", {errs} errors" if errs else ""))


def tail(path):
    try:
        with open(path) as f:
            return f.read()[-200:].strip().replace("\n", " | ")
    except OSError:
        return "no log"


def machine_meta(args, profile):
    """What the report says about the machine and the run."""
    def cmd(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip() or \
                subprocess.run(argv, capture_output=True, text=True, timeout=10).stderr.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "n/a"
    cpu = "n/a"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "n/a")
    except OSError:
        pass
    mem = cmd(["sh", "-c", "grep MemTotal /proc/meminfo"])
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "profile": args.profile, "settings": profile, "command": " ".join(sys.argv),
        "cpu": cpu, "cpus": os.cpu_count(), "memory": mem, "kernel": os.uname().release,
        "compiler": cmd(["sh", "-c", "c++ --version | head -1"]),
        "liburing": cmd(["dpkg-query", "-W", "-f=${Version}", "liburing-dev"]),
        "nginx": cmd(["nginx", "-v"]), "commit": cmd(["git", "-C", os.path.dirname(__file__), "rev-parse", "--short", "HEAD"]),
        "build": os.path.abspath(args.build),
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--quick", dest="profile", action="store_const", const="quick")
    g.add_argument("--full", dest="profile", action="store_const", const="full")
    g.add_argument("--smoke", dest="profile", action="store_const", const="smoke", help=argparse.SUPPRESS)
    ap.add_argument("--build", default="build", help="the project's build folder")
    ap.add_argument("--out", help="results folder (default results/<date>-<profile>)")
    ap.add_argument("--report", metavar="DIR", help="only redraw the report of DIR/results.json")
    args = ap.parse_args()
    args.profile = args.profile or "quick"
    if args.report:
        report.write(os.path.abspath(args.report))
        sys.exit(0)
    args.out = args.out or os.path.join("results", datetime.date.today().isoformat() + "-" + args.profile)
    b = bench(args)
    try:
        b.run()
    finally:
        if b.records:
            b.save()
            report.write(b.out)
    print(f"report: {os.path.join(b.out, 'report.md')}")
