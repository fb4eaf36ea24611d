#!/usr/bin/env bash
# local-cluster.sh - compose.yaml's topology without containers: one Redis,
# N sendcapd, HAProxy round-robin in front (Debian's haproxy).
#
#   deploy/local-cluster.sh [N]        (default 2; Ctrl-C or SIGTERM stops all)
#
# Settings: SENDCAP_UPSTREAM_URL (default https://api.resend.com),
# CLUSTER_PORT (HAProxy's port, default 8025), CLUSTER_STATE (default
# ./state-cluster: master key, Redis data, logs).  Prints one line
# "cluster: front http://127.0.0.1:PORT redis URL state DIR" when every part
# answers, then waits.  Everything it starts it stops, by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2}
bin=${SENDCAP_BIN:-$PWD/build}
state=${CLUSTER_STATE:-$PWD/state-cluster}
front=${CLUSTER_PORT:-8025}
upstream=${SENDCAP_UPSTREAM_URL:-https://api.resend.com}
for c in redis-server haproxy python3 curl; do
  command -v $c >/dev/null || { echo "local-cluster: needs $c (apt-get install -y redis-server haproxy python3 curl)" >&2; exit 1; }
done
[ -x "$bin/sendcapd" ] || { echo "local-cluster: build first (cmake -S . -B build && cmake --build build)" >&2; exit 1; }

mkdir -p "$state/redis"
chmod 700 "$state"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 0' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

redis-server --port 0 --unixsocket "$state/redis.sock" --unixsocketperm 700 --dir "$state/redis" \
  --appendonly yes --maxmemory-policy noeviction --save '' --logfile "$state/redis.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$state/redis.sock" ] && break; sleep 0.05; done
export SENDCAP_REDIS_URL=unix://$state/redis.sock
export SENDCAP_MASTER_KEY_FILE=${SENDCAP_MASTER_KEY_FILE:-$state/master.key}
"$bin/sendcap" init >/dev/null

servers=""
for i in $(seq 1 "$n"); do
  p=$(free_port); m=$(free_port)
  "$bin/sendcapd" --listen 127.0.0.1:$p --metrics-listen 127.0.0.1:$m --upstream-url "$upstream" \
    2>"$state/sendcapd-$i.log" &
  pids+=($!)
  servers+="    server s$i 127.0.0.1:$p check port $m"$'\n'
done

cat >"$state/haproxy.cfg" <<CFG
global
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    option http-keep-alive
frontend agents
    bind 127.0.0.1:$front
    default_backend sendcapd
backend sendcapd
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
$servers
CFG
haproxy -f "$state/haproxy.cfg" -db >"$state/haproxy.log" 2>&1 &
pids+=($!)

for _ in $(seq 200); do
  up=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$front/emails" -X POST || true)
  [ "$up" = 401 ] && break
  sleep 0.05
done
[ "$up" = 401 ] || { echo "local-cluster: HAProxy or sendcapd did not come up; see $state/*.log" >&2; exit 1; }
echo "cluster: front http://127.0.0.1:$front redis $SENDCAP_REDIS_URL state $state"
wait
