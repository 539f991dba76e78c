#!/usr/bin/env bash
# nginx (Debian package) as a reverse proxy in front of c10k-server, with upstream keep-alive:
# every request through the proxy is answered, and nginx reuses a few upstream connections
# instead of opening one per request. Exits 77 (skipped) when nginx, curl or wrk is missing.
#   tests/integration/nginx_proxy.sh BUILD_DIR
set -euo pipefail
build=$1
for tool in nginx curl wrk; do
  command -v $tool >/dev/null || { echo "skipped: $tool is not installed (apt-get install nginx-light curl wrk)"; exit 77; }
done
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
port_app=$((20000 + RANDOM % 10000)); port_proxy=$((port_app + 1))

"$build/examples/c10k-server" --host 127.0.0.1 --port "$port_app" --threads 1 > "$work/app.log" 2>&1 &
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work; uwsgi_temp_path $work; scgi_temp_path $work;
  upstream c10k { server 127.0.0.1:$port_app; keepalive 8; }
  server {
    listen 127.0.0.1:$port_proxy;
    location / {
      proxy_pass http://c10k;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
CONF
nginx -c "$work/nginx.conf" &
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port_proxy/plain" >/dev/null 2>&1 && break; sleep 0.1; done

fail() { echo "FAIL: $*"; cat "$work/error.log" 2>/dev/null | tail -5; exit 1; }
[ "$(curl -s "http://127.0.0.1:$port_proxy/plain")" = x ] || fail "GET /plain through the proxy"
[ "$(curl -s -X POST --data-binary 'through nginx' "http://127.0.0.1:$port_proxy/echo")" = "through nginx" ] || fail "POST /echo"
[ "$(printf 'chunked body' | curl -s -X POST -H 'Transfer-Encoding: chunked' --data-binary @- "http://127.0.0.1:$port_proxy/echo")" = "chunked body" ] \
  || fail "chunked POST /echo"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port_proxy/nope")" = 404 ] || fail "404 through the proxy"

out=$(wrk -t1 -c16 -d2s "http://127.0.0.1:$port_proxy/plain")
grep -qE 'Non-2xx|Socket errors' <<< "$out" && fail "wrk saw errors: $out"
reqs=$(awk '/requests in/ {print $1}' <<< "$out")
stats=$(curl -s "http://127.0.0.1:$port_app/stats")
conns=$(sed -n 's/.*"connections":\([0-9]*\).*/\1/p' <<< "$stats")
served=$(sed -n 's/.*"requests":\([0-9]*\).*/\1/p' <<< "$stats")
[ "$served" -ge "$reqs" ] || fail "c10k answered $served requests, wrk completed $reqs"
# Upstream keep-alive: nginx holds at most 8 idle connections (plus the one /stats uses).
[ "$conns" -le 17 ] || fail "$conns upstream connections open: keep-alive to c10k is not reused"
echo "ok: $reqs requests through nginx, c10k answered $served on $conns upstream connection(s)"
