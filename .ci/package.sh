#!/usr/bin/env bash
# package.sh - the Debian package, end to end: build sendcap_<version>_<arch>.deb
# from this tree with dpkg-buildpackage, check it with lintian (any error
# fails), install it with dpkg -i, run `sendcap --version` and
# `systemd-analyze verify` on the installed unit, check the sysusers.d and
# tmpfiles.d entries took effect, then purge it.  Needs root (CI is).
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

version=$(sed -n '1s/^sendcap (\([^)]*\)).*/\1/p' debian/changelog)
arch=$(dpkg --print-architecture)
# dpkg-buildpackage writes beside the source tree: build a copy of the
# tracked and new files in a folder of our own, with the commit passed on.
export SENDCAP_GIT_COMMIT=$(git rev-parse --short=12 HEAD)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mkdir "$out/src"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$out/src"
(cd "$out/src" && dpkg-buildpackage -b -us -uc -j"$(nproc)" >"$out/build.log" 2>&1) ||
    { tail -50 "$out/build.log"; exit 1; }
deb="$out/sendcap_${version}_${arch}.deb"
[ -f "$deb" ] || { echo "package: no $deb"; ls "$out"; exit 1; }
dpkg-deb --info "$deb" | sed -n '/Package:/,$p'
dpkg-deb --contents "$deb"

lintian --fail-on error --display-info "$deb"

dpkg -i "$deb"
trap 'dpkg --purge sendcap >/dev/null 2>&1 || true; rm -rf "$out"' EXIT
got=$(sendcap --version)
[ "$got" = "sendcap $version (commit $SENDCAP_GIT_COMMIT)" ] ||
    { echo "package: sendcap --version printed '$got'"; exit 1; }
sendcapd --version
unit=$(dpkg -L sendcap | grep '/systemd/system/sendcapd.service$')
verify=$(systemd-analyze verify "$unit" 2>&1) || { echo "$verify"; exit 1; }
# verify exits 0 on some warnings: any line about the unit fails.
if grep -q sendcapd <<<"$verify"; then echo "$verify"; exit 1; fi
getent passwd sendcap >/dev/null || { echo "package: no sendcap user (sysusers.d)"; exit 1; }
[ "$(stat -c '%a %U %G' /etc/sendcap)" = "750 root sendcap" ] ||
    { echo "package: /etc/sendcap is $(stat -c '%a %U %G' /etc/sendcap) (tmpfiles.d)"; exit 1; }
man -w sendcap.1 >/dev/null && man -w sendcapd.8 >/dev/null
echo "package: sendcap_${version}_${arch}.deb built, lintian clean of errors, installed, $got, $unit verified"
