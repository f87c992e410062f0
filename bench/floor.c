/* The physical floor: read every file `nodescope check` reads on a live node, parse nothing,
 * judge nothing. Whatever nodescope costs above this is its own overhead.
 * Build: cc -O2 -o target/floor bench/floor.c */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

static char buf[1 << 16];
static unsigned long long total;

static void slurp(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) total += (unsigned long long)n;
    close(fd);
}

static void slurpf(const char *fmt, const char *a, const char *b) {
    char p[4096];
    snprintf(p, sizeof p, fmt, a, b);
    slurp(p);
}

/* Every cgroup directory below `dir`: the memory (or pids) files nodescope reads. */
static void walk_cgroup(const char *dir, const char **files) {
    for (const char **f = files; *f; f++) slurpf("%s/%s", dir, *f);
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
        walk_cgroup(sub, files);
    }
    closedir(d);
}

int main(void) {
    const char *node[] = {"/proc/sys/kernel/hostname", "/proc/sys/kernel/osrelease", "/proc/uptime",
                          "/proc/meminfo", "/proc/pressure/cpu", "/proc/pressure/memory", "/proc/pressure/io",
                          "/proc/sys/kernel/pid_max", "/proc/sys/kernel/threads-max", "/proc/loadavg",
                          "/proc/1/mountinfo", 0};
    for (const char **p = node; *p; p++) slurp(*p);

    /* statvfs of each mount point */
    FILE *m = fopen("/proc/1/mountinfo", "r");
    if (m) {
        char line[8192];
        while (fgets(line, sizeof line, m)) {
            char mp[4096];
            if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1) {
                struct statvfs s;
                statvfs(mp, &s);
            }
        }
        fclose(m);
    }

    /* processes */
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        const char *files[] = {"stat", "cmdline", "cgroup", "oom_score", "oom_score_adj", 0};
        for (const char **f = files; *f; f++) slurpf("/proc/%s/%s", e->d_name, *f);
    }
    if (d) closedir(d);

    /* cgroups: v1 memory and pids, or v2 */
    const char *v1mem[] = {"memory.usage_in_bytes", "memory.limit_in_bytes", "memory.max_usage_in_bytes",
                           "memory.failcnt", "memory.stat", "memory.oom_control", 0};
    const char *pids[] = {"pids.current", "pids.max", 0};
    const char *v2[] = {"memory.current", "memory.max", "memory.peak", "memory.stat", "memory.events",
                        "pids.current", "pids.max", 0};
    slurp("/sys/fs/cgroup/memory/memory.stat");
    slurp("/sys/fs/cgroup/memory/memory.usage_in_bytes");
    walk_cgroup("/sys/fs/cgroup/memory/kubepods", v1mem);
    walk_cgroup("/sys/fs/cgroup/pids/kubepods", pids);
    slurp("/sys/fs/cgroup/memory.stat");
    walk_cgroup("/sys/fs/cgroup/kubepods.slice", v2);

    /* pod identity */
    DIR *pl = opendir("/var/log/pods");
    while (pl && (e = readdir(pl))) total += strlen(e->d_name);
    if (pl) closedir(pl);
    DIR *cl = opendir("/var/log/containers");
    while (cl && (e = readdir(cl))) {
        char p[4096], t[4096];
        snprintf(p, sizeof p, "/var/log/containers/%s", e->d_name);
        ssize_t n = readlink(p, t, sizeof t);
        if (n > 0) total += (unsigned long long)n;
    }
    if (cl) closedir(cl);
    slurp("/var/lib/kubelet/config.yaml");

    /* the kernel ring, non-blocking, one record per read */
    int k = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
    if (k >= 0) {
        ssize_t n;
        for (;;) {
            n = read(k, buf, sizeof buf);
            if (n > 0) { total += (unsigned long long)n; continue; }
            if (n < 0 && errno == EPIPE) continue;
            break;
        }
        close(k);
    }
    printf("%llu bytes\n", total);
    return 0;
}
