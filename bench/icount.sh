#!/usr/bin/env bash
# icount.sh - instructions per send in sendcapd and in its redis-server,
# counted by valgrind's callgrind over a fixed load: a measure that a busy
# shared machine does not move (wall-clock figures on it do), for the
# before/after of one change.  Every SPEC §5 control and ten --alert-at
# thresholds are on, as in `CONTROLS=on bench/run.sh`.
#
#   bench/icount.sh [SECONDS]     (default 15; needs build-bench, see run.sh)
#   CONNS=1 bench/icount.sh       at -c1 (every call its own log_write)
#   ALERTS=off bench/icount.sh    no --alert-at percents (the cost of threshold events)
#
# Prints instructions per send for each process and leaves the callgrind
# files in $OUT (default /tmp/icount) for callgrind_annotate.  The counters
# are zeroed after start-up and warm-up, so only the load is counted.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
DUR=${1:-15}
CONNS=${CONNS:-2}
ALERT_AT=10,20,30,40,50,60,70,80,90,100
[ "${ALERTS:-on}" = off ] && ALERT_AT=none
OUT=${OUT:-/tmp/icount}
bin=$root/build-bench
[ -x "$bin/sendcapd" ] || { echo "build-bench/sendcapd missing: run cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release && cmake --build build-bench --target sendcap sendcapd"; exit 1; }
mkdir -p "$OUT"; rm -f "$OUT"/callgrind.*
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
P_FAKE=${P_FAKE:-18580} P_SC=${P_SC:-18582}
cat >"$tmp/nginx.conf" <<NG
daemon off; worker_processes 1; pid $tmp/nginx.pid; error_log $tmp/error.log;
events { worker_connections 1024; }
http { keepalive_requests 10000000; client_body_temp_path $tmp; proxy_temp_path $tmp;
  fastcgi_temp_path $tmp; uwsgi_temp_path $tmp; scgi_temp_path $tmp;
  server { listen 127.0.0.1:$P_FAKE; access_log $tmp/access.log;
    location = /emails { default_type application/json; return 200 '{"id":"4ef9a7d2-7d6c-4d1e-9c3a-1b2c3d4e5f60"}'; } } }
NG
nginx -c "$tmp/nginx.conf" -p "$tmp" & pids+=($!)
valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.redis" -q \
  redis-server --port 0 --unixsocket "$tmp/redis.sock" --dir "$tmp" --save '' --appendonly yes \
  --appendfsync everysec --auto-aof-rewrite-percentage 0 --logfile "$tmp/redis.log" & RPID=$!; pids+=($RPID)
for _ in $(seq 200); do [ -S "$tmp/redis.sock" ] && break; sleep 0.1; done
export SENDCAP_REDIS_URL=unix://$tmp/redis.sock SENDCAP_MASTER_KEY_FILE=$tmp/master.key
"$bin/sendcap" init >/dev/null
echo re_bench_key_0000 | "$bin/sendcap" upstream add prod >/dev/null
VK=$("$bin/sendcap" key issue --upstream prod --json --daily-cap 1000000000 --monthly-cap 1000000000 \
  --per-recipient-cap 1000000000 --rate 1000000/s --dedupe-window 10m \
  --alert-at "$ALERT_AT" --from-domain '*.example.com' --to-domain example.org \
  --to-domain example.com --agent-run-id bench | sed 's/.*"key":"\([^"]*\)".*/\1/')
export VK
SENDCAP_LOG_LEVEL=warn valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.sendcapd" -q \
  "$bin/sendcapd" --listen 127.0.0.1:$P_SC --upstream-url http://127.0.0.1:$P_FAKE --metrics-listen off 2>"$tmp/sendcapd.log" &
SPID=$!; pids+=($SPID)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$P_SC/" && break; sleep 0.2; done
wrk -t1 -c"$CONNS" -d3s -s bench/send.lua "http://127.0.0.1:$P_SC/emails" >/dev/null # warm-up
sleep 1
callgrind_control -z "$SPID" >/dev/null; callgrind_control -z "$RPID" >/dev/null
redis-cli -s "$tmp/redis.sock" config resetstat >/dev/null
n0=$(wc -l <"$tmp/access.log")
out=$(wrk -t1 -c"$CONNS" -d"${DUR}s" -s bench/send.lua "http://127.0.0.1:$P_SC/emails")
sleep 1
callgrind_control -d "$SPID" >/dev/null; callgrind_control -d "$RPID" >/dev/null
n=$(( $(wc -l <"$tmp/access.log") - n0 ))
bad=$(echo "$out" | awk '/Non-2xx/{print $5}')
tot() { cat "$OUT"/$1.* 2>/dev/null | awk '/^(summary|totals):/{s=$2} END{print s+0}'; }
# The dump after the load is the last file: callgrind.<name>.<n>
last() { ls -t "$OUT"/callgrind.$1.* | head -1; }
si=$(awk '/^(summary|totals):/{s=$2} END{print s}' "$(last sendcapd)")
ri=$(awk '/^(summary|totals):/{s=$2} END{print s}' "$(last redis)")
echo "sends forwarded $n (non-2xx ${bad:-0}), -c$CONNS ${DUR}s under callgrind"
echo "instructions per send: sendcapd $((si / n)), redis-server $((ri / n)), total $(((si + ri) / n))"
# Redis commands per send, those the scripts run included (INFO commandstats)
redis-cli -s "$tmp/redis.sock" info commandstats | tr -d '\r' |
  awk -F'[_:=,]' -v n="$n" '/^cmdstat_/ && $2 != "info" && $2 != "config" {
    c[$2] = $4; t += ($2 == "evalsha") ? 0 : $4 }
  END { printf "Redis commands per send: %.2f inside scripts (", t / n
        for (k in c) if (k != "evalsha") printf " %s %.2f", k, c[k] / n
        printf " ), %.2f EVALSHA\n", c["evalsha"] / n }'
# Every script run, inclusive, per send: Redis's per-second work (serverCron,
# the AOF fsync) left out, which the total above spreads over however many
# sends got through.
ev=$(callgrind_annotate --inclusive=yes "$(last redis)" 2>/dev/null | awk '/:evalShaCommand /{gsub(",", "", $1); print $1; exit}')
echo "redis-server inside EVALSHA (the scripts) per send: $((${ev:-0} / n))"
echo "profiles: $(last sendcapd) $(last redis)"
