/* SPDX-License-Identifier: MIT */
/*
 * estimate.c: the GGUF estimate, the parts every estimate shares, a model
 * on disk by path (estimate_path: safetensors, GGUF, split GGUF), and the
 * engine log parser. See estimate.h and docs/internals/estimate.md.
 *
 * DESIGN: the estimate walks the tensor list once. A layer's kind is read
 * off its tensors, not off the architecture name: a layer with attn_k (or
 * attn_qkv, attn_kv_a_mqa) has a KV cache, a layer with ssm_* / time_mix_* /
 * shortconv.* tensors has recurrent state. That is what llama.cpp's hybrid
 * memory ends up allocating (its KV filter admits the MoE-only layers of
 * Nemotron-H too, but with n_head_kv = 0 they take no bytes), and it works
 * for architectures this file has never heard of.
 */
#include "model/estimate.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/str.h"
#include "lib/xalloc.h"
#include "model/estimate_int.h"

#define MAX_LAYERS 4096
/* CUDA backend: buffer alignment and the row padding of quantized tensors
 * (ggml-cuda.cu: get_alignment 128, MATRIX_ROW_PADDING 512). */
#define CUDA_ALIGN 128
#define CUDA_ROW_PAD 512

void estimate_params_init(struct estimate_params *p)
{
    memset(p, 0, sizeof(*p));
    p->parallel = 1;
    p->kv_type = GGML_TYPE_F16;
    p->ubatch = ESTIMATE_DEFAULT_UBATCH;
    p->gpu_layers = -1;
}

void estimate__init(struct estimate *e, const struct estimate_params *p)
{
    memset(e, 0, sizeof(*e));
    e->parallel = p->parallel ? p->parallel : 1;
    e->ubatch = p->ubatch ? p->ubatch : ESTIMATE_DEFAULT_UBATCH;
    e->kv_type = p->kv_type;
    e->gpu_layers = p->gpu_layers;
    e->flash_attn = !(p->flags & ESTIMATE_NO_FLASH_ATTN);
}

void estimate__mix_add(struct estimate *e, const char *type, uint64_t bytes)
{
    size_t i;
    for (i = 0; i < e->nmix; i++)
        if (strcmp(e->mix[i].type, type) == 0)
            break;
    if (i == e->nmix) {
        if (e->nmix == ESTIMATE_MIX_MAX) {
            i = ESTIMATE_MIX_MAX - 1;
            snprintf(e->mix[i].type, sizeof(e->mix[i].type), "other");
        } else {
            snprintf(e->mix[i].type, sizeof(e->mix[i].type), "%s", type);
            e->nmix++;
        }
    }
    e->mix[i].bytes += bytes;
    e->mix[i].tensors++;
}

static uint64_t max64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/*
 * The compute buffers. llama.cpp sizes them by reserving the worst-case
 * graph (a full ubatch against a full KV cache) and keeping the peak of the
 * tensors alive at once. The model here: the peak is the widest single
 * layer phase, in f32 values per ubatch token,
 *
 *   attention  2 n_embd + (n_head + 2 n_head_kv) head_k + n_head head_v
 *              (+ 2 n_kv n_head without flash attention: KQ and softmax)
 *   dense FFN  2 n_embd + 3 n_ff
 *   MoE FFN    n_embd + n_expert + n_used (2 n_ff_exp + 2 n_embd) + 3 n_ff_shexp
 *   Mamba-2    n_embd + d_in_proj + 2 conv_channels + 2 d_inner
 *
 * times 4 bytes times the ubatch; or the logits of one output per sequence
 * when those are larger; plus, for recurrent models, the states the scan
 * copies (one per sequence). Calibrated on the H100 anchor (qwen3moe, ubatch
 * 512, 8 slots: formula 92.2 MiB, llama.cpp 88.0 MiB). The host buffer is
 * 3 rows of n_embd per ubatch token (anchor: 12.0 MiB exactly) plus the
 * logits output buffer.
 */
