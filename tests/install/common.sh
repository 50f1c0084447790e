# Shared helpers for the install tests (sourced).
set -u
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "ok: $*"; }
skip() { echo "SKIP: $*"; }
need_file() { if [ -f "$1" ]; then pass "file $2"; else fail "missing $2 ($1)"; fi; }
finish() {
    if [ "$failures" -ne 0 ]; then echo "$failures check(s) failed" >&2; exit 1; fi
    echo "all checks passed"
}

# verify_unit <unit file> <binary>: systemd-analyze verify on a copy whose briefd commands (ExecStart,
# ExecReload) run <binary>, because verify insists that every executable exists.
verify_unit() {
    local unit=$1 bin=$2 dir out rc
    dir=$(mktemp -d) || return 1
    sed -E "s#^(ExecStart|ExecReload)=[^ ]*/briefd #\1=${bin} #" "$unit" > "$dir/briefd.service"
    out=$(systemd-analyze verify "$dir/briefd.service" 2>&1); rc=$?
    rm -rf "$dir"
    if [ "$rc" -eq 0 ] && ! printf '%s' "$out" | grep -q 'briefd'; then
        pass "systemd-analyze verify"
    else
        fail "systemd-analyze verify (rc=$rc): $out"
    fi
}

# security_score <unit file> <max>: the overall exposure from systemd-analyze security must not exceed max.
security_score() {
    local unit=$1 max=$2 out score
    out=$(systemd-analyze security --offline=true "$unit" 2>&1)
    score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
    if [ -z "$score" ]; then
        fail "could not read the exposure level: $out"
    elif awk -v s="$score" -v m="$max" 'BEGIN { exit !(s <= m) }'; then
        pass "security exposure $score <= $max"
    else
        printf '%s\n' "$out" | grep '✗' >&2
        fail "security exposure $score > $max"
    fi
}
