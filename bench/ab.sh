#!/usr/bin/env bash
# ab.sh - two builds of sendcapd, before and after a change, on run.sh's
# throughput pinning (wrk and the fake on core 0, sendcapd and a fresh Redis
# on core 1), every SPEC §5 control and ten --alert-at thresholds on:
# requests/s and CPU per request (/proc ticks) of sendcapd and its Redis.
# Alternate the builds a few times; the machine's speed drifts between runs.
#
#   bench/ab.sh BUILD_DIR [SECONDS]     (a Release build with sendcap, sendcapd)
#   for i in 1 2 3; do bench/ab.sh /tmp/old/build; bench/ab.sh build-bench; done
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(cd "$1" && pwd); secs=${2:-10}
tmp=$(mktemp -d /tmp/ab.XXXX); pf=$((19600 + RANDOM % 300)); ps=$((pf+1))
pids=()
cleanup() { for p in "${pids[@]}"; do kill $p 2>/dev/null || true; done; wait 2>/dev/null; rm -rf $tmp; }
trap cleanup EXIT
cat >$tmp/nginx.conf <<NG
daemon off; worker_processes 1; pid $tmp/nginx.pid; error_log $tmp/error.log;
events { worker_connections 1024; }
http { keepalive_requests 10000000; client_body_temp_path $tmp; proxy_temp_path $tmp;
  fastcgi_temp_path $tmp; uwsgi_temp_path $tmp; scgi_temp_path $tmp;
  server { listen 127.0.0.1:$pf; access_log off;
    location = /emails { default_type application/json; return 200 '{"id":"4ef9a7d2-7d6c-4d1e-9c3a-1b2c3d4e5f60"}'; } } }
NG
taskset -c 0 nginx -c $tmp/nginx.conf -p $tmp & pids+=($!)
taskset -c 1 redis-server --port 0 --unixsocket $tmp/redis.sock --dir $tmp --save '' --appendonly yes --appendfsync everysec --auto-aof-rewrite-percentage 0 --logfile $tmp/redis.log & RP=$!; pids+=($RP)
for _ in $(seq 200); do [ -S $tmp/redis.sock ] && break; sleep 0.1; done
export SENDCAP_REDIS_URL=unix://$tmp/redis.sock SENDCAP_MASTER_KEY_FILE=$tmp/master.key
$bin/sendcap init >/dev/null
echo re_bench_key_0000 | $bin/sendcap upstream add prod >/dev/null
VK=$($bin/sendcap key issue --upstream prod --json --daily-cap 1000000000 --monthly-cap 1000000000 \
  --per-recipient-cap 1000000000 --rate 1000000/s --dedupe-window 10m \
  --alert-at 10,20,30,40,50,60,70,80,90,100 --from-domain '*.example.com' --to-domain example.org \
  --to-domain example.com --agent-run-id bench | sed 's/.*"key":"\([^"]*\)".*/\1/')
export VK
SENDCAP_LOG_LEVEL=warn taskset -c 1 $bin/sendcapd --listen 127.0.0.1:$ps --upstream-url http://127.0.0.1:$pf --metrics-listen off 2>$tmp/sendcapd.log & SP=$!; pids+=($SP)
for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:$ps/ && break; sleep 0.2; done
cd "$root"
taskset -c 0 wrk -t1 -c50 -d2s -s bench/send.lua http://127.0.0.1:$ps/emails > /dev/null
ticks() { awk '{print $14 + $15}' /proc/$1/stat; }
s0=$(ticks $SP); r0=$(ticks $RP)
out=$(taskset -c 0 wrk -t1 -c50 -d${secs}s -s bench/send.lua http://127.0.0.1:$ps/emails)
s1=$(ticks $SP); r1=$(ticks $RP)
n=$(echo "$out" | awk '/requests in/{print $1}'); rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
hz=$(getconf CLK_TCK)
echo "$bin requests/s $rps CPU per request: sendcapd $(( (s1 - s0) * 1000000 / hz / n )) us, Redis $(( (r1 - r0) * 1000000 / hz / n )) us, non-2xx $(echo "$out" | awk '/Non-2xx/{n = $5} END {print n + 0}')"
