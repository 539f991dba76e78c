#!/usr/bin/env bash
# User-mode instructions per request of a server under wrk, counted by callgrind over the load
# alone (not start-up): deterministic where timings on this machine are not, so it tells
# whether a change to the hot path made it cheaper. valgrind cannot run io_uring: use epoll.
#
#   bench/callgrind.sh LABEL plain|pipelined|handshake SERVER [ARGS...]
#   (handshake: /plain over https with Connection: close, so each request is a full TLS 1.3
#   handshake, with a throwaway ECDSA P-256 certificate given as c10k-server's --tls-cert and
#   --tls-key. Keep-alive TLS is not measured here: under valgrind the run is so slow that the
#   64 connections' handshakes would outweigh their requests.)
#   bench/callgrind.sh c10k pipelined build/examples/c10k-server --backend epoll --max-requests 0
#   bench/callgrind.sh reactor pipelined build/bench/servers/c10k-reactor --backend epoll
# Prints "LABEL MODE reqs=N Ir/req=M"; the profile stays in /tmp/cg-LABEL.out (callgrind_annotate).
# CG_OPTS adds callgrind options: CG_OPTS="--cache-sim=yes --I1=4096,8,64" counts the code
# cache lines a request brings in when little of it stays cached (as after each system call's
# kernel path on real hardware), a proxy for how much code one request runs through.
set -euo pipefail
label=$1; mode=$2; shift 2
port=${PORT:-18213}
command -v valgrind >/dev/null || { echo "valgrind is missing: apt-get install valgrind" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
out=/tmp/cg-$label.out
rm -f "$out"*
scheme=http tls_args=() script=() headers=()
if [ "$mode" = handshake ]; then
  scheme=https
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "/tmp/cg-$label.key" \
    -out "/tmp/cg-$label.pem" -days 2 -subj /CN=localhost 2>/dev/null
  tls_args=(--tls-cert "/tmp/cg-$label.pem" --tls-key "/tmp/cg-$label.key")
  headers=(-H "Connection: close")
fi
valgrind --tool=callgrind ${CG_OPTS:-} --instr-atstart=no --callgrind-out-file="$out" "$@" --port "$port" --threads 1 "${tls_args[@]}" \
  > "/tmp/cg-$label.log" 2>&1 &
server=$!
for _ in $(seq 50); do curl -ksf "$scheme://127.0.0.1:$port/plain" > /dev/null && break; sleep 0.2; done
if [ "$mode" = pipelined ]; then
  printf '%s\n' 'init = function(args)' '  local r = {}' '  for i = 1, 16 do r[i] = wrk.format("GET", "/plain") end' \
    '  req = table.concat(r)' 'end' 'request = function() return req end' > "/tmp/cg-$label.lua"
  script=(-s "/tmp/cg-$label.lua")
fi
wrk -t1 -c64 -d1s "${script[@]}" "${headers[@]}" "$scheme://127.0.0.1:$port/plain" > /dev/null  # warm-up, not counted
callgrind_control -i on "$server" > /dev/null
result=$(wrk -t1 -c64 -d5s "${script[@]}" "${headers[@]}" "$scheme://127.0.0.1:$port/plain")
callgrind_control -i off "$server" > /dev/null
kill -INT "$server"; sleep 1; kill -INT "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true
reqs=$(awk '/requests in/ {print $1}' <<< "$result")
ir=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "$label $mode reqs=$reqs Ir/req=$((ir / reqs))"
