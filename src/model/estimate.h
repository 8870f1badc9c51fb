/* SPDX-License-Identifier: MIT */
/*
 * estimate: how much memory an inference engine will take for a model,
 * before starting it, and what the engine said it took once it started.
 *
 * For a GGUF file the estimate follows llama.cpp (llama-server) with full
 * or partial offload to one CUDA device:
 *
 *   weights_gpu   tensors of offloaded layers and the output layer, each
 *                 padded as the CUDA backend allocates them
 *   weights_cpu   the input layer (token_embd stays in host memory even with
 *                 full offload) and layers not offloaded
 *   kv            K and V cache of the attention layers only
 *   recurrent     fixed per-sequence state of Mamba/RWKV layers (hybrid
 *                 models such as Nemotron-H), from the ssm.* keys
 *   compute       the device compute buffer (a calibrated formula)
 *   compute_host  the host compute buffer plus the logits output buffer
 *   overhead      the CUDA context and runtime growth of the process
 *   total         the sum: on a unified-memory machine (DGX Spark) all of
 *                 it comes out of the same pool
 *
 * For safetensors (vLLM, NIM) the weights are the tensor bytes and the KV
 * and recurrent state come from config.json; see docs/internals/estimate.md
 * for every formula, its constants and its expected error.
 *
 * DESIGN: pure computation on parsed headers; nothing here starts anything
 * or keeps state. estimate_path() and estimate_safetensors() read files
 * synchronously (headers only, bounded) and so belong off the loop thread
 * or at startup; estimate_parse_log_line() is cheap and may run on the loop
 * for every line an engine prints.
 */
#ifndef HERMOD_ESTIMATE_H
#define HERMOD_ESTIMATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/buf.h"
#include "model/gguf.h"

/* Per-process GPU overhead seen on the H100 anchor (research/gpu-anchor.md):
 * nvidia-smi minus llama.cpp's device buffers, 592 MiB after load, plus 106
 * MiB more after serving (cuBLAS workspaces, CUDA graphs). */
#define ESTIMATE_CUDA_CONTEXT_MIB 592
#define ESTIMATE_RUNTIME_GROWTH_MIB 106

enum estimate_flags {
    ESTIMATE_NO_FLASH_ATTN = 1 << 0, /* -fa off: attention scores are materialised */
    ESTIMATE_CTX_PER_SLOT = 1 << 1,  /* ctx is per slot (Ollama's num_ctx): cells = ctx x parallel */
};

struct estimate_params {
    uint32_t ctx;       /* context (llama-server -c, all slots); 0 = the trained context */
    uint32_t parallel;  /* slots / sequences (-np); 0 = 1 */
    uint32_t kv_type;   /* enum ggml_type of the K/V cache: F16 (default), Q8_0, Q4_0, ... */
    uint32_t ubatch;    /* physical batch (-ub); 0 = 512 */
    int32_t gpu_layers; /* -ngl; < 0 = all, 0 = CPU only */
    unsigned flags;     /* enum estimate_flags */
};

/* Defaults: trained context, 1 slot, F16 KV, ubatch 512, all layers on the GPU, flash attention. */
void estimate_params_init(struct estimate_params *p);

enum estimate_format {
    ESTIMATE_GGUF,
    ESTIMATE_SAFETENSORS,
    ESTIMATE_REPORT, /* from an engine's own log, see engine_report_breakdown() */
};

#define ESTIMATE_MIX_MAX 24

/* Bytes of weights per tensor type ("q4_K", "BF16"). */
struct estimate_mix {
    char type[16];
    uint64_t bytes;
    uint64_t tensors;
};

struct estimate {
    /* the breakdown, in bytes */
    uint64_t weights_gpu, weights_cpu, kv, recurrent, compute, compute_host, overhead, total;

    /* the inputs as resolved */
    uint32_t kv_cells;  /* KV cache size in tokens, padded as llama.cpp does */
    uint32_t parallel, ubatch, kv_type;
    int32_t gpu_layers; /* layers offloaded; n_layer + 1 means "and the output layer" */
    bool flash_attn;

