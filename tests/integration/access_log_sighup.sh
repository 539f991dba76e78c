#!/usr/bin/env bash
# The sample server's access log under logrotate's protocol: rename the file, send SIGHUP;
# the next requests go to a new file at the old path, the server keeps serving.
# Exits 77 (skipped) when curl is missing.
#   tests/integration/access_log_sighup.sh BUILD_DIR
set -euo pipefail
build=$1
command -v curl >/dev/null || { echo "skipped: curl is not installed"; exit 77; }
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$build/examples/c10k-server" --host 127.0.0.1 --port "$port" --threads 2 --access-log "$work/access.log" > "$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/plain" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/json?before" >/dev/null
# Lines are written within a second (access_log_flush); bounded wait.
for _ in $(seq 50); do grep -q 'GET /json?before HTTP/1.1" 200' "$work/access.log" 2>/dev/null && break; sleep 0.1; done
grep -q 'GET /json?before HTTP/1.1" 200' "$work/access.log" || { echo "FAIL: no line for the first request"; cat "$work/access.log"; exit 1; }
mv "$work/access.log" "$work/access.log.1"
kill -HUP $pid
# The reopen happens on the writer thread; keep asking until a line lands in a new file.
for _ in $(seq 50); do
  curl -sf "http://127.0.0.1:$port/json?after" >/dev/null || { echo "FAIL: the server stopped answering after SIGHUP"; cat "$work/server.log"; exit 1; }
  [ -f "$work/access.log" ] && grep -q 'GET /json?after' "$work/access.log" && break
  sleep 0.1
done
grep -q 'GET /json?after HTTP/1.1" 200' "$work/access.log" || { echo "FAIL: no new file after SIGHUP"; ls -l "$work"; exit 1; }
kill -0 $pid || { echo "FAIL: SIGHUP ended the server"; exit 1; }
echo "ok: SIGHUP reopened the access log ($(wc -l < "$work/access.log.1") line(s) in the old file, $(wc -l < "$work/access.log") in the new)"