void estimate__compute(const struct estimate_shape *s, struct estimate *e)
{
    uint64_t n_ub = e->ubatch;
    if (e->kv_cells && n_ub > e->kv_cells)
        n_ub = e->kv_cells;
    if (n_ub == 0)
        n_ub = 1;
    uint64_t n_out = e->parallel;
    uint64_t peak = 0;
    uint64_t d_inner = s->ssm_inner, conv = 0;

    if (s->has_attn) {
        uint64_t a = 2ull * s->n_embd + (uint64_t)(s->n_head + 2ull * s->n_head_kv) * s->head_k +
                     (uint64_t)s->n_head * s->head_v;
        if (!e->flash_attn)
            a += 2ull * e->kv_cells * s->n_head;
        peak = max64(peak, a);
    }
    if (s->has_dense)
        peak = max64(peak, 2ull * s->n_embd + 3ull * s->n_ff);
    if (s->has_moe)
        peak = max64(peak, (uint64_t)s->n_embd + s->n_expert +
                               (uint64_t)s->n_expert_used * (2ull * s->n_ff_exp + 2ull * s->n_embd) +
                               3ull * s->n_ff_shexp);
    if (s->has_ssm) {
        conv = d_inner + 2ull * s->ssm_group * s->ssm_state;
        uint64_t d_in_proj = 2 * d_inner + 2ull * s->ssm_group * s->ssm_state + s->ssm_head;
        peak = max64(peak, (uint64_t)s->n_embd + d_in_proj + 2 * conv + 2 * d_inner);
    }
    uint64_t dev = max64(4 * n_ub * peak, 4 * (n_out * s->n_vocab + n_ub * s->n_embd));
    if (s->has_ssm && s->ssm_conv)
        dev += n_out * 4 * ((uint64_t)s->ssm_state * d_inner + (uint64_t)(s->ssm_conv - 1) * conv);
    uint64_t host = 3 * 4 * n_ub * s->n_embd + 4 * n_out * s->n_vocab;
    if (e->gpu_layers == 0) {
        host += dev;
        dev = 0;
    }
    e->compute = dev;
    e->compute_host = host;
}

uint64_t estimate__mamba_state(uint32_t d_conv, uint32_t d_inner, uint32_t d_state,
                               uint32_t n_group)
{
    /* llama-hparams.cpp n_embd_r() and n_embd_s(); the cache is F32 */
    uint64_t conv_ch = (uint64_t)d_inner + 2ull * n_group * d_state;
    uint64_t r = (d_conv ? d_conv - 1ull : 0) * conv_ch;
    uint64_t s = (uint64_t)d_state * d_inner;
    return 4 * (r + s);
}

void estimate__finish(struct estimate *e)
{
    if (e->format != ESTIMATE_REPORT && e->gpu_layers != 0)
        e->overhead = (ESTIMATE_CUDA_CONTEXT_MIB + ESTIMATE_RUNTIME_GROWTH_MIB) * MIB;
    e->total = e->weights_gpu + e->weights_cpu + e->kv + e->recurrent + e->compute +
               e->compute_host + e->overhead;
}

/* ------------------------------------------------------------------ GGUF */

struct layer {
    bool attn, ssm, moe, dense;
};

/* Layer index of "blk.N.rest", with *rest set; -1 for other names. */
static long layer_of(const char *name, const char **rest)
{
    if (strncmp(name, "blk.", 4) != 0)
        return -1;
    char *end;
    errno = 0;
    unsigned long il = strtoul(name + 4, &end, 10);
    if (end == name + 4 || *end != '.' || errno || il > MAX_LAYERS * 4ul)
        return -1;
    *rest = end + 1;
    return (long)il;
}

/* Tensors of llama.cpp's input layer, which stays in host memory. */
static bool is_input_tensor(const char *name)
{
    return str_starts_with(name, "token_embd.") || str_starts_with(name, "token_embd_norm.") ||
           str_starts_with(name, "position_embd.") || str_starts_with(name, "token_types.") ||
           str_starts_with(name, "per_layer_token_embd.");
}

/* Architectures without an LM head, which do not duplicate token_embd. */
static bool is_encoder_arch(const char *arch)
{
    static const char *const enc[] = {"bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2",
                                      "jina-bert-v3", "modern-bert", "neo-bert", "eurobert",
                                      "t5encoder", "clip"};
    for (size_t i = 0; i < ARRAY_SIZE(enc); i++)
        if (strcmp(arch, enc[i]) == 0)
            return true;
    return false;
}

