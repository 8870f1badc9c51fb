/* SPDX-License-Identifier: MIT */
/*
 * estimate_st.c: the estimate of a safetensors model (what vLLM and NIM
 * load): tensor bytes from each file's JSON header, KV cache and recurrent
 * state from config.json.
 *
 * A safetensors file is an 8-byte little-endian header length N, N bytes of
 * JSON {"name": {"dtype": "BF16", "shape": [..], "data_offsets": [b, e]},
 * "__metadata__": {..}}, then the data; offsets are relative to the end of
 * the header. Only the header is read; it is bounded (SAFETENSORS_MAX_HEADER,
 * the limit of the reference implementation) and every entry is checked: a
 * known dtype, a shape whose size matches its data_offsets, data inside the
 * file and not overlapping another tensor.
 *
 * DESIGN: config.json parsing stops here: the rest of hermod sees only the
 * numbers in struct estimate.
 */
#include "model/estimate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/str.h"
#include "lib/xalloc.h"
#include "model/estimate_int.h"

#define SAFETENSORS_MAX_HEADER 100000000ull
#define CONFIG_MAX_BYTES (16u << 20)
#define MAX_FILES 4096

/* dtype -> bits per element */
static unsigned dtype_bits(const char *d)
{
    static const struct {
        const char *name;
        unsigned bits;
    } t[] = {
        {"F64", 64},     {"I64", 64},     {"U64", 64},     {"F32", 32},     {"I32", 32},
        {"U32", 32},     {"F16", 16},     {"BF16", 16},    {"I16", 16},     {"U16", 16},
        {"I8", 8},       {"U8", 8},       {"BOOL", 8},     {"F8_E4M3", 8},  {"F8_E5M2", 8},
        {"F8_E8M0", 8},  {"E8M0", 8},     {"F6_E2M3", 6},  {"F6_E3M2", 6},  {"F4", 4},
    };
    for (size_t i = 0; i < ARRAY_SIZE(t); i++)
        if (strcmp(t[i].name, d) == 0)
            return t[i].bits;
    return 0;
}

struct range {
    uint64_t b, e;
    const char *name;
};

static int cmp_range(const void *a, const void *b)
{
    const struct range *x = a, *y = b;
    return x->b < y->b ? -1 : x->b > y->b;
}

