#!/usr/bin/env bash
# Writes the seed corpus of the fuzz targets (fuzz/corpus/<target>/) from the fixture bundles
# (fixtures/*), so each target starts from the exact bytes real nodes write. Files are named
# by the SHA-1 of their content, as libFuzzer names them; existing files are kept (crash
# reproducers committed as regressions stay), so running this twice changes nothing.
#
# Usage: scripts/fuzz-seeds.sh    (needs python3; writes only under fuzz/corpus/)
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 - <<'PY'
import glob, gzip, hashlib, io, json, os, re, struct, tarfile

FIX = "fixtures"
OUT = "fuzz/corpus"
SEP = b"\x1e"          # nodescope_fuzz::SEP: separates the files of a multi-file input
MAX = 64 * 1024        # the largest seed kept (but whole bundles)
written = {}

def add(target, data):
    if not data or (len(data) > MAX and not target.startswith("bundle_tar")):
        return
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, hashlib.sha1(data).hexdigest())
    if not os.path.exists(p):
        with open(p, "wb") as f:
            f.write(data)
    written[target] = written.get(target, 0) + 1

def read(p):
    try:
        with open(p, "rb") as f:
            return f.read()
    except (IsADirectoryError, FileNotFoundError):
        return b""

bundles = sorted(d for d in glob.glob(f"{FIX}/*") if os.path.exists(f"{d}/nodescope-bundle.json"))

def pids(b):
    return sorted((os.path.basename(p) for p in glob.glob(f"{b}/proc/[0-9]*")), key=int)

