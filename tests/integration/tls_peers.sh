#!/usr/bin/env bash
# The sample server over TLS against real clients: curl (TLS 1.3 and 1.2, ALPN) and
# openssl s_client (both versions, ALPN, resumption with a saved session), a certificate
# reload on SIGHUP while a connection stays open, plain and TLS ports side by side, and the
# kernel-TLS fallback's log line. ECDSA P-256, as the benchmark uses.
# Exits 77 (skipped) when curl or openssl is missing.
#   tests/integration/tls_peers.sh BUILD_DIR
set -euo pipefail
build=$1
for tool in curl openssl; do command -v $tool >/dev/null || { echo "skipped: $tool is not installed"; exit 77; }; done
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*"; echo "--- server log"; cat server.log; exit 1; }
cert() {  # name -> name.pem, name.key (self-signed for localhost and 127.0.0.1)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$1.key" -out "$1.pem" -days 2 \
    -subj "/CN=$1" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
}
cert first; cert second
cp first.pem live.pem; cp first.key live.key
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port); tls_port=$(free_port)
"$build/examples/c10k-server" --host 127.0.0.1 --port "$port" --tls-port "$tls_port" --threads 2 \
  --tls-cert live.pem --tls-key live.key > server.log 2>&1 &
pid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/plain" >/dev/null 2>&1 && break; sleep 0.1; done

# curl, both versions, ALPN.
for v in "--tlsv1.3" "--tlsv1.2 --tls-max 1.2"; do
  out=$(curl -sv --http1.1 $v --cacert first.pem "https://localhost:$tls_port/" 2>&1) || fail "curl $v: $out"
  grep -q "Hello from c10k" <<<"$out" || fail "curl $v: no body: $out"
  want=$([ "$v" = "--tlsv1.3" ] && echo TLSv1.3 || echo TLSv1.2)
  grep -q "SSL connection using $want" <<<"$out" || fail "curl $v: not $want: $out"
  grep -q "ALPN: server accepted http/1.1" <<<"$out" || fail "curl $v: no ALPN: $out"
done
# The plain port still speaks plain HTTP.
[ "$(curl -sf "http://127.0.0.1:$port/plain")" = "x" ] || fail "plain port"

# openssl s_client: both versions, ALPN, then resumption from the saved session.
for v in tls1_3 tls1_2; do
  out=$(printf 'GET /plain HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
        timeout 10 openssl s_client -connect "127.0.0.1:$tls_port" -servername localhost -$v -alpn http/1.1 \
          -CAfile first.pem -sess_out "sess.$v" -ign_eof 2>&1) || true
  grep -q "ALPN protocol: http/1.1" <<<"$out" || fail "s_client -$v: no ALPN: $out"
  grep -q "Verify return code: 0 (ok)" <<<"$out" || fail "s_client -$v: not verified: $out"
  grep -q "^New, TLSv1" <<<"$out" || fail "s_client -$v: not a new session: $out"
  grep -q "HTTP/1.1 200 OK" <<<"$out" || fail "s_client -$v: no response: $out"
  again=$(printf 'GET /plain HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
          timeout 10 openssl s_client -connect "127.0.0.1:$tls_port" -servername localhost -$v -sess_in "sess.$v" \
            -ign_eof 2>&1) || true
  grep -q "^Reused, TLSv1" <<<"$again" || fail "s_client -$v: the session was not resumed: $again"
  grep -q "HTTP/1.1 200 OK" <<<"$again" || fail "s_client -$v: no response on the resumed session"
done

# c10k-proxy in front of the TLS port, as an https client that verifies it (and resumes).
proxy_port=$(free_port)
"$build/examples/c10k-proxy" --host 127.0.0.1 --port "$proxy_port" --threads 1 --pool 0 \
  --upstream "https://localhost:$tls_port" --upstream-ca first.pem > proxy.log 2>&1 &
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$proxy_port/plain" >/dev/null 2>&1 && break; sleep 0.1; done
for _ in 1 2 3; do
  [ "$(curl -sf "http://127.0.0.1:$proxy_port/plain")" = "x" ] || { cat proxy.log; fail "c10k-proxy to an https upstream"; }
done
head -c 1048576 /dev/urandom > upload.bin
curl -sf --data-binary @upload.bin -H "Content-Type: application/octet-stream" "http://127.0.0.1:$proxy_port/echo" > echoed.bin ||
  { cat proxy.log; fail "a 1 MiB POST through c10k-proxy to the https upstream"; }
cmp -s upload.bin echoed.bin || fail "the 1 MiB POST came back changed through the https upstream"

# A reload on SIGHUP: a connection open across it keeps working; new ones get the new certificate.
exec 3< <( (printf 'GET /plain HTTP/1.1\r\nHost: localhost\r\n\r\n'; sleep 2; \
             printf 'GET /plain HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n') |
           timeout 15 openssl s_client -connect "127.0.0.1:$tls_port" -quiet -ign_eof 2>/dev/null)
sleep 0.5
cp second.pem live.pem; cp second.key live.key
kill -HUP $pid
for _ in $(seq 50); do grep -q "TLS certificates reloaded" server.log && break; sleep 0.1; done
grep -q "TLS certificates reloaded" server.log || fail "no reload after SIGHUP"
subject=$(echo | timeout 10 openssl s_client -connect "127.0.0.1:$tls_port" 2>/dev/null | openssl x509 -noout -subject)
grep -q "CN = second" <<<"$subject" || fail "after the reload the server still sends: $subject"
open_out=$(cat <&3)
[ "$(grep -c "HTTP/1.1 200 OK" <<<"$open_out")" = 2 ] || fail "the connection open across the reload lost a response: $open_out"

# The kernel-TLS fallback, once: where the kernel refuses TCP_ULP "tls", the server says so.
if grep -q "kernel TLS unavailable" server.log; then
  [ "$(grep -c "kernel TLS" server.log)" = 1 ] || fail "the kernel-TLS line is not said once"
  ktls="kernel TLS unavailable here (user-space records, logged once)"
else
  ktls="kernel TLS offered by this kernel"
fi
kill -0 $pid || fail "the server died"
echo "ok: curl and s_client over TLS 1.3 and 1.2 with ALPN, resumption, c10k-proxy to an https upstream, a SIGHUP reload that kept an open connection; $ktls"