static int read_full(int fd, void *p, size_t n, uint64_t off)
{
    unsigned char *c = p;
    while (n) {
        ssize_t k = pread(fd, c, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 ? -errno : -EINVAL;
        c += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

/* Adds the tensors of one file to e. */
static int read_file(const char *path, struct estimate *e, struct buf *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *hdr = NULL;
    json_t *root = NULL;
    struct range *ranges = NULL;
    size_t nr = 0, cap = 0;
    struct stat st;
    int rc = 0;

    if (fd < 0) {
        rc = -errno;
        buf_addf(err, "%s: %s", path, strerror(errno));
        return rc;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        rc = -EINVAL;
        buf_addf(err, "%s: not a regular file", path);
        goto out;
    }
    uint64_t size = (uint64_t)st.st_size;
    unsigned char lenb[8];
    if (size < 8 || read_full(fd, lenb, 8, 0)) {
        rc = -EINVAL;
        buf_addf(err, "%s: truncated: no 8-byte header length", path);
        goto out;
    }
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | lenb[i];
    if (n > SAFETENSORS_MAX_HEADER) {
        rc = -EFBIG;
        buf_addf(err, "%s: header of %" PRIu64 " bytes exceeds the limit of %llu", path, n,
                 SAFETENSORS_MAX_HEADER);
        goto out;
    }
    if (n > size - 8) {
        rc = -EINVAL;
        buf_addf(err, "%s: header of %" PRIu64 " bytes extends past end of file (%" PRIu64 " bytes)",
                 path, n, size);
        goto out;
    }
    hdr = xmalloc((size_t)n + 1);
    if ((rc = read_full(fd, hdr, (size_t)n, 8))) {
        buf_addf(err, "%s: read: %s", path, strerror(-rc));
        goto out;
    }
    json_error_t jerr;
    root = json_loadb(hdr, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        rc = -EINVAL;
        buf_addf(err, "%s: header is not a JSON object: %s", path, root ? "" : jerr.text);
        goto out;
    }
    uint64_t data = size - 8 - n;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0)
            continue;
        json_t *dt = json_object_get(v, "dtype"), *shape = json_object_get(v, "shape"),
               *offs = json_object_get(v, "data_offsets");
        if (!json_is_string(dt) || !json_is_array(shape) || !json_is_array(offs) ||
            json_array_size(offs) != 2 || !json_is_integer(json_array_get(offs, 0)) ||
            !json_is_integer(json_array_get(offs, 1))) {
            rc = -EINVAL;
            buf_addf(err, "%s: tensor '%.80s' lacks dtype, shape or data_offsets", path, key);
            goto out;
        }
        unsigned bits = dtype_bits(json_string_value(dt));
        if (!bits) {
            rc = -EINVAL;
            buf_addf(err, "%s: tensor '%.80s' has unknown dtype '%.20s'", path, key,
                     json_string_value(dt));
            goto out;
        }
        uint64_t nel = 1;
        size_t i;
        json_t *d;
        json_array_foreach(shape, i, d) {
            json_int_t x = json_is_integer(d) ? json_integer_value(d) : -1;
            if (x < 0 || __builtin_mul_overflow(nel, (uint64_t)x, &nel) || nel > (1ull << 62)) {
                rc = -EINVAL;
                buf_addf(err, "%s: tensor '%.80s' has a bad shape", path, key);
                goto out;
            }
        }
        json_int_t b = json_integer_value(json_array_get(offs, 0));
        json_int_t en = json_integer_value(json_array_get(offs, 1));
        uint64_t want = (nel * bits + 7) / 8;
        if (b < 0 || en < b || (uint64_t)en > data) {
            rc = -EINVAL;
            buf_addf(err, "%s: tensor '%.80s' data [%lld, %lld) lies outside the %" PRIu64
                          " bytes of data",
                     path, key, (long long)b, (long long)en, data);
            goto out;
        }
        if ((uint64_t)(en - b) != want) {
            rc = -EINVAL;
            buf_addf(err, "%s: tensor '%.80s' is %s of %" PRIu64 " elements (%" PRIu64
                          " bytes) but its data_offsets span %lld bytes",
                     path, key, json_string_value(dt), nel, want, (long long)(en - b));
            goto out;
        }
        ALLOC_GROW(ranges, nr + 1, cap);
        ranges[nr++] = (struct range){(uint64_t)b, (uint64_t)en, key};
        e->n_tensors++;
        e->n_params += nel;
        e->weights_gpu += want;
        estimate__mix_add(e, json_string_value(dt), want);
    }
    if (nr > 1) {
        qsort(ranges, nr, sizeof(*ranges), cmp_range);
        for (size_t i = 1; i < nr; i++) {
            if (ranges[i].b < ranges[i - 1].e && ranges[i].b != ranges[i].e) {
                rc = -EINVAL;
                buf_addf(err, "%s: tensor '%.80s' overlaps tensor '%.80s'", path, ranges[i].name,
                         ranges[i - 1].name);
                goto out;
            }
        }
    }
    e->file_bytes += size;
    e->n_files++;
out:
    free(ranges);
    json_decref(root);
    free(hdr);
    close(fd);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ------------------------------------------------------------- config */

static uint32_t cfg_u32(json_t *o, const char *key, uint32_t def)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= UINT32_MAX)
        return (uint32_t)json_integer_value(v);
    return def;
}

/* Like cfg_u32 but tries several names. */
static uint32_t cfg_any(json_t *o, const char *const *keys, uint32_t def)
{
    for (; *keys; keys++) {
        uint32_t v = cfg_u32(o, *keys, UINT32_MAX);
        if (v != UINT32_MAX)
            return v;
    }
    return def;
}

enum lkind { L_ATTN, L_SSM, L_LINEAR, L_MOE, L_MLP };

/* Counts the layer kinds a config declares; false when it declares none. */
static bool layer_kinds(json_t *c, uint32_t n_layer, uint32_t count[5])
{
    json_t *pat = json_object_get(c, "hybrid_override_pattern");
    if (json_is_string(pat)) {
        for (const char *s = json_string_value(pat); *s; s++) {
            switch (*s) {
            case '*': count[L_ATTN]++; break;
            case 'M': count[L_SSM]++; break;
            case 'E': count[L_MOE]++; break;
            case '-': count[L_MLP]++; break;
            default: break;
            }
        }
        return true;
    }
    json_t *arr = json_object_get(c, "layers_block_type");
    if (!json_is_array(arr))
        arr = json_object_get(c, "layer_types");
    if (!json_is_array(arr))
        return false;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        const char *t = json_string_value(v);
        if (!t || i >= n_layer)
            continue;
        if (strstr(t, "linear"))
            count[L_LINEAR]++;
        else if (strstr(t, "attention"))
            count[L_ATTN]++;
        else if (strstr(t, "mamba"))
            count[L_SSM]++;
        else if (strstr(t, "moe"))
            count[L_MOE]++;
        else if (strstr(t, "mlp"))
            count[L_MLP]++;
    }
    return true;
}