for b in bundles:
    add("kmsg", read(f"{b}/dev/kmsg"))
    for p in ["proc/meminfo", "proc/uptime", "proc/loadavg", "proc/pressure/cpu",
              "proc/pressure/memory", "proc/pressure/io"]:
        add("meminfo", read(f"{b}/{p}"))
    for p in glob.glob(f"{b}/proc/driver/nvidia/gpus/*/information"):
        add("meminfo", read(p))
    for p in ["proc/1/mountinfo", "proc/self/mountinfo"]:
        add("mountinfo", read(f"{b}/{p}"))
    for p in glob.glob(f"{b}/proc/1/net/stat/nf_conntrack") + glob.glob(f"{b}/proc/net/stat/nf_conntrack"):
        add("conntrack", read(p))
    for p in glob.glob(f"{b}/**/resolv.conf", recursive=True):
        add("resolv_conf", read(p))
    for p in glob.glob(f"{b}/var/lib/kubelet/config.yaml"):
        add("kubelet_config", read(p))
    for p in glob.glob(f"{b}/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint"):
        add("device_plugin_checkpoint", read(p))
    add("bundle_meta", read(f"{b}/nodescope-bundle.json"))

    # /proc/<pid>: stat, cmdline, cgroup, oom_score, oom_score_adj (fuzz_targets/proc_pid.rs).
    for pid in pids(b):
        files = [read(f"{b}/proc/{pid}/{n}") for n in ["stat", "cmdline", "cgroup", "oom_score", "oom_score_adj"]]
        add("proc_pid", SEP.join(files))
        stat = files[0].decode("utf-8", "replace")
        if "(kubelet)" in stat:
            # The kubelet's arguments after argv[0] (fuzz_targets/kubelet_flags.rs).
            args = files[1].rstrip(b"\0").split(b"\0")[1:]
            add("kubelet_flags", b"\0".join(args))

    # cgroup (fuzz_targets/cgroup.rs): a version byte, a container's files, /proc/<pid>/cgroup
    # and the root memory.stat.
    v2 = os.path.exists(f"{b}/sys/fs/cgroup/cgroup.controllers")
    names = (["memory.stat", "memory.current", "memory.max", "memory.peak", "memory.events",
              "pids.current", "pids.max"] if v2 else
             ["memory.stat", "memory.usage_in_bytes", "memory.limit_in_bytes",
              "memory.max_usage_in_bytes", "memory.oom_control", "pids.current", "pids.max",
              "memory.failcnt"])
    mem = f"{b}/sys/fs/cgroup" if v2 else f"{b}/sys/fs/cgroup/memory"
    root_stat = read(f"{mem}/memory.stat")
    proc_cg = b""
    for pid in pids(b):
        c = read(f"{b}/proc/{pid}/cgroup")
        if b"kubepods" in c:
            proc_cg = c
            break
    leaves = [d for d in glob.glob(f"{mem}/kubepods*/**/", recursive=True)
              if os.path.exists(f"{d}/memory.stat")]
    for d in sorted(leaves, key=len, reverse=True)[:3]:
        files = []
        for n in names:
            f = read(f"{d}/{n}")
            if not f and not v2 and n.startswith("pids."):
                f = read(d.replace("/cgroup/memory/", "/cgroup/pids/") + n)
            files.append(f)
        add("cgroup", (b"2" if v2 else b"1") + SEP.join(files + [proc_cg, root_stat]))

    # Kubelet log lines (fuzz_targets/kubelet_log.rs): 8 bytes of capture time, then the text.
    meta = json.loads(read(f"{b}/nodescope-bundle.json"))
    from datetime import datetime
    t = int(datetime.fromisoformat(meta["captured_at"].replace("Z", "+00:00")).timestamp())
    lines = []
    for p in ["var/log/kubelet.log", "var/log/syslog", "var/log/messages"]:
        lines += [l for l in read(f"{b}/{p}").split(b"\n") if b"viction" in l or b"Recording event" in l]
    for e in meta.get("journal") or []:
        m = e.get("message") or e.get("MESSAGE") or ""
        if isinstance(m, str):
            lines.append(m.encode())
    if lines:
        add("kubelet_log", struct.pack("<q", t) + b"\n".join(lines[:40]) + b"\n")

    # Container runtime configuration (fuzz_targets/runtime_config.rs).
    toml = read(f"{b}/etc/containerd/config.toml")
    if toml:
        add("runtime_config", b"d" + toml)
    storage = read(f"{b}/etc/containers/storage.conf")
    crio = read(f"{b}/etc/crio/crio.conf")
    if storage or crio:
        dropin = b"".join(read(p) for p in sorted(glob.glob(f"{b}/etc/crio/crio.conf.d/*.conf")))
        add("runtime_config", b"c" + SEP.join([storage, crio, dropin]))

    # A small bundle archive (fuzz_targets/bundle_tar.rs): the metadata and the node's small
    # files, as an uncompressed tar (the target compresses it).
    keep = ["proc/meminfo", "proc/uptime", "proc/loadavg", "proc/1/mountinfo", "proc/1/stat",
            "proc/1/cmdline", "dev/kmsg", "etc/resolv.conf", "var/lib/kubelet/config.yaml",
            "proc/sys/kernel/pid_max", "proc/sys/kernel/hostname", "proc/pressure/memory",
            "sys/fs/cgroup/cgroup.controllers", "sys/fs/cgroup/memory.stat"]
    for pid in pids(b):
        if b"(kubelet)" in read(f"{b}/proc/{pid}/stat"):
            keep += [f"proc/{pid}/stat", f"proc/{pid}/cmdline", f"proc/{pid}/cgroup"]
    if leaves:
        d = sorted(leaves, key=len, reverse=True)[0]
        rel = os.path.relpath(d, b)
        keep += [os.path.join(rel, n) for n in names]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for rel in ["nodescope-bundle.json"] + keep:
            data = read(f"{b}/{rel}")
            if not data and rel != "sys/fs/cgroup/cgroup.controllers":
                continue
            ti = tarfile.TarInfo(rel)
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 0
            tf.addfile(ti, io.BytesIO(data))
    tar = buf.getvalue()
    if len(tar) <= 96 * 1024:
        add("bundle_tar", tar)
        if b.endswith("healthy-v2-systemd-containerd"):
            add("bundle_tar", gzip.compress(tar, mtime=0))

