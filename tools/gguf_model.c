/* SPDX-License-Identifier: MIT */
/* gguf_model.c: see gguf_model.h. */
#include "gguf_model.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/xalloc.h"
#include "model/gguf.h"

/*
 * Sources of the full-size shapes:
 *   llama-8b: Meta-Llama-3-8B config (4096 hidden, 32 layers, 32/8 heads,
 *     14336 FFN, 128256 vocab, rope theta 5e5, 8192 context).
 *   qwen3moe-30b-a3b: research/gpu-anchor.md (the shape that loaded on an
 *     H100: 48 layers, 2048 hidden, 32/4 heads of 128, 128 experts / 8 used,
 *     expert FFN 768, dense field 6144, vocab 151936, context 40960).
 *   nemotron-h: NVIDIA-NeMo/Megatron-Bridge nemotron_h_provider.py
 *     (Nemotron3NanoProvider: pattern, 2688 hidden, 32 heads / 2 KV groups of
 *     128, Mamba 64 heads x 64, state 128, 8 groups, 128 experts top-6, expert
 *     FFN 1856, shared 3712, scaling 2.5) and the HF config.json as quoted in
 *     public code (vocab 131072, conv kernel 4, rms eps 1e-5); context_length
 *     2^20 as convert_hf_to_gguf.py writes for NemotronH without RoPE.
 */
static const struct gm_preset presets[] = {
    {
        .name = "qwen3moe-30b-a3b",
        .desc = "Qwen3-30B-A3B shape (48 layers, 128 experts / 8 used)",
        .arch = GM_QWEN3MOE,
        .n_layer = 48, .n_embd = 2048, .n_head = 32, .n_head_kv = 4, .head_dim = 128,
        .n_ff = 6144, .n_vocab = 151936, .ctx = 40960, .rope_base = 1e6f, .rms_eps = 1e-6f,
        .n_expert = 128, .n_expert_used = 8, .n_ff_exp = 768,
    },
    {
        .name = "llama-8b",
        .desc = "Llama-3-8B shape (dense, 32 layers)",
        .arch = GM_LLAMA,
        .n_layer = 32, .n_embd = 4096, .n_head = 32, .n_head_kv = 8, .head_dim = 128,
        .n_ff = 14336, .n_vocab = 128256, .ctx = 8192, .rope_base = 5e5f, .rms_eps = 1e-5f,
    },
    {
        .name = "nemotron-h",
        .desc = "Nemotron 3 Nano 30B-A3B shape (52 layers: 23 Mamba-2, 23 MoE, 6 attention)",
        .arch = GM_NEMOTRON_H_MOE,
        .n_layer = 52, .n_embd = 2688, .n_head = 32, .n_head_kv = 2, .head_dim = 128,
        .n_ff = 1856, .n_vocab = 131072, .ctx = 1u << 20, .rms_eps = 1e-5f,
        .n_expert = 128, .n_expert_used = 6, .n_ff_exp = 1856, .n_ff_shexp = 3712,
        .n_expert_shared = 1, .expert_scale = 2.5f,
        .ssm_conv = 4, .ssm_state = 128, .ssm_group = 8, .ssm_head = 64, .ssm_head_dim = 64,
        .pattern = "MEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEM*EMEMEMEM*EMEMEMEME",
    },
    {
        .name = "tiny-qwen3moe",
        .desc = "qwen3moe, 2 layers of 256, 4 experts / 2 used (tests)",
        .arch = GM_QWEN3MOE,
        .n_layer = 2, .n_embd = 256, .n_head = 4, .n_head_kv = 2, .head_dim = 64,
        .n_ff = 512, .n_vocab = 512, .ctx = 4096, .rope_base = 1e6f, .rms_eps = 1e-6f,
        .n_expert = 4, .n_expert_used = 2, .n_ff_exp = 256,
    },
    {
        .name = "tiny-llama",
        .desc = "llama, 2 layers of 256 (tests)",
        .arch = GM_LLAMA,
        .n_layer = 2, .n_embd = 256, .n_head = 4, .n_head_kv = 2, .head_dim = 64,
        .n_ff = 512, .n_vocab = 512, .ctx = 2048, .rope_base = 5e5f, .rms_eps = 1e-5f,
    },
    {
        .name = "tiny-nemotron-h",
        .desc = "nemotron_h_moe, pattern MEM*E, 256 wide (tests)",
        .arch = GM_NEMOTRON_H_MOE,
        .n_layer = 5, .n_embd = 256, .n_head = 4, .n_head_kv = 2, .head_dim = 64,
        .n_ff = 128, .n_vocab = 512, .ctx = 8192, .rms_eps = 1e-5f,
        .n_expert = 4, .n_expert_used = 2, .n_ff_exp = 128, .n_ff_shexp = 256,
        .n_expert_shared = 1, .expert_scale = 2.5f,
        .ssm_conv = 4, .ssm_state = 16, .ssm_group = 2, .ssm_head = 8, .ssm_head_dim = 32,
        .pattern = "MEM*E",
    },
};