/* KV, recurrent state and compute shape from config.json. */
static int apply_config(const char *path, const struct estimate_params *p, struct estimate *e,
                        struct buf *err)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return 0; /* no config: weights only */
    if (!S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX_BYTES) {
        buf_addf(err, "%s: not a regular file of at most %u bytes", path, CONFIG_MAX_BYTES);
        return -EINVAL;
    }
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!json_is_object(root)) {
        buf_addf(err, "%s:%d: %s", path, jerr.line, root ? "not a JSON object" : jerr.text);
        json_decref(root);
        return -EINVAL;
    }
    json_t *c = root;
    static const char *const subs[] = {"text_config", "llm_config", "language_config",
                                       "thinker_config"};
    if (!json_object_get(root, "num_hidden_layers")) {
        for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
            json_t *s = json_object_get(root, subs[i]);
            if (json_is_object(s) && json_object_get(s, "num_hidden_layers")) {
                c = s;
                break;
            }
        }
    }
    json_t *archs = json_object_get(root, "architectures");
    const char *arch = json_string_value(json_array_get(archs, 0));
    if (!arch)
        arch = json_string_value(json_object_get(root, "model_type"));
    if (arch)
        snprintf(e->arch, sizeof(e->arch), "%s", arch);

    struct estimate_shape s = {0};
    static const char *const k_experts[] = {"n_routed_experts", "num_experts", "num_local_experts",
                                            NULL};
    static const char *const k_shexp[] = {"moe_shared_expert_intermediate_size",
                                          "shared_expert_intermediate_size", NULL};
    static const char *const k_ctx[] = {"max_position_embeddings", "max_seq_len", "seq_length",
                                        NULL};
    uint32_t n_layer = cfg_u32(c, "num_hidden_layers", 0);
    s.n_embd = cfg_u32(c, "hidden_size", 0);
    s.n_vocab = cfg_u32(c, "vocab_size", cfg_u32(root, "vocab_size", 0));
    s.n_head = cfg_u32(c, "num_attention_heads", 0);
    s.n_head_kv = cfg_u32(c, "num_key_value_heads", s.n_head);
    s.head_k = s.head_v = cfg_u32(c, "head_dim", s.n_head ? s.n_embd / s.n_head : 0);
    s.n_ff = cfg_u32(c, "intermediate_size", 0);
    s.n_expert = cfg_any(c, k_experts, 0);
    s.n_expert_used = cfg_u32(c, "num_experts_per_tok", 0);
    s.n_ff_exp = cfg_u32(c, "moe_intermediate_size", s.n_ff);
    s.n_ff_shexp = cfg_any(c, k_shexp, 0) * cfg_u32(c, "n_shared_experts", 1);
    e->n_layer = n_layer;
    e->n_embd = s.n_embd;
    e->n_vocab = s.n_vocab;
    e->n_expert = s.n_expert;
    e->n_expert_used = s.n_expert_used;
    e->ctx_train = cfg_any(c, k_ctx, 0);

    uint32_t count[5] = {0};
    if (!layer_kinds(c, n_layer, count))
        count[L_ATTN] = n_layer;
    /* a hybrid pattern's MoE/MLP layers carry the FFN; otherwise every layer does */
    bool explicit_ffn = count[L_MOE] || count[L_MLP];
    s.has_attn = count[L_ATTN] > 0;
    s.has_moe = s.n_expert && s.n_expert_used && (!explicit_ffn || count[L_MOE]);
    s.has_dense = s.n_ff && (explicit_ffn ? count[L_MLP] > 0 : !s.has_moe);

    uint64_t cells = p->ctx ? p->ctx : e->ctx_train;
    if (cells == 0) {
        buf_addf(err, "%s: no max_position_embeddings: give a context size", path);
        json_decref(root);
        return -EINVAL;
    }
    cells *= e->parallel; /* vLLM: every sequence may grow to the full context */
    if (cells > UINT32_MAX)
        cells = UINT32_MAX;
    e->kv_cells = (uint32_t)cells;

    unsigned kv_bits;
    switch (p->kv_type) {
    case GGML_TYPE_F32:
        kv_bits = 32;
        break;
    case GGML_TYPE_F16:
    case GGML_TYPE_BF16:
        kv_bits = 16;
        break;
    case GGML_TYPE_Q8_0: /* vLLM's fp8 KV cache */
        kv_bits = 8;
        break;
    default:
        buf_addf(err, "%s: vLLM has no %s KV cache (use f16 or q8_0 for fp8)", path,
                 gguf_type_name(p->kv_type));
        json_decref(root);
        return -EINVAL;
    }
    e->n_attn_layers = count[L_ATTN];
    e->kv = cells * count[L_ATTN] * 2ull * s.n_head_kv * s.head_k * kv_bits / 8;

    /* Mamba-2 (Nemotron-H), the gated delta net of Qwen3-Next/3.5 */
    if (count[L_SSM]) {
        uint32_t heads = cfg_u32(c, "mamba_num_heads", 0), hdim = cfg_u32(c, "mamba_head_dim", 0);
        uint32_t d_inner = heads && hdim ? heads * hdim : cfg_u32(c, "expand", 2) * s.n_embd;
        s.ssm_conv = cfg_u32(c, "conv_kernel", 4);
        s.ssm_state = cfg_u32(c, "ssm_state_size", 128);
        s.ssm_group = cfg_u32(c, "n_groups", 1);
        s.ssm_inner = d_inner;
        s.ssm_head = heads;
        s.has_ssm = true;
        e->recurrent += (uint64_t)e->parallel * count[L_SSM] *
                        estimate__mamba_state(s.ssm_conv, d_inner, s.ssm_state, s.ssm_group);
    }
    if (count[L_LINEAR]) {
        uint64_t nk = cfg_u32(c, "linear_num_key_heads", 0), dk = cfg_u32(c, "linear_key_head_dim", 0);
        uint64_t nv = cfg_u32(c, "linear_num_value_heads", 0), dv = cfg_u32(c, "linear_value_head_dim", 0);
        uint64_t kc = cfg_u32(c, "linear_conv_kernel_dim", 4);
        uint64_t conv = (kc ? kc - 1 : 0) * (2 * nk * dk + nv * dv);
        e->recurrent += (uint64_t)e->parallel * count[L_LINEAR] * 4 * (conv + nv * dk * dv);
    }
    e->n_recr_layers = count[L_SSM] + count[L_LINEAR];
    estimate__compute(&s, e);
    json_decref(root);
    return 0;
}

