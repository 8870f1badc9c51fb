/* SPDX-License-Identifier: MIT */
/* gguf_write.c: see gguf_write.h. */
#include "gguf_write.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "lib/xalloc.h"

#define ALIGNMENT GGUF_DEFAULT_ALIGNMENT

struct gw_tensor {
    char name[GGUF_MAX_NAME];
    uint32_t n_dims;
    int64_t ne[GGUF_MAX_DIMS];
    uint32_t type;
    uint64_t offset;
    uint64_t nbytes;
    uint64_t nel;
    struct gw_fill fill;
};

struct gw {
    struct buf kv;  /* serialised key/value pairs */
    char **keys;
    size_t nkv, keys_cap;
    struct gw_tensor *t;
    size_t nt, t_cap;
    uint64_t data_size; /* padded */
    uint64_t tensor_bytes, n_elements;
};

struct gw *gw_new(void)
{
    struct gw *w = xcalloc(1, sizeof(*w));
    buf_init(&w->kv);
    return w;
}

void gw_free(struct gw *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->nkv; i++)
        free(w->keys[i]);
    free(w->keys);
    free(w->t);
    buf_release(&w->kv);
    free(w);
}

/* ---------------------------------------------------------- serialising */

static void put_u32(struct buf *b, uint32_t v)
{
    unsigned char p[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    buf_add(b, p, 4);
}

static void put_u64(struct buf *b, uint64_t v)
{
    unsigned char p[8];
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
    buf_add(b, p, 8);
}

static void put_str(struct buf *b, const char *s, uint64_t len)
{
    put_u64(b, len);
    buf_add(b, s, (size_t)len);
}

bool gw_has_kv(const struct gw *w, const char *key)
{
    for (size_t i = 0; i < w->nkv; i++)
        if (strcmp(w->keys[i], key) == 0)
            return true;
    return false;
}

/* Starts a pair: key and type. */
static void kv_begin(struct gw *w, const char *key, uint32_t type)
{
    if (gw_has_kv(w, key))
        BUG("gguf_write: key '%s' added twice", key);
    ALLOC_GROW(w->keys, w->nkv + 1, w->keys_cap);
    w->keys[w->nkv++] = xstrdup(key);
    put_str(&w->kv, key, strlen(key));
    put_u32(&w->kv, type);
}

void gw_kv_u32(struct gw *w, const char *key, uint32_t v)
{
    kv_begin(w, key, GGUF_VT_UINT32);
    put_u32(&w->kv, v);
}

void gw_kv_i32(struct gw *w, const char *key, int32_t v)
{
    kv_begin(w, key, GGUF_VT_INT32);
    put_u32(&w->kv, (uint32_t)v);
}

void gw_kv_u64(struct gw *w, const char *key, uint64_t v)
{
    kv_begin(w, key, GGUF_VT_UINT64);
    put_u64(&w->kv, v);
}

void gw_kv_f32(struct gw *w, const char *key, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    kv_begin(w, key, GGUF_VT_FLOAT32);
    put_u32(&w->kv, u);
}

void gw_kv_bool(struct gw *w, const char *key, bool v)
{
    kv_begin(w, key, GGUF_VT_BOOL);
    buf_addch(&w->kv, v ? 1 : 0);
}

void gw_kv_str(struct gw *w, const char *key, const char *v)
{
    kv_begin(w, key, GGUF_VT_STRING);
    put_str(&w->kv, v, strlen(v));
}

static void arr_begin(struct gw *w, const char *key, uint32_t elem, uint64_t n)
{
    kv_begin(w, key, GGUF_VT_ARRAY);
    put_u32(&w->kv, elem);
    put_u64(&w->kv, n);
}

void gw_kv_arr_i32(struct gw *w, const char *key, const int32_t *v, size_t n)
{
    arr_begin(w, key, GGUF_VT_INT32, n);
    for (size_t i = 0; i < n; i++)
        put_u32(&w->kv, (uint32_t)v[i]);
}

void gw_kv_arr_f32(struct gw *w, const char *key, const float *v, size_t n)
{
    arr_begin(w, key, GGUF_VT_FLOAT32, n);
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        put_u32(&w->kv, u);
    }
}

