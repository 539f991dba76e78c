# Sourced by the wrk scripts (cpu_split.sh, observability.sh, proxy.sh): what they measure with.

# Sums utime and stime (clock ticks) of the given processes, every thread counted; prints "U S".
cpu_ticks() {
  local u=0 s=0 pid pu ps
  for pid in "$@"; do
    read -r pu ps < <(awk '{print $14, $15}' "/proc/$pid/stat")
    u=$((u + pu)); s=$((s + ps))
  done
  echo "$u $s"
}

# Reads numbers, one per line; prints "median (min-max)" in the printf format $1 (%.0f).
median() { sort -g | awk -v f="${1:-%.0f}" '{v[NR] = $1} END {m = int((NR + 1) / 2); printf f " (" f "-" f ")", v[m], v[1], v[NR]}'; }

# Exits with the apt-get line to run when one of the tools is missing: need_tools "PACKAGES" TOOL...
need_tools() {
  local pkgs=$1 t; shift
  for t in "$@"; do command -v "$t" >/dev/null || { echo "$t is missing: apt-get install $pkgs" >&2; exit 1; }; done
}

# nginx's temporary paths, all in folder $1 (a benchmark's nginx writes nothing outside it).
nginx_temps() { echo "client_body_temp_path $1; proxy_temp_path $1; fastcgi_temp_path $1; uwsgi_temp_path $1; scgi_temp_path $1;"; }

# Writes the config of an nginx worker that answers GET /plain with "x" on 127.0.0.1:$2, with
# its pid, log and temporary files in folder $1: the upstream the proxy rows put behind both
# proxies. Prints the config file's path.
plain_upstream_conf() {
  local dir=$1 port=$2
  cat > "$dir/up.conf" <<CONF
worker_processes 1; daemon off; pid $dir/up.pid; error_log $dir/up.log warn;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 100000000; $(nginx_temps "$dir")
  server { listen 127.0.0.1:$port; location = /plain { default_type text/plain; return 200 "x"; } } }
CONF
  echo "$dir/up.conf"
}
