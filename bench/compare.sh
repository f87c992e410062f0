#!/usr/bin/env bash
# Every benchmark in one command: the whole-process comparison on a busy node (nodescope
# against the tools people use today and against the physical floor, a C program that only
# reads the same files), then the criterion benchmarks of the parsers (SKIP_CRITERION=1 skips).
#
#   bench/compare.sh            # 100 pods x 2 containers x 5 processes, then x10 processes
#
# Needs root and a writable cgroup v1 memory hierarchy (the busy node of
# ../shared/bench/busy-node.sh). Installs hyperfine if missing. Writes target/bench/*.json and
# prints a markdown table (docs/performance.md holds the last one).
set -euo pipefail
cd "$(dirname "$0")/.."
BUSY=${BUSY:-../shared/bench/busy-node.sh}
TRIAGE=${TRIAGE:-../shared/bench/manual-triage.sh}
RUNS=${RUNS:-10}
OUT=target/bench
mkdir -p "$OUT"

command -v hyperfine >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine; }
[ -x /usr/bin/time ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time; }
cargo build --release --quiet
cc -O2 -o "$OUT/floor" bench/floor.c
NS=target/release/nodescope

down() { bash "$BUSY" down >/dev/null 2>&1 || true; }
trap down EXIT

# Median peak RSS in KiB of a command over 5 runs (GNU time's %M).
peak_kib() {
  # `check` exits 1 or 2 by its findings: not a failure here.
  for _ in 1 2 3 4 5; do { /usr/bin/time -f %M "$@" 2>&1 >/dev/null || true; } | tail -1; done | sort -n | sed -n 3p
}

# Median wall seconds of a hyperfine result.
median() { python3 -c "import json,sys; print('%.4f' % json.load(open(sys.argv[1]))['results'][int(sys.argv[2])]['median'])" "$1" "$2"; }

round() { # $1 = label, $2.. = busy-node up args
  local label=$1; shift
  down
  bash "$BUSY" up "$@" >/dev/null
  local procs; procs=$(ls -d /proc/[0-9]* | wc -l)
  hyperfine --style none --warmup 2 --runs "$RUNS" -N --ignore-failure \
    --export-json "$OUT/compare-$label.json" \
    "$NS check --format json" \
    "bash $TRIAGE" \
    "ps aux" \
    "top -b -n 1" \
    "$OUT/floor" >/dev/null
  local f="$OUT/compare-$label.json"
  local ns triage ps top floor
  ns=$(median "$f" 0); triage=$(median "$f" 1); ps=$(median "$f" 2); top=$(median "$f" 3); floor=$(median "$f" 4)
  local rss_ns rss_floor rss_triage
  rss_ns=$(peak_kib "$NS" check --format json); rss_floor=$(peak_kib "$OUT/floor"); rss_triage=$(peak_kib bash "$TRIAGE")
  echo "$label $procs $ns $triage $ps $top $floor $rss_ns $rss_floor $rss_triage" >> "$OUT/rows.txt"
}

rm -f "$OUT/rows.txt"
round 1k 100 2 5
round 10k 100 2 50
down
startup=$(hyperfine --style none --warmup 5 --runs 50 -N --export-json "$OUT/startup.json" "$NS --version" >/dev/null; median "$OUT/startup.json" 0)

python3 - "$OUT/rows.txt" "$startup" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
ms = lambda s: float(s) * 1000
print("| node | processes | nodescope check | floor (C, reads only) | check / floor | manual triage | triage / check | ps aux | top -b -n 1 | peak RSS check / floor / triage |")
print("|---|---|---|---|---|---|---|---|---|---|")
for label, procs, ns, tri, ps, top, fl, rns, rfl, rtri in rows:
    print(f"| {label} | {procs} | {ms(ns):.1f} ms | {ms(fl):.1f} ms | {float(ns)/float(fl):.2f}x | {ms(tri):.0f} ms | {float(tri)/float(ns):.1f}x | {ms(ps):.1f} ms | {ms(top):.1f} ms | {int(rns)/1024:.1f} / {int(rfl)/1024:.1f} / {int(rtri)/1024:.1f} MiB |")
if len(rows) == 2:
    print(f"\nScaling: 10x the processes costs {float(rows[1][2])/float(rows[0][2]):.1f}x the time of `check`.")
print(f"Startup (`nodescope --version`): {ms(sys.argv[2]):.2f} ms median.")
PY

if [ -z "${SKIP_CRITERION:-}" ]; then
  echo
  echo "criterion (cargo bench --bench parsers):"
  # criterion prints a long name on its own line and the time on the next; join them.
  cargo bench --quiet --bench parsers 2>/dev/null \
    | awk '/time:/ { if ($0 ~ /^[^ ]/) print; else print prev $0; next } /^[^ ]/ { prev = $0 }' \
    | sed -E 's/ +/ /g'
fi