void gw_kv_arr_str(struct gw *w, const char *key, const char *const *v, const uint64_t *len,
                   size_t n)
{
    arr_begin(w, key, GGUF_VT_STRING, n);
    for (size_t i = 0; i < n; i++)
        put_str(&w->kv, v[i], len ? len[i] : strlen(v[i]));
}

void gw_kv_value(struct gw *w, const char *key, const struct gguf_value *v)
{
    if (v->is_array)
        arr_begin(w, key, v->type, v->n);
    else
        kv_begin(w, key, v->type);
    if (v->type == GGUF_VT_STRING) {
        const struct gguf_string *s = v->data;
        for (uint64_t i = 0; i < v->n; i++)
            put_str(&w->kv, s[i].s, s[i].len);
    } else {
        /* stored little-endian and packed, as in the file */
        buf_add(&w->kv, v->data, (size_t)(v->n * gguf_vtype_size(v->type)));
    }
}

/* -------------------------------------------------------------- tensors */

bool gw_type_supported(uint32_t type)
{
    switch (type) {
    case GGML_TYPE_F32:
    case GGML_TYPE_F16:
    case GGML_TYPE_BF16:
    case GGML_TYPE_Q4_0:
    case GGML_TYPE_Q5_0:
    case GGML_TYPE_Q8_0:
    case GGML_TYPE_Q4_K:
    case GGML_TYPE_Q6_K:
        return true;
    default:
        return false;
    }
}

int gw_tensor(struct gw *w, const char *name, uint32_t n_dims, const int64_t *ne, uint32_t type,
              struct gw_fill fill, struct buf *err)
{
    size_t len = strlen(name);
    if (len == 0 || len >= GGUF_MAX_NAME) {
        buf_addf(err, "tensor name '%s' must have 1 to %d bytes", name, GGUF_MAX_NAME - 1);
        return -EINVAL;
    }
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS) {
        buf_addf(err, "tensor '%s': %" PRIu32 " dimensions", name, n_dims);
        return -EINVAL;
    }
    if (!gw_type_supported(type)) {
        buf_addf(err, "tensor '%s': no data generator for type %s", name, gguf_type_name(type));
        return -EINVAL;
    }
    if (fill.kind != GW_FILL_RANDOM && gguf_type_is_quantized(type)) {
        buf_addf(err, "tensor '%s': %s data can only be random", name, gguf_type_name(type));
        return -EINVAL;
    }
    for (size_t i = 0; i < w->nt; i++) {
        if (strcmp(w->t[i].name, name) == 0) {
            buf_addf(err, "tensor '%s' declared twice", name);
            return -EINVAL;
        }
    }
    struct gw_tensor t = {.n_dims = n_dims, .type = type, .fill = fill};
    memcpy(t.name, name, len + 1);
    uint64_t nel = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        t.ne[d] = d < n_dims ? ne[d] : 1;
        if (t.ne[d] <= 0 || __builtin_mul_overflow(nel, (uint64_t)t.ne[d], &nel)) {
            buf_addf(err, "tensor '%s': bad dimension %" PRIu32, name, d);
            return -EINVAL;
        }
    }
    uint64_t row;
    if (gguf_row_bytes(type, (uint64_t)t.ne[0], &row)) {
        buf_addf(err, "tensor '%s': row of %" PRId64 " is not a multiple of %s's block of %" PRIu32,
                 name, t.ne[0], gguf_type_name(type), gguf_type_block_elems(type));
        return -EINVAL;
    }
    t.nel = nel;
    t.nbytes = row * (nel / (uint64_t)t.ne[0]);
    t.offset = w->data_size;
    w->data_size += (t.nbytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    w->tensor_bytes += t.nbytes;
    w->n_elements += nel;
    ALLOC_GROW(w->t, w->nt + 1, w->t_cap);
    w->t[w->nt++] = t;
    return 0;
}

size_t gw_tensor_count(const struct gw *w)
{
    return w->nt;
}

size_t gw_kv_count(const struct gw *w)
{
    return w->nkv;
}

uint64_t gw_tensor_bytes(const struct gw *w)
{
    return w->tensor_bytes;
}

uint64_t gw_n_elements(const struct gw *w)
{
    return w->n_elements;
}

