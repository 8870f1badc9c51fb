/* SPDX-License-Identifier: MIT */
/*
 * sizing: how much memory one configured engine of a model will take, and
 * where that figure comes from.
 *
 * In order of trust: the size the config declares (`memory`); an estimate
 * from the model file itself (GGUF header or safetensors headers, with the
 * context, slots, KV type and offload read from the engine's command line);
 * the catalog's size for the format the engine serves (NIM: NVFP4 where
 * published, vLLM: BF16, llama.cpp and Ollama: Q4_K_M); else unknown.
 *
 * DESIGN
 * sizing_engine() reads files and so blocks: the daemon runs it on the
 * worker pool; `hermod plan` calls it directly. It touches no shared state.
 */
#ifndef HERMOD_SIZING_H
#define HERMOD_SIZING_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"

enum sizing_source {
    SIZING_UNKNOWN,
    SIZING_DECLARED,
    SIZING_FILE,      /* estimated from the model file */
    SIZING_CATALOG,   /* the catalog's size for the engine's format */
};

struct sizing {
    uint64_t bytes;
    enum sizing_source source;
    char detail[160];   /* "GGUF qwen3moe, ctx 4096 x 8 slots", "catalog NVFP4 (seed)" */
    char file_error[256]; /* the engine's model file is not a model: why, or "" */
};

/* The catalog entry a model refers to (its `catalog:`, else its name or an
 * alias), or NULL. */
const struct catalog_entry *sizing_catalog_entry(const struct config_model *m);

/* Sizes engine e of model m. have_gpu: whether this machine has a GPU
 * (without one, llama.cpp runs on the CPU whatever -ngl says, and there is
 * no CUDA context to count). Never fails: unknown is bytes 0. */
void sizing_engine(const struct config_model *m, const struct config_engine *e, bool have_gpu,
                   struct sizing *out);

const char *sizing_source_name(enum sizing_source s);

#endif
