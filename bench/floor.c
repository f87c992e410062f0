/* The physical floor: read what `nodescope check` reads on a live node (cgroup v1 or v2, the
 * cgroupfs layout of ../shared/bench/busy-node.sh or the systemd one), judge nothing, parse as
 * little as choosing the same files needs. Whatever nodescope costs above this is its own.
 *
 * `bench/reads.sh` verifies the claim: it traces this program and `check -o json` with strace
 * and compares what each touched, kind by kind (every /proc/<pid>/stat, every fd link, every
 * kubepods cgroup file, every pod log directory, ...). Change this file when that script says
 * a kind differs, not by reading the Rust.
 *
 * What it does, section by section (the collector it stands for in parentheses):
 *   node files       a fixed list: /proc/meminfo, pressure, sysctls, the kubelet's and the
 *                    runtime's files, ... (node, health, kubelet, runtime, dns)
 *   statvfs          of each mount point of /proc/1/mountinfo that check keeps (mounts: the
 *                    same fs-type and prefix filters as src/collect/mounts.rs)
 *   processes        /proc/<pid>/{stat,status,cmdline,cgroup,oom_score,oom_score_adj}; for a
 *                    process with a command line its fd table: readlink of every
 *                    /proc/<pid>/fd/<n>, stat through a link ending in " (deleted)" (processes,
 *                    disk); the first process of each pod: its mountinfo and resolv.conf (dns)
 *   cgroups          the kubepods tree as check walks it: the QoS directories listed, every
 *                    pod directory listed, and the pod's and each container's memory, pids and
 *                    cpu files read (cgroup)
 *   pod logs         /var/log/pods/<pod>/<container>/<file>: every directory stat'ed and
 *                    listed, every file stat'ed (disk); one log per container, 256 containers
 *                    at most, its last 64 KiB read after a statfs of its directories
 *                    (prev_log); /var/log/containers links read
 *   pod volumes      /var/lib/kubelet/pods/<uid>/volumes/<plugin>/<volume> listed, emptyDirs
 *                    walked (disk)
 *   kernel ring      /dev/kmsg, non-blocking, one record per read (kmsg)
 *
 * Left out: the CRI socket (check asks the runtime over gRPC when a socket exists; a C floor
 * cannot fairly stand in for that conversation) and check's probes of files this node does
 * not have (the distribution detection tries dozens of paths; bench/reads.sh lists them as
 * `absent`, apart).
 *
 * Build: cc -O2 -o target/bench/floor bench/floor.c */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#define BUF (1 << 16)
static char buf[BUF];
static unsigned long long total;

/* `a/b` into out; 0 (and the entry skipped) when it does not fit. */
static int pjoin(char *out, size_t n, const char *a, const char *b) {
    int w = snprintf(out, n, "%s/%s", a, b);
    return w > 0 && (size_t)w < n;
}

/* Reads a file to its end; returns the bytes read, -1 if it could not be opened. */
static long long slurp(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return -1;
    long long got = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) got += n;
    close(fd);
    total += (unsigned long long)got;
    return got;
}

static long long slurpf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long slurpf(const char *fmt, ...) {
    char p[4096];
    __builtin_va_list ap;
    __builtin_va_start(ap, fmt);
    vsnprintf(p, sizeof p, fmt, ap);
    __builtin_va_end(ap);
    return slurp(p);
}

/* The last 64 KiB of a file (a log tail). */
static void tail(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return;
    struct stat st;
    off_t from = 0;
    if (fstat(fd, &st) == 0 && st.st_size > BUF) from = st.st_size - BUF;
    ssize_t n;
    while ((n = pread(fd, buf, sizeof buf, from)) > 0) {
        total += (unsigned long long)n;
        from += n;
    }
    close(fd);
}

static void stat_path(const char *path) {
    struct stat st;
    if (lstat(path, &st) == 0) total += (unsigned long long)st.st_size & 1;
}

static void statfs_path(const char *path) {
    struct statfs s;
    if (statfs(path, &s) == 0) total += (unsigned long long)s.f_bfree & 1;
}

