#!/usr/bin/env bash
# man_help.sh - the man pages keep up with the programs: every long flag that
# `sendcap --help` (and each command's --help) or `sendcapd --help` prints is
# in sendcap(1) or sendcapd(8), every exit code the help lists is an item of
# the page's EXIT STATUS, and --version prints this build's version and a
# commit of this repository.  The pages are the generated roff, what `man`
# shows, not the scdoc sources.  Documenting more than --help shows is fine.
# Env: SENDCAP, SENDCAPD (binaries), SENDCAP_MAN_DIR, SENDCAP_VERSION.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cli=${SENDCAP:?} daemon=${SENDCAPD:?} mandir=${SENDCAP_MAN_DIR:?} version=${SENDCAP_VERSION:?}
unset SENDCAP_CONFIG
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

flags() { grep -o -- '--[a-z][a-z0-9-]*' | sort -u; }
# In roff a hyphen may be written \- and fonts switch with \fB, \fI, \fR.
man_text() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' "$1"; }

check_flags() { # what help-file page
    local missing
    missing=$(comm -23 <(flags <"$2") <(man_text "$3" | flags))
    if [ -n "$missing" ]; then
        echo "FAIL: $1 --help names flags that $(basename "$3") does not:" $missing
        fail=1
    fi
}

check_exit_codes() { # what help-file page
    local codes section
    codes=$(sed -n 's/^Exit codes: *//p' "$2" | grep -o '\b[0-9]\+ [a-z]' | cut -d' ' -f1)
    [ -n "$codes" ] || { echo "FAIL: $1 --help lists no exit codes"; fail=1; return; }
    section=$(sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' "$3" | sed -e 's/\\f[BIRP]//g')
    for c in $codes; do
        grep -qx "$c" <<<"$section" || { echo "FAIL: exit code $c of $1 is not in $(basename "$3")"; fail=1; }
    done
}

check_version() { # name binary
    local out commit
    out=$("$2" --version)
    if ! [[ $out =~ ^$1\ ${version//./\\.}\ \(commit\ ([0-9a-f]{12}|unknown)\)$ ]]; then
        echo "FAIL: '$1 --version' printed '$out', expected '$1 $version (commit <12 hex digits>)'"
        fail=1
        return
    fi
    commit=${BASH_REMATCH[1]}
    if [ "$commit" != unknown ] && git -C "$here" rev-parse --git-dir >/dev/null 2>&1 &&
        ! git -C "$here" cat-file -e "$commit^{commit}" 2>/dev/null; then
        echo "FAIL: '$1 --version' names commit $commit, which is not in this repository"
        fail=1
    fi
}

for page in sendcap.1 sendcapd.8; do
    grep -q '^\.SH EXIT STATUS' "$mandir/$page" || { echo "FAIL: $page has no EXIT STATUS"; fail=1; }
done

# sendcap: the top-level help, then each command group's own --help.
"$cli" --help >"$tmp/cli"
for group in $(sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p' "$tmp/cli" | sort -u); do
    "$cli" "$group" --help >"$tmp/cli.$group" || { echo "FAIL: sendcap $group --help failed"; fail=1; }
done
cat "$tmp"/cli* >"$tmp/cli.all"
[ "$(flags <"$tmp/cli.all" | wc -l)" -gt 30 ] || { echo "FAIL: too few flags found in sendcap's help"; fail=1; }
check_flags sendcap "$tmp/cli.all" "$mandir/sendcap.1"
check_exit_codes sendcap "$tmp/cli" "$mandir/sendcap.1"

"$daemon" --help >"$tmp/daemon"
check_flags sendcapd "$tmp/daemon" "$mandir/sendcapd.8"
check_exit_codes sendcapd "$tmp/daemon" "$mandir/sendcapd.8"

check_version sendcap "$cli"
check_version sendcapd "$daemon"

# The package's version (debian/changelog) is the build's.
deb=$(sed -n '1s/^sendcap (\([^)]*\)).*/\1/p' "$here/debian/changelog")
[ "$deb" = "$version" ] || { echo "FAIL: debian/changelog says $deb, CMakeLists.txt $version"; fail=1; }

[ $fail = 0 ] && echo "man pages cover every --help flag and exit code; --version is $version"
exit $fail