const struct gm_preset *gm_preset_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(presets); i++)
        if (strcmp(presets[i].name, name) == 0)
            return &presets[i];
    if (strcmp(name, "nemotron-3-nano-30b-a3b") == 0)
        return gm_preset_find("nemotron-h");
    return NULL;
}

size_t gm_preset_count(void)
{
    return ARRAY_SIZE(presets);
}

const struct gm_preset *gm_preset_at(size_t i)
{
    return i < ARRAY_SIZE(presets) ? &presets[i] : NULL;
}

const char *gm_arch_name(enum gm_arch a)
{
    switch (a) {
    case GM_LLAMA:
        return "llama";
    case GM_QWEN3MOE:
        return "qwen3moe";
    case GM_NEMOTRON_H_MOE:
        return "nemotron_h_moe";
    }
    return "?";
}

void gm_options_init(struct gm_options *o)
{
    memset(o, 0, sizeof(*o));
    o->type = GGML_TYPE_Q4_K;
}

/* ---------------------------------------------------------------- helpers */

struct ctx {
    const struct gm_preset *p;
    const struct gm_options *o;
    struct gw *w;
    struct buf *err;
    const char *arch;
    uint32_t n_vocab;
    char key[128]; /* the last arch_key() */
};

static const struct gw_fill W_RANDOM = {GW_FILL_RANDOM, 0.02f, 0};
static const struct gw_fill W_ONES = {GW_FILL_CONST, 1.0f, 0};
static const struct gw_fill W_ZERO = {GW_FILL_CONST, 0.0f, 0};

/* The type a big matrix with rows of ne0 gets, after llama-quantize's fallbacks. */
static uint32_t matrix_type(uint32_t want, int64_t ne0)
{
    uint32_t t = want;
    for (int i = 0; i < 3; i++) {
        if ((uint64_t)ne0 % gguf_type_block_elems(t) == 0)
            return t;
        switch (t) {
        case GGML_TYPE_Q4_K:
            t = GGML_TYPE_Q5_0;
            break;
        case GGML_TYPE_Q6_K:
            t = GGML_TYPE_Q8_0;
            break;
        default:
            t = GGML_TYPE_F16;
            break;
        }
    }
    return GGML_TYPE_F32;
}

/* A tensor of layer il ("blk.N.suffix"), or a global one ("suffix") when il < 0. */
static int layer_tensor(struct ctx *c, int il, const char *suffix, uint32_t n_dims, int64_t ne0,
                        int64_t ne1, int64_t ne2, uint32_t type, struct gw_fill fill)
{
    char name[GGUF_MAX_NAME];
    int64_t ne[3] = {ne0, ne1, ne2};
    if (il >= 0)
        snprintf(name, sizeof(name), "blk.%d.%s", il, suffix);
    else
        snprintf(name, sizeof(name), "%s", suffix);
    return gw_tensor(c->w, name, n_dims, ne, type, fill, c->err);
}

/* A big matrix, of the requested type where its rows allow. */
static int matrix(struct ctx *c, int il, const char *suffix, uint32_t n_dims, int64_t ne0,
                  int64_t ne1, int64_t ne2)
{
    return layer_tensor(c, il, suffix, n_dims, ne0, ne1, ne2, matrix_type(c->o->type, ne0),
                        W_RANDOM);
}

