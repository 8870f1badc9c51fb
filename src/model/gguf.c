/* SPDX-License-Identifier: MIT */
/* gguf.c: see gguf.h. */
#include "model/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/xalloc.h"

/* ------------------------------------------------------------------ types */

struct type_traits {
    const char *name;
    uint32_t blck; /* elements per block; 0 = not a valid id */
    uint32_t size; /* bytes per block */
    bool quantized;
};

/* Indexed by enum ggml_type; holes are the ids ggml removed. Sizes are those
 * of ggml's block structs (ggml-common.h), QK_K = 256. */
static const struct type_traits traits[GGML_TYPE_COUNT] = {
    [GGML_TYPE_F32] = {"f32", 1, 4, false},
    [GGML_TYPE_F16] = {"f16", 1, 2, false},
    [GGML_TYPE_Q4_0] = {"q4_0", 32, 18, true},
    [GGML_TYPE_Q4_1] = {"q4_1", 32, 20, true},
    [GGML_TYPE_Q5_0] = {"q5_0", 32, 22, true},
    [GGML_TYPE_Q5_1] = {"q5_1", 32, 24, true},
    [GGML_TYPE_Q8_0] = {"q8_0", 32, 34, true},
    [GGML_TYPE_Q8_1] = {"q8_1", 32, 36, true},
    [GGML_TYPE_Q2_K] = {"q2_K", 256, 84, true},
    [GGML_TYPE_Q3_K] = {"q3_K", 256, 110, true},
    [GGML_TYPE_Q4_K] = {"q4_K", 256, 144, true},
    [GGML_TYPE_Q5_K] = {"q5_K", 256, 176, true},
    [GGML_TYPE_Q6_K] = {"q6_K", 256, 210, true},
    [GGML_TYPE_Q8_K] = {"q8_K", 256, 292, true},
    [GGML_TYPE_IQ2_XXS] = {"iq2_xxs", 256, 66, true},
    [GGML_TYPE_IQ2_XS] = {"iq2_xs", 256, 74, true},
    [GGML_TYPE_IQ3_XXS] = {"iq3_xxs", 256, 98, true},
    [GGML_TYPE_IQ1_S] = {"iq1_s", 256, 50, true},
    [GGML_TYPE_IQ4_NL] = {"iq4_nl", 32, 18, true},
    [GGML_TYPE_IQ3_S] = {"iq3_s", 256, 110, true},
    [GGML_TYPE_IQ2_S] = {"iq2_s", 256, 82, true},
    [GGML_TYPE_IQ4_XS] = {"iq4_xs", 256, 136, true},
    [GGML_TYPE_I8] = {"i8", 1, 1, false},
    [GGML_TYPE_I16] = {"i16", 1, 2, false},
    [GGML_TYPE_I32] = {"i32", 1, 4, false},
    [GGML_TYPE_I64] = {"i64", 1, 8, false},
    [GGML_TYPE_F64] = {"f64", 1, 8, false},
    [GGML_TYPE_IQ1_M] = {"iq1_m", 256, 56, true},
    [GGML_TYPE_BF16] = {"bf16", 1, 2, false},
    [GGML_TYPE_TQ1_0] = {"tq1_0", 256, 54, true},
    [GGML_TYPE_TQ2_0] = {"tq2_0", 256, 66, true},
    [GGML_TYPE_MXFP4] = {"mxfp4", 32, 17, true},
    [GGML_TYPE_NVFP4] = {"nvfp4", 64, 36, true},
    [GGML_TYPE_Q1_0] = {"q1_0", 128, 18, true},
};

bool gguf_type_valid(uint32_t type)
{
    return type < GGML_TYPE_COUNT && traits[type].blck != 0;
}

const char *gguf_type_name(uint32_t type)
{
    return gguf_type_valid(type) ? traits[type].name : "?";
}

int gguf_type_from_name(const char *name)
{
    for (uint32_t t = 0; t < GGML_TYPE_COUNT; t++)
        if (traits[t].blck && strcasecmp(traits[t].name, name) == 0)
            return (int)t;
    return -1;
}

uint32_t gguf_type_block_elems(uint32_t type)
{
    return gguf_type_valid(type) ? traits[type].blck : 0;
}

uint32_t gguf_type_block_bytes(uint32_t type)
{
    return gguf_type_valid(type) ? traits[type].size : 0;
}

bool gguf_type_is_quantized(uint32_t type)
{
    return gguf_type_valid(type) && traits[type].quantized;
}

