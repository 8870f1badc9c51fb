/* SPDX-License-Identifier: MIT */
/*
 * gguf: a reader for GGUF model files (versions 2 and 3), the format of
 * llama.cpp and Ollama.
 *
 * gguf_open() reads the header, the metadata key/value pairs and the tensor
 * infos with bounded pread() calls and never touches the tensor data, so a
 * 30 GB model costs a few megabytes of reading (mostly the tokenizer). Every
 * count, length, type id, shape, offset and the alignment are checked before
 * they are used; a truncated, corrupt or hostile file yields -EINVAL (or the
 * errno of a failed read) and one line in `err` that names the file and the
 * place, e.g.
 *
 *   m.gguf: tensor 12 'blk.0.ffn_up.weight' data [x, y) extends past end of
 *   file (z bytes)
 *
 * and never a crash or an allocation larger than the limits below.
 *
 * DESIGN
 *   - The whole metadata section is copied into memory (numbers as packed
 *     little-endian arrays, strings as NUL-terminated copies) so that the
 *     getters cannot fail on I/O. What may be held is capped by
 *     GGUF_MAX_META_BYTES; real files use a few MB.
 *   - Lengths are checked against the bytes left in the file before anything
 *     is allocated, so the file size bounds every allocation.
 *   - Tensor data ranges must lie inside the file, be aligned, and not
 *     overlap each other. llama.cpp additionally requires them to be packed in
 *     order; we do not, so files llama.cpp would refuse for that reason alone
 *     still parse here (and estimate correctly).
 *   - hermod only runs on little-endian hosts (x86-64, aarch64); a
 *     big-endian GGUF is recognised and refused.
 *   - A struct gguf is immutable after gguf_open() and may be read from any
 *     thread. No function here blocks except gguf_open().
 *
 * The ggml type table (names, block sizes, bytes per block) mirrors
 * ggml/src/ggml.c's type_traits and gguf-py's GGML_QUANT_SIZES.
 */
#ifndef HERMOD_GGUF_H
#define HERMOD_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/* Limits on what a file may declare. A file beyond them is refused. */
#define GGUF_MAX_TENSORS    (1u << 20)           /* tensor infos */
#define GGUF_MAX_KV         (1u << 20)           /* metadata pairs */
#define GGUF_MAX_STRING     (64u << 20)          /* one string value, bytes */
#define GGUF_MAX_KEY        65535u               /* one key, bytes (GGUF spec) */
#define GGUF_MAX_ARRAY      (1u << 26)           /* elements in one array */
#define GGUF_MAX_META_BYTES (512ull << 20)       /* all metadata held in memory */
#define GGUF_MAX_NAME       64                   /* tensor name incl. NUL (GGML_MAX_NAME) */
#define GGUF_MAX_DIMS       4
#define GGUF_MAX_ALIGNMENT  (1u << 30)
#define GGUF_DEFAULT_ALIGNMENT 32

/* Metadata value types, numbered as in the GGUF spec. */
enum gguf_vtype {
    GGUF_VT_UINT8 = 0,
    GGUF_VT_INT8 = 1,
    GGUF_VT_UINT16 = 2,
    GGUF_VT_INT16 = 3,
    GGUF_VT_UINT32 = 4,
    GGUF_VT_INT32 = 5,
    GGUF_VT_FLOAT32 = 6,
    GGUF_VT_BOOL = 7,
    GGUF_VT_STRING = 8,
    GGUF_VT_ARRAY = 9,
    GGUF_VT_UINT64 = 10,
    GGUF_VT_INT64 = 11,
    GGUF_VT_FLOAT64 = 12,
    GGUF_VT_COUNT
};

/*
 * Tensor data types, numbered as ggml's enum ggml_type. Ids 4, 5, 31-33 and
 * 36-38 were removed from ggml and are invalid in files.
 */
