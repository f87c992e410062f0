#!/usr/bin/env bash
# Every benchmark in one command: the whole-process comparison on a busy node (nodescope
# against the tools people use today and against the physical floor, a C program that only
# reads what `check` reads), the TUI beside htop, then the criterion benchmarks of the parsers
# (SKIP_CRITERION=1 skips them), and at the end one table of the targets of issue 24 with
# PASS or SHORT per row.
#
#   sudo bench/compare.sh          # 1k node (100 pods x 2 containers x 5 processes), then 10k (x 50)
#   sudo QUICK=1 bench/compare.sh  # a smoke run: fewer runs, a 20 s TUI window, no criterion
#
# Needs root and a writable cgroup v1 memory hierarchy (the busy node of
# ../shared/bench/busy-node.sh). Installs hyperfine, htop, strace, tmux and GNU time with apt
# if missing. Whatever happens, the busy node is taken down at the end. Writes
# target/bench/*.json and prints markdown tables (docs/performance.md describes the method).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
BUSY=$(find_busy)
TRIAGE=$(find_triage)
OUT=target/bench
if [ -n "${QUICK:-}" ]; then
  RUNS=${RUNS:-3} WARMUP=1 RSS_RUNS=3 TUI_SECS=20 TUI_ROUNDS=1 KUBE_RUNS=15
  SKIP_CRITERION=${SKIP_CRITERION:-1}
else
  RUNS=${RUNS:-10} WARMUP=2 RSS_RUNS=5 TUI_SECS=60 TUI_ROUNDS=3 KUBE_RUNS=50
fi
mkdir -p "$OUT"

need hyperfine:hyperfine htop:htop strace:strace tmux:tmux /usr/bin/time:time cc:gcc python3:python3
build_all
NS=target/release/nodescope

down() { bash "$BUSY" down >/dev/null 2>&1 || true; }
EMPTY_HOME=$(mktemp -d)
cleanup() { down; rm -rf "$EMPTY_HOME"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ -e "$STATE" ]; then
  echo "compare: a busy node is already up ($STATE): taking it down first" >&2
  down
fi

# Median peak RSS in KiB of a command over RSS_RUNS runs (GNU time's %M).
peak_kib() {
  # `check` exits 1 or 2 by its findings: not a failure here.
  for ((i = 0; i < RSS_RUNS; i++)); do { /usr/bin/time -f %M "$@" 2>&1 >/dev/null || true; } | tail -1; done \
    | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# Median wall seconds of a hyperfine result.
median() { python3 -c "import json,sys; print('%.6f' % json.load(open(sys.argv[1]))['results'][int(sys.argv[2])]['median'])" "$1" "$2"; }

# target NAME VALUE: one figure for the table of targets.
target() { echo "$1 $2" >> "$OUT/targets.txt"; }

round() { # $1 = label, $2.. = busy-node up args
  local label=$1; shift
  down
  bash "$BUSY" up "$@" >/dev/null
  warn_other_busy
  local procs; procs=$(nprocs)
  echo "== $label node: $procs processes" >&2
  # The floor must read what check reads on this node, or the ratio means nothing.
  local reads_rc=0
  NO_BUILD=1 bash bench/reads.sh > "$OUT/reads-$label.txt" 2>&1 || reads_rc=$?
  target "reads_$label" "$(grep -c -E 'ONLY CHECK|ONLY FLOOR|DIFFERS' "$OUT/reads-$label.txt" || true) $reads_rc"
  hyperfine --style none --warmup "$WARMUP" --runs "$RUNS" -N --ignore-failure \
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
  target "ratio_$label" "$ns $floor"
  target "rss_$label" "$rss_ns"
}

# Write calls on fd 1 of `check -o json` into a file, and the bytes written (100-pod node).
writes() {
  strace -f -qq -y -e trace=write,writev -e signal=none -o "$OUT/writes.trace" "$NS" check -o json > "$OUT/check.json" || true
  target writes "$(grep -c -E '^([0-9]+ +)?writev?\(1<' "$OUT/writes.trace" || true) $(stat -c %s "$OUT/check.json")"
}

rm -f "$OUT/rows.txt" "$OUT/targets.txt"
round 1k 100 2 5
writes
echo "== TUI beside htop (1k node, $TUI_ROUNDS x $TUI_SECS s)" >&2
ROUNDS=$TUI_ROUNDS NO_BUILD=1 bash bench/tui-cpu.sh "$TUI_SECS" | tee "$OUT/tui-cpu.txt" >&2
target tui "$(sed -n 's/^tui-cpu: nodescope=\([0-9.]*\) htop=\([0-9.]*\) ratio=\([0-9.a-z]*\)$/\1 \2 \3/p' "$OUT/tui-cpu.txt")"
round 10k 100 2 50
down

# Cluster discovery without any credentials against --no-cluster, on the idle machine (the
# difference is a fixed cost; the idle machine resolves it best): HOME an empty directory,
# KUBECONFIG unset, so no ~/.kube/config; whatever node kubeconfig this machine has is found
# by the same discovery either way.
echo "== check without a kubeconfig vs --no-cluster ($KUBE_RUNS runs)" >&2
hyperfine --style none --warmup 3 --runs "$KUBE_RUNS" -N --ignore-failure --export-json "$OUT/kubeconfig.json" \
  "env -u KUBECONFIG -u KUBERNETES_SERVICE_HOST HOME=$EMPTY_HOME $NS check -o json" \
  "env -u KUBECONFIG -u KUBERNETES_SERVICE_HOST HOME=$EMPTY_HOME $NS --no-cluster check -o json" >/dev/null
target kubeconfig "$(median "$OUT/kubeconfig.json" 0) $(median "$OUT/kubeconfig.json" 1)"

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

echo
python3 bench/targets.py "$OUT/targets.txt" ${QUICK:+--quick}
