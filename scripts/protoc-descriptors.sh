#!/usr/bin/env bash
# Regenerates scripts/protoc-descriptors/ with a real protoc, for the k8s-cri version in
# Cargo.lock: the descriptor sets scripts/protoc serves when no protoc is installed.
#   bash scripts/protoc-descriptors.sh          rewrite them
#   bash scripts/protoc-descriptors.sh --check  fail if they differ from what protoc makes now
set -euo pipefail
cd "$(dirname "$0")/.."
protoc=$(command -v protoc) || { echo "needs a real protoc (apt-get install -y protobuf-compiler)" >&2; exit 1; }
src=$(cargo metadata --format-version 1 --locked \
  | python3 -c 'import json,sys; m=json.load(sys.stdin); print(next(p["manifest_path"] for p in m["packages"] if p["name"]=="k8s-cri").rsplit("/",1)[0])')
out=scripts/protoc-descriptors
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for proto in "$src"/proto/*.proto; do
  name=$(basename "$proto" .proto)
  # The exact invocation of prost-build (config.rs, compile_fds), from the crate's directory.
  (cd "$src" && "$protoc" --include_imports --include_source_info -o "$tmp/$name.binpb" -I proto/ "proto/$name.proto")
  (cd "$src" && sha256sum "proto/$name.proto" | cut -d' ' -f1) > "$tmp/$name.proto.sha256"
done
if [ "${1:-}" = "--check" ]; then
  diff -r "$tmp" "$out" && echo "scripts/protoc-descriptors matches $($protoc --version) on $src"
else
  rm -rf "$out"; mkdir -p "$out"; cp "$tmp"/* "$out"/
  ls -l "$out"
fi
