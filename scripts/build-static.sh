#!/usr/bin/env bash
# Builds the statically linked x86_64 Linux binary that runs in a scratch, busybox or
# distroless image (and on nodes with an older glibc than the build machine's):
#   scripts/build-static.sh      ->  target/x86_64-unknown-linux-gnu/dist/nodescope
# glibc's static libc with crt-static; `--target` keeps the flag away from build scripts and
# proc-macros, which must stay dynamic.
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-gnu
RUSTFLAGS="-C target-feature=+crt-static" cargo build --locked --profile dist --target "$target"
bin="target/$target/dist/nodescope"
file "$bin" 2>/dev/null || true
if ldd "$bin" 2>&1 | grep -qE 'not a dynamic executable|statically linked'; then
  echo "static: $(ldd "$bin" 2>&1 | head -1 | sed 's/^[[:space:]]*//')"
else
  echo "build-static: $bin is dynamically linked:" >&2
  ldd "$bin" >&2
  exit 1
fi
"$bin" --version
ls -l "$bin" | awk '{print "size: " $5 " bytes"}'

# As root: prove it runs with nothing else around it, as in a FROM scratch image. Elsewhere the
# proof cannot run; in CI (CI set, or NODESCOPE_LIVE=required as .ci/run sets it) that is a
# failure, not a skip: a green run must mean the binary ran in an empty root.
must_run=false
if [ -n "${CI:-}" ] || [ "${NODESCOPE_LIVE:-}" = required ]; then must_run=true; fi
why=""
if [ "$(id -u)" != 0 ]; then why="not root (chroot needs root)"
elif ! command -v chroot >/dev/null; then why="no chroot on PATH"
fi
if [ -n "$why" ]; then
  if $must_run; then
    echo "build-static: the empty-root smoke test cannot run: $why" >&2
    exit 1
  fi
  echo "build-static: skipped the empty-root smoke test: $why"
else
  jail=$(mktemp -d)
  trap 'rm -rf "$jail"' EXIT
  cp "$bin" "$jail/nodescope"
  cp -a fixtures/healthy-v2-systemd-containerd "$jail/bundle"
  set +e
  chroot "$jail" /nodescope --bundle /bundle check --format npd
  rc=$?
  set -e
  [ "$rc" = 0 ] || { echo "build-static: check in an empty root exited $rc" >&2; exit 1; }
  echo "ran in an empty root (only the binary and a bundle): exit $rc"
fi