/* A small F32 tensor. */
static int small(struct ctx *c, int il, const char *suffix, uint32_t n_dims, int64_t ne0,
                 int64_t ne1, struct gw_fill fill)
{
    return layer_tensor(c, il, suffix, n_dims, ne0, ne1, 1, GGML_TYPE_F32, fill);
}

/* "{arch}.suffix", in c->key. */
static const char *arch_key(struct ctx *c, const char *suffix)
{
    snprintf(c->key, sizeof(c->key), "%s.%s", c->arch, suffix);
    return c->key;
}

static void kv_u32(struct ctx *c, const char *suffix, uint32_t v)
{
    gw_kv_u32(c->w, arch_key(c, suffix), v);
}

static void kv_f32(struct ctx *c, const char *suffix, float v)
{
    gw_kv_f32(c->w, arch_key(c, suffix), v);
}

static uint32_t file_type(uint32_t t)
{
    /* llama_ftype: what llama.cpp prints as the file's quantization */
    switch (t) {
    case GGML_TYPE_F32:
        return 0;
    case GGML_TYPE_F16:
        return 1;
    case GGML_TYPE_Q8_0:
        return 7;
    case GGML_TYPE_Q4_K:
        return 14; /* Q4_K_S: every matrix Q4_K */
    case GGML_TYPE_Q6_K:
        return 18;
    case GGML_TYPE_BF16:
        return 32;
    case GGML_TYPE_Q4_0:
        return 2;
    case GGML_TYPE_Q5_0:
        return 8;
    default:
        return 1024; /* LLAMA_FTYPE_GUESSED */
    }
}

/* ------------------------------------------------------------- tokenizer */

enum { TOK_NORMAL = 1, TOK_UNKNOWN = 2, TOK_CONTROL = 3, TOK_UNUSED = 5, TOK_BYTE = 6 };

static void synthetic_tokenizer(struct ctx *c)
{
    uint32_t n = c->n_vocab;
    char **tok = xcalloc(n, sizeof(*tok));
    float *score = xcalloc(n, sizeof(*score));
    int32_t *type = xcalloc(n, sizeof(*type));
    uint32_t i = 0;

    tok[i] = xstrdup("<unk>"), type[i++] = TOK_UNKNOWN;
    tok[i] = xstrdup("<s>"), type[i++] = TOK_CONTROL;
    tok[i] = xstrdup("</s>"), type[i++] = TOK_CONTROL;
    for (int b = 0; b < 256; b++)
        tok[i] = xasprintf("<0x%02X>", b), type[i++] = TOK_BYTE;
    /* SentencePiece's word-boundary marker U+2581, then printable ASCII */
    tok[i] = xstrdup("\xe2\x96\x81"), score[i] = -1.0f, type[i++] = TOK_NORMAL;
    for (int ch = 0x21; ch < 0x7f; ch++)
        tok[i] = xasprintf("%c", ch), score[i] = -2.0f, type[i++] = TOK_NORMAL;
    ASSERT(i <= n);
    for (; i < n; i++)
        tok[i] = xasprintf("[PAD%" PRIu32 "]", i), score[i] = -1000.0f, type[i] = TOK_NORMAL;

    gw_kv_str(c->w, "tokenizer.ggml.model", "llama");
    gw_kv_arr_str(c->w, "tokenizer.ggml.tokens", (const char *const *)tok, NULL, n);
    gw_kv_arr_f32(c->w, "tokenizer.ggml.scores", score, n);
    gw_kv_arr_i32(c->w, "tokenizer.ggml.token_type", type, n);
    gw_kv_u32(c->w, "tokenizer.ggml.bos_token_id", 1);
    gw_kv_u32(c->w, "tokenizer.ggml.eos_token_id", 2);
    gw_kv_u32(c->w, "tokenizer.ggml.unknown_token_id", 0);
    gw_kv_bool(c->w, "tokenizer.ggml.add_bos_token", true);
    gw_kv_bool(c->w, "tokenizer.ggml.add_eos_token", false);

    for (i = 0; i < n; i++)
        free(tok[i]);
    free(tok);
    free(score);
    free(type);
}