/* Each entry of a directory (not . and ..), with its d_type; returns -1 if unreadable. */
typedef void (*each_fn)(const char *dir, const struct dirent *e, void *arg);
static int each(const char *dir, each_fn fn, void *arg) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2]))) continue;
        if (fn) fn(dir, e, arg);
    }
    closedir(d);
    return 0;
}

static void list(const char *dir) { each(dir, NULL, NULL); }

/* ---- node files ---- */

static const char *NODE_READS[] = {
    "/proc/sys/kernel/hostname", "/proc/sys/kernel/osrelease", "/proc/uptime", "/proc/loadavg",
    "/proc/meminfo", "/proc/vmstat", "/proc/swaps", "/proc/pressure/cpu", "/proc/pressure/memory",
    "/proc/pressure/io", "/proc/sys/kernel/pid_max", "/proc/sys/kernel/threads-max",
    "/proc/sys/net/netfilter/nf_conntrack_count", "/proc/sys/net/netfilter/nf_conntrack_max",
    "/proc/1/net/stat/nf_conntrack", "/sys/devices/system/cpu/online",
    "/sys/fs/cgroup/cgroup.controllers", "/sys/fs/cgroup/unified/cgroup.controllers",
    "/etc/resolv.conf", "/etc/containerd/config.toml", "/etc/crio/crio.conf",
    "/etc/containers/storage.conf",
    /* the kubelet's files (absent on the bench machine; a real node has them) */
    "/var/lib/kubelet/config.yaml", "/var/lib/kubelet/kubeconfig", "/etc/kubernetes/kubelet.conf",
    "/var/lib/kubelet/kubeadm-flags.env", "/var/lib/kubelet/pki/kubelet.crt",
    "/var/lib/kubelet/pki/kubelet-client-current.pem",
    "/var/lib/kubelet/device-plugins/kubelet_internal_checkpoint", 0};

static const char *NODE_LISTS[] = {"/dev", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids",
                                   "/sys/fs/cgroup/cpu", "/etc/containerd", "/var/log/journal",
                                   "/run/log/journal", "/var/lib/kubelet/device-plugins", 0};

/* The ancestors check vets (root-owned, not group/world-writable) before it trusts a path. */
static const char *NODE_STATS[] = {"/", "/etc", "/proc", "/var", "/var/lib", "/var/lib/kubelet",
                                   "/var/log", "/var/log/pods", 0};
static const char *NODE_STATFS[] = {"/", "/proc", "/sys", "/var", "/var/lib", "/var/log",
                                    "/var/log/pods", 0};

/* GPUs: each PCI device's vendor (gpu). */
static void pci_device(const char *dir, const struct dirent *e, void *arg) {
    (void)arg;
    slurpf("%s/%s/vendor", dir, e->d_name);
}

static void node_files(void) {
    for (const char **p = NODE_READS; *p; p++) slurp(*p);
    for (const char **p = NODE_LISTS; *p; p++) list(*p);
    for (const char **p = NODE_STATS; *p; p++) stat_path(*p);
    for (const char **p = NODE_STATFS; *p; p++) statfs_path(*p);
    each("/sys/bus/pci/devices", pci_device, NULL);
}

/* ---- statvfs of the mounts check keeps (src/collect/mounts.rs VIRTUAL_FS, PER_WORKLOAD_PREFIXES) ---- */

static const char *VIRTUAL_FS[] = {"proc", "sysfs", "cgroup", "cgroup2", "devpts", "mqueue", "debugfs",
                                   "tracefs", "securityfs", "pstore", "bpf", "configfs", "fusectl",
                                   "autofs", "binfmt_misc", "hugetlbfs", "nsfs", "rpc_pipefs", "overlay",
                                   "efivarfs", "selinuxfs", "ramfs", "squashfs", "nfsd",
                                   "fuse.gvfsd-fuse", "fuse.lxcfs", "devtmpfs", "shm", 0};
static const char *PER_WORKLOAD[] = {"/proc/", "/sys/", "/run/containerd/", "/run/netns/",
                                     "/var/run/netns/", "/run/containers/storage/",
                                     "/var/lib/containers/storage/overlay", "/var/lib/docker/",
                                     "/var/lib/kubelet/pods/", "/var/lib/containerd/io.containerd.",
                                     "/run/k3s/containerd/", 0};

