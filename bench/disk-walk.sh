#!/usr/bin/env bash
# The disk attribution walk against du on the same tree: a containerd image store of FILES
# files (default 200000) in 2000 directories under a scratch root, walked by
# `nodescope --root ROOT disk` (which walks the content store and the snapshotter, both in
# parallel, within its budget) and by `du -s` of the same directory. Warm cache (hyperfine
# warm-up runs), then cold cache (caches dropped before each run; needs root).
#
#   bench/disk-walk.sh [FILES]
#
# Prints files/s for both and writes target/bench/disk-walk-{warm,cold}.json.
set -euo pipefail
cd "$(dirname "$0")/.."
FILES=${1:-200000}
OUT=target/bench
mkdir -p "$OUT"
command -v hyperfine >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine; }
cargo build --release --quiet
NS=$PWD/target/release/nodescope

ROOT=$(mktemp -d /var/tmp/nodescope-walk.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT
mkdir -p "$ROOT/proc" "$ROOT/etc/containerd"
printf 'version = 2\nroot = "/var/lib/containerd"\n' > "$ROOT/etc/containerd/config.toml"
STORE=$ROOT/var/lib/containerd
python3 - "$STORE" "$FILES" <<'PY'
import os, sys
store, files = sys.argv[1], int(sys.argv[2])
dirs = 2000
per = files // dirs
for d in range(dirs):
    p = os.path.join(store, "io.containerd.snapshotter.v1.overlayfs/snapshots", str(d), "fs", "usr/lib")
    os.makedirs(p, exist_ok=True)
    for f in range(per):
        with open(os.path.join(p, f"f{f}"), "wb") as fh:
            fh.write(b"x" * (f % 7 * 300))
PY
COUNT=$(find "$STORE" | wc -l)
echo "tree: $COUNT entries under $STORE"

run() { # $1 = label, rest = hyperfine options
  local label=$1; shift
  hyperfine --style basic -N "$@" --export-json "$OUT/disk-walk-$label.json" \
    -n nodescope "$NS --root $ROOT disk --budget 300 --fail-on critical" \
    -n du "du -s $STORE" >/dev/null
  python3 - "$OUT/disk-walk-$label.json" "$COUNT" "$label" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
n = int(sys.argv[2])
for x in r:
    print(f"{sys.argv[3]:5} {x['command']:10} median {x['median']*1000:8.1f} ms  {n / x['median']:12,.0f} entries/s")
PY
}
run warm --warmup 2 --runs 10
if [ "$(id -u)" = 0 ]; then
  run cold --runs 5 --prepare 'sh -c "sync; echo 3 > /proc/sys/vm/drop_caches"'
fi