/* Copies every tokenizer.* key of `path`, padding the per-token arrays. */
static int copy_tokenizer(struct ctx *c, const char *path)
{
    struct gguf *g = NULL;
    int rc = gguf_open(path, &g, c->err);
    if (rc)
        return rc;
    uint64_t n_tok = 0;
    if (gguf_get_arr_len(g, "tokenizer.ggml.tokens", &n_tok) || n_tok == 0 ||
        !gguf_get_arr_str(g, "tokenizer.ggml.tokens", 0)) {
        buf_addf(c->err, "%s: no tokenizer.ggml.tokens string array", path);
        gguf_free(g);
        return -EINVAL;
    }
    if (n_tok > UINT32_MAX) {
        gguf_free(g);
        return -EINVAL;
    }
    if (n_tok > c->n_vocab)
        c->n_vocab = (uint32_t)n_tok;
    uint32_t n = c->n_vocab;

    for (size_t k = 0; k < gguf_kv_count(g); k++) {
        const char *key = gguf_kv_key(g, k);
        struct gguf_value v;
        if (strncmp(key, "tokenizer.", 10) != 0)
            continue;
        gguf_kv_value(g, k, &v);
        bool per_token = v.is_array && v.n == n_tok &&
                         (!strcmp(key, "tokenizer.ggml.tokens") ||
                          !strcmp(key, "tokenizer.ggml.scores") ||
                          !strcmp(key, "tokenizer.ggml.token_type"));
        if (!per_token || n == n_tok) {
            gw_kv_value(c->w, key, &v);
            continue;
        }
        if (v.type == GGUF_VT_STRING) {
            const struct gguf_string *s = v.data;
            const char **tok = xcalloc(n, sizeof(*tok));
            uint64_t *len = xcalloc(n, sizeof(*len));
            char **pads = xcalloc(n, sizeof(*pads));
            for (uint32_t i = 0; i < n; i++) {
                if (i < n_tok) {
                    tok[i] = s[i].s;
                    len[i] = s[i].len;
                } else {
                    pads[i] = xasprintf("[PAD%" PRIu32 "]", i);
                    tok[i] = pads[i];
                    len[i] = strlen(pads[i]);
                }
            }
            gw_kv_arr_str(c->w, key, tok, len, n);
            for (uint32_t i = 0; i < n; i++)
                free(pads[i]);
            free(pads);
            free(len);
            free(tok);
        } else if (v.type == GGUF_VT_FLOAT32) {
            float *f = xcalloc(n, sizeof(*f));
            memcpy(f, v.data, (size_t)n_tok * 4);
            for (uint64_t i = n_tok; i < n; i++)
                f[i] = -1000.0f;
            gw_kv_arr_f32(c->w, key, f, n);
            free(f);
        } else if (v.type == GGUF_VT_INT32 || v.type == GGUF_VT_UINT32) {
            int32_t *t = xcalloc(n, sizeof(*t));
            memcpy(t, v.data, (size_t)n_tok * 4);
            for (uint64_t i = n_tok; i < n; i++)
                t[i] = TOK_NORMAL;
            gw_kv_arr_i32(c->w, key, t, n);
            free(t);
        } else {
            buf_addf(c->err, "%s: %s has unexpected element type %s", path, key,
                     gguf_vtype_name(v.type));
            gguf_free(g);
            return -EINVAL;
        }
    }
    gguf_free(g);
    return 0;
}

/* ------------------------------------------------------------ the models */

static int common_head(struct ctx *c)
{
    const struct gm_preset *p = c->p;
    int rc = matrix(c, -1, "token_embd.weight", 2, p->n_embd, c->n_vocab, 1);
    if (!rc)
        rc = small(c, -1, "output_norm.weight", 1, p->n_embd, 1, W_ONES);
    if (!rc)
        rc = matrix(c, -1, "output.weight", 2, p->n_embd, c->n_vocab, 1);
    return rc;
}

