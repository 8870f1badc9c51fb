/* SPDX-License-Identifier: MIT */
/*
 * gguf_model: model shapes ("presets") and the code that turns one into the
 * metadata and tensor list llama.cpp's loader expects for its architecture,
 * for tools/gguf-gen and the unit tests.
 *
 * Three llama.cpp architectures are covered, each with a full-size preset in
 * the shape of a real model and a tiny one for tests:
 *
 *   llama           llama-8b (Llama-3-8B), tiny-llama
 *   qwen3moe        qwen3moe-30b-a3b (Qwen3-30B-A3B), tiny-qwen3moe
 *   nemotron_h_moe  nemotron-h (Nemotron 3 Nano 30B-A3B: hybrid Mamba-2 +
 *                   attention + MoE, 52 layers), tiny-nemotron-h
 *
 * Tensor names, shapes and keys follow llama.cpp's src/llama-arch.cpp and
 * the per-architecture load_tensors()/load_hparams() code (see
 * docs/internals/estimate.md for the sources of each shape).
 *
 * DESIGN
 *   - Big matrices get the requested type; when a row is not a multiple of
 *     that type's block they fall back as llama-quantize does (Q4_K -> Q5_0,
 *     Q6_K -> Q8_0, then F16). Norms, biases, routers and the small SSM
 *     tensors stay F32, as llama-quantize leaves them.
 *   - The tokenizer is either copied from a vocab-only GGUF (all
 *     "tokenizer.*" keys, token list padded with "[PADn]" to the preset's
 *     vocabulary) or synthesised: a SentencePiece ("llama") vocabulary with
 *     <unk>, <s>, </s>, the 256 byte tokens <0x00>..<0xFF> (which llama.cpp
 *     needs for byte fallback and its newline token), printable ASCII and
 *     padding.
 */
#ifndef HERMOD_GGUF_MODEL_H
#define HERMOD_GGUF_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf_write.h"
#include "lib/buf.h"

enum gm_arch {
    GM_LLAMA,
    GM_QWEN3MOE,
    GM_NEMOTRON_H_MOE,
};

struct gm_preset {
    const char *name;
    const char *desc;
    enum gm_arch arch;
    uint32_t n_layer, n_embd, n_head, n_head_kv, head_dim;
    uint32_t n_ff;            /* dense FFN (qwen3moe: the unused dense field) */
    uint32_t n_vocab;
    uint32_t ctx;             /* context_length key */
    float rope_base, rms_eps;
    /* MoE */
    uint32_t n_expert, n_expert_used, n_ff_exp, n_ff_shexp, n_expert_shared;
    float expert_scale;
    /* Mamba-2 (nemotron_h) */
    uint32_t ssm_conv, ssm_state, ssm_group, ssm_head, ssm_head_dim;
    /* nemotron_h layer pattern: M = Mamba-2, * = attention, E = MoE, - = MLP */
    const char *pattern;
};

/* The presets; NULL when `name` is unknown. */
const struct gm_preset *gm_preset_find(const char *name);
size_t gm_preset_count(void);
const struct gm_preset *gm_preset_at(size_t i);
/* The llama.cpp architecture name ("qwen3moe", "nemotron_h_moe"). */
const char *gm_arch_name(enum gm_arch a);

struct gm_options {
    uint32_t type;          /* weight type: GGML_TYPE_Q4_K (default), Q8_0, F16 ... */
    const char *vocab_path; /* vocab-only GGUF to copy the tokenizer from, or NULL */
    uint32_t layers;        /* 0 = the preset's; nemotron_h repeats its pattern */
    uint32_t ctx;           /* 0 = the preset's context_length */
    bool sparse;            /* gm_generate(): header only, data left a hole (gw_write_sparse) */
    unsigned threads;       /* gm_generate(): writer threads, 0 = gw_default_threads() */
};

/* Defaults: Q4_K, synthetic tokenizer, preset layers and context. */
void gm_options_init(struct gm_options *o);

/*
 * Adds the metadata and tensor infos of preset `p` with options `o` to `w`.
 * Returns 0, or -EINVAL / a negative errno (vocab file unreadable or not a
 * tokenizer) with a message in err. On failure `w` holds a partial model and
 * should be freed. *n_vocab_out (if not NULL) receives the vocabulary size
 * used, which is the vocab file's when that is larger than the preset's.
 */
int gm_build(const struct gm_preset *p, const struct gm_options *o, struct gw *w,
             uint32_t *n_vocab_out, struct buf *err);

/*
 * Writes a model built by gm_build() with options `o` (sparse, threads) to
 * `path`, through "path.tmp" and a rename. Returns 0 or a negative errno
 * with a message in err.
 */
int gm_write(struct gw *w, const struct gm_options *o, uint64_t seed, const char *path,
             struct buf *err);
/* gm_build() and gm_write(). */
int gm_generate(const struct gm_preset *p, const struct gm_options *o, uint64_t seed,
                const char *path, struct buf *err);

#endif
