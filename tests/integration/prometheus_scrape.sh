#!/usr/bin/env bash
# A real Prometheus (Debian package prometheus) scrapes the sample server's /metrics every
# second on loopback; its HTTP API must then return a value for c10k_http_requests_total.
# Exits 77 (skipped) when prometheus or curl is missing.
#   tests/integration/prometheus_scrape.sh BUILD_DIR
set -euo pipefail
build=$1
for tool in prometheus curl; do
  command -v $tool >/dev/null || { echo "skipped: $tool is not installed (apt-get install prometheus curl)"; exit 77; }
done
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port); prom_port=$(free_port)
"$build/examples/c10k-server" --host 127.0.0.1 --port "$port" --threads 2 > "$work/server.log" 2>&1 &
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/plain" >/dev/null 2>&1 && break; sleep 0.1; done
for _ in $(seq 20); do curl -sf "http://127.0.0.1:$port/plain" >/dev/null; done

cat > "$work/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: c10k
    static_configs:
      - targets: ['127.0.0.1:$port']
YML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --web.listen-address="127.0.0.1:$prom_port" > "$work/prometheus.log" 2>&1 &

# Bounded: 60 s for Prometheus to start, scrape and answer.
query="http://127.0.0.1:$prom_port/api/v1/query?query=sum(c10k_http_requests_total%7Bmethod%3D%22GET%22%2Ccode%3D%222xx%22%7D)"
for _ in $(seq 120); do
  out=$(curl -sf "$query" 2>/dev/null || true)
  value=$(printf '%s' "$out" | python3 -c 'import json,sys
try:
  r=json.load(sys.stdin)["data"]["result"]; print(int(float(r[0]["value"][1])) if r else "")
except Exception: print("")' 2>/dev/null || true)
  if [ -n "$value" ] && [ "$value" -ge 20 ]; then
    up=$(curl -sf "http://127.0.0.1:$prom_port/api/v1/query?query=up" | grep -c '"value":\[[0-9.]*,"1"\]' || true)
    echo "ok: Prometheus scraped c10k_http_requests_total{GET,2xx} = $value (up: $up target)"
    exit 0
  fi
  sleep 0.5
done
echo "FAIL: Prometheus never returned c10k_http_requests_total; last answer: ${out:-none}"
tail -20 "$work/prometheus.log"
curl -s "http://127.0.0.1:$prom_port/api/v1/targets" | head -c 2000
exit 1
