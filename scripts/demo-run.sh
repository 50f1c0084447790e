#!/usr/bin/env bash
# Placeholder until the daemon runs end to end: shows what is built.
set -euo pipefail
build=$1
echo "briefd is built in $build. The end-to-end demo arrives with the daemon (issue: briefd end to end)."
