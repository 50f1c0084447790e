#!/usr/bin/env bash
# The demo: briefsim (the bundled Lamina simulator) and briefd on loopback, the example briefs
# dropped into incoming/, progress as items are submitted, tracked and downloaded, then a summary.
# Usage: scripts/demo-run.sh BUILD_DIR   (scripts/demo builds first, then calls this)
set -euo pipefail
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
work=${BRIEFD_DEMO_DIR:-$root/demo-run}
scale=${BRIEFD_DEMO_TIME_SCALE:-10}

rm -rf "$work"
mkdir -p "$work/spool" "$work/outputs"
key="lma_demo_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
umask 077
hkey="hzk_$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$key" > "$work/lamina.key"
lkey="lp_test_demo_$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$hkey" > "$work/hrizn.key"
printf '%s\n' "$lkey" > "$work/layers.key"
umask 022

cleanup() {
    [ -n "${briefd_pid:-}" ] && kill -TERM "$briefd_pid" 2>/dev/null && wait "$briefd_pid" 2>/dev/null || true
    [ -n "${sim_pid:-}" ] && kill -TERM "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null || true
    [ -n "${tail_pid:-}" ] && kill "$tail_pid" 2>/dev/null || true
}
trap cleanup EXIT

# 1. The simulator: Lamina's API on one port, output files on another, Hrizn's API on a third; a
#    run takes 20 API-seconds, an article 120, and the rate limits are Lamina's 100 and Hrizn's 60
#    requests per 60 API-seconds, all compressed by $scale.
"$build/sim/briefsim" --host 127.0.0.1 --port 0 --files-port 0 --key "$key" --hrizn-key "$hkey" --layers-key "$lkey" \
    --time-scale "$scale" --seed 2026 > "$work/briefsim.out" 2> "$work/briefsim.log" &
sim_pid=$!
for _ in $(seq 100); do grep -q listening "$work/briefsim.out" 2>/dev/null && break; sleep 0.1; done
api=$(sed -n 's/.*api=\([^ ]*\).*/\1/p' "$work/briefsim.out")
hrizn=$(sed -n 's/.*hrizn=\([^ ]*\).*/\1/p' "$work/briefsim.out")
layers=$(sed -n 's/.*layers=\([^ ]*\).*/\1/p' "$work/briefsim.out")
[ -n "$api" ] || { echo "demo: briefsim did not start (see $work/briefsim.log)" >&2; exit 1; }
window=$(( 60 / scale )); [ "$window" -ge 1 ] || window=1

# 2. briefd's configuration: the key comes from a file, never from the config itself.
cat > "$work/briefd.yaml" <<YAML
spool: $work/spool
outputs: $work/outputs
default_provider: lamina
settle_ms: 300
rescan_interval_ms: 2000
drain_timeout_ms: 5000
providers:
  lamina:
    base_url: $api
    api_key_file: $work/lamina.key
    rate_limit: { requests: 100, per_seconds: $window }
    batch: { max_items: 10, linger_ms: 500 }
    tracking: { mode: auto, poll_interval_ms: 1000, sse_idle_timeout_ms: 10000 }
  hrizn:
    base_url: $hrizn
    api_key_file: $work/hrizn.key
    rate_limit: { requests: 60, per_seconds: $window, per_day: 10000 }
    batch: { max_items: 10, linger_ms: 500 }
    tracking: { mode: auto, poll_interval_ms: 1500 }
  layers:
    base_url: $layers
    api_key_file: $work/layers.key
    rate_limit: { requests: 120, per_seconds: $window }
    rate_limit_classes:
      write-light: { requests: 60, per_seconds: $window }
      long-running: { requests: 20, per_seconds: $window }
    max_concurrent_jobs: 10
    tracking: { mode: auto, schedule_scale: $scale }
YAML
"$build/daemon/briefd" --config "$work/briefd.yaml" --check > /dev/null

