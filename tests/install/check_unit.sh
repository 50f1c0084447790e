#!/bin/bash
# The unit, sysusers.d and tmpfiles.d files on their own (no build needed): the unit verifies and
# scores <= 2.0, and sysusers + tmpfiles, applied to an empty root, make the documented layout.
# Usage: check_unit.sh <source dir>
src=$1
. "$(dirname "$0")/common.sh"

if ! command -v systemd-analyze >/dev/null 2>&1; then
    skip "systemd-analyze is not installed (apt-get install systemd): unit not verified"
else
    verify_unit "$src/systemd/briefd.service" /bin/true
    security_score "$src/systemd/briefd.service" 2.0
fi

if ! command -v systemd-sysusers >/dev/null 2>&1 || ! command -v systemd-tmpfiles >/dev/null 2>&1; then
    skip "systemd-sysusers/systemd-tmpfiles missing: layout not checked"
    finish; exit
fi
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/etc"
systemd-sysusers --root="$root" "$src/systemd/briefd.sysusers" || fail "systemd-sysusers"
uid=$(awk -F: '$1 == "briefd" { print $3 }' "$root/etc/passwd")
gid=$(awk -F: '$1 == "briefd" { print $3 }' "$root/etc/group")
shell=$(awk -F: '$1 == "briefd" { print $7 }' "$root/etc/passwd")
[ -n "$uid" ] && [ "$uid" -lt 1000 ] && pass "system user briefd ($uid)" || fail "system user briefd: '$uid'"
[ -n "$gid" ] && pass "group briefd ($gid)" || fail "group briefd"
[ "$shell" = /usr/sbin/nologin ] && pass "no login shell" || fail "shell is '$shell'"

mkdir -p "$root/etc/briefd" && echo "spool: /var/spool/briefd" > "$root/etc/briefd/briefd.yaml"
echo "secret" > "$root/etc/briefd/lamina.key" && chmod 0644 "$root/etc/briefd/lamina.key"
systemd-tmpfiles --root="$root" --create "$src/systemd/briefd.tmpfiles" || fail "systemd-tmpfiles"

# expect <path> <octal mode> <uid> <gid>
expect() {
    local got
    got=$(stat -c '%a %u %g' "$root$1" 2>/dev/null)
    [ "$got" = "$2 $3 $4" ] && pass "$1 $got" || fail "$1: got '$got', want '$2 $3 $4'"
}
expect /var/spool/briefd          750  "$uid" "$gid"
expect /var/spool/briefd/incoming 2770 "$uid" "$gid"
expect /var/spool/briefd/active   750  "$uid" "$gid"
expect /var/spool/briefd/done     750  "$uid" "$gid"
expect /var/spool/briefd/failed   750  "$uid" "$gid"
expect /var/lib/briefd            750  "$uid" "$gid"
expect /var/lib/briefd/outputs    750  "$uid" "$gid"
expect /etc/briefd                750  0 "$gid"
expect /etc/briefd/briefd.yaml    640  0 "$gid"
expect /etc/briefd/lamina.key     600  0 0
finish
