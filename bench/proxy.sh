#!/usr/bin/env bash
# The proxy row: c10k-proxy against nginx's proxy_pass, both in front of the same upstream (an
# nginx worker answering GET /plain with "x"), keep-alive upstream connections, one worker or
# loop each. The proxy under test runs on CPU 0; the upstream and wrk share CPU 1, so only the
# proxy's CPU is on CPU 0. Rounds are interleaved; CPU per proxied request is the proxy's
# utime+stime from /proc over wrk's request count, p99 is wrk's.
#
#   bench/proxy.sh [BUILD_DIR] [ROUNDS] [SECONDS]
#   PROXIES="c10k-io_uring nginx" bench/proxy.sh build 5 5
#
# Prints a line per run, medians with min-max per proxy, and the per-round ratios of c10k to
# nginx (the goal: CPU per request at most 0.8x nginx's, p99 no worse).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build=${1:-build}; rounds=${2:-5}; secs=${3:-5}
proxies=${PROXIES:-c10k-io_uring c10k-epoll nginx}
PATH=$PATH:/usr/sbin
need_tools "nginx-light wrk curl" nginx wrk curl
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; kill "$(cat "$work/up.pid" 2>/dev/null)" "$(cat "$work/px.pid" 2>/dev/null)" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
hz=$(getconf CLK_TCK)
up=18500
temps=$(nginx_temps "$work")

taskset -c 1 nginx -c "$(plain_upstream_conf "$work" "$up")" &

declare -A pids ports
port=$up
for p in $proxies; do
  port=$((port + 1)); ports[$p]=$port
  case $p in
    c10k-*) taskset -c 0 "$build/examples/c10k-proxy" --host 127.0.0.1 --port "$port" --upstream "127.0.0.1:$up" \
              --threads 1 --backend "${p#c10k-}" --pool 128 > "$work/$p.log" 2>&1 & pids[$p]=$! ;;
    nginx)
      cat > "$work/px.conf" <<CONF
worker_processes 1; daemon off; pid $work/px.pid; error_log $work/px.log warn;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 100000000; $temps
  upstream app { server 127.0.0.1:$up; keepalive 128; }
  server { listen 127.0.0.1:$port;
    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection "";
                 proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for; } } }
CONF
      taskset -c 0 nginx -c "$work/px.conf" & ;;
    *) echo "unknown proxy $p" >&2; exit 2 ;;
  esac
done
sleep 1
for p in $proxies; do
  [ "$(curl -sf "http://127.0.0.1:${ports[$p]}/plain")" = x ] || { echo "$p does not answer" >&2; cat "$work"/*.log >&2; exit 1; }
done
if [[ " $proxies " == *" nginx "* ]]; then
  master=$(cat "$work/px.pid"); pids[nginx]="$master $(pgrep -P "$master" | tr '\n' ' ')"
fi

cpu_total() { local u s; read -r u s < <(cpu_ticks "$@"); echo $((u + s)); }
p99_us() {  # wrk --latency's 99% line, in microseconds
  awk '$1 == "99%" {v = $2; if (v ~ /us$/) {sub("us", "", v); print v} else if (v ~ /ms$/) {sub("ms", "", v); print v * 1000} else {sub("s", "", v); print v * 1000000}}'
}

run_one() {
  local p=$1 out t0 t1 reqs
  # shellcheck disable=SC2086
  t0=$(cpu_total ${pids[$p]})
  out=$(taskset -c 1 wrk -t1 -c64 -d"${secs}s" --latency "http://127.0.0.1:${ports[$p]}/plain")
  # shellcheck disable=SC2086
  t1=$(cpu_total ${pids[$p]})
  reqs=$(awk '/requests in/ {print $1}' <<< "$out")
  local errs; errs=$(grep -E 'Non-2xx|Socket errors' <<< "$out" | tr '\n' ' ' || true)
  local cpu_ns=$(( (t1 - t0) * 1000000000 / hz / reqs )) rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<< "$out"); p99=$(p99_us <<< "$out")
  echo "round=$r $p rps=$rps cpu_ns=$cpu_ns p99_us=$p99 $errs"
  echo "$r $p $rps $cpu_ns $p99" >> "$work/results"
}

for p in $proxies; do taskset -c 1 wrk -t1 -c64 -d1s "http://127.0.0.1:${ports[$p]}/plain" > /dev/null; done  # warm-up
for ((r = 1; r <= rounds; r++)); do
  for p in $proxies; do run_one "$p"; done
done

echo "--- medians (min-max) over $rounds rounds of ${secs}s; 64 connections; proxy on CPU 0, upstream nginx and wrk on CPU 1"
printf '%-16s %24s %22s %22s\n' proxy requests/s "cpu ns/req" "p99 us"
for p in $proxies; do
  line=$(printf '%-16s' "$p")
  for col in 3 4 5; do line="$line $(printf '%22s' "$(awk -v p="$p" -v c="$col" '$2 == p {print $c}' "$work/results" | median)")"; done
  echo "$line"
done
ratio() {
  awk -v c="$1" -v a="$2" -v b="$3" '$2 == a {x[$1] = $c} $2 == b {y[$1] = $c}
    END {for (r in x) if (r in y && y[r] > 0) printf "%.3f\n", x[r] / y[r]}' "$work/results" | median %.2f
}
echo "--- per-round ratios, median (min-max)"
for p in $proxies; do
  [ "$p" = nginx ] && continue
  [[ " $proxies " == *" nginx "* ]] || continue
  echo "$p cpu/req vs nginx: $(ratio 4 "$p" nginx)  (goal <= 0.8)"
  echo "$p p99 vs nginx: $(ratio 5 "$p" nginx)  (goal <= 1)"
done
