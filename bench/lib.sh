# shellcheck shell=bash
# Shared by the bench/*.sh scripts (sourced, from the repository root): where the busy node
# script is, installing missing tools, building what is measured.

# The busy node (../shared/bench/busy-node.sh beside the main checkout; a worktree under
# ../wt/NAME finds it two levels up). BUSY in the environment wins.
find_busy() {
  local c
  for c in "${BUSY:-}" ../shared/bench/busy-node.sh ../../shared/bench/busy-node.sh; do
    [ -n "$c" ] && [ -f "$c" ] && { echo "$c"; return 0; }
  done
  echo "bench: busy-node.sh not found (set BUSY=/path/to/busy-node.sh)" >&2
  return 1
}

# The same for the manual triage script.
find_triage() {
  local c
  for c in "${TRIAGE:-}" ../shared/bench/manual-triage.sh ../../shared/bench/manual-triage.sh; do
    [ -n "$c" ] && [ -f "$c" ] && { echo "$c"; return 0; }
  done
  echo "bench: manual-triage.sh not found (set TRIAGE=/path/to/manual-triage.sh)" >&2
  return 1
}

# need CMD:PACKAGE ...: installs with apt the packages whose command is missing.
need() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "bench: installing ${missing[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# The release binary and the C floor, into target/ (cc: the floor is C; gcc from build-essential).
build_all() {
  cargo build --release --quiet
  mkdir -p target/bench
  cc -O2 -Wall -o target/bench/floor bench/floor.c
}

# The busy node's record of what it made (busy-node.sh honours STATE): our own file, so a busy
# node someone else brought up with the default one is neither reused nor taken down by us.
export STATE="${STATE:-/tmp/busy-node.bench.state}"

# Warns when another busy node is up beside ours: its processes would be in every figure.
warn_other_busy() {
  local f
  for f in /tmp/busy-node*.state; do
    [ -e "$f" ] && [ "$f" != "$STATE" ] && echo "bench: WARNING: another busy node is up ($f): its processes are counted too" >&2
  done
  return 0
}

# How many processes the node runs now (a glob: find would fail on one that exits meanwhile).
nprocs() {
  local p=(/proc/[0-9]*)
  echo "${#p[@]}"
}
