/* SPDX-License-Identifier: MIT */
/*
 * sysmem.c: /proc and NVML. See sysmem.h.
 *
 * The few NVML declarations below are the driver's stable C ABI (nvml.h),
 * restated so that the build needs no CUDA headers.
 */
#include "model/sysmem.h"

#include <ctype.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/xalloc.h"

typedef void *nvmlDevice_t;
typedef struct {
    unsigned long long total, free, used;
} nvmlMemory_t;
typedef struct {
    unsigned int pid;
    unsigned long long usedGpuMemory;
    unsigned int gpuInstanceId, computeInstanceId;
} nvmlProcessInfo_t;

static struct {
    bool tried, ok;
    void *lib;
    int (*init)(void);
    int (*count)(unsigned int *);
    int (*handle)(unsigned int, nvmlDevice_t *);
    int (*name)(nvmlDevice_t, char *, unsigned int);
    int (*meminfo)(nvmlDevice_t, nvmlMemory_t *);
    int (*procs)(nvmlDevice_t, unsigned int *, nvmlProcessInfo_t *);
} nv;

static const char *meminfo_path = "/proc/meminfo";

void sysmem_set_meminfo_path(const char *path)
{
    meminfo_path = path ? path : "/proc/meminfo";
}

static bool nvml_load(void)
{
    if (nv.tried)
        return nv.ok;
    nv.tried = true;
    nv.lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!nv.lib)
        return false;
#define SYM(field, name)                                                       \
    do {                                                                       \
        *(void **)&nv.field = dlsym(nv.lib, name);                             \
        if (!nv.field)                                                         \
            goto fail;                                                         \
    } while (0)
    SYM(init, "nvmlInit_v2");
    SYM(count, "nvmlDeviceGetCount_v2");
    SYM(handle, "nvmlDeviceGetHandleByIndex_v2");
    SYM(name, "nvmlDeviceGetName");
    SYM(meminfo, "nvmlDeviceGetMemoryInfo");
    /* v3 and v2 fill the record declared above; the unversioned symbol is
     * v1, whose record is smaller (no instance ids), and would be misread:
     * without v2 or v3 the per-process GPU figures are simply not taken. */
    *(void **)&nv.procs = dlsym(nv.lib, "nvmlDeviceGetComputeRunningProcesses_v3");
    if (!nv.procs)
        *(void **)&nv.procs = dlsym(nv.lib, "nvmlDeviceGetComputeRunningProcesses_v2");
#undef SYM
    if (nv.init() != 0)
        goto fail;
    nv.ok = true;
    return true;
fail:
    dlclose(nv.lib);
    nv.lib = NULL;
    return false;
}

static uint64_t meminfo_field(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    if (!p)
        return 0;
    p += strlen(key);
    while (*p == ' ' || *p == ':' || *p == '\t')
        p++;
    return strtoull(p, NULL, 10) * 1024;
}

void sysmem_probe(struct sysmem_info *info)
{
    memset(info, 0, sizeof(*info));
    FILE *f = fopen(meminfo_path, "r");
    if (f) {
        char text[8192];
        size_t n = fread(text, 1, sizeof(text) - 1, f);
        text[n] = '\0';
        fclose(f);
        info->mem_total = meminfo_field(text, "MemTotal");
        info->mem_available = meminfo_field(text, "MemAvailable");
    }
    if (!nvml_load())
        return;
    info->nvml = true;
    unsigned int count = 0;
    if (nv.count(&count) != 0)
        return;
    for (unsigned i = 0; i < count && i < SYSMEM_MAX_GPUS; i++) {
        nvmlDevice_t d;
        if (nv.handle(i, &d) != 0)
            continue;
        struct sysmem_gpu *g = &info->gpu[info->ngpus++];
        nv.name(d, g->name, sizeof(g->name));
        nvmlMemory_t m;
        if (nv.meminfo(d, &m) == 0) {
            g->total = m.total;
            g->used = m.used;
            g->free = m.free;
        }
        /* GB10 and Jetson have no framebuffer of their own: NVML reports
         * no memory (or "not supported"), or a GPU named so. */
        if (!g->total || strstr(g->name, "GB10") || strstr(g->name, "Orin") ||
            strstr(g->name, "Thor") || strstr(g->name, "Jetson"))
            info->unified = true;
    }
}

/* Adds pid and its descendants to out (at most max), via
 * /proc/PID/task/TID/children. */
