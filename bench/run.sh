#!/usr/bin/env bash
# run.sh - sendcapd against nginx proxy_pass and against an nginx + Lua +
# Redis peer on the same upstream, one run.
#
#   bench/run.sh            full run (10 s per load, 120 s soak)
#   bench/run.sh --quick    smoke mode (2 s per load, 5 s soak, fewer idle conns)
#   DUR=10 SOAK=120 CONNS=50 REPS=3 bench/run.sh
#   CONTROLS=on bench/run.sh  every SPEC §5 control set on the key (default off)
#   ALERTS=off bench/run.sh   no --alert-at percents (default on: all ten, on a
#                             daily and a monthly cap), to compare the cost per
#                             send of SPEC §6's threshold checks and events
#
# What it starts (all on 127.0.0.1, all stopped by PID at the end):
#   fake Resend   nginx answering POST /emails with a fixed {"id":…} (keep-alive)
#   nginx proxy   plain proxy_pass to the fake, upstream keep-alive on, 1 worker
#   peer          the same nginx with Debian's libnginx-mod-http-lua running
#                 bench/peer.lua: one EVALSHA (check-and-INCRBY of a daily
#                 counter, bench/peer_cap.lua) and one XADD per request on its
#                 own redis-server (same settings as sendcapd's), the real key
#                 swapped in, then proxy_pass (issue #15's peer)
#   sendcapd      to the fake, a vault key with a high cap, one from-domain and
#                 one to-domain rule, call log on; its own redis-server
#   wrk           a ~1 KB Resend send body (bench/send.lua)
#
# Redis: AOF on (appendfsync everysec) with automatic rewrites off for the
# run, so a compaction fork (it inherits core 1) does not land on one
# side of the comparison.
#
# CPU pinning (2 cores): for throughput, wrk and the fake Resend share core 0,
# the proxy under test (nginx's one worker, or sendcapd) and Redis share core 1,
# so each proxy gets one core and the same neighbours.  For low-load latency
# everything moves to core 0 (wrk -c1), so no cross-core wake-up is charged to
# either proxy.  Prints requests/s and p50/p99 for direct, nginx and sendcapd,
# the ratios, Redis commands per request, the counter check, RSS with idle
# keep-alive connections, and a soak (RSS and fds before/after).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

DUR=${DUR:-10}
SOAK=${SOAK:-120}
CONNS=${CONNS:-50}
IDLE=${IDLE:-1000}
REPS=${REPS:-3}
if [ "${1:-}" = "--quick" ]; then DUR=2; SOAK=5; IDLE=200; REPS=1; fi

need=()
for c in nginx wrk redis-server redis-cli taskset pgrep node curl cmake; do command -v $c >/dev/null || need+=($c); done
[ -e /usr/lib/nginx/modules/ngx_http_lua_module.so ] && [ -e /usr/lib/nginx/modules/ndk_http_module.so ] || need+=(libnginx-mod-http-lua)
pkg-config --exists jemalloc 2>/dev/null || need+=(libjemalloc-dev)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update && apt-get install -y nginx wrk redis-server redis-tools util-linux procps cmake \
    libnginx-mod-http-lua build-essential pkg-config libevent-dev libcurl4-openssl-dev libssl-dev libhiredis-dev \
    libjansson-dev libjemalloc-dev curl nodejs
fi
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DWITH_TESTS=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" --target sendcap sendcapd >/dev/null
bin=$root/build-bench

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

P_FAKE=18480 P_NGINX=18481 P_SC=18482 P_FAKE_SC=18483 P_PEER=18484
mkdir -p "$tmp/fake" "$tmp/proxy" "$tmp/peer"

# What both nginx configs share, but for their folder.
nginx_head() {
  local d=$tmp/$1
  cat <<EOF
daemon off; user root; worker_processes 1; pid $d/nginx.pid; error_log $d/error.log;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 10000000; keepalive_timeout 300s;
  client_body_temp_path $d; proxy_temp_path $d; fastcgi_temp_path $d;
  uwsgi_temp_path $d; scgi_temp_path $d;
EOF
}