static void header(const struct gw *w, struct buf *h)
{
    buf_add(h, "GGUF", 4);
    put_u32(h, 3);
    put_u64(h, w->nt);
    put_u64(h, w->nkv);
    buf_add(h, w->kv.data, w->kv.len);
    for (size_t i = 0; i < w->nt; i++) {
        const struct gw_tensor *t = &w->t[i];
        put_str(h, t->name, strlen(t->name));
        put_u32(h, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++)
            put_u64(h, (uint64_t)t->ne[d]);
        put_u32(h, t->type);
        put_u64(h, t->offset);
    }
    size_t pad = (ALIGNMENT - h->len % ALIGNMENT) % ALIGNMENT;
    for (size_t i = 0; i < pad; i++)
        buf_addch(h, 0);
}

/* End of the last tensor's data, from the start of the data section: the
 * last tensor's padding is not written. */
static uint64_t data_end(const struct gw *w)
{
    if (!w->nt)
        return 0;
    const struct gw_tensor *t = &w->t[w->nt - 1];
    return t->offset + t->nbytes;
}

uint64_t gw_file_size(const struct gw *w)
{
    struct buf h = BUF_INIT;
    header(w, &h);
    uint64_t n = h.len + data_end(w);
    buf_release(&h);
    return n;
}

/* ---------------------------------------------------------- random data */

/* xoshiro256**: fast, good enough for weights nobody will read. */
struct rng {
    uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static inline float rng_f01(struct rng *r)
{
    return (float)(rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

static void rng_bytes(struct rng *r, unsigned char *p, size_t n)
{
    while (n >= 8) {
        uint64_t x = rng_next(r);
        memcpy(p, &x, 8);
        p += 8;
        n -= 8;
    }
    if (n) {
        uint64_t x = rng_next(r);
        memcpy(p, &x, n);
    }
}

uint16_t gw_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t e8 = (x >> 23) & 0xffu;
    uint32_t mant = x & 0x7fffffu;
    if (e8 == 0xff)
        return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));
    int32_t exp = (int32_t)e8 - 127 + 15;
    if (exp >= 31)
        return (uint16_t)(sign | 0x7c00u);
    if (exp <= 0) {
        if (exp < -10)
            return (uint16_t)sign;
        mant |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - exp);
        uint32_t h = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1)))
            h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)exp << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1)))
        h++; /* a carry into the exponent is the right result */
    return (uint16_t)(sign | h);
}

uint16_t gw_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40);
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
}

static void put_f16(unsigned char *p, float f)
{
    uint16_t h = gw_f32_to_f16(f);
    p[0] = (unsigned char)h;
    p[1] = (unsigned char)(h >> 8);
}

/* One float of a float-type tensor. */
static float fill_value(struct rng *r, const struct gw_fill *f)
{
    switch (f->kind) {
    case GW_FILL_CONST:
        return f->a;
    case GW_FILL_UNIFORM:
        return f->a + (f->b - f->a) * rng_f01(r);
    case GW_FILL_RANDOM:
    default:
        /* uniform with standard deviation a */
        return (rng_f01(r) * 2.0f - 1.0f) * f->a * 1.7320508f;
    }
}

/*
 * Scale tables for one tensor: 256 fp16 scales around `d` (+-10 %), picked
 * per block by a random byte. The constants that turn a standard deviation
 * into a block scale are the standard deviations of the quant codes: int8
 * uniform 73.9, 5-bit 9.23, 4-bit 4.61, and for Q6_K (int8 scale) x (6-bit
 * code) 73.9 x 18.5.
 */
struct scales {
    unsigned char d[256][2];
    unsigned char dmin[256][2];
    /* random float-type weights are drawn from a table of 4096 values: the
     * conversion per element would make F16 models 20 times slower */
    float f[4096];
    uint16_t h[4096];
};

static void scales_init(struct scales *s, float d, float dmin_ratio)
{
    for (int i = 0; i < 256; i++) {
        float x = d * (0.9f + 0.2f * (float)i / 255.0f);
        put_f16(s->d[i], x);
        put_f16(s->dmin[i], x * dmin_ratio);
    }
}