# FailedScheduling messages (fuzz_targets/scheduler_message.rs) from the cluster dump.
ev = json.loads(read(f"{FIX}/cluster-node-a/events.json") or b"{}")
for e in ev.get("items", []):
    if e.get("reason") == "FailedScheduling":
        add("scheduler_message", e.get("message", "").encode())
for m in ["0/3 nodes are available: 1 Insufficient nvidia.com/gpu, 2 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.",
          "0/12 nodes are available: 12 Insufficient nvidia.com/gpu.",
          "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."]:
    add("scheduler_message", m.encode())

# Quantities, durations and thresholds as kubelet configurations write them.
for q in ["100Mi", "1.5Gi", "500M", "1e3", "200m", "10%", "0%", "100%", "1m30s", "5m", "300ms",
          "0", "-1.5h", "4096", "1Ei", "+2k", "12.5%"]:
    add("quantity", q.encode())

# The redactor (fuzz_targets/redact.rs): every command line of the fixtures and of the
# redaction corpus, NUL-separated, then a shape byte and a secret.
import shlex
for b in bundles:
    for pid in pids(b):
        add("redact", read(f"{b}/proc/{pid}/cmdline").rstrip(b"\0") + SEP + b"\x03hunter2hunter2")
with open("tests/data/redaction-corpus.txt", "rb") as f:
    for l in f.read().decode().splitlines():
        if l[:2] in ("S ", "K "):
            argv = shlex.split(l[2:].rsplit(" => ", 1)[0] if l[0] == "S" else l[2:])
            add("redact", b"\0".join(a.encode() for a in argv) + SEP + bytes([len(argv) % 256]) + b"s3cretValue")

# Trees and paths for the fallback path resolver (fuzz_targets/path_resolver.rs): records
# `d|f|m<path>` and `l<path>\0<target>`, then the path (`!` first: last link not followed).
# The escapes a container's links try, as the live tests plant them.
def tree(*records):
    return SEP.join(r.encode() for r in records)
add("path_resolver", tree("f/etc/shadow", "l/etc/resolv.conf\0/etc/shadow", "/etc/resolv.conf"))
add("path_resolver", tree("f/etc/shadow", "l/etc/up\0../../../../secret", "/etc/up"))
add("path_resolver", tree("l/etc/a\0b", "l/etc/b\0/etc/a", "/etc/a"))
add("path_resolver", tree("f/f", "l/l0\0/f", *[f"l/l{i}\0l{i-1}" for i in range(1, 42)], "/l40"))
add("path_resolver", tree("m/proc/1/root", "f/etc/hostname", "/proc/1/root/etc/hostname"))
add("path_resolver", tree("d/run/containerd", "l/var/run\0/run", "l/run/x\0../../var/run/", "!/var/run/containerd/../x"))
add("path_resolver", tree("f/etc/shadow", "/etc/shadow/."))

# A last link whose target ends in '/' must reach a directory (the fuzzer found the walk
# taking a file there where the kernel says ENOTDIR).
add("path_resolver", tree("f/f", "l/a\0f/", "l/b\0a", "/b"))

# Inputs that once crashed nodescope, kept as seeds so every run replays them first.
# /proc/<pid>/stat with bytes that are not UTF-8 before the comm: procfs-core panicked.
add("proc_pid", b"24528 \xff\xff\xff\xff(coredns) S 1" + SEP * 4)
# A klog line read at the last and first instants jiff represents: the year arithmetic overflowed.
line = b'I1231 23:59:59.000000 1 eviction_manager.go:369] "Eviction manager: attempting to reclaim" resourceName="memory"\n'
add("kubelet_log", struct.pack("<q", 631107324000) + line)
add("kubelet_log", struct.pack("<q", 0) + line)

for t, n in sorted(written.items()):
    print(f"{t:26} {n} seed(s)")
PY