static size_t tree(int pid, int *out, size_t n, size_t max)
{
    if (n >= max)
        return n;
    out[n++] = pid;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (!d)
        return n;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        char cpath[384];
        snprintf(cpath, sizeof(cpath), "/proc/%d/task/%s/children", pid, de->d_name);
        FILE *f = fopen(cpath, "r");
        if (!f)
            continue;
        int c;
        while (fscanf(f, "%d", &c) == 1)
            n = tree(c, out, n, max);
        fclose(f);
    }
    closedir(d);
    return n;
}

uint64_t sysmem_tree_rss(int pid)
{
    int pids[256];
    size_t n = pid > 0 ? tree(pid, pids, 0, ARRAY_SIZE(pids)) : 0;
    uint64_t total = 0;
    long page = sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < n; i++) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/statm", pids[i]);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        unsigned long size, resident;
        if (fscanf(f, "%lu %lu", &size, &resident) == 2)
            total += (uint64_t)resident * (uint64_t)page;
        fclose(f);
    }
    return total;
}

/*
 * The inodes of the listening TCP sockets of `family` on port, appended to
 * ino[*n..max), by the kernel's socket diagnostics (netlink, as ss asks):
 * a dump of listening sockets only, so its cost does not grow with the
 * connections open. Reading /proc/net/tcp instead took 225 ms with 40,000
 * sockets on the machine. Returns 0 or -errno (then /proc is read).
 */
static int listeners_diag(int family, int port, unsigned long *ino, size_t *n, size_t max)
{
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0)
        return -errno;
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 r;
    } req = {
        .nlh = {.nlmsg_len = sizeof(req),
                .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
        .r = {.sdiag_family = (uint8_t)family,
              .sdiag_protocol = IPPROTO_TCP,
              .idiag_states = 1u << TCP_LISTEN},
    };
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
    int rc = 0;
    if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    long buf[4096]; /* 32 KiB, aligned for the headers */
    for (bool done = false; !done;) {
        ssize_t got = recv(fd, buf, sizeof(buf), 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        if (!got) {
            rc = -EPROTO;
            break;
        }
        /* NLMSG_OK/NLMSG_NEXT by hand: the macros compare signed and
         * unsigned lengths. */
        char *p = (char *)buf;
        for (size_t left = (size_t)got, step; left >= sizeof(struct nlmsghdr);
             p += step, left -= step) {
            struct nlmsghdr *h = (struct nlmsghdr *)(void *)p;
            if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > left) {
                rc = -EPROTO;
                done = true;
                break;
            }
            step = NLMSG_ALIGN(h->nlmsg_len);
            if (step > left)
                step = left; /* the last one, unpadded */
            if (h->nlmsg_type == NLMSG_DONE) {
                done = true;
                break;
            }
            if (h->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = NLMSG_DATA(h);
                rc = e->error < 0 ? e->error : -EPROTO;
                done = true;
                break;
            }
            const struct inet_diag_msg *m = NLMSG_DATA(h);
            if (ntohs(m->id.idiag_sport) == port && m->idiag_inode && *n < max)
                ino[(*n)++] = m->idiag_inode;
        }
    }
    close(fd);
    return rc;
}

/* The same from the table `path` (/proc/net/tcp or tcp6). */
static void listeners(const char *path, int port, unsigned long *ino, size_t *n, size_t max)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    if (!fgets(line, sizeof(line), f)) { /* the header */
        fclose(f);
        return;
    }
    while (*n < max && fgets(line, sizeof(line), f)) {
        /* sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode */
        unsigned lport, st;
        unsigned long inode;
        if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %*u %*d %lu", &lport, &st,
                   &inode) == 3 &&
            st == 0x0A && (int)lport == port && inode)
            ino[(*n)++] = inode;
    }
    fclose(f);
}

/* Does process pid hold one of the sockets ino[0..n)? -1: cannot look. */
static int holds(int pid, const unsigned long *ino, size_t n)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *de;
    int found = 0;
    while (!found && (de = readdir(d))) {
        char fpath[320], link[64];
        if (de->d_name[0] == '.')
            continue;
        snprintf(fpath, sizeof(fpath), "%s/%s", path, de->d_name);
        ssize_t k = readlink(fpath, link, sizeof(link) - 1);
        unsigned long v;
        if (k <= 0)
            continue;
        link[k] = '\0';
        if (sscanf(link, "socket:[%lu]", &v) == 1)
            for (size_t i = 0; i < n && !found; i++)
                found = v == ino[i];
    }
    closedir(d);
    return found;
}