/* Bytes the CUDA backend allocates for a tensor. */
static uint64_t cuda_size(const struct gguf_tensor_info *t)
{
    uint64_t n = t->nbytes;
    if (gguf_type_is_quantized(t->type) && t->ne[0] % CUDA_ROW_PAD) {
        uint64_t pad;
        if (!gguf_row_bytes(t->type, CUDA_ROW_PAD - (uint64_t)(t->ne[0] % CUDA_ROW_PAD), &pad))
            n += pad;
    }
    return (n + CUDA_ALIGN - 1) / CUDA_ALIGN * CUDA_ALIGN;
}

static uint32_t layer_u32(const struct gguf *g, const char *suffix, uint32_t il, uint32_t n_layer,
                          uint32_t def)
{
    char key[256];
    uint32_t v;
    snprintf(key, sizeof(key), "%s.%s", gguf_arch(g), suffix);
    return gguf_get_layer_u32(g, key, il, n_layer, &v) ? def : v;
}

static uint32_t arch_u32(const struct gguf *g, const char *suffix, uint32_t def)
{
    uint32_t v;
    return gguf_get_arch_u32(g, suffix, &v) ? def : v;
}

/* Per-sequence recurrent state of one recurrent layer, from the keys (the
 * ssm.* ones already in s). */
static uint64_t recurrent_layer_bytes(const struct gguf *g, const struct estimate_shape *s)
{
    uint32_t head_size = arch_u32(g, "wkv.head_size", 0);
    if (head_size) /* RWKV: token shift + wkv state */
        return 4 * ((uint64_t)arch_u32(g, "token_shift_count", 2) * s->n_embd +
                    (uint64_t)s->n_embd * head_size);
    uint32_t l_cache = arch_u32(g, "shortconv.l_cache", 0);
    if (l_cache) /* LFM2 short convolution */
        return 4ull * s->n_embd * (l_cache - 1);
    return estimate__mamba_state(s->ssm_conv, s->ssm_inner, s->ssm_state, s->ssm_group);
}