int gguf_row_bytes(uint32_t type, uint64_t ne0, uint64_t *out)
{
    if (!gguf_type_valid(type) || ne0 % traits[type].blck)
        return -EINVAL;
    uint64_t r;
    if (__builtin_mul_overflow(ne0 / traits[type].blck, (uint64_t)traits[type].size, &r))
        return -EINVAL;
    *out = r;
    return 0;
}

static const char *const vtype_names[GGUF_VT_COUNT] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64",
};

size_t gguf_vtype_size(uint32_t t)
{
    static const unsigned char sz[GGUF_VT_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return t < GGUF_VT_COUNT ? sz[t] : 0;
}

const char *gguf_vtype_name(uint32_t vtype)
{
    return vtype < GGUF_VT_COUNT ? vtype_names[vtype] : "?";
}

/* ------------------------------------------------------------- the object */

struct kv {
    char *key;
    struct gguf_value v;
};

struct tensor {
    struct gguf_tensor_info info;
    char name[GGUF_MAX_NAME];
};

struct gguf {
    char *name;
    uint32_t version;
    uint32_t alignment;
    uint64_t file_size;
    uint64_t data_offset;
    uint64_t tensor_bytes;
    uint64_t n_elements;
    struct kv *kv;
    size_t nkv;
    struct tensor *t;
    size_t nt;
};

/* ---------------------------------------------------------------- reading */

#define WIN_SIZE (256u * 1024u)

/*
 * A bounded sequential reader over pread(). `ctx` names what is being read
 * ("kv 3 'general.name'") so that a truncation message can say where.
 */
struct rd {
    int fd;
    const char *name;
    uint64_t size;
    uint64_t pos;
    unsigned char *win;
    uint64_t win_off;
    size_t win_len;
    uint64_t meta_bytes;
    struct buf *err;
    char ctx[160];
};

__attribute__((format(printf, 3, 4))) static int fail(struct rd *r, int rc, const char *fmt, ...)
{
    if (r->err) {
        va_list ap;
        buf_addf(r->err, "%s: ", r->name);
        va_start(ap, fmt);
        buf_vaddf(r->err, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int pread_full(struct rd *r, void *dst, size_t n, uint64_t off)
{
    unsigned char *p = dst;
    while (n) {
        ssize_t got = pread(r->fd, p, n, (off_t)off);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            return fail(r, -e, "read at offset %" PRIu64 ": %s", off, strerror(e));
        }
        if (got == 0)
            return fail(r, -EINVAL, "file shrank while reading %s (offset %" PRIu64 ")", r->ctx,
                        off);
        p += got;
        off += (uint64_t)got;
        n -= (size_t)got;
    }
    return 0;
}

static uint64_t left(const struct rd *r)
{
    return r->size - r->pos;
}

/* Fails unless n more bytes exist. */
static int need(struct rd *r, uint64_t n)
{
    if (n > left(r))
        return fail(r, -EINVAL,
                    "truncated: %s needs %" PRIu64 " bytes at offset %" PRIu64
                    ", but the file ends at %" PRIu64,
                    r->ctx, n, r->pos, r->size);
    return 0;
}

static int rd_bytes(struct rd *r, void *dst, size_t n)
{
    int rc = need(r, n);
    if (rc)
        return rc;
    if (r->pos >= r->win_off && r->pos + n <= r->win_off + r->win_len) {
        memcpy(dst, r->win + (r->pos - r->win_off), n);
    } else if (n >= WIN_SIZE / 2) {
        rc = pread_full(r, dst, n, r->pos);
        if (rc)
            return rc;
    } else {
        size_t want = left(r) < WIN_SIZE ? (size_t)left(r) : WIN_SIZE;
        rc = pread_full(r, r->win, want, r->pos);
        if (rc)
            return rc;
        r->win_off = r->pos;
        r->win_len = want;
        memcpy(dst, r->win, n);
    }
    r->pos += n;
    return 0;
}

static int rd_u32(struct rd *r, uint32_t *v)
{
    unsigned char b[4];
    int rc = rd_bytes(r, b, 4);
    if (!rc)
        *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return rc;
}

static int rd_u64(struct rd *r, uint64_t *v)
{
    unsigned char b[8];
    int rc = rd_bytes(r, b, 8);
    if (!rc) {
        *v = 0;
        for (int i = 7; i >= 0; i--)
            *v = *v << 8 | b[i];
    }
    return rc;
}

static int account(struct rd *r, uint64_t n)
{
    r->meta_bytes += n;
    if (r->meta_bytes > GGUF_MAX_META_BYTES)
        return fail(r, -EFBIG, "metadata needs more than %llu MiB in memory (at %s)",
                    GGUF_MAX_META_BYTES >> 20, r->ctx);
    return 0;
}

/* Reads a length-prefixed string of at most `max` bytes into a new buffer. */
static int rd_string(struct rd *r, uint64_t max, char **out, uint64_t *len)
{
    uint64_t n;
    int rc = rd_u64(r, &n);
    if (rc)
        return rc;
    if (n > max)
        return fail(r, n > GGUF_MAX_STRING ? -EFBIG : -EINVAL,
                    "%s: string length %" PRIu64 " exceeds the limit of %" PRIu64 " bytes", r->ctx,
                    n, max);
    rc = need(r, n);
    if (rc)
        return rc;
    rc = account(r, n + 1);
    if (rc)
        return rc;
    char *s = xmalloc((size_t)n + 1);
    rc = rd_bytes(r, s, (size_t)n);
    if (rc) {
        free(s);
        return rc;
    }
    s[n] = '\0';
    *out = s;
    *len = n;
    return 0;
}

static void value_release(struct gguf_value *v)
{
    if (v->type == GGUF_VT_STRING && v->data) {
        struct gguf_string *s = (struct gguf_string *)(uintptr_t)v->data;
        for (uint64_t i = 0; i < v->n; i++)
            free((char *)(uintptr_t)s[i].s);
    }
    free((void *)(uintptr_t)v->data);
    v->data = NULL;
}

/* Reads n elements of `type` (already validated, not ARRAY) into v. */
static int rd_values(struct rd *r, uint32_t type, uint64_t n, struct gguf_value *v)
{
    v->type = (enum gguf_vtype)type;
    v->n = 0;
    v->data = NULL;
    if (type == GGUF_VT_STRING) {
        /* each string carries at least its 8-byte length */
        if (n > left(r) / 8)
            return need(r, n * 8);
        int rc = account(r, n * sizeof(struct gguf_string));
        if (rc)
            return rc;
        struct gguf_string *s = xcalloc(n ? (size_t)n : 1, sizeof(*s));
        v->data = s;
        for (uint64_t i = 0; i < n; i++) {
            char *str;
            uint64_t len;
            rc = rd_string(r, GGUF_MAX_STRING, &str, &len);
            if (rc)
                return rc;
            s[i].s = str;
            s[i].len = len;
            v->n = i + 1;
        }
        return 0;
    }
    size_t esz = gguf_vtype_size(type);
    int rc = need(r, n * esz); /* n <= GGUF_MAX_ARRAY, so no overflow */
    if (rc)
        return rc;
    rc = account(r, n * esz);
    if (rc)
        return rc;
    unsigned char *d = xmalloc(n ? (size_t)(n * esz) : 1);
    v->data = d;
    rc = rd_bytes(r, d, (size_t)(n * esz));
    if (rc)
        return rc;
    if (type == GGUF_VT_BOOL)
        for (uint64_t i = 0; i < n; i++)
            d[i] = d[i] != 0;
    v->n = n;
    return 0;
}

static int read_kvs(struct rd *r, struct gguf *g, uint64_t n_kv)
{
    g->kv = xcalloc(n_kv ? (size_t)n_kv : 1, sizeof(*g->kv));
    for (uint64_t i = 0; i < n_kv; i++) {
        struct kv *kv = &g->kv[i];
        uint64_t klen;
        snprintf(r->ctx, sizeof(r->ctx), "kv %" PRIu64 " key", i);
        int rc = rd_string(r, GGUF_MAX_KEY, &kv->key, &klen);
        if (rc)
            return rc;
        g->nkv = i + 1;
        if (klen == 0)
            return fail(r, -EINVAL, "kv %" PRIu64 " has an empty key", i);
        if (strlen(kv->key) != klen)
            return fail(r, -EINVAL, "kv %" PRIu64 " key contains a NUL byte", i);
        snprintf(r->ctx, sizeof(r->ctx), "kv %" PRIu64 " '%.80s'", i, kv->key);

        uint32_t type;
        rc = rd_u32(r, &type);
        if (rc)
            return rc;
        if (type >= GGUF_VT_COUNT)
            return fail(r, -EINVAL, "%s has invalid value type %" PRIu32, r->ctx, type);
        uint64_t n = 1;
        bool is_array = false;
        if (type == GGUF_VT_ARRAY) {
            is_array = true;
            rc = rd_u32(r, &type);
            if (rc)
                return rc;
            if (type == GGUF_VT_ARRAY)
                return fail(r, -EINVAL, "%s is a nested array, which is not supported", r->ctx);
            if (type >= GGUF_VT_COUNT)
                return fail(r, -EINVAL, "%s has invalid array element type %" PRIu32, r->ctx,
                            type);
            rc = rd_u64(r, &n);
            if (rc)
                return rc;
            if (n > GGUF_MAX_ARRAY)
                return fail(r, -EFBIG, "%s declares %" PRIu64 " array elements (limit %u)",
                            r->ctx, n, GGUF_MAX_ARRAY);
        }
        rc = rd_values(r, type, n, &kv->v);
        kv->v.is_array = is_array;
        if (rc)
            return rc;
    }
    return 0;
}

static int cmp_kv_key(const void *a, const void *b)
{
    const struct kv *const *x = a, *const *y = b;
    return strcmp((*x)->key, (*y)->key);
}

static int check_duplicate_keys(struct rd *r, struct gguf *g)
{
    if (g->nkv < 2)
        return 0;
    const struct kv **idx = xmalloc(g->nkv * sizeof(*idx));
    for (size_t i = 0; i < g->nkv; i++)
        idx[i] = &g->kv[i];
    qsort(idx, g->nkv, sizeof(*idx), cmp_kv_key);
    int rc = 0;
    for (size_t i = 1; i < g->nkv; i++) {
        if (strcmp(idx[i - 1]->key, idx[i]->key) == 0) {
            rc = fail(r, -EINVAL, "duplicate key '%.80s'", idx[i]->key);
            break;
        }
    }
    free(idx);
    return rc;
}

static int read_alignment(struct rd *r, struct gguf *g)
{
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    long i = gguf_find_kv(g, "general.alignment");
    if (i < 0)
        return 0;
    const struct gguf_value *v = &g->kv[i].v;
    if (v->type != GGUF_VT_UINT32 || v->is_array)
        return fail(r, -EINVAL, "general.alignment must be a u32, not %s%s",
                    v->is_array ? "an array of " : "a ", gguf_vtype_name(v->type));
    uint32_t a;
    memcpy(&a, v->data, 4);
    if (a == 0 || (a & (a - 1)) || a > GGUF_MAX_ALIGNMENT)
        return fail(r, -EINVAL, "general.alignment %" PRIu32 " is not a power of two up to 2^30",
                    a);
    g->alignment = a;
    return 0;
}

static int read_tensor_infos(struct rd *r, struct gguf *g, uint64_t n)
{
    g->t = xcalloc(n ? (size_t)n : 1, sizeof(*g->t));
    for (uint64_t i = 0; i < n; i++) {
        struct tensor *t = &g->t[i];
        struct gguf_tensor_info *ti = &t->info;
        ti->name = t->name;
        snprintf(r->ctx, sizeof(r->ctx), "tensor %" PRIu64 " name", i);
        uint64_t len;
        int rc = rd_u64(r, &len);
        if (rc)
            return rc;
        if (len == 0)
            return fail(r, -EINVAL, "tensor %" PRIu64 " has an empty name", i);
        if (len >= GGUF_MAX_NAME)
            return fail(r, -EINVAL, "tensor %" PRIu64 " name is %" PRIu64 " bytes (limit %d)", i,
                        len, GGUF_MAX_NAME - 1);
        rc = rd_bytes(r, t->name, (size_t)len);
        if (rc)
            return rc;
        t->name[len] = '\0';
        g->nt = i + 1;
        if (strlen(t->name) != len)
            return fail(r, -EINVAL, "tensor %" PRIu64 " name contains a NUL byte", i);
        snprintf(r->ctx, sizeof(r->ctx), "tensor %" PRIu64 " '%s'", i, t->name);

        rc = rd_u32(r, &ti->n_dims);
        if (rc)
            return rc;
        if (ti->n_dims > GGUF_MAX_DIMS)
            return fail(r, -EINVAL, "%s has %" PRIu32 " dimensions (limit %d)", r->ctx,
                        ti->n_dims, GGUF_MAX_DIMS);
        uint64_t nel = 1;
        bool overflow = false;
        for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
            uint64_t ne = 1;
            if (d < ti->n_dims) {
                rc = rd_u64(r, &ne);
                if (rc)
                    return rc;
                if (ne > (uint64_t)INT64_MAX)
                    return fail(r, -EINVAL, "%s dimension %" PRIu32 " is negative", r->ctx, d);
            }
            ti->ne[d] = (int64_t)ne;
            if (__builtin_mul_overflow(nel, ne, &nel) || nel > (uint64_t)INT64_MAX)
                overflow = true;
        }
        if (overflow)
            return fail(r, -EINVAL,
                        "%s shape [%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64
                        "] has more than 2^63 elements",
                        r->ctx, ti->ne[0], ti->ne[1], ti->ne[2], ti->ne[3]);
        ti->n_elements = nel;

        rc = rd_u32(r, &ti->type);
        if (rc)
            return rc;
        if (!gguf_type_valid(ti->type))
            return fail(r, -EINVAL, "%s has invalid ggml type %" PRIu32, r->ctx, ti->type);
        uint32_t blck = traits[ti->type].blck;
        if ((uint64_t)ti->ne[0] % blck)
            return fail(r, -EINVAL,
                        "%s has %" PRId64 " elements per row, not a multiple of %s's block of %" PRIu32,
                        r->ctx, ti->ne[0], traits[ti->type].name, blck);
        if (__builtin_mul_overflow(nel / blck, (uint64_t)traits[ti->type].size, &ti->nbytes))
            return fail(r, -EINVAL, "%s size in bytes overflows", r->ctx);

        rc = rd_u64(r, &ti->offset);
        if (rc)
            return rc;
    }
    return 0;
}

static int cmp_tensor_name(const void *a, const void *b)
{
    const struct tensor *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

static int cmp_tensor_offset(const void *a, const void *b)
{
    const struct tensor *const *x = a, *const *y = b;
    uint64_t p = (*x)->info.offset, q = (*y)->info.offset;
    return p < q ? -1 : p > q;
}

static size_t tensor_index(const struct gguf *g, const struct tensor *t)
{
    return (size_t)(t - g->t);
}

/* Alignment, bounds, overlaps and duplicate names of the tensor data. */
static int check_tensors(struct rd *r, struct gguf *g)
{
    int rc = 0;
    const struct tensor **idx = NULL;
    uint64_t end_infos = r->pos;

    if (g->nt == 0) {
        g->data_offset = end_infos;
        return 0;
    }
    uint64_t a = g->alignment;
    g->data_offset = (end_infos + a - 1) / a * a;
    if (g->data_offset > g->file_size)
        return fail(r, -EINVAL,
                    "data section starts at %" PRIu64 ", past the end of the file (%" PRIu64
                    " bytes)",
                    g->data_offset, g->file_size);

    for (size_t i = 0; i < g->nt; i++) {
        const struct gguf_tensor_info *ti = &g->t[i].info;
        uint64_t start, end;
        if (ti->offset % a)
            return fail(r, -EINVAL,
                        "tensor %zu '%s' offset %" PRIu64 " is not a multiple of the alignment %" PRIu64,
                        i, ti->name, ti->offset, a);
        if (__builtin_add_overflow(g->data_offset, ti->offset, &start) ||
            __builtin_add_overflow(start, ti->nbytes, &end) || end > g->file_size)
            return fail(r, -EINVAL,
                        "tensor %zu '%s' data [%" PRIu64 ", %" PRIu64
                        ") extends past end of file (%" PRIu64 " bytes)",
                        i, ti->name, g->data_offset + ti->offset,
                        g->data_offset + ti->offset + ti->nbytes, g->file_size);
        g->tensor_bytes += ti->nbytes;
        g->n_elements += ti->n_elements;
    }

    idx = xmalloc(g->nt * sizeof(*idx));
    for (size_t i = 0; i < g->nt; i++)
        idx[i] = &g->t[i];

    qsort(idx, g->nt, sizeof(*idx), cmp_tensor_name);
    for (size_t i = 1; i < g->nt; i++) {
        if (strcmp(idx[i - 1]->name, idx[i]->name) == 0) {
            size_t x = tensor_index(g, idx[i - 1]), y = tensor_index(g, idx[i]);
            rc = fail(r, -EINVAL, "duplicate tensor name '%s' (tensors %zu and %zu)", idx[i]->name,
                      x < y ? x : y, x < y ? y : x);
            goto out;
        }
    }

    qsort(idx, g->nt, sizeof(*idx), cmp_tensor_offset);
    const struct tensor *prev = NULL;
    for (size_t i = 0; i < g->nt; i++) {
        const struct gguf_tensor_info *ti = &idx[i]->info;
        if (ti->nbytes == 0)
            continue;
        if (prev && prev->info.offset + prev->info.nbytes > ti->offset) {
            rc = fail(r, -EINVAL,
                      "tensor %zu '%s' data [%" PRIu64 ", %" PRIu64 ") overlaps tensor %zu '%s' [%" PRIu64
                      ", %" PRIu64 ")",
                      tensor_index(g, idx[i]), ti->name, g->data_offset + ti->offset,
                      g->data_offset + ti->offset + ti->nbytes, tensor_index(g, prev),
                      prev->info.name, g->data_offset + prev->info.offset,
                      g->data_offset + prev->info.offset + prev->info.nbytes);
            goto out;
        }
        prev = idx[i];
    }
out:
    free(idx);
    return rc;
}

void gguf_free(struct gguf *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->nkv; i++) {
        free(g->kv[i].key);
        value_release(&g->kv[i].v);
    }
    free(g->kv);
    free(g->t);
    free(g->name);
    free(g);
}

int gguf_open_fd(int fd, const char *name, struct gguf **out, struct buf *err)
{
    struct rd r = {.fd = fd, .name = name, .err = err};
    struct gguf *g = xcalloc(1, sizeof(*g));
    struct stat st;
    int rc;

    g->name = xstrdup(name);
    if (fstat(fd, &st) < 0) {
        rc = fail(&r, -errno, "stat: %s", strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = fail(&r, -EINVAL, "not a regular file");
        goto fail;
    }
    r.size = g->file_size = (uint64_t)st.st_size;
    r.win = xmalloc(WIN_SIZE);

    unsigned char magic[4];
    snprintf(r.ctx, sizeof(r.ctx), "the header");
    rc = rd_bytes(&r, magic, 4);
    if (rc)
        goto fail;
    if (memcmp(magic, "GGUF", 4)) {
        char m[5];
        for (int i = 0; i < 4; i++)
            m[i] = magic[i] >= 0x20 && magic[i] < 0x7f ? (char)magic[i] : '?';
        m[4] = '\0';
        rc = fail(&r, -EINVAL, "bad magic '%s' (not a GGUF file)", m);
        goto fail;
    }
    rc = rd_u32(&r, &g->version);
    if (rc)
        goto fail;
    if (g->version != 0 && (g->version & 0xffff) == 0) {
        rc = fail(&r, -EINVAL, "version field 0x%08" PRIx32 ": a big-endian GGUF, not supported",
                  g->version);
        goto fail;
    }
    if (g->version == 1) {
        rc = fail(&r, -EINVAL, "GGUF v1 is not supported (only v2 and v3)");
        goto fail;
    }
    if (g->version != 2 && g->version != 3) {
        rc = fail(&r, -EINVAL, "unsupported GGUF version %" PRIu32 " (only v2 and v3)",
                  g->version);
        goto fail;
    }
    uint64_t n_tensors, n_kv;
    rc = rd_u64(&r, &n_tensors);
    if (!rc)
        rc = rd_u64(&r, &n_kv);
    if (rc)
        goto fail;
    if (n_tensors > GGUF_MAX_TENSORS) {
        rc = fail(&r, -EFBIG, "declares %" PRIu64 " tensors (limit %u)", n_tensors,
                  GGUF_MAX_TENSORS);
        goto fail;
    }
    if (n_kv > GGUF_MAX_KV) {
        rc = fail(&r, -EFBIG, "declares %" PRIu64 " metadata pairs (limit %u)", n_kv, GGUF_MAX_KV);
        goto fail;
    }
    /* The smallest kv is 14 bytes and the smallest tensor info 25: refuse
     * counts the file cannot hold before allocating arrays for them. */
    snprintf(r.ctx, sizeof(r.ctx), "%" PRIu64 " metadata pairs and %" PRIu64 " tensor infos", n_kv,
             n_tensors);
    rc = need(&r, n_kv * 14 + n_tensors * 25);
    if (rc)
        goto fail;

    rc = read_kvs(&r, g, n_kv);
    if (!rc)
        rc = check_duplicate_keys(&r, g);
    if (!rc)
        rc = read_alignment(&r, g);
    if (!rc)
        rc = read_tensor_infos(&r, g, n_tensors);
    if (!rc)
        rc = check_tensors(&r, g);
    if (rc)
        goto fail;
    free(r.win);
    *out = g;
    return 0;
fail:
    free(r.win);
    gguf_free(g);
    return rc;
}

int gguf_open(const char *path, struct gguf **out, struct buf *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (err)
            buf_addf(err, "%s: %s", path, strerror(e));
        return -e;
    }
    int rc = gguf_open_fd(fd, path, out, err);
    close(fd);
    return rc;
}

/* ---------------------------------------------------------------- getters */

const char *gguf_name(const struct gguf *g)
{
    return g->name;
}

uint32_t gguf_version(const struct gguf *g)
{
    return g->version;
}

uint32_t gguf_alignment(const struct gguf *g)
{
    return g->alignment;
}

uint64_t gguf_data_offset(const struct gguf *g)
{
    return g->data_offset;
}

uint64_t gguf_file_size(const struct gguf *g)
{
    return g->file_size;
}

uint64_t gguf_tensor_bytes(const struct gguf *g)
{
    return g->tensor_bytes;
}

uint64_t gguf_n_elements(const struct gguf *g)
{
    return g->n_elements;
}

size_t gguf_kv_count(const struct gguf *g)
{
    return g->nkv;
}

const char *gguf_kv_key(const struct gguf *g, size_t i)
{
    ASSERT(i < g->nkv);
    return g->kv[i].key;
}

void gguf_kv_value(const struct gguf *g, size_t i, struct gguf_value *v)
{
    ASSERT(i < g->nkv);
    *v = g->kv[i].v;
}

long gguf_find_kv(const struct gguf *g, const char *key)
{
    for (size_t i = 0; i < g->nkv; i++)
        if (strcmp(g->kv[i].key, key) == 0)
            return (long)i;
    return -1;
}

static const struct gguf_value *find_value(const struct gguf *g, const char *key)
{
    long i = gguf_find_kv(g, key);
    return i < 0 ? NULL : &g->kv[i].v;
}

const char *gguf_get_str(const struct gguf *g, const char *key)
{
    const struct gguf_value *v = find_value(g, key);
    if (!v || v->type != GGUF_VT_STRING || v->is_array)
        return NULL;
    return ((const struct gguf_string *)v->data)[0].s;
}

/* Element i of a numeric value as a signed/unsigned/float triple. */
static int elem_num(const struct gguf_value *v, uint64_t i, bool *is_float, int64_t *si,
                    uint64_t *ui, double *f)
{
    if (i >= v->n)
        return -EINVAL;
    const unsigned char *p = (const unsigned char *)v->data + i * gguf_vtype_size(v->type);
    *is_float = false;
    *si = 0;
    *ui = 0;
    switch (v->type) {
    case GGUF_VT_UINT8:
    case GGUF_VT_BOOL:
        *ui = p[0];
        break;
    case GGUF_VT_INT8:
        *si = (int8_t)p[0];
        break;
    case GGUF_VT_UINT16: {
        uint16_t x;
        memcpy(&x, p, 2);
        *ui = x;
        break;
    }
    case GGUF_VT_INT16: {
        int16_t x;
        memcpy(&x, p, 2);
        *si = x;
        break;
    }
    case GGUF_VT_UINT32: {
        uint32_t x;
        memcpy(&x, p, 4);
        *ui = x;
        break;
    }
    case GGUF_VT_INT32: {
        int32_t x;
        memcpy(&x, p, 4);
        *si = x;
        break;
    }
    case GGUF_VT_UINT64:
        memcpy(ui, p, 8);
        break;
    case GGUF_VT_INT64:
        memcpy(si, p, 8);
        break;
    case GGUF_VT_FLOAT32: {
        float x;
        memcpy(&x, p, 4);
        *f = x;
        *is_float = true;
        break;
    }
    case GGUF_VT_FLOAT64:
        memcpy(f, p, 8);
        *is_float = true;
        break;
    default:
        return -EINVAL;
    }
    if (!*is_float && *si > 0)
        *ui = (uint64_t)*si;
    return 0;
}

static int elem_u64(const struct gguf_value *v, uint64_t i, uint64_t max, uint64_t *out)
{
    bool fl;
    int64_t si;
    uint64_t ui;
    double f;
    if (v->type == GGUF_VT_BOOL || elem_num(v, i, &fl, &si, &ui, &f) || fl || si < 0 || ui > max)
        return -EINVAL;
    *out = ui;
    return 0;
}

static int elem_u32(const struct gguf_value *v, uint64_t i, uint32_t *out)
{
    uint64_t x;
    if (elem_u64(v, i, UINT32_MAX, &x))
        return -EINVAL;
    *out = (uint32_t)x;
    return 0;
}

static int elem_f32(const struct gguf_value *v, uint64_t i, float *out)
{
    bool fl;
    int64_t si;
    uint64_t ui;
    double f;
    if (v->type == GGUF_VT_BOOL || elem_num(v, i, &fl, &si, &ui, &f))
        return -EINVAL;
    *out = fl ? (float)f : si < 0 ? (float)si : (float)ui;
    return 0;
}

int gguf_get_u64(const struct gguf *g, const char *key, uint64_t *out)
{
    const struct gguf_value *v = find_value(g, key);
    if (!v)
        return -ENOENT;
    return v->is_array ? -EINVAL : elem_u64(v, 0, UINT64_MAX, out);
}

int gguf_get_u32(const struct gguf *g, const char *key, uint32_t *out)
{
    const struct gguf_value *v = find_value(g, key);
    if (!v)
        return -ENOENT;
    return v->is_array ? -EINVAL : elem_u32(v, 0, out);
}

int gguf_get_f32(const struct gguf *g, const char *key, float *out)
{
    const struct gguf_value *v = find_value(g, key);
    if (!v)
        return -ENOENT;
    return v->is_array ? -EINVAL : elem_f32(v, 0, out);
}

int gguf_get_bool(const struct gguf *g, const char *key, bool *out)
{
    const struct gguf_value *v = find_value(g, key);
    if (!v)
        return -ENOENT;
    if (v->type != GGUF_VT_BOOL || v->is_array)
        return -EINVAL;
    *out = ((const unsigned char *)v->data)[0] != 0;
    return 0;
}

int gguf_get_arr_len(const struct gguf *g, const char *key, uint64_t *n)
{
    const struct gguf_value *v = find_value(g, key);
    if (!v)
        return -ENOENT;
    *n = v->n;
    return 0;
}

int gguf_get_arr_u32(const struct gguf *g, const char *key, uint64_t i, uint32_t *out)
{
    const struct gguf_value *v = find_value(g, key);
    return v ? elem_u32(v, i, out) : -ENOENT;
}

int gguf_get_arr_f32(const struct gguf *g, const char *key, uint64_t i, float *out)
{
    const struct gguf_value *v = find_value(g, key);
    return v ? elem_f32(v, i, out) : -ENOENT;
}

const char *gguf_get_arr_str(const struct gguf *g, const char *key, uint64_t i)
{
    const struct gguf_value *v = find_value(g, key);
    if (!v || v->type != GGUF_VT_STRING || i >= v->n)
        return NULL;
    return ((const struct gguf_string *)v->data)[i].s;
}

int gguf_get_layer_u32(const struct gguf *g, const char *key, uint32_t layer, uint32_t n_layer,
                       uint32_t *out)
{
    const struct gguf_value *v = find_value(g, key);
    if (!v)
        return -ENOENT;
    if (!v->is_array)
        return elem_u32(v, 0, out);
    if (v->n < n_layer || layer >= v->n)
        return -EINVAL;
    return elem_u32(v, layer, out);
}

const char *gguf_arch(const struct gguf *g)
{
    const char *a = gguf_get_str(g, "general.architecture");
    return a ? a : "";
}

static void arch_key(const struct gguf *g, const char *suffix, char *key, size_t n)
{
    snprintf(key, n, "%s.%s", gguf_arch(g), suffix);
}

int gguf_get_arch_u32(const struct gguf *g, const char *suffix, uint32_t *out)
{
    char key[256];
    arch_key(g, suffix, key, sizeof(key));
    return gguf_get_u32(g, key, out);
}

int gguf_get_arch_f32(const struct gguf *g, const char *suffix, float *out)
{
    char key[256];
    arch_key(g, suffix, key, sizeof(key));
    return gguf_get_f32(g, key, out);
}

size_t gguf_tensor_count(const struct gguf *g)
{
    return g->nt;
}

const struct gguf_tensor_info *gguf_tensor(const struct gguf *g, size_t i)
{
    ASSERT(i < g->nt);
    return &g->t[i].info;
}

long gguf_find_tensor(const struct gguf *g, const char *name)
{
    for (size_t i = 0; i < g->nt; i++)
        if (strcmp(g->t[i].name, name) == 0)
            return (long)i;
    return -1;
}
