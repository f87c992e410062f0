#!/usr/bin/env python3
"""The table of issue 24's targets, PASS or SHORT per row, from the figures bench/compare.sh
collects (one `NAME VALUES...` line each in target/bench/targets.txt):

  reads_1k / reads_10k   kinds that differ between check and the floor, bench/reads.sh's exit code
  ratio_1k / ratio_10k   median seconds of `check --format json` and of the floor (hyperfine)
  rss_10k                median peak RSS of `check` in KiB (GNU time %M)
  tui                    % of a core of `nodescope top` and of `htop -d 20`, median ratio
  kubeconfig             median seconds of `check` without any kubeconfig and with --no-cluster
  writes                 write(2) calls on fd 1 of `check -o json`, bytes written

  targets.py target/bench/targets.txt [--quick]
"""

import math
import sys


def load(path):
    out = {}
    for line in open(path):
        parts = line.split()
        if parts:
            out[parts[0]] = parts[1:]
    return out


def verdict(ok):
    return "PASS" if ok else "SHORT"


def rows(t):
    """(target, measured, goal, verdict) for every target; one not measured is SHORT."""
    missing = "not measured"
    name = "`nodescope top` CPU at a 2 s refresh / `htop -d 20`, same window (1k node)"
    if len(t.get("tui", [])) == 3:
        ns, ht, ratio = map(float, t["tui"])
        yield (name, f"{ratio:.2f}x ({ns:.2f} % vs {ht:.2f} % of a core)", "<= 1.0x", verdict(ratio <= 1.0))
    else:
        yield (name, missing, "<= 1.0x", "SHORT")
    for label in ("1k", "10k"):
        name = f"the floor reads what `check` reads ({label} node, bench/reads.sh)"
        if f"reads_{label}" in t:
            kinds, rc = map(int, t[f"reads_{label}"])
            yield (name, f"{kinds} kind(s) differ", "0", verdict(rc == 0))
        else:
            yield (name, missing, "0", "SHORT")
        name = f"`check --format json` / floor ({label} node)"
        if f"ratio_{label}" in t:
            ns, fl = map(float, t[f"ratio_{label}"])
            yield (name, f"{ns / fl:.2f}x ({ns * 1000:.1f} ms vs {fl * 1000:.1f} ms)", "<= 1.2x",
                   verdict(ns / fl <= 1.2))
        else:
            yield (name, missing, "<= 1.2x", "SHORT")
    name = "peak RSS of `check` (10k node)"
    if "rss_10k" in t:
        mib = int(t["rss_10k"][0]) / 1024
        yield (name, f"{mib:.1f} MiB", "<= 20 MiB", verdict(mib <= 20))
    else:
        yield (name, missing, "<= 20 MiB", "SHORT")
    name = "`check` with no kubeconfig anywhere minus `--no-cluster` (idle node)"
    if "kubeconfig" in t:
        none, off = map(float, t["kubeconfig"])
        d = (none - off) * 1000
        yield (name, f"{d:+.2f} ms ({none * 1000:.1f} vs {off * 1000:.1f} ms)", "<= +2 ms", verdict(d <= 2))
    else:
        yield (name, missing, "<= +2 ms", "SHORT")
    name = "write calls of `check -o json` on fd 1 (100-pod node)"
    if "writes" in t:
        calls, size = map(int, t["writes"])
        limit = math.ceil(size / 65536) + 1
        yield (name, f"{calls} for {size:,} bytes", f"<= {limit}", verdict(calls <= limit))
    else:
        yield (name, missing, "<= ceil(bytes / 65536) + 1", "SHORT")


def main():
    try:
        t = load(sys.argv[1])
    except OSError:
        t = {}
    quick = "--quick" in sys.argv[2:]
    title = "Targets of issue 24"
    if quick:
        title += " (QUICK=1: few runs, indicative only)"
    print(title)
    print()
    print("| target | measured | goal | verdict |")
    print("|---|---|---|---|")
    for name, measured, goal, v in rows(t):
        print(f"| {name} | {measured} | {goal} | {v} |")


if __name__ == "__main__":
    main()