static int attention(struct ctx *c, int il, bool qk_norm)
{
    const struct gm_preset *p = c->p;
    int64_t q = (int64_t)p->n_head * p->head_dim, kv = (int64_t)p->n_head_kv * p->head_dim;
    int rc = matrix(c, il, "attn_q.weight", 2, p->n_embd, q, 1);
    if (!rc)
        rc = matrix(c, il, "attn_k.weight", 2, p->n_embd, kv, 1);
    if (!rc)
        rc = matrix(c, il, "attn_v.weight", 2, p->n_embd, kv, 1);
    if (!rc)
        rc = matrix(c, il, "attn_output.weight", 2, q, p->n_embd, 1);
    if (!rc && qk_norm) {
        rc = small(c, il, "attn_q_norm.weight", 1, p->head_dim, 1, W_ONES);
        if (!rc)
            rc = small(c, il, "attn_k_norm.weight", 1, p->head_dim, 1, W_ONES);
    }
    return rc;
}

/* llama (dense FFN) and qwen3moe (experts, q/k norms): the same layer but for the FFN. */
static int build_transformer(struct ctx *c, uint32_t n_layer, bool moe)
{
    const struct gm_preset *p = c->p;
    kv_u32(c, "context_length", c->o->ctx ? c->o->ctx : p->ctx);
    kv_u32(c, "embedding_length", p->n_embd);
    kv_u32(c, "block_count", n_layer);
    kv_u32(c, "feed_forward_length", p->n_ff);
    kv_u32(c, "attention.head_count", p->n_head);
    kv_u32(c, "attention.head_count_kv", p->n_head_kv);
    kv_f32(c, "rope.freq_base", p->rope_base);
    kv_f32(c, "attention.layer_norm_rms_epsilon", p->rms_eps);
    if (moe) {
        kv_u32(c, "attention.key_length", p->head_dim);
        kv_u32(c, "attention.value_length", p->head_dim);
        kv_u32(c, "expert_count", p->n_expert);
        kv_u32(c, "expert_used_count", p->n_expert_used);
        kv_u32(c, "expert_feed_forward_length", p->n_ff_exp);
    } else {
        kv_u32(c, "rope.dimension_count", p->head_dim);
        kv_u32(c, "vocab_size", c->n_vocab);
    }

    int rc = common_head(c);
    for (uint32_t l = 0; !rc && l < n_layer; l++) {
        int il = (int)l;
        rc = small(c, il, "attn_norm.weight", 1, p->n_embd, 1, W_ONES);
        if (!rc)
            rc = attention(c, il, moe);
        if (!rc)
            rc = small(c, il, "ffn_norm.weight", 1, p->n_embd, 1, W_ONES);
        if (rc)
            break;
        if (moe) {
            rc = small(c, il, "ffn_gate_inp.weight", 2, p->n_embd, p->n_expert, W_RANDOM);
            if (!rc)
                rc = matrix(c, il, "ffn_gate_exps.weight", 3, p->n_embd, p->n_ff_exp, p->n_expert);
            if (!rc)
                rc = matrix(c, il, "ffn_down_exps.weight", 3, p->n_ff_exp, p->n_embd, p->n_expert);
            if (!rc)
                rc = matrix(c, il, "ffn_up_exps.weight", 3, p->n_embd, p->n_ff_exp, p->n_expert);
        } else {
            rc = matrix(c, il, "ffn_gate.weight", 2, p->n_embd, p->n_ff, 1);
            if (!rc)
                rc = matrix(c, il, "ffn_up.weight", 2, p->n_embd, p->n_ff, 1);
            if (!rc)
                rc = matrix(c, il, "ffn_down.weight", 2, p->n_ff, p->n_embd, 1);
        }
    }
    return rc;
}