{ nginx_head fake; cat <<EOF
  server {
    listen 127.0.0.1:$P_FAKE;
    location = /emails { default_type application/json; return 200 '{"id":"4ef9a7d2-7d6c-4d1e-9c3a-1b2c3d4e5f60"}'; }
  }
  # The same fake for sendcapd, counting what it forwards (buffered log).
  server {
    listen 127.0.0.1:$P_FAKE_SC;
    access_log $tmp/fake/access.log combined buffer=256k flush=1s;
    location = /emails { default_type application/json; return 200 '{"id":"4ef9a7d2-7d6c-4d1e-9c3a-1b2c3d4e5f60"}'; }
  }
}
EOF
} >"$tmp/fake/nginx.conf"
{ nginx_head proxy; cat <<EOF
  upstream resend { server 127.0.0.1:$P_FAKE; keepalive 64; }
  server {
    listen 127.0.0.1:$P_NGINX;
    location / { proxy_pass http://resend; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
EOF
} >"$tmp/proxy/nginx.conf"

taskset -c 0 nginx -c "$tmp/fake/nginx.conf" -p "$tmp/fake" & pids+=($!)
taskset -c 1 nginx -c "$tmp/proxy/nginx.conf" -p "$tmp/proxy" & pids+=($!)
redis() { # DIR: a redis-server on core 1 with sendcapd's settings
  taskset -c 1 redis-server --port 0 --unixsocket "$1/redis.sock" --dir "$1" --save '' \
    --appendonly yes --appendfsync everysec --auto-aof-rewrite-percentage 0 \
    --maxmemory-policy noeviction --logfile "$1/redis.log" &
  pids+=($!)
  for _ in $(seq 100); do [ -S "$1/redis.sock" ] && break; sleep 0.05; done
}
redis "$tmp"
redis "$tmp/peer"; PEER_R=${pids[-1]}
PEER_SHA=$(redis-cli -s "$tmp/peer/redis.sock" script load "$(cat bench/peer_cap.lua)")

export SENDCAP_REDIS_URL=unix://$tmp/redis.sock SENDCAP_MASTER_KEY_FILE=$tmp/master.key
rc() { redis-cli -s "$tmp/redis.sock" "$@"; }
"$bin/sendcap" init >/dev/null
echo re_bench_key_0000 | "$bin/sendcap" upstream add prod >/dev/null
# CONTROLS=on: every SPEC §5 control of the key is set (limits no run
# reaches), so the run shows what checking them costs; off (default): the
# daily cap alone, dedupe off.
if [ "${CONTROLS:-off}" = on ]; then
  controls=(--monthly-cap 1000000000 --per-recipient-cap 1000000000 --rate 1000000/s
            --dedupe-window 10m)
else
  controls=(--dedupe-window 0)
fi
# ALERTS=on (default): the most --alert-at percents, checked on a daily and
# a monthly cap by every send (no run reaches 10 % of them, so what is
# measured is what a send pays when it crosses none; a crossing writes one
# event, once per window); off: none, and no monthly cap unless CONTROLS.
if [ "${ALERTS:-on}" = on ]; then
  controls+=(--alert-at 10,20,30,40,50,60,70,80,90,100)
  [ "${CONTROLS:-off}" = on ] || controls+=(--monthly-cap 1000000000)
else
  controls+=(--alert-at none)
fi
echo "controls: ${CONTROLS:-off}, alerts: ${ALERTS:-on} (${controls[*]})"
VK=$("$bin/sendcap" key issue --upstream prod --json --daily-cap 1000000000 "${controls[@]}" \
  --from-domain '*.example.com' --to-domain example.org --to-domain example.com --agent-run-id bench |
  sed 's/.*"key":"\([^"]*\)".*/\1/')
export VK
{ echo "load_module /usr/lib/nginx/modules/ndk_http_module.so;"
  echo "load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;"; nginx_head peer; cat <<EOF
  upstream resend { server 127.0.0.1:$P_FAKE; keepalive 64; }
  server {
    listen 127.0.0.1:$P_PEER;
    location / {
      set \$peer_redis "unix:$tmp/peer/redis.sock"; set \$peer_sha "$PEER_SHA";
      set \$peer_vk "$VK"; set \$peer_real "re_bench_key_0000"; set \$peer_cap 1000000000;
      access_by_lua_file $root/bench/peer.lua;
      proxy_pass http://resend; proxy_http_version 1.1; proxy_set_header Connection "";
    }
  }
}
EOF
} >"$tmp/peer/nginx.conf"
taskset -c 1 nginx -c "$tmp/peer/nginx.conf" -p "$tmp/peer" & PEER_PID=$!; pids+=($PEER_PID)
SENDCAP_LOG_LEVEL=warn taskset -c 1 "$bin/sendcapd" --listen 127.0.0.1:$P_SC \
  --upstream-url http://127.0.0.1:$P_FAKE_SC 2>"$tmp/sendcapd.log" &
SC_PID=$!
pids+=($SC_PID)
sleep 0.5
for p in $P_FAKE $P_NGINX $P_PEER $P_SC; do
  curl -s -o /dev/null -X POST -H "Authorization: Bearer $VK" -H 'Content-Type: application/json' \
    -d '{"from":"a@mail.example.com","to":"b@example.org","subject":"s","text":"t"}' \
    --fail "http://127.0.0.1:$p/emails" || { echo "port $p not answering"; cat "$tmp"/*.log "$tmp"/*/*.log; exit 1; }
done

# wrk's "Latency Distribution" in microseconds: 50% and 99%
us() { awk '{v=$1; u=v; sub(/[0-9.]+/,"",u); sub(/[a-z]+$/,"",v);
  if(u=="us")m=1; else if(u=="ms")m=1000; else if(u=="s")m=1000000; else m=1; printf "%d", v*m}'; }
# run NAME PORT CPU THREADS CONNS -> sets R_rps R_p50 R_p99 R_bad
run() {
  local out
  out=$(taskset -c "$3" wrk -t"$4" -c"$5" -d"${DUR}s" --latency -s bench/send.lua "http://127.0.0.1:$2/emails")
  R_rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
  R_p50=$(echo "$out" | awk '$1=="50%"{print $2}' | us)
  R_p99=$(echo "$out" | awk '$1=="99%"{print $2}' | us)
  local n2 s2
  n2=$(echo "$out" | awk '/Non-2xx/{print $5}'); n2=${n2:-0}
  s2=$(echo "$out" | awk '/Socket errors/{gsub(",",""); print $4+$6+$8+$10}'); s2=${s2:-0}
  R_bad=$((n2 + s2))
  R_total=$(echo "$out" | awk '/requests in/{print $1}')
}
pin_all() { # move every process of a pid tree to cpu $2
  for p in $1 $(pgrep -P "$1" || true); do taskset -apc "$2" "$p" >/dev/null; done
}
fake_count() { sleep 1.2; wc -l <"$tmp/fake/access.log" 2>/dev/null || echo 0; }
# CPU time (utime + stime, clock ticks) of a process and its children
ticks() { local t=0; for p in $1 $(pgrep -P "$1" || true); do
  t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $t; }
# microseconds of CPU per request: TICKS REQUESTS
per_req() { awk -v t="$1" -v n="$2" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.0f", t * 1e6 / hz / n}'; }

echo "sendcap bench: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), ${DUR}s per load"
echo
# The loads alternate (nginx, sendcapd, nginx, sendcapd, ...) REPS times and
# each figure is the median over its runs, so a slow spell of this (shared,
# virtual) machine does not land on one side only.
med() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
echo "== throughput: wrk -t1 -c$CONNS + fake on core 0; proxy (1 worker) + Redis on core 1 (median of $REPS)"
run direct $P_FAKE 0 1 "$CONNS"; D_rps=$R_rps; D_bad=$R_bad
rc config resetstat >/dev/null
before_fake=$(fake_count)
N_all=(); S_all=(); P_all=(); N_bad=0; S_bad=0; P_bad=0; S_total=0; N_total=0; P_total=0
N_t=0; S_t=0; R_t=0; P_t=0; PR_t=0
for _ in $(seq "$REPS"); do
  t0=$(ticks "${pids[1]}")
  run nginx $P_NGINX 0 1 "$CONNS"
  N_t=$((N_t + $(ticks "${pids[1]}") - t0)); N_total=$((N_total + R_total)); N_bad=$((N_bad + R_bad))
  N_all+=("$R_rps $R_p50 $R_p99")
  t0=$(ticks "$PEER_PID"); r0=$(ticks "$PEER_R")
  run peer $P_PEER 0 1 "$CONNS"
  P_t=$((P_t + $(ticks "$PEER_PID") - t0)); PR_t=$((PR_t + $(ticks "$PEER_R") - r0))
  P_total=$((P_total + R_total)); P_bad=$((P_bad + R_bad))
  P_all+=("$R_rps $R_p50 $R_p99")
  t0=$(ticks "$SC_PID"); r0=$(ticks "${pids[2]}")
  run sendcapd $P_SC 0 1 "$CONNS"
  S_t=$((S_t + $(ticks "$SC_PID") - t0)); R_t=$((R_t + $(ticks "${pids[2]}") - r0))
  S_total=$((S_total + R_total)); S_bad=$((S_bad + R_bad))
  S_all+=("$R_rps $R_p50 $R_p99")
done
col() { local i=$1; shift; for r in "$@"; do echo "$r" | awk -v i="$i" '{printf "%s ", $i}'; done | med; }
N_rps=$(col 1 "${N_all[@]}"); N_p50=$(col 2 "${N_all[@]}"); N_p99=$(col 3 "${N_all[@]}")
S_rps=$(col 1 "${S_all[@]}"); S_p50=$(col 2 "${S_all[@]}"); S_p99=$(col 3 "${S_all[@]}")
P_rps=$(col 1 "${P_all[@]}"); P_p50=$(col 2 "${P_all[@]}"); P_p99=$(col 3 "${P_all[@]}")
N_cpu=$(per_req "$N_t" "$N_total"); S_cpu=$(per_req "$S_t" "$S_total"); R_cpu=$(per_req "$R_t" "$S_total")
P_cpu=$(per_req "$P_t" "$P_total"); PR_cpu=$(per_req "$PR_t" "$P_total")
after_fake=$(fake_count)
stats=$(rc info commandstats)
evalsha=$(echo "$stats" | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\).*/\1/p')
evalsha_us=$(echo "$stats" | sed -n 's/^cmdstat_evalsha:calls=[0-9]*,usec=\([0-9]*\).*/\1/p')
printf '%-10s %12s %10s %10s %8s\n' "" "requests/s" "p50 (us)" "p99 (us)" "errors"
printf '%-10s %12s %10s %10s %8s\n' direct "$D_rps" "-" "-" "$D_bad"
printf '%-10s %12s %10s %10s %8s\n' nginx "$N_rps" "$N_p50" "$N_p99" "$N_bad"
printf '%-10s %12s %10s %10s %8s\n' peer "$P_rps" "$P_p50" "$P_p99" "$P_bad"
printf '%-10s %12s %10s %10s %8s\n' sendcapd "$S_rps" "$S_p50" "$S_p99" "$S_bad"
firsts() { for r in "$@"; do printf '%s ' "${r%% *}"; done; }
echo "runs, requests/s: nginx $(firsts "${N_all[@]}")| peer $(firsts "${P_all[@]}")| sendcapd $(firsts "${S_all[@]}")"
div() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
echo "throughput: sendcapd/nginx $(div "$S_rps" "$N_rps"), sendcapd/peer $(div "$S_rps" "$P_rps") (target >= 1.00)," \
     "peer/nginx $(div "$P_rps" "$N_rps")"
# call.lua calls TIME once and log_write never: TIME counts call.lua runs,
# XADD counts call records; the other EVALSHAs are log_write calls.
ncall=$(echo "$stats" | sed -n 's/^cmdstat_time:calls=\([0-9]*\).*/\1/p')
nrec=$(echo "$stats" | sed -n 's/^cmdstat_xadd:calls=\([0-9]*\).*/\1/p')
echo "Redis round trips per request: $(awk -v a="$evalsha" -v b="$S_total" 'BEGIN{printf "%.2f", a/b}') EVALSHA =" \
     "$(awk -v a="$ncall" -v b="$S_total" 'BEGIN{printf "%.2f", a/b}') call.lua before forwarding (checks, reservation, audit intent)" \
     "+ $(awk -v a="$evalsha" -v c="$ncall" -v b="$S_total" 'BEGIN{printf "%.2f", (a-c)/b}') log_write after it" \
     "($(awk -v r="$nrec" -v a="$evalsha" -v c="$ncall" 'BEGIN{printf "%.1f", r/(a-c)}') call records with their settlements per call," \
     "written to Redis just before the answers, never waited for)"
echo "sends forwarded (fake access log): $((after_fake - before_fake)); wrk completed: $S_total"
echo "events written (XLEN sc:events, key.issued included): $(rc xlen sc:events);" \
     "call.lua + log_write: $(awk -v u="$evalsha_us" -v n="$evalsha" 'BEGIN{printf "%.1f", u / n}') us of Redis CPU per script run" \
     "(compare ALERTS=on and ALERTS=off)"
echo "CPU per request on the proxy core: nginx $N_cpu us; peer $P_cpu us + its Redis $PR_cpu us;" \
     "sendcapd $S_cpu us + its Redis $R_cpu us" \
     "($(awk -v u="$evalsha_us" -v n="$S_total" 'BEGIN{printf "%.0f", u / n}') us of it inside the two scripts);" \
     "that core at 100% serves at most $(awk -v a="$S_cpu" -v b="$R_cpu" 'BEGIN{printf "%d", 1e6 / (a + b)}') sends/s," \
     "nginx $(awk -v a="$N_cpu" 'BEGIN{printf "%d", 1e6 / a}')/s"

echo
echo "== latency at low load: wrk -c1, everything on core 0 (median of $REPS)"
for p in "${pids[@]}"; do pin_all "$p" 0; done
L_d=(); L_n=(); L_p=(); L_s=(); LN_bad=0; LP_bad=0; LS_bad=0; L_s99=""
for _ in $(seq "$REPS"); do
  run direct $P_FAKE 0 1 1; L_d+=("$R_p50 $R_p99"); L_d99="${L_d99:-}$R_p99 "
  run nginx $P_NGINX 0 1 1; L_n+=("$R_p50 $R_p99"); LN_bad=$((LN_bad + R_bad))
  run peer $P_PEER 0 1 1; L_p+=("$R_p50 $R_p99"); LP_bad=$((LP_bad + R_bad))
  run sendcapd $P_SC 0 1 1; L_s+=("$R_p50 $R_p99"); LS_bad=$((LS_bad + R_bad)); L_s99="$L_s99$R_p99 "
done
LD_p50=$(col 1 "${L_d[@]}"); LD_p99=$(col 2 "${L_d[@]}")
LN_p50=$(col 1 "${L_n[@]}"); LN_p99=$(col 2 "${L_n[@]}")
LP_p50=$(col 1 "${L_p[@]}"); LP_p99=$(col 2 "${L_p[@]}")
LS_p50=$(col 1 "${L_s[@]}"); LS_p99=$(col 2 "${L_s[@]}")
printf '%-10s %10s %10s %12s %12s\n' "" "p50 (us)" "p99 (us)" "added p50" "added p99"
printf '%-10s %10s %10s %12s %12s\n' direct "$LD_p50" "$LD_p99" - -
printf '%-10s %10s %10s %12s %12s\n' nginx "$LN_p50" "$LN_p99" $((LN_p50 - LD_p50)) $((LN_p99 - LD_p99))
printf '%-10s %10s %10s %12s %12s\n' peer "$LP_p50" "$LP_p99" $((LP_p50 - LD_p50)) $((LP_p99 - LD_p99))
printf '%-10s %10s %10s %12s %12s\n' sendcapd "$LS_p50" "$LS_p99" $((LS_p50 - LD_p50)) $((LS_p99 - LD_p99))
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b <= 0) print "n/a (nginx added nothing measurable)"; else printf "%.2f", a/b }'; }
echo "added latency sendcapd/nginx: p50 $(ratio $((LS_p50 - LD_p50)) $((LN_p50 - LD_p50))) (target <= 2)," \
     "p99 $(ratio $((LS_p99 - LD_p99)) $((LN_p99 - LD_p99))) (target <= 3)"
