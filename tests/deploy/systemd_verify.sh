#!/usr/bin/env bash
# systemd_verify.sh - `systemd-analyze verify` of deploy/systemd/sendcapd.service
# (with ExecStart pointed at the built binary, which verify requires to exist).
# Where systemd-analyze is missing, says so and fails: CI installs systemd.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=${SENDCAPD:-$here/build/sendcapd}
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not installed (apt-get install systemd)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s#/usr/local/bin/sendcapd#$bin#" "$here/deploy/systemd/sendcapd.service" >"$tmp/sendcapd.service"
out=$(systemd-analyze verify "$tmp/sendcapd.service" 2>&1) || { echo "$out"; exit 1; }
# verify exits 0 on some warnings: treat any line about the unit as a failure.
if echo "$out" | grep -q "sendcapd.service"; then echo "$out"; exit 1; fi
echo "sendcapd.service verified"
