/* SPDX-License-Identifier: MIT */
/*
 * gguf_write: a streaming GGUF v3 writer with synthetic tensor data, for
 * tools/gguf-gen and the unit tests (which #include the .c files).
 *
 * Metadata and tensor infos are collected in memory (kilobytes to a few MB
 * for a real tokenizer); gw_write() then emits the header and generates each
 * tensor's data in fixed-size chunks straight into the file descriptor, so a
 * 30 GB model never needs more than one chunk buffer (GW_CHUNK).
 *
 * DESIGN
 *   - Tensors are packed in declaration order, each at an offset that is a
 *     multiple of the alignment (32), which is what llama.cpp's loader
 *     requires (it checks that offsets are exactly the running padded sum).
 *   - Data is random but sane: quantized blocks get random quant bytes and
 *     small fp16 scales chosen so that the weights have roughly zero mean and
 *     the requested standard deviation (Q4_K: d ~ 1e-4, dmin = 7.5 d, as in
 *     research/gpu-anchor.md). A model made of these produces finite logits.
 *   - Every chunk of every tensor has its own PRNG stream derived from
 *     (seed, tensor, chunk), so the output depends only on the seed and the
 *     tensor list, not on the number of threads.
 *   - gw_write() fills and writes chunks on several threads (pwrite at
 *     their own offsets; tmpfs and page-cache writes scale with CPUs). The
 *     struct gw itself is not thread-safe: build it on one thread.
 */
#ifndef HERMOD_GGUF_WRITE_H
#define HERMOD_GGUF_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "model/gguf.h"

#define GW_CHUNK (8u << 20)

enum gw_fill_kind {
    GW_FILL_RANDOM,  /* zero mean, standard deviation a */
    GW_FILL_CONST,   /* every element a (float types only) */
    GW_FILL_UNIFORM, /* uniform in [a, b) (float types only) */
};

struct gw_fill {
    enum gw_fill_kind kind;
    float a, b;
};

struct gw;

/* A new, empty writer. Never NULL; free with gw_free(). */
struct gw *gw_new(void);
void gw_free(struct gw *w);

/*
 * Metadata setters. Keys are copied; arrays are copied. The caller must not
 * add a key twice (llama.cpp refuses duplicate keys): that is a BUG().
 */
void gw_kv_u32(struct gw *w, const char *key, uint32_t v);
void gw_kv_i32(struct gw *w, const char *key, int32_t v);
void gw_kv_u64(struct gw *w, const char *key, uint64_t v);
void gw_kv_f32(struct gw *w, const char *key, float v);
void gw_kv_bool(struct gw *w, const char *key, bool v);
void gw_kv_str(struct gw *w, const char *key, const char *v);
void gw_kv_arr_i32(struct gw *w, const char *key, const int32_t *v, size_t n);
void gw_kv_arr_f32(struct gw *w, const char *key, const float *v, size_t n);
/* `len` may be NULL, then each string's length is strlen(). */
void gw_kv_arr_str(struct gw *w, const char *key, const char *const *v, const uint64_t *len,
                   size_t n);
/* Copies a value read by gguf.h (e.g. a tokenizer from another file). */
void gw_kv_value(struct gw *w, const char *key, const struct gguf_value *v);
/* True when `key` was already added. */
bool gw_has_kv(const struct gw *w, const char *key);

/*
 * Declares a tensor of shape ne[0..n_dims-1] and ggml `type`, whose data
 * gw_write() will generate with `fill`. Returns 0, or -EINVAL with a message
 * in err when the name is empty/too long/duplicate, the shape is empty or
 * not a multiple of the type's block, or there is no generator for the type
 * (see gw_type_supported()).
 */
int gw_tensor(struct gw *w, const char *name, uint32_t n_dims, const int64_t *ne, uint32_t type,
              struct gw_fill fill, struct buf *err);
/* Types gw_write() can fill: F32, F16, BF16, Q4_0, Q5_0, Q8_0, Q4_K, Q6_K. */
bool gw_type_supported(uint32_t type);

size_t gw_tensor_count(const struct gw *w);
size_t gw_kv_count(const struct gw *w);
/* Bytes the file will have, header and padding included. */
uint64_t gw_file_size(const struct gw *w);
/* Sum of the tensors' data bytes and elements. */
uint64_t gw_tensor_bytes(const struct gw *w);
uint64_t gw_n_elements(const struct gw *w);

/*
 * Writes the whole file to `fd`, which must be a fresh regular file (it is
 * written with pwrite() at absolute offsets and then sized with
 * ftruncate()), with data from `seed`, using `threads` threads (the caller's
 * plus threads-1 more; each fills and writes whole chunks). The bytes depend
 * only on the tensors and the seed, not on the number of threads. Returns 0,
 * or a negative errno with "write at offset ...: ..." in err.
 */
int gw_write_threads(struct gw *w, int fd, uint64_t seed, unsigned threads, struct buf *err);
/* gw_write_threads() with gw_default_threads(): the online CPUs, at most 8. */
int gw_write(struct gw *w, int fd, uint64_t seed, struct buf *err);
unsigned gw_default_threads(void);
/*
 * Writes only the header to `fd` (at offset 0) and sizes the file to its
 * full size with ftruncate(), leaving the tensor data a hole: a sparse file
 * that parses and estimates like the real one but reads as zeros. For
 * estimates and tests; an engine would compute garbage from it.
 */
int gw_write_sparse(struct gw *w, int fd, struct buf *err);

/* IEEE half and bfloat16 from float, round to nearest even. */
uint16_t gw_f32_to_f16(float f);
uint16_t gw_f32_to_bf16(float f);

#endif