echo "added latency sendcapd/peer: p50 $(ratio $((LS_p50 - LD_p50)) $((LP_p50 - LD_p50))) (target <= 2);" \
     "sendcapd's p99 in each round: ${L_s99}us (target < 1000 in every round);" \
     "the fake's own, direct, with nothing between: ${L_d99}us"

echo
echo "== memory: $IDLE idle keep-alive connections to sendcapd"
rss() { awk '/VmRSS/{print $2}' "/proc/$SC_PID/status"; }
fds() { ls "/proc/$SC_PID/fd" | wc -l; }
r0=$(rss)
node -e '
const net = require("net");
const [port, n] = process.argv.slice(1).map(Number);
const socks = [];
let open = 0;
for (let i = 0; i < n; i++) {
  const s = net.connect(port, "127.0.0.1", () => { open++; if (open === n) console.log("open"); });
  s.on("error", () => {});
  socks.push(s);
}
setTimeout(() => process.exit(0), 4000);
' $P_SC "$IDLE" >/dev/null &
idle_pid=$!
sleep 2.5
r1=$(rss); f1=$(fds)
wait $idle_pid || true
echo "RSS before $((r0 / 1024)) MiB, with $IDLE idle connections $((r1 / 1024)).$(( (r1 % 1024) * 10 / 1024 )) MiB (target <= 20 MiB); fds $f1"

