/* SPDX-License-Identifier: MIT */
/*
 * sysmem: how much memory the machine has and what processes really use,
 * and which process listens on a TCP port.
 *
 * System memory comes from /proc/meminfo. GPUs come from NVIDIA's NVML,
 * loaded at run time with dlopen("libnvidia-ml.so.1"), so hermod builds
 * and runs on machines without a GPU or driver (CI, laptops) and uses the
 * GPU where there is one. On unified-memory machines (DGX Spark's GB10,
 * Jetson) the GPU draws on system memory: there is one pool, and NVML's
 * framebuffer figures are not the budget.
 *
 * DESIGN
 * Reads only; no state but the dlopen'ed library. The calls read procfs or
 * ask the driver, which answer in microseconds, so the loop thread may use
 * them directly (rate-limited by the caller).
 */
#ifndef HERMOD_SYSMEM_H
#define HERMOD_SYSMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SYSMEM_MAX_GPUS 16

struct sysmem_gpu {
    char name[96];
    uint64_t total, used, free;
};

struct sysmem_info {
    uint64_t mem_total;      /* /proc/meminfo MemTotal */
    uint64_t mem_available;  /* MemAvailable */
    unsigned ngpus;
    struct sysmem_gpu gpu[SYSMEM_MAX_GPUS];
    bool unified;            /* GPU and CPU share system memory */
    bool nvml;               /* NVML answered */
};

/* Fills info. Never fails: what cannot be read is zero. */
void sysmem_probe(struct sysmem_info *info);

/* Resident memory (RSS, bytes) of pid and all its descendants, 0 if gone. */
uint64_t sysmem_tree_rss(int pid);

/* GPU memory used by pid and its descendants according to NVML (bytes),
 * summed over GPUs; 0 without NVML. */
uint64_t sysmem_tree_gpu(int pid);

/* Who holds the listening sockets on TCP port `port` (IPv4 and IPv6, any
 * local address) in this network namespace: the sockets by the kernel's
 * socket diagnostics (netlink; /proc/net/tcp where that fails), their
 * holders by /proc/PID/fd. Well under a millisecond when the engine's
 * tree holds them, also with 45,000 sockets open; a scan of every
 * process when it does not. */
enum sysmem_port_owner {
    SYSMEM_PORT_NONE,    /* /proc/net shows no listener on the port */
    SYSMEM_PORT_TREE,    /* one of them belongs to pid or a descendant */
    SYSMEM_PORT_OTHER,   /* held by another process: *other_pid, other_comm */
    SYSMEM_PORT_UNKNOWN, /* held, but by no process we may look into */
    /* Held by a container runtime's port forwarder (docker-proxy,
     * rootlessport, conmon, pasta, slirp4netns) or by a process under a
     * container shim (containerd-shim*, conmon: a container on the host's
     * network): a container's, not judged. *other_pid, other_comm set. */
    SYSMEM_PORT_CONTAINER,
};

/* other_comm gets at least 16 bytes (a kernel comm is 15 and a NUL). */
enum sysmem_port_owner sysmem_port_owner(int port, int pid, int *other_pid, char *other_comm,
                                         size_t comm_size);

/* Test hook: reads meminfo from this file instead of /proc/meminfo. */
void sysmem_set_meminfo_path(const char *path);

#endif