static int kept_mount(const char *mp, const char *fs) {
    int nfs_or_fuse = !strncmp(fs, "nfs", 3) || !strncmp(fs, "fuse", 4);
    int virtual = 0;
    for (const char **v = VIRTUAL_FS; *v; v++) virtual |= !strcmp(*v, fs);
    if (virtual && !nfs_or_fuse) return 0;
    if (!strcmp(mp, "/proc") || !strcmp(mp, "/sys")) return nfs_or_fuse;
    for (const char **p = PER_WORKLOAD; *p; p++)
        if (!strncmp(mp, *p, strlen(*p))) return 0;
    return 1;
}

static void mounts(void) {
    FILE *m = fopen("/proc/1/mountinfo", "re");
    if (!m) return;
    char line[8192];
    while (fgets(line, sizeof line, m)) {
        /* "36 35 98:0 /mnt1 /mnt1 rw,noatime master:1 - ext3 /dev/root rw" (proc(5)) */
        char mp[4096], fs[256];
        const char *dash = strstr(line, " - ");
        if (!dash || sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 || sscanf(dash + 3, "%255s", fs) != 1)
            continue;
        if (kept_mount(mp, fs)) statfs_path(mp);
    }
    fclose(m);
}

/* ---- processes ---- */

static char seen_pods[4096][40];
static int n_seen_pods;

/* The pod uid in a /proc/<pid>/cgroup text ("pod<uid>" in cgroupfs paths, "pod<uid_>" in
 * systemd slices), copied into `out`; 0 when the process is in no pod. */
static int pod_of(const char *cgroup, char *out) {
    const char *p = strstr(cgroup, "kubepods");
    if (!p || !(p = strstr(p + 8, "pod"))) return 0;
    p += 3;
    size_t n = strcspn(p, "/.\n");
    if (n < 32 || n > 39) return 0;
    memcpy(out, p, n);
    out[n] = 0;
    return 1;
}

static void fd_table(const char *pid) {
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%s/fd", pid);
    DIR *d = opendir(dir);
    if (!d) return;
    int at = dirfd(d);
    struct dirent *e;
    char target[4096];
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        ssize_t n = readlinkat(at, e->d_name, target, sizeof target - 1);
        if (n <= 0) continue;
        target[n] = 0;
        total += (unsigned long long)n;
        /* A deleted file: its size, through the link (which reaches the open inode). */
        if (n > 10 && !strcmp(target + n - 10, " (deleted)")) {
            struct stat st;
            if (fstatat(at, e->d_name, &st, 0) == 0) total += (unsigned long long)st.st_size & 1;
        }
    }
    closedir(d);
}

static void process(const char *pid) {
    slurpf("/proc/%s/stat", pid);
    slurpf("/proc/%s/status", pid);
    long long cmdline = slurpf("/proc/%s/cmdline", pid);
    /* the cgroup text is kept (in buf) to find the process's pod */
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/cgroup", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char cg[4096];
    ssize_t n = 0;
    if (fd >= 0) {
        n = read(fd, cg, sizeof cg - 1);
        ssize_t more;
        while ((more = read(fd, buf, sizeof buf)) > 0) total += (unsigned long long)more;
        close(fd);
    }
    cg[n > 0 ? n : 0] = 0;
    total += (unsigned long long)(n > 0 ? n : 0);
    slurpf("/proc/%s/oom_score", pid);
    slurpf("/proc/%s/oom_score_adj", pid);
    if (cmdline > 0) fd_table(pid); /* kernel threads hold no files */
    /* The first process of each pod (check takes the lowest pid): its resolver and mounts. */
    char uid[40];
    if (pod_of(cg, uid)) {
        for (int i = 0; i < n_seen_pods; i++)
            if (!strcmp(seen_pods[i], uid)) return;
        if (n_seen_pods < 4096) strcpy(seen_pods[n_seen_pods++], uid);
        slurpf("/proc/%s/mountinfo", pid);
        slurpf("/proc/%s/root/etc/resolv.conf", pid);
    }
}