echo
echo "== soak: ${SOAK}s at -c$CONNS on the throughput pinning"
pin_all "${pids[1]}" 1; pin_all "${pids[2]}" 1; pin_all "$PEER_PID" 1; pin_all "$PEER_R" 1; pin_all "$SC_PID" 1
sleep 1
r0=$(rss); f0=$(fds)
# RSS every tenth of the soak: growth is judged from the end of the first
# tenth (the working set of $CONNS busy connections and the allocator's
# arenas forming) to the end; a leak keeps climbing, a working set does not.
( for _ in $(seq 10); do sleep "$(awk -v d="$SOAK" 'BEGIN{print d / 10}')"; echo "$(rss)"; done ) \
  >"$tmp/soak-rss" 2>/dev/null & sampler=$!
DUR_SAVE=$DUR; DUR=$SOAK
run sendcapd $P_SC 0 1 "$CONNS"
DUR=$DUR_SAVE
wait "$sampler" 2>/dev/null || true
sleep 1
r1=$(rss); f1=$(fds)
SOAK_bad=$R_bad
series=$(awk '{printf "%s%.1f", (NR > 1 ? " " : ""), $1 / 1024}' "$tmp/soak-rss")
rw=$(head -1 "$tmp/soak-rss")
echo "soak: $R_total requests at $R_rps/s, errors $R_bad; RSS $((r0 / 1024)) MiB before, every tenth of the soak: $series MiB; after $((r1 / 1024)) MiB; growth after the first tenth $(awk -v a="$rw" -v b="$r1" 'BEGIN{printf "%.1f", (b - a) / 1024}') MiB; fds $f0 -> $f1"