int estimate_safetensors(const char *path, const struct estimate_params *p, struct estimate *e,
                         struct buf *err)
{
    struct stat st;
    char **files = NULL;
    size_t nf = 0, cap = 0;
    char *dir = NULL;
    int rc = 0;

    estimate__init(e, p);
    e->format = ESTIMATE_SAFETENSORS;
    if (stat(path, &st) < 0) {
        rc = -errno;
        buf_addf(err, "%s: %s", path, strerror(errno));
        return rc;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *de;
        if (!d) {
            rc = -errno;
            buf_addf(err, "%s: %s", path, strerror(errno));
            return rc;
        }
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.' || !str_ends_with(de->d_name, ".safetensors"))
                continue;
            if (nf == MAX_FILES)
                break;
            ALLOC_GROW(files, nf + 1, cap);
            files[nf++] = xasprintf("%s/%s", path, de->d_name);
        }
        closedir(d);
        if (nf == 0) {
            buf_addf(err, "%s: no *.safetensors files", path);
            return -ENOENT;
        }
        qsort(files, nf, sizeof(*files), cmp_str);
        dir = xstrdup(path);
    } else {
        ALLOC_GROW(files, 1, cap);
        files[nf++] = xstrdup(path);
        const char *slash = strrchr(path, '/');
        dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
    }
    const char *base = strrchr(dir, '/');
    snprintf(e->name, sizeof(e->name), "%s", base && base[1] ? base + 1 : dir);
    snprintf(e->arch, sizeof(e->arch), "safetensors");

    for (size_t i = 0; i < nf && !rc; i++)
        rc = read_file(files[i], e, err);
    if (!rc) {
        char *cfg = xasprintf("%s/config.json", dir);
        rc = apply_config(cfg, p, e, err);
        free(cfg);
    }
    if (!rc)
        estimate__finish(e);
    for (size_t i = 0; i < nf; i++)
        free(files[i]);
    free(files);
    free(dir);
    return rc;
}
