#!/usr/bin/env bash
# audit_query.sh - the call log at scale: query one agent_run_id among
# 1,000,000 records, and the write cost of a call.
#
#   bench/audit_query.sh [RECORDS] [RUNS]        (default 1000000 10000)
#
# Starts a private redis-server (Unix socket, temp dir), fills it with
# RECORDS records spread over RUNS agent runs exactly as sendcapd writes them
# (bench/audit_fill.c uses store_audit_chain_seal and log_write.lua), then
# times `sendcap log query --agent-run-id` for 21 runs (median and max, the
# whole CLI process included).  Then runs 1,000 real sends through sendcapd
# and the fake Resend and reads Redis's INFO commandstats and memory deltas:
# commands per call and bytes per record.  Stops everything it started.
# Not part of CI (it takes about a minute); a benchmark, not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-1000000}
runs=${2:-10000}

command -v redis-server >/dev/null || { apt-get update && apt-get install -y redis-server redis-tools; }
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)" --target sendcap sendcapd sendcap-bench-audit-fill >/dev/null

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

redis-server --port 0 --unixsocket "$tmp/redis.sock" --dir "$tmp" --save '' --appendonly no \
  --maxmemory-policy noeviction --logfile "$tmp/redis.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$tmp/redis.sock" ] && break; sleep 0.05; done
export SENDCAP_REDIS_URL=unix://$tmp/redis.sock SENDCAP_MASTER_KEY_FILE=$tmp/master.key
rc() { redis-cli -s "$tmp/redis.sock" "$@"; }
mem() { rc info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p'; }
build/sendcap init >/dev/null

m0=$(mem)
t0=$(date +%s%N)
build/sendcap-bench-audit-fill "$records" "$runs"
t1=$(date +%s%N)
m1=$(mem)
echo "filled $records records over $runs runs in $(( (t1 - t0) / 1000000 )) ms;" \
     "$(( (m1 - m0) / records )) bytes of Redis memory per record (stream + indexes)"

times=()
for i in $(seq 21); do
  run="run-$(( (i * 7919) % runs ))"
  s=$(date +%s%N)
  n=$(build/sendcap log query --agent-run-id "$run" --format json | wc -l)
  e=$(date +%s%N)
  times+=($(( (e - s) / 1000 )))
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
echo "log query --agent-run-id (one run = $n records among $records): median $(( sorted[10] / 1000 )).$(( sorted[10] % 1000 / 100 )) ms," \
     "max $(( sorted[20] / 1000 )) ms (21 queries, whole CLI process)"
s=$(date +%s%N)
k=$(build/sendcap log query --key key_bench0000007 --limit 100 --format json | wc -l)
e=$(date +%s%N)
echo "log query --key --limit 100 (key with $(( records / 100 )) records): $(( (e - s) / 1000000 )) ms for $k rows"

# Write cost of real calls: 1,000 sends through sendcapd to the fake Resend.
rc flushall >/dev/null
real=re_bench_$RANDOM$RANDOM
node tests/lib/fake-resend-server.mjs 18426 "$real" >/dev/null &
pids+=($!)
echo "$real" | build/sendcap upstream add prod >/dev/null
vk=$(build/sendcap key issue --upstream prod --json --agent-run-id bench | sed 's/.*"key":"\([^"]*\)".*/\1/')
build/sendcapd --listen 127.0.0.1:18425 --upstream-url http://127.0.0.1:18426 2>"$tmp/d.log" &
pids+=($!)
for _ in $(seq 100); do grep -q listening "$tmp/d.log" && break; sleep 0.05; done
sleep 0.3
rc config resetstat >/dev/null
m0=$(mem)
node -e '
const [url, key] = process.argv.slice(1);
(async () => {
  for (let i = 0; i < 1000; i++) {
    const r = await fetch(url + "/emails", { method: "POST", headers: { authorization: "Bearer " + key, "content-type": "application/json" },
      body: JSON.stringify({ from: "a@example.com", to: ["b@example.org"], subject: "s", text: "t" }) });
    if (r.status !== 200) { console.error("status", r.status); process.exit(1); }
    await r.text();
  }
})();' http://127.0.0.1:18425 "$vk"
sleep 0.5
m1=$(mem)
stats=$(rc info commandstats)
calls() { echo "$stats" | sed -n "s/^cmdstat_$1:calls=\([0-9]*\).*/\1/p"; }
echo "1000 sends through sendcapd: $(calls evalsha) EVALSHA = $(( $(calls evalsha) / 1000 )) per send" \
     "(call.lua before forwarding: the one round trip on the critical path; log_write, the" \
     "record with its settlement, queued with the answer, never waited for); $(( (m1 - m0) / 1000 )) bytes of Redis memory per" \
     "send (call record, indexes, email owner, counter)"
