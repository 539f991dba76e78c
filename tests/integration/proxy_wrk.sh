#!/usr/bin/env bash
# wrk through c10k-proxy to nginx: no socket errors, no non-2xx answers, and the proxy keeps
# its upstream connections alive (nginx sees few). Exits 77 (skipped) when nginx or wrk is missing.
#   tests/integration/proxy_wrk.sh BUILD_DIR [BACKEND]
set -euo pipefail
build=$1; backend=${2:-auto}
for tool in nginx wrk curl; do
  command -v $tool >/dev/null || [ -x /usr/sbin/$tool ] || { echo "skipped: $tool is not installed (apt-get install nginx-light wrk curl)"; exit 77; }
done
PATH=$PATH:/usr/sbin
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
port_app=$((20000 + RANDOM % 10000)); port_proxy=$((port_app + 1))
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 1024; }
http {
  access_log off; keepalive_requests 100000;
  client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work; uwsgi_temp_path $work; scgi_temp_path $work;
  server { listen 127.0.0.1:$port_app; location / { return 200 "x"; } location = /stub { stub_status; } }
}
CONF
nginx -c "$work/nginx.conf" -e "$work/error.log" &
"$build/examples/c10k-proxy" --host 127.0.0.1 --port "$port_proxy" --upstream "127.0.0.1:$port_app" --threads 1 --backend "$backend" > "$work/proxy.log" 2>&1 &
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port_proxy/" >/dev/null 2>&1 && break; sleep 0.1; done
fail() { echo "FAIL: $*"; tail -5 "$work/proxy.log" "$work/error.log" 2>/dev/null; exit 1; }
[ "$(curl -s "http://127.0.0.1:$port_proxy/")" = x ] || fail "GET / through the proxy"
out=$(wrk -t1 -c16 -d2s "http://127.0.0.1:$port_proxy/")
grep -qE 'Non-2xx|Socket errors' <<< "$out" && fail "wrk saw errors: $out"
reqs=$(awk '/requests in/ {print $1}' <<< "$out")
[ "${reqs:-0}" -gt 0 ] || fail "wrk completed no request: $out"
accepts=$(curl -s "http://127.0.0.1:$port_app/stub" | awk 'NR==3 {print $1}')
# Keep-alive upstream: at most one connection per concurrent request (16), plus the curls.
[ "$accepts" -le 24 ] || fail "nginx accepted $accepts connections for $reqs requests: the pool does not keep them"
echo "ok: $reqs requests through c10k-proxy ($backend) to nginx on $accepts upstream connection(s)"
