"""Runs c10k-load (bench/load), pinned to the load CPU, and returns what it measured."""
import json
import os
import signal
import subprocess
import time

from .servers import raise_fd_limit

LOAD_CPU = "1"


def _load(build):
    return f"{build}/bench/load/c10k-load"


def _run(build, argv, timeout, workdir, tag):
    """Runs c10k-load with argv and --json; returns its result dict, or {"failed": why}."""
    out = os.path.join(workdir, f"load.{tag}.json")
    if os.path.exists(out):
        os.unlink(out)
    cmd = ["taskset", "-c", LOAD_CPU, _load(build)] + argv + ["--json", out]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, preexec_fn=raise_fd_limit)
    except subprocess.TimeoutExpired:
        return {"failed": f"c10k-load did not finish in {timeout} s", "command": " ".join(cmd)}
    if p.returncode != 0 or not os.path.exists(out):
        return {"failed": f"c10k-load exited {p.returncode}: {(p.stderr or p.stdout)[-300:]}", "command": " ".join(cmd)}
    with open(out) as f:
        r = json.load(f)
    r["command"] = " ".join(cmd[3:])
    return r


def workload_args(workload):
    """The c10k-load flags for a workload: "plain" (GET /plain) or "specweb" (the file set)."""
    if workload == "plain":
        return ["--path", "/plain"]
    if workload == "onebyte-file":
        return ["--path", "/static/one.txt"]
    return ["--workload", "specweb", "--seed", "1", "--dirs", "10", "--prefix", "/static/specweb/"]


def closed(build, port, workdir, seconds, connections=64, pipeline=1, workload="plain", warmup=1, tag="closed"):
    """Closed loop like wrk: returns c10k-load's result (reply_rate, latency_us, errors...)."""
    argv = ["closed", "--host", "127.0.0.1", "--port", str(port), "--connections", str(connections),
            "--duration", str(seconds), "--warmup", str(warmup), "--pipeline", str(pipeline)] + workload_args(workload)
    return _run(build, argv, seconds + warmup + 60, workdir, tag)


def open_loop(build, port, workdir, rate, seconds, calls=1, workload="plain", timeout_s=2, tag="open"):
    """Open loop like httperf --rate: a new connection every 1/rate s, `calls` requests each."""
    argv = ["open", "--host", "127.0.0.1", "--port", str(port), "--rate", str(rate), "--duration", str(seconds),
            "--calls", str(calls), "--timeout", str(timeout_s)] + workload_args(workload)
    return _run(build, argv, seconds + timeout_s + 60, workdir, tag)


class idle_connections:
    """c10k-load idle in the background: `count` idle keep-alive connections, reopened when
    closed, like the paper's idleconn. Use as a context manager; ready() says if all opened."""

    def __init__(self, build, port, workdir, count):
        self.ready_file = os.path.join(workdir, f"idle.{port}.ready")
        if os.path.exists(self.ready_file):
            os.unlink(self.ready_file)
        self.log_path = os.path.join(workdir, f"idle.{port}.log")
        self.argv = ["taskset", "-c", LOAD_CPU, _load(build), "idle", "--host", "127.0.0.1", "--port", str(port),
                     "--connections", str(count), "--duration", "0", "--request", "--path", "/plain",
                     "--ready-file", self.ready_file]
        self.count = count
        self.proc = None

    def __enter__(self):
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(self.argv, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=raise_fd_limit,
                                     start_new_session=True)
        return self

    def wait_ready(self, limit=90):
        """Returns True once every connection is open (False after `limit` seconds)."""
        deadline = time.time() + limit
        while time.time() < deadline:
            if os.path.exists(self.ready_file):
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.2)
        return False

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return False