/* Numeric entries of /proc in ascending pid order (readdir of /proc is already in that order). */
static void processes(void) {
    DIR *d = opendir("/proc");
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] >= '1' && e->d_name[0] <= '9') process(e->d_name);
    closedir(d);
}

/* ---- cgroups ---- */

static const char *V1_MEMORY[] = {"memory.usage_in_bytes", "memory.limit_in_bytes",
                                  "memory.max_usage_in_bytes", "memory.failcnt", "memory.stat",
                                  "memory.oom_control", 0};
static const char *V1_CPU[] = {"cpu.stat", "cpu.cfs_quota_us", "cpu.cfs_period_us", 0};
static const char *V2_FILES[] = {"memory.current", "memory.max", "memory.peak", "memory.stat",
                                 "memory.events", "pids.current", "pids.max", "cpu.stat", "cpu.max", 0};

struct layout {
    int v2;
    char cpu_root[64];
};
static struct layout L;

/* The files check reads of one cgroup, `rel` below the hierarchy roots. */
static void cgroup_files(const char *rel) {
    if (L.v2) {
        for (const char **f = V2_FILES; *f; f++) slurpf("/sys/fs/cgroup%s/%s", rel, *f);
        return;
    }
    for (const char **f = V1_MEMORY; *f; f++) slurpf("/sys/fs/cgroup/memory%s/%s", rel, *f);
    slurpf("/sys/fs/cgroup/pids%s/pids.current", rel);
    slurpf("/sys/fs/cgroup/pids%s/pids.max", rel);
    if (L.cpu_root[0]) {
        for (const char **f = V1_CPU; *f; f++) slurpf("%s%s/%s", L.cpu_root, rel, *f);
        slurpf("/sys/fs/cgroup/cpuacct%s/cpuacct.usage", rel);
    }
}

static void container(const char *dir, const struct dirent *e, void *arg) {
    (void)dir;
    if (e->d_type != DT_DIR) return;
    char rel[1024];
    if (!pjoin(rel, sizeof rel, (const char *)arg, e->d_name)) return;
    cgroup_files(rel);
}

/* A pod's cgroup: listed (its containers), then its files and each container's. */
static void pod(const char *rel) {
    char dir[1200];
    snprintf(dir, sizeof dir, "/sys/fs/cgroup%s%s", L.v2 ? "" : "/memory", rel);
    cgroup_files(rel);
    each(dir, container, (void *)rel);
}

static void pod_or_qos(const char *dir, const struct dirent *e, void *arg) {
    (void)dir;
    if (e->d_type != DT_DIR) return;
    char rel[1024];
    if (!pjoin(rel, sizeof rel, (const char *)arg, e->d_name)) return;
    const char *n = e->d_name;
    int is_pod = !strncmp(n, "pod", 3) || strstr(n, "-pod") != NULL;
    int is_qos = !strcmp(n, "burstable") || !strcmp(n, "besteffort") || !strcmp(n, "kubepods-burstable.slice") ||
                 !strcmp(n, "kubepods-besteffort.slice");
    if (is_pod) {
        pod(rel);
    } else if (is_qos) {
        char sub[1200];
        snprintf(sub, sizeof sub, "/sys/fs/cgroup%s%s", L.v2 ? "" : "/memory", rel);
        each(sub, pod_or_qos, rel);
    }
}

static void cgroups(void) {
    L.v2 = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
    const char *kubepods = L.v2 ? "/kubepods.slice" : "/kubepods";
    if (!L.v2) {
        if (access("/sys/fs/cgroup/cpu,cpuacct", F_OK) == 0)
            strcpy(L.cpu_root, "/sys/fs/cgroup/cpu,cpuacct");
        else if (access("/sys/fs/cgroup/cpu", F_OK) == 0)
            strcpy(L.cpu_root, "/sys/fs/cgroup/cpu");
        slurp("/sys/fs/cgroup/memory/memory.stat");
        slurp("/sys/fs/cgroup/memory/memory.usage_in_bytes");
    } else {
        slurp("/sys/fs/cgroup/memory.stat");
    }
    cgroup_files(kubepods);
    char dir[256];
    snprintf(dir, sizeof dir, "/sys/fs/cgroup%s%s", L.v2 ? "" : "/memory", kubepods);
    each(dir, pod_or_qos, (void *)kubepods);
}

