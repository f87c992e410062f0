#!/usr/bin/env python3
"""What two programs read, by kind: the check of bench/reads.sh.

Reads the per-thread traces of `strace -ff -y -qq -s 0 -o PREFIX` (one file per thread,
PREFIX.<tid>, so no call is split into "unfinished"/"resumed" halves) of `nodescope check` and
of the C floor, turns every access into (operation, kind) and prints, per kind, how many distinct
things each program touched, then exits 1 when a kind differs by more than the tolerance.

  strace_kinds.py CHECK_PREFIX FLOOR_PREFIX [--tol-abs N] [--tol-pct P] [--exclude-pid PID ...]

Operations, from the syscalls (strace(1) `-y` prints the path behind each file descriptor):
  read      a file opened and read (read/pread64/readv); one per opening, whatever the reads
  list      a directory listed (getdents64); one per opening
  readlink  readlink/readlinkat of a path (the fd tables: /proc/<pid>/fd/<n>)
  stat      a path stat'ed by name (newfstatat/statx with a name), or through an O_PATH handle
            (fstat/statx on it); the fstat/statx a reader does on a file it then reads is
            not an access of its own and is left out
  statfs    statfs(2) of a path, or fstatfs(2) of an O_PATH handle (statvfs(3))
  connect   connect(2) of a unix socket (the CRI socket; a C floor does not replicate it)
  absent    an open, stat or readlink of a path that is not there (ENOENT, ENOTDIR): a probe
  refused   any other failure (EINVAL of readlink on what is no link, EACCES, ...)
            absent and refused are reported apart and not compared: the floor only reads
            what exists

Kinds: the path with what varies by pid, pod or container replaced by a placeholder
(/proc/<pid>/fd/<n>, .../kubepods/burstable/pod<uid>/<cid>/memory.stat,
/var/log/pods/<ns>_<pod>_<uid>/<container>/<n>.log, ...). The distinct count of a kind is the
number of different paths; a kind with a placeholder may differ by the tolerance (processes
come and go between the two runs), a fixed path may not. `opens` counts every opening, so a file check opens twice shows
opens > distinct (listed at the end as re-reads).

Left out on both sides: the dynamic loader and libc (ld.so.cache, /lib, /usr/lib), the tracee's
own /proc/self, and the terminal.
"""

import argparse
import collections
import glob
import re
import sys

LINE = re.compile(r"^(?P<call>\w+)\((?P<args>.*)\)\s+=\s+(?P<ret>.*)$")
# "3</proc/1/stat>" or "AT_FDCWD</tmp>"; the path ends at the last '>' before ", " or end.
FD = re.compile(r"^(?P<fd>-?\d+|AT_FDCWD)<(?P<path>.*?)>(?:,\s|$)")
STR = re.compile(r'"((?:[^"\\]|\\.)*)"')
RET_FD = re.compile(r"^(?P<fd>\d+)<(?P<path>.*)>$")
RET_ERR = re.compile(r"^-1 (?P<err>E\w+)")

UID = r"[0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12}"
SUBS = [
    # procfs: pids, threads, fds
    (re.compile(r"^/proc/\d+(?=/|$)"), "/proc/<pid>"),
    (re.compile(r"/task/\d+(?=/|$)"), "/task/<tid>"),
    (re.compile(r"/(fd|fdinfo)/\d+$"), r"/\1/<n>"),
    # cgroups (cgroupfs and systemd drivers) and kubelet pod directories
    (re.compile(r"pod" + UID), "pod<uid>"),
    (re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])"), "<cid>"),
    (re.compile(UID), "<uid>"),
    # pod log trees: /var/log/pods/<ns>_<pod>_<uid>/<container>/<n>.log[.<date>]
    (re.compile(r"^/var/log/pods/[^/]+"), "/var/log/pods/<ns>_<pod>_<uid>"),
    (re.compile(r"^(/var/log/pods/[^/]+)/[^/]+"), r"\1/<container>"),
    (re.compile(r"^(/var/log/pods/[^/]+/[^/]+)/\d+\.log(\.[^/]*)?$"), r"\1/<n>.log\2"),
    (re.compile(r"^/var/log/containers/[^/]+$"), "/var/log/containers/<link>"),
    # anything else numbered (e.g. /sys/block/loop12)
    (re.compile(r"(?<=/)([a-z]+)\d+$"), r"\1<n>"),
]

PROBES = ("absent", "refused")

IGNORED = re.compile(
    r"^(/etc/ld\.so\.(cache|preload)|/lib|/usr/lib|/usr/share/locale|/dev/tty|/dev/pts|pipe:|socket:|anon_inode:)"
)


def kind(path):
    for pattern, repl in SUBS:
        path = pattern.sub(repl, path)
    return path


def unescape(s):
    return s.encode("latin-1", "backslashreplace").decode("unicode_escape", "replace")


def failed(err):
    """`absent` for a path that is not there, `refused` for any other failure (EINVAL of a
    readlink on what is no link, EACCES, ELOOP of a magic link refused, ...)."""
    return "absent" if err.group("err") in ("ENOENT", "ENOTDIR", "ENXIO", "ENODEV") else "refused"


def joined(base, name):
    if name.startswith("/"):
        return name
    if name in ("", "."):
        return base
    return base.rstrip("/") + "/" + name