    /* what the model is */
    enum estimate_format format;
    char arch[48];
    char name[96];
    uint64_t n_params;   /* tensor elements (packed 4-bit safetensors count bytes) */
    uint64_t file_bytes; /* all files */
    uint32_t n_files, n_tensors;
    uint32_t n_layer, n_attn_layers, n_recr_layers;
    uint32_t ctx_train, n_vocab, n_embd, n_expert, n_expert_used;
    struct estimate_mix mix[ESTIMATE_MIX_MAX];
    size_t nmix;
};

/*
 * Estimates a parsed GGUF file (one file; see estimate_path() for split
 * models). Fills *e and returns 0, or returns -EINVAL with a message in err
 * when a key the estimate needs is missing or inconsistent (no
 * block_count, a K row not a multiple of the KV type's block, no context
 * length and none given). Borrows g.
 */
int estimate_gguf(const struct gguf *g, const struct estimate_params *p, struct estimate *e,
                  struct buf *err);

/*
 * Estimates the GGUF parts of a split model (model-00001-of-00003.gguf ...):
 * the tensors of all parts, the metadata of the first. n >= 1.
 */
int estimate_gguf_parts(const struct gguf *const *parts, size_t n,
                        const struct estimate_params *p, struct estimate *e, struct buf *err);

/*
 * Estimates a safetensors model: one *.safetensors file or a directory of
 * them, plus config.json beside them when present (without it the KV cache
 * and recurrent state are 0). Each file's JSON header is bounded (100 MB)
 * and checked against the file size. Returns 0 or a negative errno with a
 * message in err.
 */
int estimate_safetensors(const char *path, const struct estimate_params *p, struct estimate *e,
                         struct buf *err);

/*
 * Estimates whatever `path` is: a directory (safetensors), a *.safetensors
 * file, or a GGUF file (all parts of a split GGUF, found beside it).
 */
int estimate_path(const char *path, const struct estimate_params *p, struct estimate *e,
                  struct buf *err);

/* ------------------------------------------------- what engines report */

enum engine_report_seen {
    ENGINE_REPORT_MODEL = 1 << 0,
    ENGINE_REPORT_KV = 1 << 1,
    ENGINE_REPORT_RS = 1 << 2,
    ENGINE_REPORT_COMPUTE = 1 << 3,
    ENGINE_REPORT_OUTPUT = 1 << 4,
    ENGINE_REPORT_OFFLOAD = 1 << 5,
    ENGINE_REPORT_VLLM_MODEL = 1 << 6,
    ENGINE_REPORT_VLLM_KV = 1 << 7,
    ENGINE_REPORT_VLLM_BLOCKS = 1 << 8,
    ENGINE_REPORT_VLLM_TOKENS = 1 << 9,
    ENGINE_REPORT_DEVICE_FREE = 1 << 10,
};

/*
 * Memory an engine reported while loading one model, in bytes. "dev" is a
 * device buffer (CUDA0, ROCm0, Vulkan0, MTL0), "host" a host one (CPU,
 * CPU_Mapped, CUDA_Host). Buffers of the same kind add up.
 */
struct engine_report {
    uint64_t model_dev, model_host;
    uint64_t kv_dev, kv_host;
    uint64_t rs_dev, rs_host;
    uint64_t compute_dev, compute_host;
    uint64_t output_dev, output_host;
    int32_t layers_offloaded, layers_total;
    uint64_t device_free;    /* "using device CUDA0 (...) - N MiB free" (the last one) */
    /* vLLM */
    uint64_t vllm_model;     /* "Model loading took X GiB" */
    uint64_t vllm_kv;        /* "Available KV cache memory: X GiB" */
    uint64_t vllm_gpu_blocks;/* "# GPU blocks: N" */
    uint64_t vllm_kv_tokens; /* "GPU KV cache size: N tokens" */
    unsigned seen;           /* enum engine_report_seen */
};

void engine_report_init(struct engine_report *r);

/*
 * Recognises one line of an engine's output (llama-server/Ollama or vLLM;
 * with or without a trailing newline and log prefix) and adds what it says
 * to r. Returns 1 when the line carried a figure, 0 otherwise. Lines marked
 * "(projected)" (a dry run) are ignored. Feed the lines of one engine start
 * only: figures add up.
 */
int estimate_parse_log_line(const char *line, struct engine_report *r);

/*
 * The report as a breakdown comparable with an estimate (format
 * ESTIMATE_REPORT; overhead 0, since engines do not print it).
 */
void engine_report_breakdown(const struct engine_report *r, struct estimate *e);

#endif
