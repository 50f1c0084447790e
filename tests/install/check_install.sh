#!/bin/bash
# `cmake --install` into a DESTDIR staging tree: every file lands where the unit expects it, and the
# staged unit verifies against the staged binary.
# Usage: check_install.sh <build dir> <source dir> <prefix> <full bindir> <full config dir> <full libexec dir>
#                         <full doc dir> <briefsim expected: 0|1> <full man dir> <full data dir>
build=$1 src=$2 prefix=$3 bindir=$4 confdir=$5 libexecdir=$6 docdir=$7 want_sim=$8 mandir=$9 datadir=${10}
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

# The manual page renders without a warning and documents every command; the completion offers them.
man8="$stage$mandir/man8/briefd.8.gz"
need_file "$man8" "manual page briefd(8)"
if [ -f "$man8" ] && command -v groff >/dev/null 2>&1; then
    warnings=$(gzip -dc "$man8" | LC_ALL=C.UTF-8 groff -man -ww -z -K utf8 2>&1)
    [ -z "$warnings" ] && pass "briefd(8) renders cleanly" || fail "groff warnings in briefd(8): $warnings"
    text=$(gzip -dc "$man8" | LC_ALL=C.UTF-8 groff -man -Tutf8 -K utf8 2>/dev/null | sed 's/.\x08//g')
    for c in run status validate submit retry cancel JOB= PROVIDER= RUN= EXTEND_TIMEOUT_USEC; do
        printf '%s' "$text" | grep -q -- "$c" && pass "briefd(8) mentions $c" || fail "briefd(8) lacks $c"
    done
elif [ -f "$man8" ]; then
    skip "groff missing: briefd(8) not rendered"
fi
comp="$stage$datadir/bash-completion/completions/briefd"
need_file "$comp" "bash completion"
if [ -f "$comp" ]; then
    got=$(bash -c 'shopt -s extglob; source "$1"; COMP_WORDS=(briefd ""); COMP_CWORD=1; _briefd; echo "${COMPREPLY[*]}"
                   COMP_WORDS=(briefd retry --); COMP_CWORD=2; _briefd; echo "${COMPREPLY[*]}"' _ "$comp" 2>&1)
    [ "$got" = "run status validate submit retry cancel
--config --force --dry-run --help" ] && pass "completion offers commands and options" || fail "completion: $got"
fi

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