/* The parent and name of pid from /proc/PID/stat; -1 if gone. */
static int parent_of(int pid, char *comm, size_t comm_size)
{
    char path[64], line[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *ok = fgets(line, sizeof(line), f);
    fclose(f);
    /* "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses */
    char *open = ok ? strchr(line, '(') : NULL, *close = ok ? strrchr(line, ')') : NULL;
    int ppid;
    if (!open || !close || close < open || sscanf(close + 1, " %*c %d", &ppid) != 1)
        return -1;
    size_t n = (size_t)(close - open - 1);
    if (n >= comm_size)
        n = comm_size - 1;
    memcpy(comm, open + 1, n);
    comm[n] = '\0';
    return ppid;
}

/* Is pid (named comm) a container's: a runtime's port forwarder, or a
 * process with a container shim among its ancestors? */
static bool of_a_container(int pid, const char *comm)
{
    static const char *const forwarders[] = {"docker-proxy", "rootlessport", "rootlessport-ch",
                                             "conmon", "pasta", "slirp4netns"};
    for (size_t i = 0; i < ARRAY_SIZE(forwarders); i++)
        if (!strcmp(comm, forwarders[i]))
            return true;
    char name[64];
    for (int depth = 0; depth < 64 && pid > 1; depth++) {
        pid = parent_of(pid, name, sizeof(name));
        if (pid < 0)
            return false;
        if (!strncmp(name, "containerd-shim", 15) || !strcmp(name, "conmon"))
            return true;
    }
    return false;
}

enum sysmem_port_owner sysmem_port_owner(int port, int pid, int *other_pid, char *other_comm,
                                         size_t comm_size)
{
    unsigned long ino[16];
    size_t n = 0;
    if (listeners_diag(AF_INET, port, ino, &n, ARRAY_SIZE(ino)) < 0)
        listeners("/proc/net/tcp", port, ino, &n, ARRAY_SIZE(ino));
    if (listeners_diag(AF_INET6, port, ino, &n, ARRAY_SIZE(ino)) < 0)
        listeners("/proc/net/tcp6", port, ino, &n, ARRAY_SIZE(ino));
    if (!n)
        return SYSMEM_PORT_NONE;
    int pids[256];
    size_t np = pid > 0 ? tree(pid, pids, 0, ARRAY_SIZE(pids)) : 0;
    for (size_t i = 0; i < np; i++)
        if (holds(pids[i], ino, n) == 1)
            return SYSMEM_PORT_TREE;
    /* Not ours: whose, for the message (every process; only on this path). */
    DIR *d = opendir("/proc");
    if (!d)
        return SYSMEM_PORT_UNKNOWN;
    enum sysmem_port_owner r = SYSMEM_PORT_UNKNOWN;
    struct dirent *de;
    while (r == SYSMEM_PORT_UNKNOWN && (de = readdir(d))) {
        char *end;
        long q = strtol(de->d_name, &end, 10);
        if (*end || q <= 0 || q > INT_MAX || holds((int)q, ino, n) != 1)
            continue;
        r = SYSMEM_PORT_OTHER;
        *other_pid = (int)q;
        char path[64];
        snprintf(path, sizeof(path), "/proc/%ld/comm", q);
        FILE *f = fopen(path, "r");
        other_comm[0] = '\0';
        if (f) {
            if (fgets(other_comm, (int)comm_size, f))
                other_comm[strcspn(other_comm, "\n")] = '\0';
            fclose(f);
        }
        if (of_a_container((int)q, other_comm))
            r = SYSMEM_PORT_CONTAINER;
    }
    closedir(d);
    return r;
}

uint64_t sysmem_tree_gpu(int pid)
{
    if (pid <= 0 || !nvml_load() || !nv.procs)
        return 0;
    int pids[256];
    size_t n = tree(pid, pids, 0, ARRAY_SIZE(pids));
    unsigned int count = 0;
    uint64_t total = 0;
    if (nv.count(&count) != 0)
        return 0;
    for (unsigned g = 0; g < count; g++) {
        nvmlDevice_t d;
        if (nv.handle(g, &d) != 0)
            continue;
        nvmlProcessInfo_t procs[128];
        unsigned int np = ARRAY_SIZE(procs);
        if (nv.procs(d, &np, procs) != 0)
            continue;
        for (unsigned i = 0; i < np; i++)
            for (size_t k = 0; k < n; k++)
                if ((int)procs[i].pid == pids[k])
                    total += procs[i].usedGpuMemory;
    }
    return total;
}