static int build_nemotron_h(struct ctx *c, uint32_t n_layer)
{
    const struct gm_preset *p = c->p;
    size_t plen = strlen(p->pattern);
    char *kind = xmalloc(n_layer + 1);
    int32_t *head_kv = xcalloc(n_layer, sizeof(*head_kv));
    int32_t *ff = xcalloc(n_layer, sizeof(*ff));
    for (uint32_t l = 0; l < n_layer; l++) {
        kind[l] = p->pattern[l % plen];
        head_kv[l] = kind[l] == '*' ? (int32_t)p->n_head_kv : 0;
        ff[l] = kind[l] == 'E' ? (int32_t)p->n_ff_exp : kind[l] == '-' ? (int32_t)p->n_ff : 0;
    }
    kind[n_layer] = '\0';

    const int64_t d_inner = (int64_t)p->ssm_head * p->ssm_head_dim;
    const int64_t conv_ch = d_inner + 2 * (int64_t)p->ssm_group * p->ssm_state;
    const int64_t d_in_proj = 2 * d_inner + 2 * (int64_t)p->ssm_group * p->ssm_state + p->ssm_head;

    kv_u32(c, "context_length", c->o->ctx ? c->o->ctx : p->ctx);
    kv_u32(c, "embedding_length", p->n_embd);
    kv_u32(c, "block_count", n_layer);
    gw_kv_arr_i32(c->w, arch_key(c, "feed_forward_length"), ff, n_layer);
    kv_u32(c, "attention.head_count", p->n_head);
    gw_kv_arr_i32(c->w, arch_key(c, "attention.head_count_kv"), head_kv, n_layer);
    kv_u32(c, "attention.key_length", p->head_dim);
    kv_u32(c, "attention.value_length", p->head_dim);
    kv_f32(c, "attention.layer_norm_rms_epsilon", p->rms_eps);
    /* llama.cpp (since its MTP support) also reads the plain layer norm
     * epsilon, for the MTP head's final norm, and fails without it. */
    kv_f32(c, "attention.layer_norm_epsilon", p->rms_eps);
    kv_u32(c, "ssm.conv_kernel", p->ssm_conv);
    kv_u32(c, "ssm.state_size", p->ssm_state);
    kv_u32(c, "ssm.group_count", p->ssm_group);
    kv_u32(c, "ssm.inner_size", (uint32_t)d_inner);
    kv_u32(c, "ssm.time_step_rank", p->ssm_head);
    kv_u32(c, "expert_count", p->n_expert);
    kv_u32(c, "expert_used_count", p->n_expert_used);
    kv_u32(c, "expert_feed_forward_length", p->n_ff_exp);
    kv_u32(c, "expert_shared_feed_forward_length", p->n_ff_shexp);
    kv_u32(c, "expert_shared_count", p->n_expert_shared);
    gw_kv_bool(c->w, arch_key(c, "expert_weights_norm"), true);
    kv_f32(c, "expert_weights_scale", p->expert_scale);
    kv_u32(c, "vocab_size", c->n_vocab);

    int rc = common_head(c);
    for (uint32_t l = 0; !rc && l < n_layer; l++) {
        int il = (int)l;
        rc = small(c, il, "attn_norm.weight", 1, p->n_embd, 1, W_ONES);
        if (rc)
            break;
        switch (kind[l]) {
        case 'M':
            rc = matrix(c, il, "ssm_in.weight", 2, p->n_embd, d_in_proj, 1);
            if (!rc)
                rc = small(c, il, "ssm_conv1d.weight", 2, p->ssm_conv, conv_ch,
                           (struct gw_fill){GW_FILL_RANDOM, 0.2f, 0});
            if (!rc)
                rc = small(c, il, "ssm_conv1d.bias", 1, conv_ch, 1, W_ZERO);
            if (!rc) /* softplus(dt + bias) lands in [1e-3, 0.1] */
                rc = small(c, il, "ssm_dt.bias", 1, p->ssm_head, 1,
                           (struct gw_fill){GW_FILL_UNIFORM, -6.9f, -2.3f});
            if (!rc) /* A = -exp(A_log): negative for a stable scan */
                rc = small(c, il, "ssm_a", 2, 1, p->ssm_head,
                           (struct gw_fill){GW_FILL_UNIFORM, -16.0f, -1.0f});
            if (!rc)
                rc = small(c, il, "ssm_d", 2, 1, p->ssm_head, W_ONES);
            if (!rc)
                rc = small(c, il, "ssm_norm.weight", 2, d_inner / p->ssm_group, p->ssm_group,
                           W_ONES);
            if (!rc)
                rc = matrix(c, il, "ssm_out.weight", 2, d_inner, p->n_embd, 1);
            break;
        case '*':
            rc = attention(c, il, false);
            break;
        case 'E':
            rc = small(c, il, "ffn_gate_inp.weight", 2, p->n_embd, p->n_expert, W_RANDOM);
            if (!rc)
                rc = small(c, il, "exp_probs_b.bias", 1, p->n_expert, 1, W_ZERO);
            if (!rc)
                rc = matrix(c, il, "ffn_down_exps.weight", 3, p->n_ff_exp, p->n_embd, p->n_expert);
            if (!rc)
                rc = matrix(c, il, "ffn_up_exps.weight", 3, p->n_embd, p->n_ff_exp, p->n_expert);
            if (!rc)
                rc = matrix(c, il, "ffn_down_shexp.weight", 2, p->n_ff_shexp, p->n_embd, 1);
            if (!rc)
                rc = matrix(c, il, "ffn_up_shexp.weight", 2, p->n_embd, p->n_ff_shexp, 1);
            break;
        case '-':
            rc = matrix(c, il, "ffn_down.weight", 2, p->n_ff, p->n_embd, 1);
            if (!rc)
                rc = matrix(c, il, "ffn_up.weight", 2, p->n_embd, p->n_ff, 1);
            break;
        default:
            buf_addf(c->err, "preset %s: unknown layer kind '%c'", p->name, kind[l]);
            rc = -EINVAL;
        }
    }
    free(kind);
    free(head_kv);
    free(ff);
    return rc;
}

