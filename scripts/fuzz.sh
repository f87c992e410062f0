#!/usr/bin/env bash
# Fuzzes every cargo-fuzz target of fuzz/ for a bounded time on the committed seed corpus and
# prints one line per target. Exits non-zero when any target crashed, timed out or ran out of
# memory, naming the input that did it and the command that replays it.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]    (default 30 s, every target)
#
# New inputs a run discovers go to a scratch directory, not to fuzz/corpus/ (the committed seeds
# are read only); crash inputs go to fuzz/artifacts/<target>/. Needs the nightly toolchain;
# installs cargo-fuzz when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-30}
shift || true

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal

# Overflow checks and debug assertions on (they found real bugs); no sanitizer: nodescope
# forbids unsafe code, and what fuzzing finds here are panics, overflows, hangs and unbounded
# memory, all of which libFuzzer sees without one, at twice the speed.
build_flags=(--release --debug-assertions --sanitizer none)
t0=$(date +%s)
(cd fuzz && cargo +nightly fuzz build "${build_flags[@]}")
build_secs=$(($(date +%s) - t0))

# A fuzz run that runs nothing must not pass: `cargo fuzz list` failing, or listing no target,
# is an error (a process substitution would have hidden the failure and looped zero times).
if [ $# -gt 0 ]; then
  targets=("$@")
else
  if ! list=$(cd fuzz && cargo +nightly fuzz list); then
    echo "fuzz: 'cargo fuzz list' failed: no target was fuzzed" >&2
    exit 1
  fi
  mapfile -t targets < <(printf '%s\n' "$list" | sed '/^[[:space:]]*$/d')
fi
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz: no fuzz target found in fuzz/: nothing was fuzzed" >&2
  exit 1
fi
host=$(rustc +nightly -vV | sed -n 's/^host: //p')
bin_dir=fuzz/target/$host/release
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

failed=0
rows=()
for t in "${targets[@]}"; do
  if [ ! -x "$bin_dir/$t" ]; then
    echo "fuzz: $t was listed but not built ($bin_dir/$t is missing)" >&2
    exit 1
  fi
  mkdir -p "$scratch/$t" "fuzz/artifacts/$t" "fuzz/corpus/$t"
  log="$scratch/$t.log"
  set +e
  "$bin_dir/$t" "$scratch/$t" "fuzz/corpus/$t" \
    -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="fuzz/artifacts/$t/" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  corpus=$(grep -oE 'corp: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || true)
  if [ "$rc" -eq 0 ]; then
    result=ok
  else
    failed=1
    if grep -q 'ERROR: libFuzzer: timeout' "$log"; then result=timeout
    elif grep -q 'ERROR: libFuzzer: out-of-memory' "$log"; then result=oom
    else result=crash
    fi
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    echo "== $t: $result (exit $rc); the end of its log:"
    grep -v '^#[0-9]' "$log" | tail -40
    if [ -n "$artifact" ]; then
      echo "== $t: input: $artifact"
      echo "== reproduce: $bin_dir/$t $artifact"
      echo "==        or: (cd fuzz && cargo +nightly fuzz run ${build_flags[*]} $t ../$artifact)"
    fi
  fi
  rows+=("$(printf '%-26s %12s %9s %8s  %s' "$t" "${execs:--}" "${rate:--}" "${corpus:--}" "$result")")
done

# Every target must have executed inputs: a target that ran nothing is no fuzzing.
for row in "${rows[@]}"; do
  set -- $row
  if [ "$2" = "-" ] || [ "$2" = "0" ]; then
    echo "fuzz: $1 executed no input" >&2
    failed=1
  fi
done

echo
echo "fuzz build: ${build_secs}s; ${secs}s per target; ${#targets[@]} target(s)"
printf '%-26s %12s %9s %8s  %s\n' target executions exec/s corpus result
printf '%s\n' "${rows[@]}"
exit "$failed"
