#!/usr/bin/env bash
# CPU use of the live TUI at a 2 s refresh on a busy node (../shared/bench/busy-node.sh:
# 100 pods x 2 containers x 5 processes), beside htop at the same refresh, measured the same
# way in one run: each runs in its own tmux pane (a real terminal, 100x30) for SECONDS
# (default 60), and its CPU time is read from /proc/<pid>/stat (utime + stime) at the start
# and the end of the window.
#
#   sudo bench/tui-cpu.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-60}
BUSY=${BUSY:-../shared/bench/busy-node.sh}
need=()
command -v tmux >/dev/null || need+=(tmux)
command -v htop >/dev/null || need+=(htop)
[ ${#need[@]} -eq 0 ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; }
cargo build --release --quiet
NS=$PWD/target/release/nodescope
TAG=nodescope-bench-$$
down() {
  tmux kill-session -t "$TAG-ns" 2>/dev/null || true
  tmux kill-session -t "$TAG-htop" 2>/dev/null || true
  bash "$BUSY" down >/dev/null 2>&1 || true
}
trap down EXIT
bash "$BUSY" down >/dev/null 2>&1 || true
bash "$BUSY" up >/dev/null
TICK=$(getconf CLK_TCK)

tmux new-session -d -s "$TAG-ns" -x 100 -y 30 "$NS --root / top --interval 2"
tmux new-session -d -s "$TAG-htop" -x 100 -y 30 "htop -d 20"
sleep 3 # both past start-up
pid_of() { tmux list-panes -t "$1" -F '#{pane_pid}'; }
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
P1=$(pid_of "$TAG-ns"); P2=$(pid_of "$TAG-htop")
A1=$(cpu "$P1"); A2=$(cpu "$P2")
sleep "$SECS"
B1=$(cpu "$P1"); B2=$(cpu "$P2")
python3 - "$A1" "$B1" "$A2" "$B2" "$TICK" "$SECS" <<'PY'
import sys
a1, b1, a2, b2, tick, secs = map(float, sys.argv[1:])
ns = (b1 - a1) / tick
ht = (b2 - a2) / tick
print(f"window {secs:.0f} s, refresh 2 s, busy node (1000 processes, 200 containers)")
print(f"nodescope top: {ns:.2f} s CPU = {ns * 100 / secs:.2f}% of one core")
print(f"htop -d 20:    {ht:.2f} s CPU = {ht * 100 / secs:.2f}% of one core")
if ht > 0:
    print(f"ratio nodescope/htop: {ns / ht:.2f}")
PY
