/* SPDX-License-Identifier: MIT */
/*
 * sysmem: how much memory the machine has and what processes really use.
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

/* Test hook: reads meminfo from this file instead of /proc/meminfo. */
void sysmem_set_meminfo_path(const char *path);

#endif