echo "== briefsim: Lamina at $api, Hrizn at $hrizn, Layers at $layers (time scale ${scale}x); briefd spool at $work/spool"
"$build/daemon/briefd" --config "$work/briefd.yaml" 2> "$work/briefd.log" &
briefd_pid=$!
for _ in $(seq 100); do grep -q daemon.ready "$work/briefd.log" 2>/dev/null && break; sleep 0.1; done

# 3. Drop the examples the way producers should: write elsewhere, then rename into incoming/.
examples=("$root"/config/examples/*)
for f in "${examples[@]}"; do
    cp "$f" "$work/spool/.$(basename "$f").tmp"
    mv "$work/spool/.$(basename "$f").tmp" "$work/spool/incoming/$(basename "$f")"
done
echo "== dropped ${#examples[@]} briefs: $(cd "$root/config/examples" && echo *)"

# 4. Progress: the daemon's own log events, trimmed to what a person wants to see.
tail --pid="$$" -n +1 -f "$work/briefd.log" | grep --line-buffered -E \
    'brief\.(claimed|refused|done|failed)|job\.accepted|batch\.submitted|run\.submitted|run\.finished|output\.(saved|failed)|item\.failed|host\.' \
    | sed -u -E 's/^[0-9T:.-]+Z //' &
tail_pid=$!

deadline=$((SECONDS + 240))
while :; do
    filed=$(find "$work/spool/done" "$work/spool/failed" -maxdepth 1 -type f ! -name '*.error.json' | wc -l)
    [ "$filed" -ge "${#examples[@]}" ] && break
    if [ $SECONDS -ge $deadline ]; then echo "demo: timed out waiting for briefs" >&2; exit 1; fi
    sleep 0.5
done
sleep 0.3
kill "$tail_pid" 2>/dev/null || true

# 5. Summary.
echo
echo "== summary"
echo "done/:   $(ls "$work/spool/done" | tr '\n' ' ')"
echo "failed/: $(ls "$work/spool/failed" | grep -v '\.error\.json$' | tr '\n' ' ')"
for e in "$work"/spool/failed/*.error.json; do
    [ -e "$e" ] || continue
    echo "  $(basename "$e"): $(head -c 400 "$e")"
done
echo "outputs ($(find "$work/outputs" -type f ! -name manifest.json | wc -l) files):"
for d in "$work"/outputs/*/; do
    [ -d "$d" ] || continue
    echo "  $d: $(ls "$d" | grep -vc manifest.json) files + manifest.json ($(du -sh "$d" | cut -f1))"
done
stats=$(curl -s "$api/_sim/stats" 2>/dev/null || true)
if [ -n "$stats" ]; then
    pick() { echo "$stats" | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2; }
    echo "briefsim: $(pick requests_total) HTTP requests, API and downloads ($(pick output_requests) downloads; $(pick batches) batches for $(pick batch_items) items," \
         "$(pick runs_created) runs), 429s $(pick responses_429), over the limit $(pick over_limit)," \
         "duplicate submissions $(pick duplicate_submissions), downloads carrying the key $(pick output_requests_with_api_key)"
fi
hstats=$(echo "$stats" | grep -o '"hrizn":{.*' || true)
if [ -n "$hstats" ]; then
    hpick() { echo "$hstats" | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2; }
    echo "briefsim Hrizn: $(hpick requests_total) requests ($(hpick batches) batches for $(hpick items_created) articles)," \
         "429s $(hpick responses_429), duplicate generations $(hpick duplicate_generations)"
fi
first=$(ls -d "$work"/outputs/*/ 2>/dev/null | head -1)
if [ -n "$first" ]; then
    echo "a manifest ($first""manifest.json), first 400 bytes:"
    echo "  $(head -c 400 "$first/manifest.json")…"
fi
echo
echo "Outputs are in $work/outputs; the daemon's log is $work/briefd.log."
