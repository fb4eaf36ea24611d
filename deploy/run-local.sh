#!/usr/bin/env bash
# run-local.sh - run sendcapd in the foreground on a local default.
#
# Uses ./state (created, mode 0700) for everything: the master key
# (state/master.key, made by `sendcap init` if missing) and, unless
# SENDCAP_REDIS_URL is already set, a private redis-server that listens only
# on a Unix socket (state/redis.sock) with AOF on and noeviction, its data in
# state/redis.  Writes state/env with the exports the CLI needs.  Ctrl-C stops
# sendcapd (it drains in-flight calls) and then the Redis it started.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=${SENDCAP_BIN:-$root/build}
state=${SENDCAP_STATE:-$root/state}

[ -x "$bin/sendcapd" ] || { echo "run-local: $bin/sendcapd not built (cmake -S . -B build && cmake --build build)" >&2; exit 1; }
mkdir -p "$state/redis"
chmod 700 "$state"

export SENDCAP_MASTER_KEY_FILE=${SENDCAP_MASTER_KEY_FILE:-$state/master.key}
"$bin/sendcap" init >/dev/null

redis_pid=
cleanup() {
  if [ -n "$redis_pid" ] && kill -0 "$redis_pid" 2>/dev/null; then
    kill "$redis_pid"
    wait "$redis_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

if [ -z "${SENDCAP_REDIS_URL:-}" ]; then
  sock=$state/redis.sock
  redis-server --port 0 --unixsocket "$sock" --unixsocketperm 700 \
    --dir "$state/redis" --appendonly yes --appendfsync everysec \
    --maxmemory-policy noeviction --save '' --logfile "$state/redis.log" &
  redis_pid=$!
  for _ in $(seq 1 100); do
    [ -S "$sock" ] && redis-cli -s "$sock" ping >/dev/null 2>&1 && break
    sleep 0.05
  done
  redis-cli -s "$sock" ping >/dev/null || { echo "run-local: redis-server did not start; see $state/redis.log" >&2; exit 1; }
  export SENDCAP_REDIS_URL=unix://$sock
fi

cat >"$state/env" <<ENV
export SENDCAP_REDIS_URL='$SENDCAP_REDIS_URL'
export SENDCAP_MASTER_KEY_FILE='$SENDCAP_MASTER_KEY_FILE'
export PATH='$bin':"\$PATH"
ENV
echo "run-local: Redis at $SENDCAP_REDIS_URL; for the CLI in another shell: . $state/env" >&2

"$bin/sendcapd" "$@" &
daemon=$!
trap 'kill -TERM "$daemon" 2>/dev/null || true' INT TERM
set +e
wait "$daemon"
status=$?
# wait returns early when a trapped signal arrives: wait for the drain to end.
while kill -0 "$daemon" 2>/dev/null; do wait "$daemon"; status=$?; done
exit $status