int gm_build(const struct gm_preset *p, const struct gm_options *o, struct gw *w,
             uint32_t *n_vocab_out, struct buf *err)
{
    struct ctx c = {.p = p, .o = o, .w = w, .err = err, .arch = gm_arch_name(p->arch),
                    .n_vocab = p->n_vocab};
    uint32_t n_layer = o->layers ? o->layers : p->n_layer;
    int rc;

    if (!gw_type_supported(o->type) || o->type == GGML_TYPE_F32) {
        buf_addf(err, "weight type %s is not supported (use q4_k, q8_0, q6_k, q5_0, q4_0, f16 or bf16)",
                 gguf_type_name(o->type));
        return -EINVAL;
    }
    char name[128];
    snprintf(name, sizeof(name), "hermod synthetic %s", p->name);
    gw_kv_str(w, "general.architecture", c.arch);
    gw_kv_str(w, "general.name", name);
    gw_kv_u32(w, "general.file_type", file_type(o->type));
    gw_kv_u32(w, "general.quantization_version", 2);

    if (o->vocab_path) {
        rc = copy_tokenizer(&c, o->vocab_path);
        if (rc)
            return rc;
    } else {
        synthetic_tokenizer(&c);
    }
    switch (p->arch) {
    case GM_LLAMA:
    case GM_QWEN3MOE:
        rc = build_transformer(&c, n_layer, p->arch == GM_QWEN3MOE);
        break;
    case GM_NEMOTRON_H_MOE:
        rc = build_nemotron_h(&c, n_layer);
        break;
    default:
        BUG("unknown arch %d", (int)p->arch);
    }
    if (!rc && n_vocab_out)
        *n_vocab_out = c.n_vocab;
    return rc;
}

int gm_write(struct gw *w, const struct gm_options *o, uint64_t seed, const char *path,
             struct buf *err)
{
    char *tmp = xasprintf("%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        buf_addf(err, "%s: %s", tmp, strerror(e));
        free(tmp);
        return -e;
    }
    int rc = o->sparse ? gw_write_sparse(w, fd, err)
                   : gw_write_threads(w, fd, seed, o->threads ? o->threads : gw_default_threads(),
                                      err);
    if (close(fd) < 0 && !rc) {
        rc = -errno;
        buf_addf(err, "%s: close: %s", tmp, strerror(errno));
    }
    if (!rc && rename(tmp, path) < 0) {
        rc = -errno;
        buf_addf(err, "rename %s: %s", path, strerror(errno));
    }
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
}

int gm_generate(const struct gm_preset *p, const struct gm_options *o, uint64_t seed,
                const char *path, struct buf *err)
{
    struct gw *w = gw_new();
    int rc = gm_build(p, o, w, NULL, err);
    if (!rc)
        rc = gm_write(w, o, seed, path, err);
    gw_free(w);
    return rc;
}