/* Fills `n` bytes of tensor t (a whole number of blocks) at p. */
static void fill_chunk(struct rng *r, const struct gw_tensor *t, const struct scales *sc,
                       unsigned char *p, size_t n)
{
    size_t bb = gguf_type_block_bytes(t->type);
    bool table = t->fill.kind == GW_FILL_RANDOM;
    switch (t->type) {
    case GGML_TYPE_F32:
        if (table) {
            for (size_t i = 0; i < n; i += 4 * 5) {
                uint64_t x = rng_next(r);
                for (size_t k = 0; k < 5 && i + 4 * k < n; k++, x >>= 12)
                    memcpy(p + i + 4 * k, &sc->f[x & 4095], 4);
            }
            return;
        }
        for (size_t i = 0; i < n; i += 4) {
            float v = fill_value(r, &t->fill);
            memcpy(p + i, &v, 4);
        }
        return;
    case GGML_TYPE_F16:
    case GGML_TYPE_BF16:
        if (table) {
            for (size_t i = 0; i < n; i += 2 * 5) {
                uint64_t x = rng_next(r);
                for (size_t k = 0; k < 5 && i + 2 * k < n; k++, x >>= 12)
                    memcpy(p + i + 2 * k, &sc->h[x & 4095], 2);
            }
            return;
        }
        for (size_t i = 0; i < n; i += 2) {
            float v = fill_value(r, &t->fill);
            uint16_t h = t->type == GGML_TYPE_F16 ? gw_f32_to_f16(v) : gw_f32_to_bf16(v);
            p[i] = (unsigned char)h;
            p[i + 1] = (unsigned char)(h >> 8);
        }
        return;
    default:
        break;
    }
    /* quantized: random codes, then a sane scale in each block */
    rng_bytes(r, p, n);
    for (size_t off = 0; off < n; off += bb) {
        unsigned char *b = p + off;
        unsigned idx = b[bb - 1]; /* a random byte of this block picks the scale */
        switch (t->type) {
        case GGML_TYPE_Q4_K: /* d, dmin, scales[12], qs[128] */
            memcpy(b, sc->d[idx], 2);
            memcpy(b + 2, sc->dmin[idx], 2);
            break;
        case GGML_TYPE_Q6_K: /* ql[128], qh[64], scales[16], d */
            memcpy(b + 208, sc->d[b[0]], 2);
            break;
        default: /* Q4_0, Q5_0, Q8_0: d first */
            memcpy(b, sc->d[idx], 2);
            break;
        }
    }
}

static void scales_for(const struct gw_tensor *t, struct rng *r, struct scales *sc)
{
    float sigma = t->fill.a > 0 ? t->fill.a : 0.02f;
    switch (t->type) {
    case GGML_TYPE_F32:
    case GGML_TYPE_F16:
    case GGML_TYPE_BF16:
        if (t->fill.kind == GW_FILL_RANDOM) {
            for (int i = 0; i < 4096; i++) {
                sc->f[i] = fill_value(r, &t->fill);
                uint16_t h = t->type == GGML_TYPE_BF16 ? gw_f32_to_bf16(sc->f[i])
                                                       : gw_f32_to_f16(sc->f[i]);
                memcpy(&sc->h[i], &h, 2);
            }
        }
        break;
    case GGML_TYPE_Q4_K:
        /* research/gpu-anchor.md: d in [1e-4, 1.2e-4] for sigma 0.02, dmin = 7.5 d */
        scales_init(sc, 1.1e-4f * sigma / 0.02f, 7.5f);
        break;
    case GGML_TYPE_Q6_K:
        scales_init(sc, sigma / (73.9f * 18.5f), 0);
        break;
    case GGML_TYPE_Q8_0:
        scales_init(sc, sigma / 73.9f, 0);
        break;
    case GGML_TYPE_Q5_0:
        scales_init(sc, sigma / 9.23f, 0);
        break;
    case GGML_TYPE_Q4_0:
        scales_init(sc, sigma / 4.61f, 0);
        break;
    default:
        break;
    }
}

