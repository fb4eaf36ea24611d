#!/usr/bin/env bash
# plain_build.sh - the conventional two lines, `cmake -S . -B build && cmake
# --build build`, on a machine without cmocka, and CI's configure
# (-DWITH_TESTS=ON) refusing that machine.  cmocka is hidden from pkg-config,
# the only way the build looks for it, by pointing PKG_CONFIG_LIBDIR at a
# copy of pkg-config's search path without cmocka.pc: no container, no root,
# and nothing on the machine changes.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $1"; [ -f "${2:-}" ] && cat "$2"; exit 1; }

mkdir "$tmp/pc"
for d in $(pkg-config --variable pc_path pkg-config | tr : ' '); do
  [ -d "$d" ] || continue
  for f in "$d"/*.pc; do
    # The first directory on the path wins, as it does for pkg-config.
    [ -e "$f" ] && [ "${f##*/}" != cmocka.pc ] && [ ! -e "$tmp/pc/${f##*/}" ] && ln -s "$f" "$tmp/pc/"
  done
done
export PKG_CONFIG_LIBDIR=$tmp/pc
! pkg-config --exists cmocka || fail "cmocka is still visible to pkg-config"
pkg-config --exists jansson || fail "the filtered pkg-config path lost the build's own dependencies"

cmake -S "$src" -B "$tmp/build" >"$tmp/configure.log" 2>&1 || fail "plain configure" "$tmp/configure.log"
grep -q "Tests skipped: unit: cmocka" "$tmp/configure.log" || fail "configure did not say it skipped the unit tests" "$tmp/configure.log"
cmake --build "$tmp/build" -j2 >"$tmp/build.log" 2>&1 || fail "plain build" "$tmp/build.log"
[ -x "$tmp/build/sendcapd" ] && [ -x "$tmp/build/sendcap" ] || fail "no sendcapd or sendcap built"

if cmake -S "$src" -B "$tmp/build-ci" -DWITH_TESTS=ON >"$tmp/ci.log" 2>&1; then
  fail "-DWITH_TESTS=ON configured without cmocka" "$tmp/ci.log"
fi
grep -q "the unit tests need cmocka" "$tmp/ci.log" || fail "-DWITH_TESTS=ON failed without naming cmocka" "$tmp/ci.log"
echo "plain build without cmocka: configured, built, unit tests skipped; -DWITH_TESTS=ON refused"