__attribute__((format(printf, 3, 4))) static int fail(struct buf *err, const struct gguf *g,
                                                      const char *fmt, ...)
{
    if (err) {
        va_list ap;
        buf_addf(err, "%s: ", gguf_name(g));
        va_start(ap, fmt);
        buf_vaddf(err, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

int estimate_gguf_parts(const struct gguf *const *parts, size_t n,
                        const struct estimate_params *p, struct estimate *e, struct buf *err)
{
    const struct gguf *g = parts[0];
    struct estimate_shape s = {0};
    struct layer *layers = NULL;
    int rc = 0;

    ASSERT(n >= 1);
    estimate__init(e, p);
    e->format = ESTIMATE_GGUF;
    const char *arch = gguf_arch(g);
    if (!*arch)
        return fail(err, g, "no general.architecture");
    snprintf(e->arch, sizeof(e->arch), "%s", arch);
    const char *name = gguf_get_str(g, "general.name");
    snprintf(e->name, sizeof(e->name), "%s", name ? name : "");

    uint32_t n_layer;
    if (gguf_get_arch_u32(g, "block_count", &n_layer))
        return fail(err, g, "no block_count");
    if (n_layer == 0 || n_layer > MAX_LAYERS)
        return fail(err, g, "block_count out of range");
    if (gguf_get_arch_u32(g, "embedding_length", &s.n_embd))
        return fail(err, g, "no embedding_length");
    e->n_layer = n_layer;
    e->n_embd = s.n_embd;
    e->ctx_train = arch_u32(g, "context_length", 0);
    s.n_expert = e->n_expert = arch_u32(g, "expert_count", 0);
    s.n_expert_used = e->n_expert_used = arch_u32(g, "expert_used_count", 0);

    uint64_t n_tok = 0;
    e->n_vocab = arch_u32(g, "vocab_size", 0);
    if (!e->n_vocab && !gguf_get_arr_len(g, "tokenizer.ggml.tokens", &n_tok) && n_tok <= UINT32_MAX)
        e->n_vocab = (uint32_t)n_tok;

    if (e->gpu_layers < 0 || (uint32_t)e->gpu_layers > n_layer)
        e->gpu_layers = (int32_t)n_layer + 1;
    const bool out_gpu = (uint32_t)e->gpu_layers > n_layer;
    const uint32_t first_gpu = (uint32_t)e->gpu_layers >= n_layer ? 0 : n_layer - (uint32_t)e->gpu_layers;

    layers = xcalloc(n_layer, sizeof(*layers));
    const struct gguf_tensor_info *tok_embd = NULL;
    bool has_output = false;

    for (size_t k = 0; k < n; k++) {
        const struct gguf *part = parts[k];
        e->file_bytes += gguf_file_size(part);
        e->n_files++;
        for (size_t i = 0; i < gguf_tensor_count(part); i++) {
            const struct gguf_tensor_info *t = gguf_tensor(part, i);
            const char *rest = NULL;
            long il = layer_of(t->name, &rest);
            bool gpu;

            e->n_tensors++;
            e->n_params += t->n_elements;
            estimate__mix_add(e, gguf_type_name(t->type), t->nbytes);
            if (strcmp(t->name, "output.weight") == 0)
                has_output = true;
            if (strcmp(t->name, "token_embd.weight") == 0)
                tok_embd = t;

            if (il >= 0 && (uint32_t)il < n_layer) {
                struct layer *l = &layers[il];
                if (str_starts_with(rest, "attn_k.") || str_starts_with(rest, "attn_qkv.") ||
                    str_starts_with(rest, "attn_kv_a_mqa.") || str_starts_with(rest, "attn_k_b."))
                    l->attn = true;
                else if (str_starts_with(rest, "ssm_") || str_starts_with(rest, "time_mix_") ||
                         str_starts_with(rest, "shortconv."))
                    l->ssm = true;
                else if (strstr(rest, "_exps."))
                    l->moe = true;
                else if (str_starts_with(rest, "ffn_up.") || str_starts_with(rest, "ffn_gate.") ||
                         str_starts_with(rest, "ffn_down."))
                    l->dense = true;
                gpu = (uint32_t)il >= first_gpu && e->gpu_layers > 0;
            } else if (il >= 0) {
                gpu = out_gpu; /* extra layers (MTP / nextn) go with the output */
            } else if (is_input_tensor(t->name)) {
                gpu = false;
            } else {
                gpu = out_gpu;
            }
            if (gpu)
                e->weights_gpu += cuda_size(t);
            else
                e->weights_cpu += t->nbytes;
        }
    }
    /* Tied embeddings: llama.cpp copies token_embd to the output device. */
    if (!has_output && tok_embd && out_gpu && !is_encoder_arch(arch))
        e->weights_gpu += cuda_size(tok_embd);
    if (!e->n_vocab && tok_embd)
        e->n_vocab = (uint32_t)tok_embd->ne[1];
    s.n_vocab = e->n_vocab;

    /* KV cells: llama-server's -c, the trained context by default, padded to 256 */
    uint64_t cells = p->ctx ? p->ctx : e->ctx_train;
    if (cells == 0) {
        rc = fail(err, g, "no context_length: give a context size");
        goto out;
    }
    if (p->flags & ESTIMATE_CTX_PER_SLOT)
        cells *= e->parallel;
    cells = (cells + ESTIMATE_CTX_PAD - 1) / ESTIMATE_CTX_PAD * ESTIMATE_CTX_PAD;
    if (cells > UINT32_MAX) {
        rc = fail(err, g, "context too large");
        goto out;
    }
    e->kv_cells = (uint32_t)cells;

    /* head sizes: key_length, else n_embd / n_head of the first layer with heads */
    uint32_t n_head0 = 0;
    for (uint32_t il = 0; il < n_layer && !n_head0; il++)
        n_head0 = layer_u32(g, "attention.head_count", il, n_layer, 0);
    s.head_k = arch_u32(g, "attention.key_length", n_head0 ? s.n_embd / n_head0 : 0);
    s.head_v = arch_u32(g, "attention.value_length", s.head_k);
    const uint32_t kv_lora = arch_u32(g, "attention.kv_lora_rank", 0);
    const uint32_t n_rot = arch_u32(g, "rope.dimension_count", s.head_k);
    s.ssm_conv = arch_u32(g, "ssm.conv_kernel", 0);
    s.ssm_inner = arch_u32(g, "ssm.inner_size", 0);
    s.ssm_state = arch_u32(g, "ssm.state_size", 0);
    s.ssm_group = arch_u32(g, "ssm.group_count", 0);
    s.ssm_head = arch_u32(g, "ssm.time_step_rank", 0);
    const uint64_t rs_seqs = e->parallel;
    const uint64_t rs_layer = recurrent_layer_bytes(g, &s);

    for (uint32_t il = 0; il < n_layer; il++) {
        const struct layer *l = &layers[il];
        uint32_t n_head = layer_u32(g, "attention.head_count", il, n_layer, 0);
        uint32_t n_kv = layer_u32(g, "attention.head_count_kv", il, n_layer, n_head);
        uint32_t n_ff = layer_u32(g, "feed_forward_length", il, n_layer, 0);
        if (l->attn && n_kv) {
            uint64_t k_row, v_row;
            uint64_t k_n = kv_lora ? (uint64_t)kv_lora + n_rot : (uint64_t)s.head_k * n_kv;
            uint64_t v_n = kv_lora ? kv_lora : (uint64_t)s.head_v * n_kv;
            if (gguf_row_bytes(e->kv_type, k_n, &k_row) || gguf_row_bytes(e->kv_type, v_n, &v_row)) {
                rc = fail(err, g,
                          "layer %" PRIu32 ": K/V rows of %" PRIu64 "/%" PRIu64
                          " values are not a multiple of %s's block of %" PRIu32,
                          il, k_n, v_n, gguf_type_name(e->kv_type),
                          gguf_type_block_elems(e->kv_type));
                goto out;
            }
            e->kv += cells * (k_row + v_row);
            e->n_attn_layers++;
            s.has_attn = true;
            if (n_head > s.n_head)
                s.n_head = n_head;
            if (n_kv > s.n_head_kv)
                s.n_head_kv = n_kv;
        }
        if (l->ssm) {
            e->recurrent += rs_seqs * rs_layer;
            e->n_recr_layers++;
            s.has_ssm = true;
        }
        if (l->moe)
            s.has_moe = true;
        if (l->dense) {
            s.has_dense = true;
            if (n_ff > s.n_ff)
                s.n_ff = n_ff;
        }
    }
    s.n_ff_exp = arch_u32(g, "expert_feed_forward_length", 0);
    if (!s.n_ff_exp && s.n_expert_used)
        s.n_ff_exp = layer_u32(g, "feed_forward_length", 0, n_layer, 0);
    s.n_ff_shexp = arch_u32(g, "expert_shared_feed_forward_length", 0) *
                   arch_u32(g, "expert_shared_count", 1);
    estimate__compute(&s, e);
    estimate__finish(e);
out:
    free(layers);
    return rc;
}

int estimate_gguf(const struct gguf *g, const struct estimate_params *p, struct estimate *e,
                  struct buf *err)
{
    return estimate_gguf_parts(&g, 1, p, e, err);
}

/* ------------------------------------------------------ engine reports */

void engine_report_init(struct engine_report *r)
{
    memset(r, 0, sizeof(*r));
}

/* A number, optional spaces, then a unit; bytes in *out. GB counts as GiB:
 * vLLM's old "took %.4f GB" divided by 2^30. */
static bool parse_amount(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !(v >= 0) || v > 1e15)
        return false;
    while (*end == ' ')
        end++;
    double mult;
    if (str_starts_with(end, "MiB") || str_starts_with(end, "MB"))
        mult = (double)MIB;
    else if (str_starts_with(end, "GiB") || str_starts_with(end, "GB"))
        mult = (double)(MIB * 1024);
    else if (str_starts_with(end, "KiB") || str_starts_with(end, "kB"))
        mult = 1024;
    else
        return false;
    *out = (uint64_t)(v * mult + 0.5);
    return true;
}

/* A count printed with thousands separators ("1,234,567"). */
static bool parse_count(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    int digits = 0;
    for (; *s; s++) {
        if (*s >= '0' && *s <= '9') {
            if (v > UINT64_MAX / 10 - 10)
                return false;
            v = v * 10 + (uint64_t)(*s - '0');
            digits++;
        } else if (*s != ',' || !digits) {
            break;
        }
    }
    if (!digits)
        return false;
    *out = v;
    return true;
}

static bool is_host_buffer(const char *name, size_t len)
{
    return (len >= 3 && strncmp(name, "CPU", 3) == 0) || memmem(name, len, "Host", 4) != NULL;
}

/* "<func>: <name> <kind> buffer size = <x> MiB" (llama.cpp's four printers). */
static int parse_llama_buffer(const char *line, const char *bs, struct engine_report *r)
{
    const char *k_end = bs, *k_beg = bs;
    while (k_beg > line && k_beg[-1] != ' ')
        k_beg--;
    const char *n_end = k_beg;
    while (n_end > line && n_end[-1] == ' ')
        n_end--;
    const char *n_beg = n_end;
    while (n_beg > line && n_beg[-1] != ' ')
        n_beg--;
    size_t klen = (size_t)(k_end - k_beg);
    const char *kind = k_beg, *name = n_beg;
    size_t nlen = (size_t)(n_end - n_beg);
    uint64_t bytes;

    if (!parse_amount(bs + strlen(" buffer size = "), &bytes))
        return 0;
#define KIND(s) (klen == sizeof(s) - 1 && strncmp(kind, s, klen) == 0)
    bool model = KIND("model");
    if (!model && !KIND("KV") && !KIND("RS") && !KIND("compute") && !KIND("output")) {
        /* 2024 builds: "llm_load_tensors:        CUDA0 buffer size = ..." */
        if (!strstr(line, "load_tensors"))
            return 0;
        model = true;
        name = kind;
        nlen = klen;
    }
    bool host = is_host_buffer(name, nlen);
    uint64_t *dst;
    unsigned seen;
    if (model) {
        dst = host ? &r->model_host : &r->model_dev;
        seen = ENGINE_REPORT_MODEL;
    } else if (KIND("KV")) {
        dst = host ? &r->kv_host : &r->kv_dev;
        seen = ENGINE_REPORT_KV;
    } else if (KIND("RS")) {
        dst = host ? &r->rs_host : &r->rs_dev;
        seen = ENGINE_REPORT_RS;
    } else if (KIND("compute")) {
        dst = host ? &r->compute_host : &r->compute_dev;
        seen = ENGINE_REPORT_COMPUTE;
    } else {
        dst = host ? &r->output_host : &r->output_dev;
        seen = ENGINE_REPORT_OUTPUT;
    }
#undef KIND
    *dst += bytes;
    r->seen |= seen;
    return 1;
}

int estimate_parse_log_line(const char *line, struct engine_report *r)
{
    const char *p;
    uint64_t v;

    if (strstr(line, "(projected)"))
        return 0;
    if ((p = strstr(line, " buffer size = ")))
        return parse_llama_buffer(line, p, r);
    if (strstr(line, "using device ") && (p = strstr(line, " MiB free"))) {
        /* llama_model_load_from_file_impl: using device CUDA0 (...) - 80614 MiB free */
        const char *q = p;
        while (q > line && q[-1] >= '0' && q[-1] <= '9')
            q--;
        if (q == p || q == line || q[-1] != ' ' || !parse_count(q, &v))
            return 0;
        r->device_free = v * MIB;
        r->seen |= ENGINE_REPORT_DEVICE_FREE;
        return 1;
    }
    if ((p = strstr(line, "offloaded "))) {
        int a, b;
        if (sscanf(p, "offloaded %d/%d layers to GPU", &a, &b) == 2 && a >= 0 && b >= a) {
            r->layers_offloaded = a;
            r->layers_total = b;
            r->seen |= ENGINE_REPORT_OFFLOAD;
            return 1;
        }
        return 0;
    }
    if ((p = strstr(line, "Model loading took ")) || (p = strstr(line, "Loading model weights took "))) {
        p = strstr(p, "took ") + 5;
        if (!parse_amount(p, &v))
            return 0;
        r->vllm_model = v;
        r->seen |= ENGINE_REPORT_VLLM_MODEL;
        return 1;
    }
    if ((p = strstr(line, "Available KV cache memory: "))) {
        if (!parse_amount(p + strlen("Available KV cache memory: "), &v))
            return 0;
        r->vllm_kv = v;
        r->seen |= ENGINE_REPORT_VLLM_KV;
        return 1;
    }
    if ((p = strstr(line, "# GPU blocks: ")) || (p = strstr(line, "# cuda blocks: ")) ||
        (p = strstr(line, "# CUDA blocks: "))) {
        if (!parse_count(strchr(p, ':') + 2, &v))
            return 0;
        r->vllm_gpu_blocks = v;
        r->seen |= ENGINE_REPORT_VLLM_BLOCKS;
        return 1;
    }
    if ((p = strstr(line, "GPU KV cache size: "))) {
        if (!parse_count(p + strlen("GPU KV cache size: "), &v))
            return 0;
        r->vllm_kv_tokens = v;
        r->seen |= ENGINE_REPORT_VLLM_TOKENS;
        return 1;
    }
    return 0;
}

void engine_report_breakdown(const struct engine_report *r, struct estimate *e)
{
    memset(e, 0, sizeof(*e));
    e->format = ESTIMATE_REPORT;
    e->weights_gpu = r->model_dev + r->vllm_model;
    e->weights_cpu = r->model_host;
    e->kv = r->kv_dev + r->kv_host + r->vllm_kv;
    e->recurrent = r->rs_dev + r->rs_host;
    e->compute = r->compute_dev + r->output_dev;
    e->compute_host = r->compute_host + r->output_host;
    e->gpu_layers = r->layers_offloaded;
    e->n_layer = r->layers_total > 0 ? (uint32_t)r->layers_total - 1 : 0;
    estimate__finish(e);
}

/* ---------------------------------------------------- a model on disk */

#define MAX_SPLITS 256

/* For ".../name-00002-of-00005.gguf" stores the prefix length; false otherwise. */
static bool split_name(const char *path, size_t *prefix)
{
    size_t n = strlen(path);
    const char *tail = "-00000-of-00000.gguf";
    size_t tl = strlen(tail);
    if (n <= tl)
        return false;
    const char *s = path + n - tl;
    for (size_t i = 0; i < tl; i++) {
        bool digit = tail[i] == '0';
        if (digit ? (s[i] < '0' || s[i] > '9') : s[i] != tail[i])
            return false;
    }
    *prefix = n - tl;
    return true;
}

int estimate_path(const char *path, const struct estimate_params *p, struct estimate *e,
                  struct buf *err)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        int rc = -errno;
        buf_addf(err, "%s: %s", path, strerror(errno));
        return rc;
    }
    if (S_ISDIR(st.st_mode) || str_ends_with(path, ".safetensors"))
        return estimate_safetensors(path, p, e, err);

    struct gguf *first = NULL;
    int rc = gguf_open(path, &first, err);
    if (rc)
        return rc;
    uint32_t count = 0;
    size_t prefix;
    if (gguf_get_u32(first, "split.count", &count) || count <= 1 || !split_name(path, &prefix)) {
        rc = estimate_gguf(first, p, e, err);
        gguf_free(first);
        return rc;
    }
    if (count > MAX_SPLITS) {
        buf_addf(err, "%s: split.count %" PRIu32 " exceeds %d", path, count, MAX_SPLITS);
        gguf_free(first);
        return -EINVAL;
    }
    /* Open every part, in order (the one already open is not read again);
     * the metadata comes from part 1. */
    struct gguf **parts = xcalloc(count, sizeof(*parts));
    for (uint32_t i = 0; i < count && !rc; i++) {
        char *name = xasprintf("%.*s-%05" PRIu32 "-of-%05" PRIu32 ".gguf", (int)prefix, path,
                               i + 1, count);
        if (first && strcmp(name, path) == 0) {
            parts[i] = first;
            first = NULL;
        } else {
            rc = gguf_open(name, &parts[i], err);
        }
        free(name);
    }
    if (!rc)
        rc = estimate_gguf_parts((const struct gguf *const *)parts, count, p, e, err);
    for (uint32_t i = 0; i < count; i++)
        gguf_free(parts[i]);
    gguf_free(first);
    free(parts);
    return rc;
}