/* ---- pod logs and pod volumes ---- */

/* A walk as check's: each directory stat'ed and listed, each file stat'ed. */
static void walk(const char *path);
static void walk_entry(const char *dir, const struct dirent *e, void *arg) {
    (void)arg;
    char p[4096];
    if (!pjoin(p, sizeof p, dir, e->d_name)) return;
    if (e->d_type == DT_DIR)
        walk(p);
    else
        stat_path(p);
}
static void walk(const char *path) {
    stat_path(path);
    each(path, walk_entry, NULL);
}

/* The log tails check reads: one `<n>.log` per container, 256 containers at most
 * (src/collect/prev_log.rs MAX_CONTAINERS), each after a statfs of its pod's and its
 * container's directory (the vetting of the path). */
#define MAX_TAILS 256
static int tails_left = MAX_TAILS;

static void log_file(const char *dir, const struct dirent *e, void *arg) {
    int *done = arg;
    size_t n = strlen(e->d_name);
    if (*done || e->d_type != DT_REG || n < 5 || strcmp(e->d_name + n - 4, ".log")) return;
    char p[4096];
    if (!pjoin(p, sizeof p, dir, e->d_name)) return;
    tail(p);
    *done = 1;
}

static void container_logs(const char *dir, const struct dirent *e, void *arg) {
    (void)arg;
    if (e->d_type != DT_DIR || tails_left <= 0) return;
    char p[4096];
    if (!pjoin(p, sizeof p, dir, e->d_name)) return;
    tails_left--;
    statfs_path(dir);
    statfs_path(p);
    int done = 0;
    each(p, log_file, &done);
}

/* A pod's log directory: walked (its size), then its containers' tails read. */
static void pod_log(const char *dir, const struct dirent *e, void *arg) {
    (void)arg;
    if (e->d_type != DT_DIR) return;
    char p[4096];
    if (!pjoin(p, sizeof p, dir, e->d_name)) return;
    walk(p);
    if (tails_left > 0) each(p, container_logs, NULL);
}

static void container_link(const char *dir, const struct dirent *e, void *arg) {
    (void)arg;
    char p[4096], t[4096];
    if (!pjoin(p, sizeof p, dir, e->d_name)) return;
    ssize_t n = readlink(p, t, sizeof t);
    if (n > 0) total += (unsigned long long)n;
}

static void volume(const char *dir, const struct dirent *e, void *arg) {
    char p[4096];
    if (!pjoin(p, sizeof p, dir, e->d_name)) return;
    if (*(int *)arg) walk(p); /* an emptyDir: walked for its size */
}

static void plugin(const char *dir, const struct dirent *e, void *arg) {
    (void)arg;
    char p[4096];
    if (!pjoin(p, sizeof p, dir, e->d_name)) return;
    int empty_dir = !strcmp(e->d_name, "kubernetes.io~empty-dir");
    each(p, volume, &empty_dir);
}

static void pod_dir(const char *dir, const struct dirent *e, void *arg) {
    (void)arg;
    char p[4096];
    snprintf(p, sizeof p, "%s/%s/volumes", dir, e->d_name);
    each(p, plugin, NULL);
}

static void pods(void) {
    each("/var/log/pods", pod_log, NULL);
    each("/var/log/containers", container_link, NULL);
    each("/var/lib/kubelet/pods", pod_dir, NULL);
}

/* ---- the kernel ring ---- */

static void kmsg(void) {
    int k = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (k < 0) return;
    static char rec[16 * 1024]; /* a record is at most 8 KiB (CONSOLE_EXT_LOG_MAX) */
    for (;;) {
        ssize_t n = read(k, rec, sizeof rec);
        if (n > 0) {
            total += (unsigned long long)n;
            continue;
        }
        if (n < 0 && errno == EPIPE) continue; /* records overwritten while reading */
        break;
    }
    close(k);
}

int main(void) {
    node_files();
    mounts();
    processes();
    cgroups();
    pods();
    kmsg();
    printf("%llu bytes\n", total);
    return 0;
}
