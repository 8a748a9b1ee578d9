#!/usr/bin/env bash
# Every benchmark over real sockets of issue 20, one after the other: WebSocket echo (server
# CPU per round trip), idle connections (memory per connection) and hub fan-out.
#
#   benches/sockets.sh          # full runs: docs/echo.svg, docs/idle.svg, docs/fanout.svg
#   benches/sockets.sh quick    # bounded runs (about a minute each), charts under target/
#
# Each is also its own command: cargo bench -p benches --bench echo|idle|fanout [-- quick].
set -euo pipefail
cd "$(dirname "$0")/.."
args=()
if [ "${1:-}" = quick ]; then
    args=(-- quick)
elif [ -n "${1:-}" ]; then
    echo "usage: $0 [quick]" >&2
    exit 2
fi
status=0
for bench in echo idle fanout; do
    echo "== cargo bench -p benches --bench $bench ${args[*]}"
    cargo bench -p benches --bench "$bench" "${args[@]}" || status=1
done
exit $status
