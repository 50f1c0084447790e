#!/bin/bash
# `cpack -G DEB` builds a package whose contents and control files are what an operator needs.
# Usage: check_deb.sh <build dir> <prefix> <full bindir> <full config dir> <config expected: 0|1> <built briefd>
build=$1 prefix=$2 bindir=$3 confdir=$4 want_config=$5 build_bin=$6
. "$(dirname "$0")/common.sh"

for tool in cpack dpkg-deb; do
    if ! command -v $tool >/dev/null 2>&1; then skip "$tool missing: package not built"; exit 0; fi
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if ! (cd "$build" && cpack -G DEB -B "$out" --config "$build/CPackConfig.cmake") > "$out/cpack.log" 2>&1; then
    cat "$out/cpack.log" >&2
    fail "cpack -G DEB"; finish; exit
fi
deb=$(ls "$out"/briefd_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] && pass "built $(basename "$deb")" || { fail "no briefd_*.deb in $out"; finish; exit; }

contents=$(dpkg-deb -c "$deb")
has() { printf '%s\n' "$contents" | grep -q -- " \.$1\$" && pass "contains $1" || fail "package lacks $1"; }
has "$bindir/briefd"
has "$prefix/lib/systemd/system/briefd.service"
has "$prefix/lib/sysusers.d/briefd.conf"
has "$prefix/lib/tmpfiles.d/briefd.conf"
[ "$want_config" = 1 ] && has "$confdir/briefd.yaml"
has "$prefix/share/man/man8/briefd.8.gz"
has "$prefix/share/bash-completion/completions/briefd"

info=$(dpkg-deb -I "$deb")
printf '%s\n' "$info" | grep -q '^ Package: briefd$' && pass "Package: briefd" || fail "control Package"
depends=$(printf '%s\n' "$info" | sed -n 's/^ Depends: //p')
# Each shared library briefd links must show up as a package dependency (from dpkg-shlibdeps).
needed=$(readelf -d "$build_bin" 2>/dev/null | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')
[ -n "$needed" ] || fail "cannot read the NEEDED entries of $build_bin"
while read -r soname pkg; do
    printf '%s\n' "$needed" | grep -q "^$soname" || continue
    printf '%s' "$depends" | grep -q "$pkg" && pass "depends on $pkg" || fail "Depends lacks $pkg: $depends"
done <<'MAP'
libc.so.6 libc6
libsystemd.so.0 libsystemd0
libssl.so.3 libssl3
libyaml-cpp.so.0.7 libyaml-cpp0.7
libboost_json.so.1.81.0 libboost-json1.81.0
libboost_url.so.1.81.0 libboost-url1.81.0
MAP
ctl=$(mktemp -d -p "$out")
dpkg-deb -e "$deb" "$ctl"
[ -x "$ctl/postinst" ] && grep -q systemd-sysusers "$ctl/postinst" && grep -q systemd-tmpfiles "$ctl/postinst" \
    && pass "postinst applies sysusers and tmpfiles" || fail "postinst"
if [ "$want_config" = 1 ]; then
    grep -qx "$confdir/briefd.yaml" "$ctl/conffiles" 2>/dev/null && pass "config is a conffile" || fail "conffiles"
fi
finish
