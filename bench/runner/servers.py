"""The servers the benchmark compares, and how each is started, pinned and stopped.

Every server listens on 127.0.0.1, runs one event loop (or nginx's one worker) on CPU 0, serves
GET /plain (a one-byte body) and the files of the file set under /static/, and holds up to
20,000 connections. Those with a /stats route report their own system call counts.
"""
import os
import resource
import shutil
import signal
import subprocess
import time

from . import measure

SERVER_CPU = "0"


class server_spec:
    """One server to measure: `name` names its rows; `start` returns a running_server."""

    def __init__(self, name, family, command, has_stats, backend=None, mode=None):
        self.name = name          # row label, e.g. "c10k io_uring", "reactor epoll", "nginx"
        self.family = family      # c10k | c10k-fiber | reactor | threads | nginx
        self.command = command    # (port, root, accept_limit, workdir) -> argv, or None when missing
        self.has_stats = has_stats
        self.backend = backend
        self.mode = mode

    def available(self, build):
        """Returns None when the server can run here, else why it cannot."""
        argv = self.command(build, 1, "/", None, "/tmp")
        exe = argv[3]  # after taskset -c N
        if os.path.sep in exe:
            return None if os.access(exe, os.X_OK) else f"{exe} not built"
        return None if shutil.which(exe) else f"{exe} not installed"


def raise_fd_limit():
    """Sets the soft fd limit to the hard one in a child (10,000 idle connections need it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class running_server:
    """A started server process: its pids (for CPU and memory), its port; stop() ends it."""

    def __init__(self, spec, proc, port, workdir, log_path):
        self.spec = spec
        self.proc = proc
        self.port = port
        self.workdir = workdir
        self.log_path = log_path

    def pids(self):
        return measure.descendants(self.proc.pid)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start(spec, build, port, root, workdir, accept_limit=None):
    """Starts spec on port; returns a running_server once GET /plain answers 200, else raises."""
    argv = spec.command(build, port, root, accept_limit, workdir)
    log_path = os.path.join(workdir, f"{spec.name.replace(' ', '_')}.{port}.log")
    log = open(log_path, "w")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, preexec_fn=raise_fd_limit,
                            start_new_session=True)
    s = running_server(spec, proc, port, workdir, log_path)
    deadline = time.time() + 15
    while time.time() < deadline:
        if proc.poll() is not None:
            break
        status, _ = measure.http_get(port, "/plain", timeout=1)
        if status == 200:
            time.sleep(0.1)
            if proc.poll() is None:  # ours answered, not something else on the port
                return s
            break
        time.sleep(0.1)
    s.stop()
    with open(log_path) as f:
        raise RuntimeError(f"{spec.name} did not start on port {port}: {f.read()[-500:]}")


def _pinned(argv):
    return ["taskset", "-c", SERVER_CPU] + argv


def c10k(backend, mode="coroutine"):
    """c10k's sample server on one loop, coroutine or fiber connections."""
    def command(build, port, root, accept_limit, workdir):
        argv = [f"{build}/examples/c10k-server", "--host", "127.0.0.1", "--port", str(port), "--threads", "1",
                "--backend", backend, "--mode", mode, "--max-connections", "30000", "--keepalive-timeout", "600", "--max-requests", "0", "--no-metrics", "--stall-threshold-ms", "0"]
        if root != "/":
            argv += ["--root", root]
        if accept_limit:
            argv += ["--accept-limit", str(accept_limit)]
        return _pinned(argv)
    name = f"c10k {backend}" + ("" if mode == "coroutine" else " fiber")
    return server_spec(name, "c10k" if mode == "coroutine" else "c10k-fiber", command, True, backend, mode)


def reactor(backend):
    """The hand-written callback reactor (bench/servers), the baseline c10k must match."""
    def command(build, port, root, accept_limit, workdir):
        argv = [f"{build}/bench/servers/c10k-reactor", "--host", "127.0.0.1", "--port", str(port), "--threads", "1",
                "--backend", backend]
        if root != "/":
            argv += ["--root", root]
        return _pinned(argv)
    return server_spec(f"reactor {backend}", "reactor", command, True, backend)


def threads():
    """Thread-per-client with blocking I/O (bench/servers), the C10K page's strategy 4."""
    def command(build, port, root, accept_limit, workdir):
        argv = [f"{build}/bench/servers/c10k-threads", "--host", "127.0.0.1", "--port", str(port)]
        if root != "/":
            argv += ["--root", root]
        return _pinned(argv)
    return server_spec("threads", "threads", command, True, "blocking")


def nginx():
    """nginx from Debian: one worker, access log off, sendfile, the same routes."""
    def command(build, port, root, accept_limit, workdir):
        conf = os.path.join(workdir, f"nginx.{port}.conf")
        with open(conf, "w") as f:
            f.write(f"""worker_processes 1;
worker_rlimit_nofile 40000;
daemon off;
pid {workdir}/nginx.{port}.pid;
error_log {workdir}/nginx.{port}.error.log warn;
events {{ worker_connections 30000; {'' if not accept_limit or accept_limit != 1 else 'multi_accept off;'} }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000000;
  keepalive_timeout 600s;
  client_body_temp_path {workdir}/nginx-body;
  server {{
    listen 127.0.0.1:{port} reuseport backlog=4096;
    location = /plain {{ default_type text/plain; return 200 "x"; }}
    location /static/ {{ alias {root.rstrip('/')}/; default_type application/octet-stream; }}
  }}
}}
""")
        return _pinned(["nginx", "-c", conf, "-p", workdir])
    return server_spec("nginx", "nginx", command, False, "epoll")


BACKENDS = ["select", "poll", "epoll", "epoll-et", "io_uring"]
