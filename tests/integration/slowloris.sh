#!/usr/bin/env bash
# slowhttptest (Debian package) holds 1,000 slowloris connections against c10k-server while a
# normal client keeps asking: every normal request must be answered within 1 s.
# Exits 77 (skipped) when slowhttptest or curl is missing.
#   tests/integration/slowloris.sh BUILD_DIR [SECONDS]
set -euo pipefail
build=$1; secs=${2:-15}
for tool in slowhttptest curl; do
  command -v $tool >/dev/null || { echo "skipped: $tool is not installed (apt-get install slowhttptest curl)"; exit 77; }
done
ulimit -n 8192 2>/dev/null || ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
port=$((20000 + RANDOM % 10000))
"$build/examples/c10k-server" --host 127.0.0.1 --port "$port" --threads 1 > "$work/server.log" 2>&1 &
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/plain" >/dev/null 2>&1 && break; sleep 0.1; done

# 1,000 connections, each sending another header line every 5 s, opened at 500/s.
slowhttptest -H -c 1000 -r 500 -i 5 -t GET -u "http://127.0.0.1:$port/" -l "$((secs + 5))" -x 24 -p 3 > "$work/slow.log" 2>&1 &
sleep 3
peak=0; worst=0; n=0
end=$((SECONDS + secs))
while [ $SECONDS -lt $end ]; do
  t=$(curl -s -o /dev/null -m 5 -w '%{http_code} %{time_total}' "http://127.0.0.1:$port/plain") || t="000 5"
  code=${t% *}; time=${t#* }
  [ "$code" = 200 ] || { echo "FAIL: a normal request got $code during the attack"; tail -5 "$work/slow.log"; exit 1; }
  awk -v t="$time" 'BEGIN {exit !(t < 1.0)}' || { echo "FAIL: a normal request took ${time}s during the attack"; exit 1; }
  worst=$(awk -v a="$worst" -v b="$time" 'BEGIN {print (b > a) ? b : a}')
  c=$(curl -s "http://127.0.0.1:$port/stats" | sed -n 's/.*"connections":\([0-9]*\).*/\1/p')
  [ "${c:-0}" -gt "$peak" ] && peak=$c
  n=$((n + 1)); sleep 0.2
done
[ "$peak" -ge 900 ] || { echo "FAIL: the attack never held 900 connections (peak $peak)"; tail -20 "$work/slow.log"; exit 1; }
echo "ok: $n normal requests during a slowloris of up to $peak connections, slowest ${worst}s"
