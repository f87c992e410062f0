#!/usr/bin/env bash
# CPU use of the live TUI at a 2 s refresh on a busy node (../shared/bench/busy-node.sh:
# 100 pods x 2 containers x 5 processes), beside htop at the same refresh, measured the same
# way over the same window: each runs in its own tmux session (a real terminal, 100x30) and
# its CPU time (utime + stime of all its threads, /proc/<pid>/stat fields 14 and 15, proc(5))
# is read at the start and at the end of the window. ROUNDS windows (default 3) of SECONDS
# each (default 60); the two start in alternating order each round, and the median ratio is
# reported.
#
#   sudo bench/tui-cpu.sh [SECONDS]       # ROUNDS=3
#
# Uses the busy node if it is up (bench/compare.sh), else brings it up and always takes it
# down. The last line is machine-readable for bench/compare.sh:
#   tui-cpu: nodescope=<% of a core> htop=<% of a core> ratio=<median of the rounds' ratios>
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
SECS=${1:-60}
ROUNDS=${ROUNDS:-3}
BUSY=$(find_busy)
NS=${NS:-$PWD/target/release/nodescope}
TAG=nodescope-bench-$$-$RANDOM
need tmux:tmux htop:htop
if [ -z "${NO_BUILD:-}" ]; then cargo build --release --quiet; fi

OURS=
stop_panes() {
  tmux kill-session -t "$TAG-ns" 2>/dev/null || true
  tmux kill-session -t "$TAG-htop" 2>/dev/null || true
}
cleanup() {
  stop_panes
  if [ -n "$OURS" ]; then bash "$BUSY" down >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [ ! -e "$STATE" ]; then
  OURS=1
  bash "$BUSY" up >/dev/null
fi
warn_other_busy
TICK=$(getconf CLK_TCK)

pid_of() { # the pane's process, checked to be the program it should be
  local pid; pid=$(tmux list-panes -t "$1" -F '#{pane_pid}')
  grep -qx "$2" "/proc/$pid/comm" || { echo "tui-cpu: pane $1 runs $(cat "/proc/$pid/comm"), not $2" >&2; exit 1; }
  echo "$pid"
}
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }

: > target/bench/tui-cpu.rounds
for ((r = 0; r < ROUNDS; r++)); do
  ns_cmd="$NS --root / top --interval 2"
  if ((r % 2 == 0)); then
    tmux new-session -d -s "$TAG-ns" -x 100 -y 30 "$ns_cmd"
    tmux new-session -d -s "$TAG-htop" -x 100 -y 30 "htop -d 20"
  else
    tmux new-session -d -s "$TAG-htop" -x 100 -y 30 "htop -d 20"
    tmux new-session -d -s "$TAG-ns" -x 100 -y 30 "$ns_cmd"
  fi
  sleep 3 & wait $! # both past start-up (a wait, which a signal interrupts)
  P1=$(pid_of "$TAG-ns" nodescope); P2=$(pid_of "$TAG-htop" htop)
  A1=$(cpu "$P1"); A2=$(cpu "$P2")
  sleep "$SECS" & wait $!
  B1=$(cpu "$P1"); B2=$(cpu "$P2")
  stop_panes
  echo "$A1 $B1 $A2 $B2" >> target/bench/tui-cpu.rounds
done

python3 - target/bench/tui-cpu.rounds "$TICK" "$SECS" "$(nprocs)" <<'PY'
import statistics, sys
tick, secs, procs = float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
print(f"{len(rows)} window(s) of {secs:.0f} s, refresh 2 s, busy node ({procs} processes)")
ns_p, ht_p, ratios = [], [], []
for i, (a1, b1, a2, b2) in enumerate(rows):
    ns, ht = (b1 - a1) / tick * 100 / secs, (b2 - a2) / tick * 100 / secs
    ns_p.append(ns); ht_p.append(ht)
    ratio = ns / ht if ht > 0 else float("inf")
    ratios.append(ratio)
    print(f"  window {i + 1}: nodescope top {ns:.2f} %, htop -d 20 {ht:.2f} % of one core, ratio {ratio:.2f}")
print(f"tui-cpu: nodescope={statistics.median(ns_p):.2f} htop={statistics.median(ht_p):.2f} ratio={statistics.median(ratios):.2f}")
PY