enum ggml_type {
    GGML_TYPE_F32 = 0,
    GGML_TYPE_F16 = 1,
    GGML_TYPE_Q4_0 = 2,
    GGML_TYPE_Q4_1 = 3,
    GGML_TYPE_Q5_0 = 6,
    GGML_TYPE_Q5_1 = 7,
    GGML_TYPE_Q8_0 = 8,
    GGML_TYPE_Q8_1 = 9,
    GGML_TYPE_Q2_K = 10,
    GGML_TYPE_Q3_K = 11,
    GGML_TYPE_Q4_K = 12,
    GGML_TYPE_Q5_K = 13,
    GGML_TYPE_Q6_K = 14,
    GGML_TYPE_Q8_K = 15,
    GGML_TYPE_IQ2_XXS = 16,
    GGML_TYPE_IQ2_XS = 17,
    GGML_TYPE_IQ3_XXS = 18,
    GGML_TYPE_IQ1_S = 19,
    GGML_TYPE_IQ4_NL = 20,
    GGML_TYPE_IQ3_S = 21,
    GGML_TYPE_IQ2_S = 22,
    GGML_TYPE_IQ4_XS = 23,
    GGML_TYPE_I8 = 24,
    GGML_TYPE_I16 = 25,
    GGML_TYPE_I32 = 26,
    GGML_TYPE_I64 = 27,
    GGML_TYPE_F64 = 28,
    GGML_TYPE_IQ1_M = 29,
    GGML_TYPE_BF16 = 30,
    GGML_TYPE_TQ1_0 = 34,
    GGML_TYPE_TQ2_0 = 35,
    GGML_TYPE_MXFP4 = 39,
    GGML_TYPE_NVFP4 = 40,
    GGML_TYPE_Q1_0 = 41,
    GGML_TYPE_COUNT = 42
};

/* True for an id that names a type a GGUF file may use. */
bool gguf_type_valid(uint32_t type);
/* ggml's name for a type ("q4_K", "bf16", "mxfp4"), or "?" for an invalid id. */
const char *gguf_type_name(uint32_t type);
/* The type named `name` (case-insensitive, "q4_k" == "q4_K"), or -1. */
int gguf_type_from_name(const char *name);
/* Elements per block (1 for plain types, 32 for Q8_0, 256 for K-quants), 0 if invalid. */
uint32_t gguf_type_block_elems(uint32_t type);
/* Bytes per block (4 for F32, 34 for Q8_0, 144 for Q4_K), 0 if invalid. */
uint32_t gguf_type_block_bytes(uint32_t type);
/* True for block-quantized types (not F32/F16/BF16/F64/I*). */
bool gguf_type_is_quantized(uint32_t type);
/*
 * Bytes of a row of `ne0` elements of `type`. Returns 0 and sets *out, or
 * -EINVAL when the type is invalid or ne0 is not a multiple of its block.
 */
int gguf_row_bytes(uint32_t type, uint64_t ne0, uint64_t *out);
/* The name of a metadata value type ("u32", "str", "arr"), "?" if invalid. */
const char *gguf_vtype_name(uint32_t vtype);
/* Bytes of one element of a number or bool type; 0 for str, arr and invalid ids. */
size_t gguf_vtype_size(uint32_t vtype);

/* One string value; `s` is NUL-terminated, `len` is authoritative. */
struct gguf_string {
    uint64_t len;
    const char *s;
};

/*
 * A metadata value as stored. For numbers and bools `data` points to `n`
 * packed little-endian elements of `type` (bool: one byte each). For strings
 * it points to `n` struct gguf_string. Scalars have n == 1 and is_array false.
 * Borrowed from the struct gguf; valid until gguf_free().
 */
struct gguf_value {
    enum gguf_vtype type; /* element type; never GGUF_VT_ARRAY */
    bool is_array;
    uint64_t n;
    const void *data;
};

/* One tensor info. Read-only; borrowed from the struct gguf. */
struct gguf_tensor_info {
    const char *name;
    uint32_t n_dims;                 /* 0..4 */
    int64_t ne[GGUF_MAX_DIMS];       /* dims; unused ones are 1 */
    uint32_t type;                   /* enum ggml_type */
    uint64_t offset;                 /* from the start of the data section */
    uint64_t nbytes;                 /* size of the data */
    uint64_t n_elements;
};

struct gguf;