class Tally:
    """Per (op, kind): distinct paths and openings; plus the re-read paths."""

    def __init__(self, self_pids):
        self.paths = collections.defaultdict(set)
        self.opens = collections.Counter()
        self.per_path = collections.Counter()
        self.self_pids = self_pids

    def add(self, op, path):
        if IGNORED.match(path):
            return
        m = re.match(r"^/proc/(\d+)(/|$)", path)
        if m and m.group(1) in self.self_pids or path.startswith("/proc/self"):
            return
        k = (op, kind(path))
        self.paths[k].add(path)
        self.opens[k] += 1
        if op in ("read", "list"):
            self.per_path[(op, path)] += 1


def tally(prefix, extra_self):
    files = sorted(glob.glob(glob.escape(prefix) + ".*"))
    if not files:
        sys.exit(f"strace_kinds: no trace files {prefix}.*")
    # The tracee's own pids (its threads' ids are the file suffixes): its /proc/<pid> reads of
    # itself are not reads of the node.
    self_pids = {f.rsplit(".", 1)[1] for f in files} | set(extra_self)
    t = Tally(self_pids)
    for f in files:
        fds = {}  # fd -> (path, o_path, counted)
        for line in open(f, errors="replace"):
            m = LINE.match(line.rstrip("\n"))
            if not m:
                continue
            call, args, ret = m.group("call"), m.group("args"), m.group("ret")
            fdm = FD.match(args)
            strs = STR.findall(args)
            err = RET_ERR.match(ret)
            if call in ("open", "openat", "openat2", "creat"):
                base = fdm.group("path") if fdm else "/"
                name = unescape(strs[0]) if strs else ""
                if err:
                    t.add(failed(err), joined(base, name))
                    continue
                r = RET_FD.match(ret)
                if r:
                    fds[r.group("fd")] = [r.group("path"), "O_PATH" in args, False]
            elif call in ("read", "pread64", "readv", "preadv", "preadv2", "getdents64", "getdents"):
                if not fdm or err:
                    continue
                op = "list" if call.startswith("getdents") else "read"
                entry = fds.get(fdm.group("fd"))
                if entry is None:
                    # opened by another thread of the process: count it once per fd and path
                    entry = fds[fdm.group("fd")] = [fdm.group("path"), False, False]
                if not entry[2]:
                    entry[2] = True
                    t.add(op, fdm.group("path"))
            elif call in ("readlink", "readlinkat"):
                base = fdm.group("path") if fdm else "/"
                name = unescape(strs[0]) if strs else ""
                t.add(failed(err) if err else "readlink", joined(base, name))
            elif call in ("newfstatat", "statx", "stat", "lstat", "fstat", "fstatat64"):
                name = unescape(strs[0]) if strs and call != "fstat" else ""
                if call in ("stat", "lstat"):
                    path = name
                elif name:
                    path = joined(fdm.group("path") if fdm else "/", name)
                else:
                    entry = fds.get(fdm.group("fd")) if fdm else None
                    if not entry or not entry[1]:
                        continue  # a reader's fstat of what it reads
                    path = entry[0]
                t.add(failed(err) if err else "stat", path)
            elif call in ("statfs", "fstatfs"):
                if call == "statfs":
                    path = unescape(strs[0]) if strs else ""
                elif fdm:
                    path = fdm.group("path")
                else:
                    continue
                t.add(failed(err) if err else "statfs", path)
            elif call == "connect":
                sun = re.search(r'sun_path="([^"]*)"', args)
                if sun:
                    t.add("connect", sun.group(1))
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("check")
    ap.add_argument("floor")
    ap.add_argument("--tol-abs", type=int, default=3)
    ap.add_argument("--tol-pct", type=float, default=5.0)
    ap.add_argument("--exclude-pid", action="append", default=[])
    a = ap.parse_args()
    c, f = tally(a.check, a.exclude_pid), tally(a.floor, a.exclude_pid)
    keys = sorted(set(c.paths) | set(f.paths), key=lambda k: (k[0] in PROBES, k[1], k[0]))
    w = max([len(k[1]) for k in keys] + [4])
    print(f"{'op':8} {'kind':{w}} {'check':>7} {'opens':>7} {'floor':>7} {'opens':>7}  verdict")
    bad = 0
    for k in keys:
        cn, fn = len(c.paths.get(k, ())), len(f.paths.get(k, ()))
        if k[0] in PROBES:
            verdict = "probe (not compared)"
        else:
            # Kinds with a placeholder count things that come and go between the two runs
            # (processes, their fds); a fixed path is read or not.
            tol = max(a.tol_abs, a.tol_pct / 100 * max(cn, fn)) if "<" in k[1] else 0
            if abs(cn - fn) <= tol:
                verdict = "ok" if cn == fn else f"ok (within {tol:.0f})"
            else:
                bad += 1
                verdict = "ONLY CHECK" if fn == 0 else "ONLY FLOOR" if cn == 0 else "DIFFERS"
        print(f"{k[0]:8} {k[1]:{w}} {cn:7} {c.opens[k]:7} {fn:7} {f.opens[k]:7}  {verdict}")
    for name, t in (("check", c), ("floor", f)):
        again = [(n, p) for p, n in t.per_path.items() if n > 1]
        if again:
            again.sort(reverse=True)
            print(f"\n{name} opens {len(again)} paths more than once, e.g.:")
            for n, (op, path) in again[:10]:
                print(f"  {n}x {op} {path}")
    print(f"\n{bad} kind(s) differ beyond the tolerance (max of {a.tol_abs} and {a.tol_pct:g} %)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
