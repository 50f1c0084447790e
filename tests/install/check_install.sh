#!/bin/bash
# `cmake --install` into a DESTDIR staging tree: every file lands where the unit expects it, and the
# staged unit verifies against the staged binary.
# Usage: check_install.sh <build dir> <source dir> <prefix> <full bindir> <full config dir> <full libexec dir>
#                         <full doc dir> <briefsim expected: 0|1>
build=$1 src=$2 prefix=$3 bindir=$4 confdir=$5 libexecdir=$6 docdir=$7 want_sim=$8
. "$(dirname "$0")/common.sh"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
if ! DESTDIR="$stage" cmake --install "$build" > "$stage.log" 2>&1; then
    cat "$stage.log" >&2; rm -f "$stage.log"
    fail "cmake --install"; finish; exit
fi
rm -f "$stage.log"

if [ -x "$stage$bindir/briefd" ]; then pass "briefd executable"; else fail "missing $bindir/briefd"; fi
unit="$stage$prefix/lib/systemd/system/briefd.service"
need_file "$unit" "unit"
need_file "$stage$prefix/lib/sysusers.d/briefd.conf" "sysusers.d entry"
need_file "$stage$prefix/lib/tmpfiles.d/briefd.conf" "tmpfiles.d entry"
if [ -f "$src/config/briefd.yaml" ]; then
    need_file "$stage$confdir/briefd.yaml" "config"
    mode=$(stat -c '%a' "$stage$confdir/briefd.yaml" 2>/dev/null)
    [ "$mode" = 640 ] && pass "config mode 640" || fail "config mode '$mode'"
else
    skip "config/briefd.yaml does not exist in the source tree yet"
fi
if [ -d "$src/config/examples" ]; then
    [ -d "$stage$docdir/examples" ] && pass "examples dir" || fail "missing $docdir/examples"
    for f in "$src"/config/examples/*; do
        [ -e "$f" ] || continue
        need_file "$stage$docdir/examples/$(basename "$f")" "example $(basename "$f")"
    done
fi
if [ "$want_sim" = 1 ]; then
    [ -x "$stage$libexecdir/briefd/briefsim" ] && pass "briefsim in libexec" || fail "missing $libexecdir/briefd/briefsim"
fi
[ -e "$stage$bindir/briefsim" ] && fail "briefsim must not be on PATH ($bindir)"

# The installed unit and tmpfiles entry name this prefix's binary and config.
grep -q "^ExecStart=$bindir/briefd --config $confdir/briefd.yaml\$" "$unit" \
    && pass "ExecStart names $bindir/briefd" || fail "ExecStart: $(grep ^ExecStart= "$unit")"
grep -q "^LoadCredential=lamina:$confdir/lamina.key\$" "$unit" \
    && pass "LoadCredential path" || fail "LoadCredential: $(grep ^LoadCredential= "$unit")"

if command -v systemd-analyze >/dev/null 2>&1; then
    verify_unit "$unit" "$stage$bindir/briefd"
    security_score "$unit" 2.0
else
    skip "systemd-analyze is not installed (apt-get install systemd): staged unit not verified"
fi
finish