echo
echo "== --workers: 1 vs 2 sendcapd processes on the same port, nothing pinned (Redis, wrk and the fake share the 2 cores)"
kill "$SC_PID"; wait "$SC_PID" 2>/dev/null || true
for n in 1 2; do
  SENDCAP_LOG_LEVEL=warn "$bin/sendcapd" --listen 127.0.0.1:$P_SC --workers $n \
    --upstream-url http://127.0.0.1:$P_FAKE_SC 2>>"$tmp/sendcapd.log" &
  wpid=$!
  sleep 1
  for p in "${pids[@]}"; do for q in $p $(pgrep -P "$p" || true); do taskset -apc 0,1 "$q" >/dev/null 2>&1 || true; done; done
  t0=$(ticks "$wpid"); r0=$(ticks "${pids[2]}"); idle0=$(awk '/^cpu /{print $5 + $6}' /proc/stat)
  run "workers=$n" $P_SC 0,1 2 $((CONNS * 2))
  idle=$(awk -v i0="$idle0" -v hz="$(getconf CLK_TCK)" -v d="$DUR" -v c="$(nproc)" \
    '/^cpu /{printf "%.0f", 100 * ($5 + $6 - i0) / hz / d / c}' /proc/stat)
  echo "workers=$n: $R_rps requests/s, p50 $R_p50 us, p99 $R_p99 us, errors $R_bad;" \
       "CPU per request: sendcapd $(per_req $(( $(ticks "$wpid") - t0 )) "$R_total") us (all workers)," \
       "Redis $(per_req $(( $(ticks "${pids[2]}") - r0 )) "$R_total") us; machine idle ${idle}%"
  W_bad=$(( ${W_bad:-0} + R_bad ))
  kill "$wpid"; wait "$wpid" 2>/dev/null || true
done

echo
fwd=$(fake_count)
counter=$(rc --raw eval "local s=0 for _,k in ipairs(redis.call('keys','sc:cnt:*')) do s=s+tonumber(redis.call('get',k)) end return s" 0)
echo "== correctness: errors and non-2xx over the whole run: nginx $((N_bad + LN_bad)), peer $((P_bad + LP_bad)), sendcapd $((S_bad + LS_bad + SOAK_bad + W_bad));" \
     "sends sendcapd forwarded (fake's log) $fwd, today's counter $counter: $([ "$fwd" = "$counter" ] && echo equal || echo DIFFERENT)"
if [ $((S_bad + LS_bad + SOAK_bad + W_bad)) -gt 0 ]; then
  echo "sendcapd's warnings and errors (first 10):"
  grep -E ' (warn|error) ' "$tmp/sendcapd.log" | head -10
  echo "redis log (last 10):"
  tail -10 "$tmp/redis.log"
fi