/*
 * Opens and parses `path`. On success stores a new struct gguf in *out (free
 * it with gguf_free()) and returns 0. On failure returns -EINVAL (malformed
 * file), -EFBIG (beyond a limit above) or a negative errno from open/read,
 * leaves *out untouched and appends one line to err (if err is not NULL).
 */
int gguf_open(const char *path, struct gguf **out, struct buf *err);
/*
 * The same from an open descriptor; `name` is used in messages. The
 * descriptor is borrowed: it is not closed and its file offset is not used.
 */
int gguf_open_fd(int fd, const char *name, struct gguf **out, struct buf *err);
/* Frees everything; gguf_free(NULL) is a no-op. */
void gguf_free(struct gguf *g);

/* The path (or name) the file was opened with, for messages. */
const char *gguf_name(const struct gguf *g);
uint32_t gguf_version(const struct gguf *g);
uint32_t gguf_alignment(const struct gguf *g);
/* Absolute file offset of the data section. */
uint64_t gguf_data_offset(const struct gguf *g);
uint64_t gguf_file_size(const struct gguf *g);
/* Sum of all tensors' nbytes and n_elements. */
uint64_t gguf_tensor_bytes(const struct gguf *g);
uint64_t gguf_n_elements(const struct gguf *g);

/* Metadata, by index (0 .. gguf_kv_count()-1) or by key. */
size_t gguf_kv_count(const struct gguf *g);
const char *gguf_kv_key(const struct gguf *g, size_t i);
void gguf_kv_value(const struct gguf *g, size_t i, struct gguf_value *v);
/* Index of `key`, or -1. */
long gguf_find_kv(const struct gguf *g, const char *key);

/* A scalar string value, or NULL when the key is absent or not a string. */
const char *gguf_get_str(const struct gguf *g, const char *key);
/*
 * Scalar numbers. Any integer type converts when the value fits; floats
 * convert to float. Return 0, -ENOENT (absent) or -EINVAL (wrong type, an
 * array, out of range). *out is set only on success.
 */
int gguf_get_u32(const struct gguf *g, const char *key, uint32_t *out);
int gguf_get_u64(const struct gguf *g, const char *key, uint64_t *out);
int gguf_get_f32(const struct gguf *g, const char *key, float *out);
int gguf_get_bool(const struct gguf *g, const char *key, bool *out);
/*
 * `key` may be a scalar or an array; returns the array length (1 for a
 * scalar) in *n. Returns 0, -ENOENT or -EINVAL (not a number or string).
 */
int gguf_get_arr_len(const struct gguf *g, const char *key, uint64_t *n);
/* Element i of an integer array (or the scalar when i == 0); as gguf_get_u32. */
int gguf_get_arr_u32(const struct gguf *g, const char *key, uint64_t i, uint32_t *out);
int gguf_get_arr_f32(const struct gguf *g, const char *key, uint64_t i, float *out);
/* Element i of a string array, or NULL. */
const char *gguf_get_arr_str(const struct gguf *g, const char *key, uint64_t i);
/*
 * A per-layer value with llama.cpp's get_key_or_arr() rules: a scalar holds
 * for every layer; an array must have at least n_layer elements and gives
 * the value of `layer`. Returns 0, -ENOENT or -EINVAL (too short, wrong type).
 */
int gguf_get_layer_u32(const struct gguf *g, const char *key, uint32_t layer, uint32_t n_layer,
                       uint32_t *out);
/*
 * The same with the key given as "{arch}.suffix", arch taken from
 * general.architecture: gguf_get_arch_u32(g, "block_count", &n).
 */
int gguf_get_arch_u32(const struct gguf *g, const char *suffix, uint32_t *out);
int gguf_get_arch_f32(const struct gguf *g, const char *suffix, float *out);
/* general.architecture, or "" when absent. */
const char *gguf_arch(const struct gguf *g);

/* Tensors, by index (0 .. gguf_tensor_count()-1) or by name. */
size_t gguf_tensor_count(const struct gguf *g);
const struct gguf_tensor_info *gguf_tensor(const struct gguf *g, size_t i);
/* Index of the tensor named `name`, or -1. */
long gguf_find_tensor(const struct gguf *g, const char *name);

#endif
