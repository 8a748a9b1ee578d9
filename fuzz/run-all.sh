#!/usr/bin/env bash
# Build every fuzz target, then run each for SECONDS (default 30) on a temporary copy of its
# committed seed corpus (so runs never grow fuzz/corpus). Exits non-zero if any target fails
# to build, crashes, or finds a failing input; prints one summary line per target.
#
#   fuzz/run-all.sh [SECONDS]
#
# Crash inputs land in fuzz/artifacts/TARGET/ (see fuzz/README.md to reproduce and minimize).
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-30}"
case "$seconds" in ''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2;; esac

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "installing cargo-fuzz" >&2
  cargo install --locked cargo-fuzz
fi
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
else
  fuzz=(env RUSTC_BOOTSTRAP=1 cargo fuzz)
fi

targets=$("${fuzz[@]}" list)
echo "== building: $(echo "$targets" | tr '\n' ' ')"
"${fuzz[@]}" build

work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-run.XXXXXX")
trap 'rm -rf "$work"' EXIT
status=0
summary=()
for t in $targets; do
  mkdir -p "$work/$t/corpus" "artifacts/$t"
  if [ -d "corpus/$t" ]; then cp -R "corpus/$t/." "$work/$t/corpus/"; fi
  seeds=$(find "$work/$t/corpus" -type f | wc -l | tr -d ' ')
  log="$work/$t/log"
  echo "== $t: ${seconds}s on $seeds seeds"
  set +e
  "${fuzz[@]}" run "$t" "$work/$t/corpus" -- \
    -max_total_time="$seconds" -print_final_stats=1 -timeout=20 -rss_limit_mb=2048 >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n "s/^stat::number_of_executed_units: *//p" "$log" | tail -1 || true)
  cov=$( (grep -E '^#[0-9]+[[:space:]]+DONE' "$log" || true) | tail -1 | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  if [ "$rc" -eq 0 ]; then
    line=$(printf '%-22s ok     executions=%-10s cov=%-6s seconds=%s' "$t" "${execs:-?}" "${cov:-?}" "$seconds")
  else
    status=1
    artifact=$(grep -o 'artifacts/[^ ]*' "$log" | tail -1 || true)
    line=$(printf '%-22s FAILED executions=%-10s exit=%s artifact=%s' "$t" "${execs:-?}" "$rc" "${artifact:-none}")
    echo "---- why $t failed:"
    grep -A4 -E "panicked at|ERROR: libFuzzer|SUMMARY:" "$log" | head -30 || true
    echo "---- last lines of $t's log:"
    tail -40 "$log"
  fi
  echo "$line"
  summary+=("$line")
done

echo
echo "== fuzz summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
exit "$status"
