/* SPDX-License-Identifier: MIT */
/*
 * estimate_int.h: what estimate.c (GGUF, engine logs, paths) and
 * estimate_st.c (safetensors) share. Not for other modules.
 */
#ifndef HERMOD_ESTIMATE_INT_H
#define HERMOD_ESTIMATE_INT_H

#include "model/estimate.h"

#define MIB (1024ull * 1024ull)
#define ESTIMATE_DEFAULT_UBATCH 512
/* llama.cpp pads the context to this (llama-context.cpp, GGML_PAD(n_ctx, 256)) */
#define ESTIMATE_CTX_PAD 256

/* The dimensions the compute-buffer formula needs (0 = absent). */
struct estimate_shape {
    uint32_t n_embd, n_vocab;
    uint32_t n_head, n_head_kv, head_k, head_v; /* maxima over attention layers */
    uint32_t n_ff;                              /* largest dense FFN */
    uint32_t n_expert, n_expert_used, n_ff_exp, n_ff_shexp;
    uint32_t ssm_conv, ssm_inner, ssm_state, ssm_group, ssm_head;
    bool has_attn, has_dense, has_moe, has_ssm;
};

/* Zeroes e and records the resolved parameters p. */
void estimate__init(struct estimate *e, const struct estimate_params *p);
/* Adds bytes of one tensor of `type` to the mix. */
void estimate__mix_add(struct estimate *e, const char *type, uint64_t bytes);
/* Sets compute and compute_host from the shape (docs/internals/estimate.md). */
void estimate__compute(const struct estimate_shape *s, struct estimate *e);
/* Recurrent state bytes of one Mamba(-2) layer for one sequence (F32). */
uint64_t estimate__mamba_state(uint32_t d_conv, uint32_t d_inner, uint32_t d_state,
                               uint32_t n_group);
/* Sets overhead (when anything is on the GPU) and total. */
void estimate__finish(struct estimate *e);

#endif