static int pwrite_all(int fd, const void *p, size_t n, uint64_t off, struct buf *err)
{
    const unsigned char *c = p;
    while (n) {
        ssize_t k = pwrite(fd, c, n, (off_t)off);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            buf_addf(err, "write at offset %" PRIu64 ": %s", off, strerror(e));
            return -e;
        }
        c += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

/*
 * One chunk of one tensor. Its data depends only on (seed, tensor, chunk),
 * so any number of threads writes the same file.
 */
struct job {
    size_t tensor;
    uint64_t off;   /* within the tensor */
    size_t n;
    uint64_t index; /* chunk number within the tensor */
};

struct pool {
    const struct gw *w;
    int fd;
    uint64_t seed, data_start;
    struct job *jobs;
    size_t njobs, next;
    int rc;
    struct buf *err;
    pthread_mutex_t mu;
};

static void *worker(void *arg)
{
    struct pool *p = arg;
    unsigned char *chunk = xmalloc(GW_CHUNK);
    struct scales *sc = xmalloc(sizeof(*sc));
    struct buf err = BUF_INIT;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        size_t j = p->rc ? p->njobs : p->next++;
        pthread_mutex_unlock(&p->mu);
        if (j >= p->njobs)
            break;
        const struct job *jb = &p->jobs[j];
        const struct gw_tensor *t = &p->w->t[jb->tensor];
        struct rng r;
        uint64_t x = p->seed ^ (0x9e3779b97f4a7c15ull * (jb->tensor + 1));
        rng_seed(&r, splitmix64(&x) ^ (0xd1b54a32d192ed03ull * (jb->index + 1)));
        scales_for(t, &r, sc);
        fill_chunk(&r, t, sc, chunk, jb->n);
        int rc = pwrite_all(p->fd, chunk, jb->n, p->data_start + t->offset + jb->off, &err);
        if (rc) {
            pthread_mutex_lock(&p->mu);
            if (!p->rc) {
                p->rc = rc;
                buf_addstr(p->err, buf_cstr(&err));
            }
            pthread_mutex_unlock(&p->mu);
            break;
        }
    }
    buf_release(&err);
    free(sc);
    free(chunk);
    return NULL;
}

unsigned gw_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 8 ? 8 : (unsigned)n;
}

/* Writes the header at offset 0 and stores its length in *len. */
static int write_header(const struct gw *w, int fd, uint64_t *len, struct buf *err)
{
    struct buf h = BUF_INIT;
    header(w, &h);
    *len = h.len;
    int rc = pwrite_all(fd, h.data, h.len, 0, err);
    buf_release(&h);
    return rc;
}

/* Sizes the file: holes (padding, sparse data) read as zeros. */
static int set_size(const struct gw *w, int fd, uint64_t header_len, struct buf *err)
{
    if (ftruncate(fd, (off_t)(header_len + data_end(w))) < 0) {
        int e = errno;
        buf_addf(err, "ftruncate: %s", strerror(e));
        return -e;
    }
    return 0;
}

int gw_write_threads(struct gw *w, int fd, uint64_t seed, unsigned threads, struct buf *err)
{
    struct pool p = {.w = w, .fd = fd, .seed = seed, .err = err};
    size_t cap = 0;
    int rc = write_header(w, fd, &p.data_start, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < w->nt; i++) {
        const struct gw_tensor *t = &w->t[i];
        size_t bb = gguf_type_block_bytes(t->type);
        size_t step = GW_CHUNK / bb * bb;
        uint64_t k = 0;
        for (uint64_t off = 0; off < t->nbytes; off += step, k++) {
            ALLOC_GROW(p.jobs, p.njobs + 1, cap);
            p.jobs[p.njobs++] = (struct job){i, off, t->nbytes - off < step ? (size_t)(t->nbytes - off) : step, k};
        }
    }
    if (threads < 1)
        threads = 1;
    if (threads > 64)
        threads = 64;
    pthread_mutex_init(&p.mu, NULL);
    pthread_t tid[64];
    unsigned started = 0;
    for (; started < threads - 1; started++)
        if (pthread_create(&tid[started], NULL, worker, &p))
            break;
    worker(&p); /* the calling thread works too */
    for (unsigned i = 0; i < started; i++)
        pthread_join(tid[i], NULL);
    pthread_mutex_destroy(&p.mu);
    free(p.jobs);
    return p.rc ? p.rc : set_size(w, fd, p.data_start, err);
}

int gw_write(struct gw *w, int fd, uint64_t seed, struct buf *err)
{
    return gw_write_threads(w, fd, seed, gw_default_threads(), err);
}

int gw_write_sparse(struct gw *w, int fd, struct buf *err)
{
    uint64_t len;
    int rc = write_header(w, fd, &len, err);
    return rc ? rc : set_size(w, fd, len, err);
}
