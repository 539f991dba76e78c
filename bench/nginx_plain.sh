# Sourced by the wrk scripts: starts nginx (Debian's, one worker, access log off unless a file
# is given) serving GET /plain like the sample server, pinned to CPU 0, its files in DIR.
#   start_nginx_plain DIR PORT [ACCESS_LOG]     (then DIR/nginx.pid names the master)
start_nginx_plain() {
  local dir=$1 port=$2 access_log=${3:-off}
  command -v nginx >/dev/null || { echo "nginx is missing: apt-get install nginx-light" >&2; exit 1; }
  cat > "$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 20000; }
http {
  access_log $access_log;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$port;
    location = /plain { default_type text/plain; return 200 "x"; }
  }
}
CONF
  taskset -c 0 nginx -c "$dir/nginx.conf" &
}
