#!/usr/bin/env bash
# Does the floor read what `check` reads? Traces `nodescope check -o json` and the C floor
# (bench/floor.c) on the busy node with strace, sorts every access into kinds
# (`/proc/<pid>/stat` read, `/proc/<pid>/fd/<n>` readlink, `.../kubepods/.../memory.stat`
# read, `/var/log/pods/...` list, statfs of a mount, ...; bench/strace_kinds.py), prints the
# per-kind counts side by side and the `strace -c` summary of each, and exits 1 when a kind is
# touched by one and not the other beyond a small tolerance (TOL_ABS, default 3, or TOL_PCT,
# default 5 % of the larger count: processes come and go between the two runs).
#
#   sudo bench/reads.sh [PODS CONTAINERS PROCS]   # busy node 100 2 5 (1,000 processes)
#
# If the busy node is already up (bench/compare.sh brings it up) it is used as it is and left
# up; otherwise this script brings it up and always takes it down. Failed opens (check's probes
# for files this node does not have) are listed as `absent` and not compared. Traces stay in
# target/bench/reads/ (the table in
# target/bench/reads.table).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
BUSY=$(find_busy)
OUT=target/bench/reads
NS=${NS:-target/release/nodescope}
FLOOR=${FLOOR:-target/bench/floor}

need strace:strace cc:gcc
if [ -z "${NO_BUILD:-}" ]; then build_all; fi

if [ -e "$STATE" ]; then
  echo "reads: using the busy node that is up ($STATE)"
else
  trap 'bash "$BUSY" down >/dev/null 2>&1 || true' EXIT
  trap 'exit 130' INT TERM
  bash "$BUSY" up "${1:-100}" "${2:-2}" "${3:-5}" >/dev/null
fi
warn_other_busy

CALLS=openat,openat2,open,read,pread64,readv,getdents64,readlink,readlinkat,newfstatat,statx,fstat,statfs,fstatfs,connect
trace() { # $1 = name, rest = command; exit codes 1/2 of check are findings, not failures
  local name=$1; shift
  strace -ff -y -qq -s 0 -e signal=none -e trace="$CALLS" -o "$OUT/$name" "$@" >/dev/null 2>"$OUT/$name.err" || true
  strace -f -c -o "$OUT/$name.summary" "$@" >/dev/null 2>&1 || true
}
# A node that changed between the two traces (processes started or ended by someone else)
# differs for that reason alone: one more try before the verdict.
for try in $(seq "${TRIES:-2}"); do
  rm -rf "$OUT" && mkdir -p "$OUT"
  trace check "$NS" check -o json
  trace floor "$FLOOR"
  rc=0
  python3 bench/strace_kinds.py "$OUT/check" "$OUT/floor" \
    --tol-abs "${TOL_ABS:-3}" --tol-pct "${TOL_PCT:-5}" > "$OUT.table" || rc=$?
  if [ "$rc" = 0 ]; then break; fi
  if [ "$try" -lt "${TRIES:-2}" ]; then echo "reads: kinds differ (try $try); tracing both again" >&2; fi
done
cat "$OUT.table"
for name in check floor; do
  echo
  echo "strace -f -c of $name (top 12 by time):"
  # the summary's header, its 12 costliest calls, and its total line
  sed -n '1,2p' "$OUT/$name.summary"
  sed -n '3,$p' "$OUT/$name.summary" | grep -v -e '^-' -e ' total$' | head -12
  grep ' total$' "$OUT/$name.summary"
done
exit "$rc"
