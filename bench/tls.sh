#!/usr/bin/env bash
# The TLS rows: c10k-server against nginx, both with the same ECDSA P-256 certificate and one
# worker or loop, the server on CPU 0 and wrk on CPU 1, rounds interleaved.
#   keep-alive:  wrk over https, 64 connections, GET /plain ("x"): requests/s and the server's
#                CPU per request (utime and stime apart);
#   handshakes:  the same with "Connection: close", so every request is a new connection and a
#                full handshake (wrk resumes no session): handshakes/s and CPU per handshake.
# wrk is the load here (c10k-load speaks no TLS). Both servers take TLS 1.3 with X25519 and
# TLS_AES_256_GCM_SHA384 from wrk's OpenSSL (checked before the rounds).
#
#   bench/tls.sh [BUILD_DIR] [ROUNDS] [SECONDS]
#   SERVERS="c10k-io_uring nginx" bench/tls.sh build 5 5
#
# Goal (issue 14): CPU per request at most nginx's, and handshakes per second at least nginx's.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
build=${1:-build}; rounds=${2:-5}; secs=${3:-5}
servers=${SERVERS:-c10k-io_uring c10k-epoll nginx}
PATH=$PATH:/usr/sbin
need_tools "nginx-light wrk openssl" nginx wrk openssl
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; kill "$(cat "$work/nginx.pid" 2>/dev/null)" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
hz=$(getconf CLK_TCK)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
  -days 2 -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
temps=$(nginx_temps "$work")

declare -A pids ports
port=18600
for s in $servers; do
  port=$((port + 1)); ports[$s]=$port
  case $s in
    c10k-*) taskset -c 0 "$build/examples/c10k-server" --host 127.0.0.1 --port "$port" --threads 1 --backend "${s#c10k-}" \
              --no-metrics --stall-threshold-ms 0 --tls-cert "$work/cert.pem" --tls-key "$work/key.pem" > "$work/$s.log" 2>&1 &
            pids[$s]=$! ;;
    nginx)
      cat > "$work/nginx.conf" <<CONF
worker_processes 1; daemon off; pid $work/nginx.pid; error_log $work/nginx.log warn;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 100000000; $temps
  server { listen 127.0.0.1:$port ssl; ssl_certificate $work/cert.pem; ssl_certificate_key $work/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3; ssl_session_tickets on;
    location = /plain { default_type text/plain; return 200 "x"; } } }
CONF
      taskset -c 0 nginx -c "$work/nginx.conf" & ;;
    *) echo "unknown server $s" >&2; exit 2 ;;
  esac
done
sleep 1
for s in $servers; do
  got=$(echo | timeout 5 openssl s_client -connect "127.0.0.1:${ports[$s]}" 2>/dev/null | grep -E "^New, " || true)
  [[ $got == *"TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384"* ]] || { echo "$s: unexpected session: $got" >&2; cat "$work"/*.log >&2; exit 1; }
done
if [[ " $servers " == *" nginx "* ]]; then
  master=$(cat "$work/nginx.pid"); pids[nginx]="$master $(pgrep -P "$master" | tr '\n' ' ')"
fi

run_one() {  # server, mode (keepalive|handshake)
  local s=$1 mode=$2 out u0 s0 u1 s1 reqs extra=()
  [ "$mode" = handshake ] && extra=(-H "Connection: close")
  # shellcheck disable=SC2086
  read -r u0 s0 < <(cpu_ticks ${pids[$s]})
  out=$(taskset -c 1 wrk -t1 -c64 -d"${secs}s" "${extra[@]}" "https://127.0.0.1:${ports[$s]}/plain")
  # shellcheck disable=SC2086
  read -r u1 s1 < <(cpu_ticks ${pids[$s]})
  reqs=$(awk '/requests in/ {print $1}' <<< "$out")
  local errs; errs=$(grep -E 'Non-2xx|Socket errors' <<< "$out" | tr '\n' ' ' || true)
  local rps user_ns sys_ns
  rps=$(awk '/Requests\/sec/ {print $2}' <<< "$out")
  user_ns=$(( (u1 - u0) * 1000000000 / hz / reqs )); sys_ns=$(( (s1 - s0) * 1000000000 / hz / reqs ))
  echo "round=$r $mode $s rps=$rps cpu_ns=$((user_ns + sys_ns)) user_ns=$user_ns sys_ns=$sys_ns $errs"
  echo "$r $mode $s $rps $((user_ns + sys_ns)) $user_ns $sys_ns" >> "$work/results"
}

for s in $servers; do taskset -c 1 wrk -t1 -c64 -d1s "https://127.0.0.1:${ports[$s]}/plain" > /dev/null; done  # warm-up
for ((r = 1; r <= rounds; r++)); do
  for mode in keepalive handshake; do
    for s in $servers; do run_one "$s" "$mode"; done
  done
done

echo "--- medians (min-max) over $rounds rounds of ${secs}s; 64 connections; server on CPU 0, wrk on CPU 1"
printf '%-10s %-14s %24s %22s %22s %22s\n' mode server "requests/s" "cpu ns/req" "user ns/req" "sys ns/req"
for mode in keepalive handshake; do
  for s in $servers; do
    line=$(printf '%-10s %-14s' "$mode" "$s")
    for col in 4 5 6 7; do line="$line $(printf '%22s' "$(awk -v m="$mode" -v s="$s" -v c="$col" '$2 == m && $3 == s {print $c}' "$work/results" | median)")"; done
    echo "$line"
  done
done
ratio() {  # column mode a b: per-round a/b
  awk -v c="$1" -v m="$2" -v a="$3" -v b="$4" '$2 == m && $3 == a {x[$1] = $c} $2 == m && $3 == b {y[$1] = $c}
    END {for (r in x) if (r in y && y[r] > 0) printf "%.3f\n", x[r] / y[r]}' "$work/results" | median %.2f
}
[[ " $servers " == *" nginx "* ]] || exit 0
echo "--- per-round ratios to nginx, median (min-max)"
for s in $servers; do
  [ "$s" = nginx ] && continue
  echo "$s keep-alive cpu/req: $(ratio 5 keepalive "$s" nginx)  (goal <= 1)"
  echo "$s handshake cpu/handshake: $(ratio 5 handshake "$s" nginx)"
  echo "$s handshakes/s: $(ratio 4 handshake "$s" nginx)  (goal >= 1)"
done
