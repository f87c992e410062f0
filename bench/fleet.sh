#!/usr/bin/env bash
# `nodescope fleet` against the 1,000-node stand-in API server of tests/fleet.rs
# (tests/common/fake_apiserver.py over TLS with a bearer token): wall time and peak RSS (GNU
# time's %e and %M) of 5 runs, the median printed. The mix is the test's: agents answering with
# the real `check --format json` reports of three fixtures (critical, warning, info), 5 % of
# agents hanging (each costs the 5 s per-request deadline), 1 % answering 403, 2 % of nodes
# without an agent. docs/performance.md holds the last figures.
#
#   bench/fleet.sh               # NODES=1000 CONCURRENCY=32 RUNS=5
set -euo pipefail
cd "$(dirname "$0")/.."
NODES=${NODES:-1000}
CONCURRENCY=${CONCURRENCY:-32}
RUNS=${RUNS:-5}
[ -x /usr/bin/time ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time; }
cargo build --release --quiet
NS=$PWD/target/release/nodescope
W=$(mktemp -d)
API_PID=
cleanup() { [ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT

for f in oom-memcg-v2-systemd dns-v2-containerd healthy-v2-systemd-containerd; do
  "$NS" --bundle "fixtures/$f" --no-cluster check --format json > "$W/$f.json" || true
done
mkdir -p "$W/data"
python3 - "$W" "$NODES" <<'PY'
import json, sys, datetime
w, n = sys.argv[1], int(sys.argv[2])
rep = {k: json.load(open(f"{w}/{f}.json")) for k, f in
       [("c", "oom-memcg-v2-systemd"), ("w", "dns-v2-containerd"), ("i", "healthy-v2-systemd-containerd")]}
now = datetime.datetime.now(datetime.timezone.utc)
iso = lambda s: (now - datetime.timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%SZ")
nodes, pods, proxy = [], [], {}
for i in range(n):
    name = f"node-{i:04}"
    ready = "Unknown" if i % 97 == 5 else "True"
    nodes.append({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
                  "status": {"conditions": [{"type": t, "status": s} for t, s in
                             [("MemoryPressure", "True" if i % 50 == 9 else "False"), ("DiskPressure", "False"),
                              ("PIDPressure", "False"), ("Ready", ready)]]}})
    if i % 50 == 7:
        continue
    pod = f"nodescope-{i:04}x"
    pods.append({"apiVersion": "v1", "kind": "Pod",
                 "metadata": {"name": pod, "namespace": "nodescope", "labels": {"app.kubernetes.io/name": "nodescope"}},
                 "spec": {"nodeName": name, "containers": [{"name": "nodescope", "ports": [{"name": "metrics", "containerPort": 9808}]}]},
                 "status": {"phase": "Running"}})
    if i % 20 == 3:
        proxy[f"nodescope/{pod}"] = {"hang": True}
    elif i % 100 == 11:
        proxy[f"nodescope/{pod}"] = {"code": 403}
    else:
        body = dict(rep["c" if i % 10 in (1, 4) else "i" if i % 10 in (0, 5) else "w"])
        body["taken_at"] = iso(3 * 3600 if i % 10 == 2 else 10)
        proxy[f"nodescope/{pod}"] = {"code": 200, "body": body}
lst = lambda k, items: {"apiVersion": "v1", "kind": k, "items": items}
json.dump(lst("NodeList", nodes), open(f"{w}/data/nodes.json", "w"))
json.dump(lst("PodList", pods), open(f"{w}/data/pods.json", "w"))
json.dump(proxy, open(f"{w}/data/proxy.json", "w"))
PY

cd "$W"
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $ec -keyout ca.key -out ca.crt -days 2 -subj /CN=bench-ca 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' > server.ext
openssl req $ec -keyout server.key -out server.csr -subj /CN=127.0.0.1 2>/dev/null
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile server.ext 2>/dev/null
python3 "$OLDPWD/tests/common/fake_apiserver.py" data ok port log --tls server.crt server.key --token tok-bench &
API_PID=$!
for _ in $(seq 100); do [ -s port ] && break; sleep 0.1; done
cat > kubeconfig <<KC
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:$(cat port)", certificate-authority: $W/ca.crt}}]
users: [{name: u, user: {token: tok-bench}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
KC
for r in $(seq "$RUNS"); do
  # exit 2: the fleet holds critical nodes; not a failure here. fleet bounds itself (--timeout).
  /usr/bin/time -o "time-$r.txt" -f "%e %M" "$NS" --kubeconfig kubeconfig fleet --concurrency "$CONCURRENCY" > "table-$r.txt" 2> "err-$r.txt" || true
  grep -E "^[0-9]" "time-$r.txt"
done > times.txt
python3 - times.txt <<'PY'
import statistics, sys
rows = [tuple(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
wall, rss = [r[0] for r in rows], [r[1] for r in rows]
print(f"runs: {len(rows)}")
print(f"wall seconds: median {statistics.median(wall):.2f} (min {min(wall):.2f}, max {max(wall):.2f})")
print(f"peak RSS: median {statistics.median(rss) / 1024:.1f} MiB (max {max(rss) / 1024:.1f} MiB)")
PY
echo "table head:"; head -6 table-1.txt; echo ...; tail -1 table-1.txt
