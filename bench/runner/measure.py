"""What the runner reads off a running server: CPU time, resident memory, its own counters."""
import json
import os
import statistics
import urllib.request


def descendants(pid):
    """Returns pid and every process below it (nginx's workers under its master)."""
    found = [pid]
    i = 0
    while i < len(found):
        p = found[i]
        i += 1
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    found.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return found


def cpu_ns(pids):
    """Returns the nanoseconds these processes have spent on a CPU, user and system, counting
    threads that already ended (a thread-per-client server's connection threads)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                # the fields after the command name (which may hold spaces), from field 3 on
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) * 1_000_000_000 // tick  # utime + stime
        except (OSError, ValueError, IndexError):
            pass
    return total


def rss_bytes(pids):
    """Returns the resident set of these processes in bytes (VmRSS summed)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def http_get(port, path, timeout=5.0):
    """Returns (status, body) of GET path on the loopback port, or (None, reason)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read()
    except Exception as e:  # any failure is a row marked failed, not a crashed run
        return None, str(e)


def server_counters(port):
    """Returns the server's /stats counters as a dict, or None when it has none."""
    status, body = http_get(port, "/stats")
    if status != 200:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def summary(values):
    """Returns {median, min, max, n} of the values that are not None, or None when none are."""
    v = [x for x in values if x is not None]
    if not v:
        return None
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}
