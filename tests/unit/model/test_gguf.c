/*
 * Unit tests for gguf (reader), estimate (GGUF, safetensors, engine logs),
 * catalog, and the synthetic model writer in tools/ (included below).
 *
 * Every model file is generated at test time in a temporary directory:
 * tiny models of each architecture and weight type, full-size shapes as
 * sparse files (header only, data a hole), hand-built hostile files, and a
 * hand-written safetensors model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/catalog.h"
#include "lib/buf.h"
#include "lib/xalloc.h"
#include "model/estimate.h"
#include "model/gguf.h"

#include "../../../tools/gguf_write.c"
#include "../../../tools/gguf_model.c"

#define MiB (1024.0 * 1024.0)

static char tmpdir[64];

static int setup(void **state)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/hermod-test-gguf-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char *p = xasprintf("%s/%s", tmpdir, de->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            DIR *s = opendir(p);
            struct dirent *se;
            while (s && (se = readdir(s))) {
                if (se->d_name[0] == '.')
                    continue;
                char *q = xasprintf("%s/%s", p, se->d_name);
                unlink(q);
                free(q);
            }
            if (s)
                closedir(s);
            rmdir(p);
        } else {
            unlink(p);
        }
        free(p);
    }
    if (d)
        closedir(d);
    rmdir(tmpdir);
    return 0;
}

static char *tpath(const char *name)
{
    return xasprintf("%s/%s", tmpdir, name);
}

static void write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

static float half_to_float(uint16_t h)
{
    int e = (h >> 10) & 0x1f, m = h & 0x3ff;
    float v = e == 0 ? ldexpf((float)m, -24) : ldexpf((float)(m | 0x400), e - 25);
    return (h & 0x8000) ? -v : v;
}

/* Generates a preset into tmpdir and opens it. */
static struct gguf *gen(const char *preset, uint32_t type, bool sparse, char **path_out)
{
    struct gm_options o;
    struct buf err = BUF_INIT;
    gm_options_init(&o);
    o.type = type;
    o.sparse = sparse;
    char *name = xasprintf("%s-%s%s.gguf", preset, gguf_type_name(type), sparse ? "-sparse" : "");
    char *path = tpath(name);
    free(name);
    int rc = gm_generate(gm_preset_find(preset), &o, 7, path, &err);
    if (rc)
        fail_msg("gm_generate %s: %s", preset, buf_cstr(&err));
    struct gguf *g = NULL;
    rc = gguf_open(path, &g, &err);
    if (rc)
        fail_msg("gguf_open %s: %s", path, buf_cstr(&err));
    buf_release(&err);
    if (path_out)
        *path_out = path;
    else
        free(path);
    return g;
}

static const struct gguf_tensor_info *tensor_named(const struct gguf *g, const char *name)
{
    long i = gguf_find_tensor(g, name);
    assert_true(i >= 0);
    return gguf_tensor(g, (size_t)i);
}

/* -------------------------------------------------------------- tables */

static void test_type_table(void **state)
{
    static const struct {
        uint32_t t;
        const char *name;
        uint32_t blck, bytes;
    } want[] = {
        {GGML_TYPE_F32, "f32", 1, 4},        {GGML_TYPE_F16, "f16", 1, 2},
        {GGML_TYPE_BF16, "bf16", 1, 2},      {GGML_TYPE_Q4_0, "q4_0", 32, 18},
        {GGML_TYPE_Q4_1, "q4_1", 32, 20},    {GGML_TYPE_Q5_0, "q5_0", 32, 22},
        {GGML_TYPE_Q5_1, "q5_1", 32, 24},    {GGML_TYPE_Q8_0, "q8_0", 32, 34},
        {GGML_TYPE_Q2_K, "q2_K", 256, 84},   {GGML_TYPE_Q3_K, "q3_K", 256, 110},
        {GGML_TYPE_Q4_K, "q4_K", 256, 144},  {GGML_TYPE_Q5_K, "q5_K", 256, 176},
        {GGML_TYPE_Q6_K, "q6_K", 256, 210},  {GGML_TYPE_Q8_K, "q8_K", 256, 292},
        {GGML_TYPE_IQ2_XXS, "iq2_xxs", 256, 66}, {GGML_TYPE_IQ4_NL, "iq4_nl", 32, 18},
        {GGML_TYPE_IQ4_XS, "iq4_xs", 256, 136},  {GGML_TYPE_IQ1_M, "iq1_m", 256, 56},
        {GGML_TYPE_TQ1_0, "tq1_0", 256, 54}, {GGML_TYPE_TQ2_0, "tq2_0", 256, 66},
        {GGML_TYPE_MXFP4, "mxfp4", 32, 17},  {GGML_TYPE_NVFP4, "nvfp4", 64, 36},
        {GGML_TYPE_Q1_0, "q1_0", 128, 18},
    };
    for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
        assert_true(gguf_type_valid(want[i].t));
        assert_string_equal(gguf_type_name(want[i].t), want[i].name);
        assert_int_equal(gguf_type_block_elems(want[i].t), want[i].blck);
        assert_int_equal(gguf_type_block_bytes(want[i].t), want[i].bytes);
        assert_int_equal(gguf_type_from_name(want[i].name), (int)want[i].t);
    }
    assert_int_equal(gguf_type_from_name("Q4_k"), GGML_TYPE_Q4_K);
    assert_int_equal(gguf_type_from_name("q4_k_m"), -1);
    static const uint32_t bad[] = {4, 5, 31, 32, 33, 36, 37, 38, 42, 1000, UINT32_MAX};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        assert_false(gguf_type_valid(bad[i]));
        assert_string_equal(gguf_type_name(bad[i]), "?");
        assert_int_equal(gguf_type_block_bytes(bad[i]), 0);
    }
    uint64_t r;
    assert_int_equal(gguf_row_bytes(GGML_TYPE_Q4_K, 4096, &r), 0);
    assert_int_equal(r, 16 * 144);
    assert_int_equal(gguf_row_bytes(GGML_TYPE_Q4_K, 2688, &r), -EINVAL);
    assert_int_equal(gguf_row_bytes(GGML_TYPE_Q8_0, 2688, &r), 0);
    assert_int_equal(r, 84 * 34);
    assert_true(gguf_type_is_quantized(GGML_TYPE_MXFP4));
    assert_false(gguf_type_is_quantized(GGML_TYPE_BF16));
}

static void test_f16_conversion(void **state)
{
    assert_int_equal(gw_f32_to_f16(1.0f), 0x3c00);
    assert_int_equal(gw_f32_to_f16(-2.0f), 0xc000);
    assert_int_equal(gw_f32_to_f16(65504.0f), 0x7bff);
    assert_int_equal(gw_f32_to_f16(1e6f), 0x7c00);
    assert_int_equal(gw_f32_to_f16(5.9604645e-8f), 0x0001); /* smallest subnormal */
    assert_int_equal(gw_f32_to_f16(1e-9f), 0);
    assert_int_equal(gw_f32_to_bf16(1.0f), 0x3f80);
    for (float f = 1e-5f; f < 1e4f; f *= 1.37f) {
        float back = half_to_float(gw_f32_to_f16(f));
        assert_true(fabsf(back - f) <= f * 1e-3f + 6e-8f);
    }
}

/* ------------------------------------------------------- tiny models */

/* CUDA's allocation of a tensor, written out independently of estimate.c. */
static uint64_t cuda_bytes(const struct gguf_tensor_info *t)
{
    uint64_t n = t->nbytes;
    if (gguf_type_is_quantized(t->type) && t->ne[0] % 512)
        n += (512 - (uint64_t)t->ne[0] % 512) / gguf_type_block_elems(t->type) *
             gguf_type_block_bytes(t->type);
    return (n + 127) / 128 * 128;
}

static void check_placement(const struct gguf *g, const struct estimate *e)
{
    uint64_t gpu = 0, cpu = 0;
    for (size_t i = 0; i < gguf_tensor_count(g); i++) {
        const struct gguf_tensor_info *t = gguf_tensor(g, i);
        if (!strcmp(t->name, "token_embd.weight"))
            cpu += t->nbytes;
        else
            gpu += cuda_bytes(t);
    }
    assert_int_equal(e->weights_gpu, gpu);
    assert_int_equal(e->weights_cpu, cpu);
}

static void test_tiny_llama(void **state)
{
    static const uint32_t types[] = {GGML_TYPE_Q4_K, GGML_TYPE_Q8_0, GGML_TYPE_F16};
    for (size_t k = 0; k < ARRAY_SIZE(types); k++) {
        struct gguf *g = gen("tiny-llama", types[k], false, NULL);
        uint32_t v;
        assert_int_equal(gguf_version(g), 3);
        assert_string_equal(gguf_arch(g), "llama");
        assert_int_equal(gguf_get_arch_u32(g, "block_count", &v), 0);
        assert_int_equal(v, 2);
        assert_int_equal(gguf_get_arch_u32(g, "rope.dimension_count", &v), 0);
        assert_int_equal(v, 64);
        assert_int_equal(gguf_tensor_count(g), 3 + 2 * 9);
        assert_int_equal(gguf_data_offset(g) % 32, 0);
        for (size_t i = 0; i < gguf_tensor_count(g); i++)
            assert_int_equal(gguf_tensor(g, i)->offset % 32, 0);
        const struct gguf_tensor_info *q = tensor_named(g, "blk.1.attn_q.weight");
        assert_int_equal(q->type, types[k]);
        assert_int_equal(q->ne[0], 256);
        assert_int_equal(q->ne[1], 256);
        assert_int_equal(tensor_named(g, "blk.0.attn_k.weight")->ne[1], 128);
        assert_int_equal(tensor_named(g, "output_norm.weight")->type, GGML_TYPE_F32);
        /* ffn_down rows are 512 wide: Q4_K fits (2 blocks) */
        assert_int_equal(tensor_named(g, "blk.0.ffn_down.weight")->type, types[k]);

        struct estimate_params p;
        struct estimate e;
        struct buf err = BUF_INIT;
        estimate_params_init(&p);
        p.ctx = 2048;
        assert_int_equal(estimate_gguf(g, &p, &e, &err), 0);
        assert_int_equal(e.kv_cells, 2048);
        /* 2048 cells x 2 layers x (K + V) x 2 heads x 64 x 2 bytes */
        assert_int_equal(e.kv, 2048ull * 2 * 2 * 2 * 64 * 2);
        assert_int_equal(e.recurrent, 0);
        assert_int_equal(e.n_attn_layers, 2);
        check_placement(g, &e);
        /* compute: the dense FFN is the widest phase, 2*256 + 3*512 floats per token */
        assert_int_equal(e.compute, 4ull * 512 * (2 * 256 + 3 * 512));
        assert_int_equal(e.compute_host, 3ull * 4 * 512 * 256 + 4ull * 512);
        assert_int_equal(e.overhead, (uint64_t)(592 + 106) << 20);
        assert_int_equal(e.total, e.weights_gpu + e.weights_cpu + e.kv + e.recurrent + e.compute +
                                      e.compute_host + e.overhead);

        /* q8_0 KV: a 128-wide row is 4 blocks of 34 bytes */
        p.kv_type = GGML_TYPE_Q8_0;
        assert_int_equal(estimate_gguf(g, &p, &e, &err), 0);
        assert_int_equal(e.kv, 2048ull * 2 * 2 * 4 * 34);
        /* q4_0 and 3 slots with per-slot context: 3 x 1000 cells, padded to 3072 */
        p.kv_type = GGML_TYPE_Q4_0;
        p.ctx = 1000;
        p.parallel = 3;
        p.flags = ESTIMATE_CTX_PER_SLOT;
        assert_int_equal(estimate_gguf(g, &p, &e, &err), 0);
        assert_int_equal(e.kv_cells, 3072);
        assert_int_equal(e.kv, 3072ull * 2 * 2 * 4 * 18);
        /* CPU only: no device memory at all */
        estimate_params_init(&p);
        p.gpu_layers = 0;
        assert_int_equal(estimate_gguf(g, &p, &e, &err), 0);
        assert_int_equal(e.kv_cells, 2048); /* the trained context */
        assert_int_equal(e.weights_gpu, 0);
        assert_int_equal(e.compute, 0);
        assert_int_equal(e.overhead, 0);
        assert_int_equal(e.weights_cpu, gguf_tensor_bytes(g));
        /* one layer offloaded: blk.1 only, the output stays on the CPU */
        p.gpu_layers = 1;
        assert_int_equal(estimate_gguf(g, &p, &e, &err), 0);
        uint64_t blk1 = 0;
        for (size_t i = 0; i < gguf_tensor_count(g); i++)
            if (!strncmp(gguf_tensor(g, i)->name, "blk.1.", 6))
                blk1 += cuda_bytes(gguf_tensor(g, i));
        assert_int_equal(e.weights_gpu, blk1);
        buf_release(&err);
        gguf_free(g);
    }
}

static void test_tiny_qwen3moe(void **state)
{
    struct gguf *g = gen("tiny-qwen3moe", GGML_TYPE_Q4_K, false, NULL);
    uint32_t v;
    assert_string_equal(gguf_arch(g), "qwen3moe");
    assert_int_equal(gguf_get_arch_u32(g, "expert_count", &v), 0);
    assert_int_equal(v, 4);
    const struct gguf_tensor_info *t = tensor_named(g, "blk.1.ffn_gate_exps.weight");
    assert_int_equal(t->n_dims, 3);
    assert_int_equal(t->ne[0], 256);
    assert_int_equal(t->ne[1], 256);
    assert_int_equal(t->ne[2], 4);
    assert_int_equal(t->type, GGML_TYPE_Q4_K);
    assert_int_equal(tensor_named(g, "blk.0.ffn_gate_inp.weight")->type, GGML_TYPE_F32);
    assert_int_equal(tensor_named(g, "blk.0.attn_q_norm.weight")->ne[0], 64);

    struct estimate_params p;
    struct estimate e;
    struct buf err = BUF_INIT;
    estimate_params_init(&p);
    p.ctx = 4096;
    p.parallel = 8;
    assert_int_equal(estimate_gguf(g, &p, &e, &err), 0);
    assert_int_equal(e.kv, 4096ull * 2 * 2 * 2 * 64 * 2);
    check_placement(g, &e);
    /* MoE phase: 256 + 4 + 2 * (2 * 256 + 2 * 256) floats per token */
    assert_int_equal(e.compute, 4ull * 512 * (256 + 4 + 2 * (2 * 256 + 2 * 256)));
    assert_int_equal(e.n_expert, 4);
    assert_int_equal(e.n_expert_used, 2);

    /* the Q4_K blocks hold sane scales: d ~ 1.1e-4 (+-10 %), dmin = 7.5 d */
    int fd = open(gguf_name(g), O_RDONLY);
    unsigned char blk[144];
    assert_int_equal(pread(fd, blk, sizeof(blk), (off_t)(gguf_data_offset(g) + t->offset)), 144);
    close(fd);
    float d = half_to_float((uint16_t)(blk[0] | blk[1] << 8));
    float dmin = half_to_float((uint16_t)(blk[2] | blk[3] << 8));
    assert_true(d >= 0.98e-4f && d <= 1.22e-4f);
    assert_true(fabsf(dmin - 7.5f * d) < 0.01f * dmin);
    buf_release(&err);
    gguf_free(g);
}

static void test_tiny_nemotron_h(void **state)
{
    struct gguf *g = gen("tiny-nemotron-h", GGML_TYPE_Q4_K, false, NULL);
    uint32_t v;
    uint64_t n;
    assert_string_equal(gguf_arch(g), "nemotron_h_moe");
    /* pattern MEM*E: per-layer arrays */
    assert_int_equal(gguf_get_arr_len(g, "nemotron_h_moe.attention.head_count_kv", &n), 0);
    assert_int_equal(n, 5);
    static const uint32_t kv[] = {0, 0, 0, 2, 0}, ff[] = {0, 128, 0, 0, 128};
    for (uint32_t il = 0; il < 5; il++) {
        assert_int_equal(gguf_get_layer_u32(g, "nemotron_h_moe.attention.head_count_kv", il, 5, &v), 0);
        assert_int_equal(v, kv[il]);
        assert_int_equal(gguf_get_layer_u32(g, "nemotron_h_moe.feed_forward_length", il, 5, &v), 0);
        assert_int_equal(v, ff[il]);
    }
    /* a scalar holds for every layer; an array shorter than n_layer does not */
    assert_int_equal(gguf_get_layer_u32(g, "nemotron_h_moe.attention.head_count", 4, 5, &v), 0);
    assert_int_equal(v, 4);
    assert_int_equal(gguf_get_layer_u32(g, "nemotron_h_moe.attention.head_count_kv", 1, 6, &v),
                     -EINVAL);
    bool b;
    assert_int_equal(gguf_get_bool(g, "nemotron_h_moe.expert_weights_norm", &b), 0);
    assert_true(b);
    float f;
    assert_int_equal(gguf_get_arch_f32(g, "expert_weights_scale", &f), 0);
    assert_true(f == 2.5f);
    /* Mamba-2 tensors: d_inner 256, d_in_proj = 2*256 + 2*2*16 + 8 */
    assert_int_equal(tensor_named(g, "blk.0.ssm_in.weight")->ne[1], 584);
    assert_int_equal(tensor_named(g, "blk.0.ssm_conv1d.weight")->ne[1], 320);
    assert_int_equal(tensor_named(g, "blk.2.ssm_a")->ne[1], 8);
    assert_int_equal(tensor_named(g, "blk.2.ssm_norm.weight")->ne[0], 128);
    assert_int_equal(tensor_named(g, "blk.2.ssm_conv1d.weight")->type, GGML_TYPE_F32);
    /* 128-wide expert rows cannot be Q4_K: llama-quantize's fallback is Q5_0 */
    assert_int_equal(tensor_named(g, "blk.1.ffn_down_exps.weight")->type, GGML_TYPE_Q5_0);
    assert_int_equal(tensor_named(g, "blk.1.ffn_up_exps.weight")->type, GGML_TYPE_Q4_K);
    assert_int_equal(tensor_named(g, "blk.4.exp_probs_b.bias")->type, GGML_TYPE_F32);
    assert_true(gguf_find_tensor(g, "blk.3.attn_k.weight") >= 0);
    assert_true(gguf_find_tensor(g, "blk.3.ffn_up_exps.weight") < 0);

    struct estimate_params p;
    struct estimate e;
    struct buf err = BUF_INIT;
    estimate_params_init(&p);
    p.ctx = 4096;
    p.parallel = 3;
    assert_int_equal(estimate_gguf(g, &p, &e, &err), 0);
    assert_int_equal(e.n_layer, 5);
    assert_int_equal(e.n_attn_layers, 1);
    assert_int_equal(e.n_recr_layers, 2);
    /* only layer 3 has a KV cache: 4096 x (K + V) x 2 heads x 64 x 2 bytes */
    assert_int_equal(e.kv, 4096ull * 2 * 2 * 64 * 2);
    /* 2 Mamba layers x 3 sequences x f32 x (conv 3 x 320 + state 16 x 256) */
    assert_int_equal(e.recurrent, 2ull * 3 * 4 * (3 * 320 + 16 * 256));
    check_placement(g, &e);
    buf_release(&err);
    gguf_free(g);
}

/* The H100 anchor (research/gpu-anchor.md), as a full-size sparse file. */
static void test_anchor_qwen3moe(void **state)
{
    char *path;
    struct gguf *g = gen("qwen3moe-30b-a3b", GGML_TYPE_Q4_K, true, &path);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal((uint64_t)st.st_size, 17222325504ull); /* "17.22 GB" */
    assert_true((uint64_t)st.st_blocks * 512 < 64ull << 20); /* sparse */
    assert_int_equal(gguf_tensor_count(g), 3 + 48 * 12);

    struct estimate_params p;
    struct estimate e;
    struct buf err = BUF_INIT;
    estimate_params_init(&p);
    p.ctx = 4096;
    p.parallel = 8;
    assert_int_equal(estimate_gguf(g, &p, &e, &err), 0);
    assert_true(e.n_params > 30.52e9 && e.n_params < 30.54e9); /* llama.cpp: 30.53 B */
    /* llama.cpp: CUDA0 model buffer 16253.7 MiB, token_embd 166.9 MiB on the CPU */
    assert_true(fabs((double)e.weights_gpu / MiB - 16253.7) < 0.1);
    assert_int_equal(e.weights_cpu, 175030272); /* 151936 x 2048 q4_K */
    assert_int_equal(e.kv, 384ull << 20);
    /* llama.cpp: 88 MiB device, 12 MiB host; the formula may be up to 15 % high */
    assert_true((double)e.compute / MiB >= 88.0 && (double)e.compute / MiB <= 88.0 * 1.15);
    assert_true(fabs((double)(e.compute_host - 8ull * 151936 * 4) / MiB - 12.0) < 0.01);
    /* nvidia-smi saw 17,424 MiB after serving: weights + KV + compute + overhead */
    double gpu = (double)(e.weights_gpu + e.kv + e.compute + e.overhead) / MiB;
    assert_true(gpu > 17424 * 0.99 && gpu < 17424 * 1.03);
    buf_release(&err);
    gguf_free(g);
    unlink(path);
    free(path);
}

static void test_nemotron_h_full(void **state)
{
    char *path;
    struct gguf *g = gen("nemotron-h", GGML_TYPE_Q4_K, true, &path);
    struct estimate_params p;
    struct estimate e;
    struct buf err = BUF_INIT;
    estimate_params_init(&p);
    p.ctx = 4096;
    assert_int_equal(estimate_gguf(g, &p, &e, &err), 0);
    assert_int_equal(e.n_layer, 52);
    assert_int_equal(e.n_attn_layers, 6);
    assert_int_equal(e.n_recr_layers, 23);
    assert_true(e.n_params > 31.5e9 && e.n_params < 31.7e9); /* technical report: 31.6B */
    /* 6 layers x 4096 x (K + V) x 2 heads x 128 x 2 bytes */
    assert_int_equal(e.kv, 6ull * 4096 * 2 * 2 * 128 * 2);
    /* 23 layers x f32 x (conv 3 x 6144 + state 128 x 4096), one sequence */
    assert_int_equal(e.recurrent, 23ull * 4 * (3 * 6144 + 128 * 4096));
    /* with 4 slots the state is 4 times larger, the KV cache is not */
    uint64_t kv1 = e.kv, rs1 = e.recurrent;
    p.parallel = 4;
    assert_int_equal(estimate_gguf(g, &p, &e, &err), 0);
    assert_int_equal(e.kv, kv1);
    assert_int_equal(e.recurrent, 4 * rs1);
    /* default context: the file's 2^20 */
    estimate_params_init(&p);
    assert_int_equal(estimate_gguf(g, &p, &e, &err), 0);
    assert_int_equal(e.kv_cells, 1u << 20);
    buf_release(&err);
    gguf_free(g);
    unlink(path);
    free(path);
}

static void test_llama8b_full(void **state)
{
    char *path;
    struct gguf *g = gen("llama-8b", GGML_TYPE_Q8_0, true, &path);
    struct estimate_params p;
    struct estimate e;
    struct buf err = BUF_INIT;
    estimate_params_init(&p);
    assert_int_equal(estimate_gguf(g, &p, &e, &err), 0);
    assert_true(e.n_params > 8.02e9 && e.n_params < 8.04e9);
    /* 8192 x 32 layers x (K + V) x 8 heads x 128 x 2 bytes = 1 GiB */
    assert_int_equal(e.kv, 1ull << 30);
    buf_release(&err);
    gguf_free(g);
    unlink(path);
    free(path);
}

/* --------------------------------------------------------- tokenizers */

static void test_synthetic_tokenizer(void **state)
{
    struct gguf *g = gen("tiny-llama", GGML_TYPE_Q8_0, false, NULL);
    uint64_t n;
    uint32_t t;
    assert_string_equal(gguf_get_str(g, "tokenizer.ggml.model"), "llama");
    assert_int_equal(gguf_get_arr_len(g, "tokenizer.ggml.tokens", &n), 0);
    assert_int_equal(n, 512);
    assert_int_equal(tensor_named(g, "token_embd.weight")->ne[1], 512);
    assert_string_equal(gguf_get_arr_str(g, "tokenizer.ggml.tokens", 0), "<unk>");
    assert_string_equal(gguf_get_arr_str(g, "tokenizer.ggml.tokens", 1), "<s>");
    assert_string_equal(gguf_get_arr_str(g, "tokenizer.ggml.tokens", 2), "</s>");
    assert_string_equal(gguf_get_arr_str(g, "tokenizer.ggml.tokens", 3), "<0x00>");
    assert_string_equal(gguf_get_arr_str(g, "tokenizer.ggml.tokens", 13), "<0x0A>");
    assert_string_equal(gguf_get_arr_str(g, "tokenizer.ggml.tokens", 258), "<0xFF>");
    assert_string_equal(gguf_get_arr_str(g, "tokenizer.ggml.tokens", 511), "[PAD511]");
    assert_int_equal(gguf_get_arr_u32(g, "tokenizer.ggml.token_type", 0, &t), 0);
    assert_int_equal(t, 2);
    assert_int_equal(gguf_get_arr_u32(g, "tokenizer.ggml.token_type", 13, &t), 0);
    assert_int_equal(t, 6);
    assert_int_equal(gguf_get_arr_len(g, "tokenizer.ggml.scores", &n), 0);
    assert_int_equal(n, 512);
    assert_int_equal(gguf_get_u32(g, "tokenizer.ggml.eos_token_id", &t), 0);
    assert_int_equal(t, 2);
    assert_null(gguf_get_arr_str(g, "tokenizer.ggml.tokens", 512));
    gguf_free(g);
}

/* A vocab-only GGUF of n tokens, as llama.cpp's models/ggml-vocab-*.gguf. */
static char *vocab_file(uint32_t n)
{
    struct gw *w = gw_new();
    char **tok = xcalloc(n, sizeof(*tok));
    float *sc = xcalloc(n, sizeof(*sc));
    int32_t *ty = xcalloc(n, sizeof(*ty));
    for (uint32_t i = 0; i < n; i++) {
        tok[i] = xasprintf("tok%u", i);
        sc[i] = -(float)i;
        ty[i] = 1;
    }
    const char *merges[] = {"t o", "to k"};
    gw_kv_str(w, "general.architecture", "llama");
    gw_kv_str(w, "tokenizer.ggml.model", "gpt2");
    gw_kv_str(w, "tokenizer.ggml.pre", "default");
    gw_kv_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tok, NULL, n);
    gw_kv_arr_f32(w, "tokenizer.ggml.scores", sc, n);
    gw_kv_arr_i32(w, "tokenizer.ggml.token_type", ty, n);
    gw_kv_arr_str(w, "tokenizer.ggml.merges", merges, NULL, 2);
    gw_kv_u32(w, "tokenizer.ggml.bos_token_id", 7);
    gw_kv_str(w, "tokenizer.chat_template", "{{ messages }}");
    char *name = xasprintf("vocab-%u.gguf", n);
    char *path = tpath(name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    struct buf err = BUF_INIT;
    assert_int_equal(gw_write(w, fd, 1, &err), 0);
    close(fd);
    for (uint32_t i = 0; i < n; i++)
        free(tok[i]);
    free(tok);
    free(sc);
    free(ty);
    free(name);
    gw_free(w);
    return path;
}

static void test_vocab_copy(void **state)
{
    char *vpath = vocab_file(300);
    struct gm_options o;
    struct buf err = BUF_INIT;
    gm_options_init(&o);
    o.type = GGML_TYPE_Q8_0;
    o.vocab_path = vpath;
    char *out = tpath("vocab-copy.gguf");
    assert_int_equal(gm_generate(gm_preset_find("tiny-llama"), &o, 1, out, &err), 0);
    struct gguf *g = NULL;
    assert_int_equal(gguf_open(out, &g, &err), 0);
    uint64_t n;
    uint32_t t;
    float f;
    assert_string_equal(gguf_get_str(g, "tokenizer.ggml.model"), "gpt2");
    assert_string_equal(gguf_get_str(g, "tokenizer.chat_template"), "{{ messages }}");
    assert_int_equal(gguf_get_arr_len(g, "tokenizer.ggml.tokens", &n), 0);
    assert_int_equal(n, 512);
    assert_string_equal(gguf_get_arr_str(g, "tokenizer.ggml.tokens", 299), "tok299");
    assert_string_equal(gguf_get_arr_str(g, "tokenizer.ggml.tokens", 300), "[PAD300]");
    assert_int_equal(gguf_get_arr_f32(g, "tokenizer.ggml.scores", 299, &f), 0);
    assert_true(f == -299.0f);
    assert_int_equal(gguf_get_arr_len(g, "tokenizer.ggml.scores", &n), 0);
    assert_int_equal(n, 512);
    assert_int_equal(gguf_get_arr_u32(g, "tokenizer.ggml.token_type", 511, &t), 0);
    assert_int_equal(t, 1);
    assert_int_equal(gguf_get_arr_len(g, "tokenizer.ggml.merges", &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(gguf_get_u32(g, "tokenizer.ggml.bos_token_id", &t), 0);
    assert_int_equal(t, 7);
    assert_int_equal(gguf_get_u32(g, "llama.vocab_size", &t), 0);
    assert_int_equal(t, 512);
    gguf_free(g);

    /* a vocabulary larger than the preset's wins */
    free(vpath);
    vpath = vocab_file(600);
    o.vocab_path = vpath;
    assert_int_equal(gm_generate(gm_preset_find("tiny-llama"), &o, 1, out, &err), 0);
    assert_int_equal(gguf_open(out, &g, &err), 0);
    assert_int_equal(tensor_named(g, "output.weight")->ne[1], 600);
    gguf_free(g);

    /* a vocab file without tokens is refused */
    o.vocab_path = out; /* a model with a tokenizer: fine */
    char *out2 = tpath("vocab-copy2.gguf");
    assert_int_equal(gm_generate(gm_preset_find("tiny-llama"), &o, 1, out2, &err), 0);
    char *empty = tpath("novocab.gguf");
    struct gw *w = gw_new();
    gw_kv_str(w, "general.architecture", "llama");
    int fd = open(empty, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(gw_write(w, fd, 1, &err), 0);
    close(fd);
    gw_free(w);
    o.vocab_path = empty;
    buf_reset(&err);
    assert_int_equal(gm_generate(gm_preset_find("tiny-llama"), &o, 1, out2, &err), -EINVAL);
    assert_non_null(strstr(buf_cstr(&err), "no tokenizer.ggml.tokens"));
    free(empty);
    free(out2);
    free(out);
    free(vpath);
    buf_release(&err);
}

static void test_writer_errors(void **state)
{
    struct gw *w = gw_new();
    struct buf err = BUF_INIT;
    int64_t ne[2] = {33, 2};
    struct gw_fill fill = {GW_FILL_RANDOM, 0.02f, 0};
    assert_int_equal(gw_tensor(w, "x", 2, ne, GGML_TYPE_Q8_0, fill, &err), -EINVAL);
    assert_non_null(strstr(buf_cstr(&err), "not a multiple"));
    ne[0] = 32;
    assert_int_equal(gw_tensor(w, "x", 2, ne, GGML_TYPE_IQ2_XS, fill, &err), -EINVAL);
    assert_int_equal(gw_tensor(w, "x", 2, ne, GGML_TYPE_Q8_0, fill, &err), 0);
    assert_int_equal(gw_tensor(w, "x", 2, ne, GGML_TYPE_Q8_0, fill, &err), -EINVAL);
    assert_int_equal(gw_tensor(w, "", 2, ne, GGML_TYPE_Q8_0, fill, &err), -EINVAL);
    assert_int_equal(gw_tensor(w, "y", 0, ne, GGML_TYPE_Q8_0, fill, &err), -EINVAL);
    struct gw_fill c = {GW_FILL_CONST, 1, 0};
    assert_int_equal(gw_tensor(w, "z", 2, ne, GGML_TYPE_Q8_0, c, &err), -EINVAL);
    gw_free(w);

    struct gm_options o;
    gm_options_init(&o);
    o.type = GGML_TYPE_IQ2_XS;
    w = gw_new();
    assert_int_equal(gm_build(gm_preset_find("tiny-llama"), &o, w, NULL, &err), -EINVAL);
    gw_free(w);
    assert_null(gm_preset_find("no-such-model"));
    assert_ptr_equal(gm_preset_find("nemotron-3-nano-30b-a3b"), gm_preset_find("nemotron-h"));
    buf_release(&err);
}

/* The bytes depend on the seed only, not on the number of writer threads. */
static void test_writer_threads(void **state)
{
    struct buf err = BUF_INIT;
    char *paths[2] = {tpath("threads1.gguf"), tpath("threads3.gguf")};
    unsigned threads[2] = {1, 3};
    for (int k = 0; k < 2; k++) {
        struct gw *w = gw_new();
        gw_kv_str(w, "general.architecture", "llama");
        int64_t big[2] = {4096, 1536}, q[2] = {256, 64}, f[1] = {1000};
        struct gw_fill r = {GW_FILL_RANDOM, 0.02f, 0};
        assert_int_equal(gw_tensor(w, "big", 2, big, GGML_TYPE_F16, r, &err), 0); /* 2 chunks */
        assert_int_equal(gw_tensor(w, "q", 2, q, GGML_TYPE_Q4_K, r, &err), 0);
        assert_int_equal(gw_tensor(w, "f", 1, f, GGML_TYPE_F32, r, &err), 0);
        int fd = open(paths[k], O_RDWR | O_CREAT | O_TRUNC, 0644);
        assert_int_equal(gw_write_threads(w, fd, 99, threads[k], &err), 0);
        struct stat st;
        fstat(fd, &st);
        assert_int_equal((uint64_t)st.st_size, gw_file_size(w));
        close(fd);
        gw_free(w);
    }
    FILE *a = fopen(paths[0], "rb"), *b = fopen(paths[1], "rb");
    unsigned char x[65536], y[65536];
    size_t n, total = 0;
    while ((n = fread(x, 1, sizeof(x), a)) > 0) {
        assert_int_equal(fread(y, 1, n, b), n);
        assert_memory_equal(x, y, n);
        total += n;
    }
    assert_true(total > 12u << 20);
    fclose(a);
    fclose(b);

    /* random F32 weights: mean ~ 0, standard deviation ~ 0.02 */
    struct gguf *g = NULL;
    assert_int_equal(gguf_open(paths[0], &g, &err), 0);
    const struct gguf_tensor_info *t = tensor_named(g, "f");
    float v[1000];
    int fd = open(paths[0], O_RDONLY);
    assert_int_equal(pread(fd, v, sizeof(v), (off_t)(gguf_data_offset(g) + t->offset)),
                     (ssize_t)sizeof(v));
    close(fd);
    double sum = 0, sq = 0;
    for (int i = 0; i < 1000; i++) {
        sum += v[i];
        sq += (double)v[i] * v[i];
    }
    double mean = sum / 1000, sd = sqrt(sq / 1000 - mean * mean);
    assert_true(fabs(mean) < 0.003);
    assert_true(sd > 0.017 && sd < 0.023);
    gguf_free(g);
    for (int k = 0; k < 2; k++) {
        unlink(paths[k]);
        free(paths[k]);
    }
    buf_release(&err);
}

/* ------------------------------------------------------- hostile files */

/* A small valid GGUF built byte by byte, with the offsets of its fields. */
struct hand {
    struct buf b;
    size_t version, n_tensors, n_kv;
    size_t key0_len, str_len, arr_type, arr_len, align_type, align_val;
    size_t t_name_len[2], t_ndims[2], t_ne[2], t_type[2], t_off[2];
    size_t data;
};

static void h_u32(struct buf *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        buf_addch(b, (char)(v >> (8 * i)));
}

static void h_u64(struct buf *b, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        buf_addch(b, (char)(v >> (8 * i)));
}

static void h_str(struct buf *b, const char *s)
{
    h_u64(b, strlen(s));
    buf_addstr(b, s);
}

static void patch32(struct hand *h, size_t off, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        h->b.data[off + i] = (char)(v >> (8 * i));
}

static void patch64(struct hand *h, size_t off, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        h->b.data[off + i] = (char)(v >> (8 * i));
}

/*
 * v3, 3 kvs (general.architecture = "llama", test.arr = [1, 2, 3] u32,
 * general.alignment = 32), 2 tensors: "a" f32 [32] at 0, "b" q8_0 [32, 2]
 * at 128.
 */
static void hand_build(struct hand *h)
{
    struct buf *b = &h->b;
    buf_init(b);
    buf_add(b, "GGUF", 4);
    h->version = b->len;
    h_u32(b, 3);
    h->n_tensors = b->len;
    h_u64(b, 2);
    h->n_kv = b->len;
    h_u64(b, 3);
    h->key0_len = b->len;
    h_str(b, "general.architecture");
    h_u32(b, GGUF_VT_STRING);
    h->str_len = b->len;
    h_str(b, "llama");
    h_str(b, "test.arr");
    h_u32(b, GGUF_VT_ARRAY);
    h->arr_type = b->len;
    h_u32(b, GGUF_VT_UINT32);
    h->arr_len = b->len;
    h_u64(b, 3);
    h_u32(b, 1), h_u32(b, 2), h_u32(b, 3);
    h_str(b, "general.alignment");
    h->align_type = b->len;
    h_u32(b, GGUF_VT_UINT32);
    h->align_val = b->len;
    h_u32(b, 32);
    static const char *names[2] = {"a", "b"};
    static const uint32_t ndims[2] = {1, 2}, types[2] = {GGML_TYPE_F32, GGML_TYPE_Q8_0};
    static const uint64_t offs[2] = {0, 128};
    for (int t = 0; t < 2; t++) {
        h->t_name_len[t] = b->len;
        h_str(b, names[t]);
        h->t_ndims[t] = b->len;
        h_u32(b, ndims[t]);
        h->t_ne[t] = b->len;
        h_u64(b, 32);
        if (t == 1)
            h_u64(b, 2);
        h->t_type[t] = b->len;
        h_u32(b, types[t]);
        h->t_off[t] = b->len;
        h_u64(b, offs[t]);
    }
    while (b->len % 32)
        buf_addch(b, 0);
    h->data = b->len;
    for (int i = 0; i < 128 + 2 * 34; i++)
        buf_addch(b, (char)i);
}

/* Parses the bytes of h (first n of them) and returns rc; msg gets the error. */
static int hand_parse(const struct hand *h, size_t n, struct buf *msg)
{
    char *path = tpath("hand.gguf");
    write_file(path, h->b.data, n);
    struct gguf *g = NULL;
    buf_reset(msg);
    int rc = gguf_open(path, &g, msg);
    if (rc == 0)
        gguf_free(g);
    else
        assert_true(msg->len > 0);
    free(path);
    return rc;
}

#define EXPECT_ERR(h, want_rc, needle)                                                          \
    do {                                                                                       \
        int rc_ = hand_parse((h), (h)->b.len, &msg);                                            \
        if (rc_ != (want_rc) || !strstr(buf_cstr(&msg), (needle)))                              \
            fail_msg("got %d '%s', want %d '%s'", rc_, buf_cstr(&msg), (want_rc), (needle));    \
    } while (0)

static void test_hand_valid(void **state)
{
    struct hand h;
    struct buf msg = BUF_INIT;
    hand_build(&h);
    char *path = tpath("hand.gguf");
    write_file(path, h.b.data, h.b.len);
    struct gguf *g = NULL;
    assert_int_equal(gguf_open(path, &g, &msg), 0);
    assert_int_equal(gguf_kv_count(g), 3);
    assert_string_equal(gguf_kv_key(g, 1), "test.arr");
    assert_string_equal(gguf_get_str(g, "general.architecture"), "llama");
    uint32_t v;
    uint64_t u;
    assert_int_equal(gguf_get_arr_u32(g, "test.arr", 2, &v), 0);
    assert_int_equal(v, 3);
    assert_int_equal(gguf_get_arr_u32(g, "test.arr", 3, &v), -EINVAL);
    assert_int_equal(gguf_get_u32(g, "test.arr", &v), -EINVAL); /* an array, not a scalar */
    assert_int_equal(gguf_get_u32(g, "general.architecture", &v), -EINVAL);
    assert_int_equal(gguf_get_u32(g, "no.such.key", &v), -ENOENT);
    assert_null(gguf_get_str(g, "test.arr"));
    assert_int_equal(gguf_get_u64(g, "general.alignment", &u), 0);
    assert_int_equal(u, 32);
    struct gguf_value val;
    gguf_kv_value(g, 1, &val);
    assert_true(val.is_array);
    assert_int_equal(val.type, GGUF_VT_UINT32);
    assert_int_equal(val.n, 3);
    assert_int_equal(gguf_alignment(g), 32);
    assert_int_equal(gguf_data_offset(g), h.data);
    assert_int_equal(gguf_tensor_count(g), 2);
    const struct gguf_tensor_info *b = gguf_tensor(g, 1);
    assert_string_equal(b->name, "b");
    assert_int_equal(b->nbytes, 68);
    assert_int_equal(b->n_elements, 64);
    assert_int_equal(gguf_tensor_bytes(g), 128 + 68);
    assert_int_equal(gguf_find_tensor(g, "c"), -1);
    gguf_free(g);

    /* v2 has the same layout */
    patch32(&h, h.version, 2);
    assert_int_equal(hand_parse(&h, h.b.len, &msg), 0);
    free(path);
    buf_release(&msg);
    buf_release(&h.b);
}

static void test_hand_truncated(void **state)
{
    struct hand h;
    struct buf msg = BUF_INIT;
    hand_build(&h);
    /* every prefix of the file is an error: in the header, the data offset or the data */
    for (size_t n = 0; n < h.b.len; n++) {
        int rc = hand_parse(&h, n, &msg);
        if (rc != -EINVAL)
            fail_msg("truncated at %zu: rc %d '%s'", n, rc, buf_cstr(&msg));
        if (n < h.data - 3 && !strstr(buf_cstr(&msg), "truncated") &&
            !strstr(buf_cstr(&msg), "past"))
            fail_msg("truncated at %zu: '%s'", n, buf_cstr(&msg));
    }
    hand_parse(&h, h.data + 10, &msg);
    assert_non_null(strstr(buf_cstr(&msg), "hand.gguf: tensor 0 'a' data ["));
    assert_non_null(strstr(buf_cstr(&msg), "extends past end of file"));
    buf_release(&msg);
    buf_release(&h.b);
}

static void test_hand_hostile(void **state)
{
    struct hand h;
    struct buf msg = BUF_INIT;

    hand_build(&h);
    memcpy(h.b.data, "GGML", 4);
    EXPECT_ERR(&h, -EINVAL, "bad magic 'GGML'");
    buf_release(&h.b);

    static const struct {
        uint32_t v;
        const char *needle;
    } versions[] = {{1, "v1 is not supported"},
                    {4, "unsupported GGUF version 4"},
                    {0, "unsupported GGUF version 0"},
                    {0x03000000, "big-endian"}};
    for (size_t i = 0; i < ARRAY_SIZE(versions); i++) {
        hand_build(&h);
        patch32(&h, h.version, versions[i].v);
        EXPECT_ERR(&h, -EINVAL, versions[i].needle);
        buf_release(&h.b);
    }

    hand_build(&h);
    patch64(&h, h.n_tensors, 1ull << 40);
    EXPECT_ERR(&h, -EFBIG, "declares 1099511627776 tensors");
    buf_release(&h.b);
    hand_build(&h);
    patch64(&h, h.n_tensors, 100000); /* within the limit, but not in this file */
    EXPECT_ERR(&h, -EINVAL, "truncated");
    buf_release(&h.b);
    hand_build(&h);
    patch64(&h, h.n_kv, UINT64_MAX);
    EXPECT_ERR(&h, -EFBIG, "metadata pairs");
    buf_release(&h.b);

    /* string lengths */
    hand_build(&h);
    patch64(&h, h.key0_len, 1ull << 40);
    EXPECT_ERR(&h, -EFBIG, "exceeds the limit");
    buf_release(&h.b);
    hand_build(&h);
    patch64(&h, h.key0_len, 70000);
    EXPECT_ERR(&h, -EINVAL, "exceeds the limit of 65535");
    buf_release(&h.b);
    hand_build(&h);
    patch64(&h, h.key0_len, 0);
    EXPECT_ERR(&h, -EINVAL, "empty key");
    buf_release(&h.b);
    hand_build(&h);
    patch64(&h, h.str_len, 1ull << 40);
    EXPECT_ERR(&h, -EFBIG, "kv 0 'general.architecture': string length 1099511627776");
    buf_release(&h.b);
    hand_build(&h);
    patch64(&h, h.str_len, 4000);
    EXPECT_ERR(&h, -EINVAL, "truncated: kv 0 'general.architecture' needs 4000 bytes");
    buf_release(&h.b);

    /* arrays */
    hand_build(&h);
    patch64(&h, h.arr_len, 1ull << 40);
    EXPECT_ERR(&h, -EFBIG, "array elements");
    buf_release(&h.b);
    hand_build(&h);
    patch64(&h, h.arr_len, 1u << 20);
    EXPECT_ERR(&h, -EINVAL, "truncated: kv 1 'test.arr'");
    buf_release(&h.b);
    hand_build(&h);
    patch32(&h, h.arr_type, GGUF_VT_ARRAY);
    EXPECT_ERR(&h, -EINVAL, "nested array");
    buf_release(&h.b);
    hand_build(&h);
    patch32(&h, h.arr_type, 13);
    EXPECT_ERR(&h, -EINVAL, "invalid array element type 13");
    buf_release(&h.b);
    hand_build(&h);
    patch32(&h, h.align_type, 99);
    EXPECT_ERR(&h, -EINVAL, "invalid value type 99");
    buf_release(&h.b);

    /* alignment */
    static const uint32_t bad_align[] = {0, 3, 48, 1u << 31};
    for (size_t i = 0; i < ARRAY_SIZE(bad_align); i++) {
        hand_build(&h);
        patch32(&h, h.align_val, bad_align[i]);
        EXPECT_ERR(&h, -EINVAL, "not a power of two");
        buf_release(&h.b);
    }
    hand_build(&h);
    patch32(&h, h.align_type, GGUF_VT_INT32);
    EXPECT_ERR(&h, -EINVAL, "general.alignment must be a u32, not a i32");
    buf_release(&h.b);
    hand_build(&h);
    patch32(&h, h.align_val, 64); /* valid, but b's offset 128 is fine and a's data moves */
    EXPECT_ERR(&h, -EINVAL, "extends past end of file");
    buf_release(&h.b);

    /* duplicate key: rename test.arr to general.alignment's twin is awkward;
     * make the first key equal to the third */
    hand_build(&h);
    {
        struct buf b = BUF_INIT;
        buf_add(&b, h.b.data, h.key0_len);
        h_str(&b, "general.alignment");
        h_u32(&b, GGUF_VT_UINT32);
        h_u32(&b, 32);
        size_t skip = h.str_len + 8 + strlen("llama");
        buf_add(&b, h.b.data + skip, h.b.len - skip);
        buf_release(&h.b);
        h.b = b;
    }
    EXPECT_ERR(&h, -EINVAL, "duplicate key 'general.alignment'");
    buf_release(&h.b);

    /* tensors */
    hand_build(&h);
    patch64(&h, h.t_off[1], 1u << 20);
    EXPECT_ERR(&h, -EINVAL, "tensor 1 'b' data [");
    EXPECT_ERR(&h, -EINVAL, "extends past end of file");
    buf_release(&h.b);
    hand_build(&h);
    patch64(&h, h.t_off[1], UINT64_MAX - 31);
    EXPECT_ERR(&h, -EINVAL, "extends past end of file");
    buf_release(&h.b);
    hand_build(&h);
    patch64(&h, h.t_off[1], 130);
    EXPECT_ERR(&h, -EINVAL, "offset 130 is not a multiple of the alignment 32");
    buf_release(&h.b);
    hand_build(&h);
    patch64(&h, h.t_off[1], 96);
    EXPECT_ERR(&h, -EINVAL, "overlaps tensor 0 'a'");
    buf_release(&h.b);
    hand_build(&h);
    h.b.data[h.t_name_len[1] + 8] = 'a';
    EXPECT_ERR(&h, -EINVAL, "duplicate tensor name 'a' (tensors 0 and 1)");
    buf_release(&h.b);
    hand_build(&h);
    patch64(&h, h.t_name_len[0], 0);
    EXPECT_ERR(&h, -EINVAL, "empty name");
    buf_release(&h.b);
    hand_build(&h);
    patch64(&h, h.t_name_len[0], 64);
    EXPECT_ERR(&h, -EINVAL, "name is 64 bytes (limit 63)");
    buf_release(&h.b);
    hand_build(&h);
    patch32(&h, h.t_ndims[0], 5);
    EXPECT_ERR(&h, -EINVAL, "tensor 0 'a' has 5 dimensions");
    buf_release(&h.b);
    hand_build(&h);
    patch64(&h, h.t_ne[1], 1ull << 62);
    patch64(&h, h.t_ne[1] + 8, 1ull << 62);
    EXPECT_ERR(&h, -EINVAL, "more than 2^63 elements");
    buf_release(&h.b);
    hand_build(&h);
    patch64(&h, h.t_ne[1] + 8, UINT64_MAX);
    EXPECT_ERR(&h, -EINVAL, "dimension 1 is negative");
    buf_release(&h.b);
    hand_build(&h);
    patch64(&h, h.t_ne[1], 33);
    EXPECT_ERR(&h, -EINVAL, "33 elements per row, not a multiple of q8_0's block of 32");
    buf_release(&h.b);
    static const uint32_t bad_types[] = {4, 31, 36, 42, 0xffffffff};
    for (size_t i = 0; i < ARRAY_SIZE(bad_types); i++) {
        hand_build(&h);
        patch32(&h, h.t_type[1], bad_types[i]);
        EXPECT_ERR(&h, -EINVAL, "invalid ggml type");
        buf_release(&h.b);
    }
    /* a valid type whose data no longer fits: b as f32 is 256 bytes */
    hand_build(&h);
    patch32(&h, h.t_type[1], GGML_TYPE_F32);
    EXPECT_ERR(&h, -EINVAL, "extends past end of file (");
    buf_release(&h.b);

    /* not a file */
    struct gguf *g = NULL;
    buf_reset(&msg);
    assert_int_equal(gguf_open(tmpdir, &g, &msg), -EINVAL);
    assert_non_null(strstr(buf_cstr(&msg), "not a regular file"));
    buf_reset(&msg);
    char *missing = tpath("missing.gguf");
    assert_int_equal(gguf_open(missing, &g, &msg), -ENOENT);
    free(missing);
    buf_release(&msg);
}

/* Random byte flips of a real model header must never crash or leak. */
static void test_hand_flips(void **state)
{
    char *path;
    struct gguf *g = gen("tiny-nemotron-h", GGML_TYPE_Q8_0, false, &path);
    size_t hdr = (size_t)gguf_data_offset(g);
    gguf_free(g);
    int fd = open(path, O_RDONLY);
    struct stat st;
    fstat(fd, &st);
    unsigned char *orig = xmalloc((size_t)st.st_size);
    assert_int_equal(pread(fd, orig, (size_t)st.st_size, 0), st.st_size);
    close(fd);
    uint64_t x = 12345;
    char *mut = tpath("flip.gguf");
    struct buf msg = BUF_INIT;
    for (int iter = 0; iter < 300; iter++) {
        unsigned char *m = xmemdup(orig, (size_t)st.st_size);
        for (int k = 0; k < 4; k++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            size_t pos = (size_t)((x >> 33) % hdr);
            m[pos] ^= (unsigned char)(1u << ((x >> 20) & 7));
        }
        write_file(mut, m, (size_t)st.st_size);
        buf_reset(&msg);
        if (gguf_open(mut, &g, &msg) == 0) {
            struct estimate_params p;
            struct estimate e;
            estimate_params_init(&p);
            p.ctx = 512;
            estimate_gguf(g, &p, &e, &msg);
            gguf_free(g);
        } else {
            assert_true(msg.len > 0);
        }
        free(m);
    }
    buf_release(&msg);
    free(mut);
    free(orig);
    free(path);
}

/* --------------------------------------------------- estimate errors */

static void test_estimate_errors(void **state)
{
    struct gw *w = gw_new();
    struct buf err = BUF_INIT;
    gw_kv_str(w, "general.architecture", "llama");
    gw_kv_u32(w, "llama.block_count", 1);
    gw_kv_u32(w, "llama.embedding_length", 48);
    gw_kv_u32(w, "llama.attention.head_count", 1);
    gw_kv_u32(w, "llama.context_length", 64);
    int64_t ne[2] = {48, 48};
    struct gw_fill fill = {GW_FILL_RANDOM, 0.02f, 0};
    assert_int_equal(gw_tensor(w, "blk.0.attn_k.weight", 2, ne, GGML_TYPE_F16, fill, &err), 0);
    char *path = tpath("odd.gguf");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(gw_write(w, fd, 1, &err), 0);
    close(fd);
    gw_free(w);

    struct gguf *g = NULL;
    assert_int_equal(gguf_open(path, &g, &err), 0);
    struct estimate_params p;
    struct estimate e;
    estimate_params_init(&p);
    assert_int_equal(estimate_gguf(g, &p, &e, &err), 0);
    assert_int_equal(e.kv_cells, 256); /* 64 padded to 256 */
    assert_int_equal(e.kv, 256ull * 2 * 48 * 2);
    assert_int_equal(e.weights_gpu, 48 * 48 * 2); /* no token_embd, no output: all GPU */
    p.kv_type = GGML_TYPE_Q4_0;
    buf_reset(&err);
    assert_int_equal(estimate_gguf(g, &p, &e, &err), -EINVAL);
    assert_non_null(strstr(buf_cstr(&err), "not a multiple of q4_0's block of 32"));
    gguf_free(g);

    /* no block_count */
    w = gw_new();
    gw_kv_str(w, "general.architecture", "llama");
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_int_equal(gw_write(w, fd, 1, &err), 0);
    close(fd);
    gw_free(w);
    assert_int_equal(gguf_open(path, &g, &err), 0);
    buf_reset(&err);
    assert_int_equal(estimate_gguf(g, &p, &e, &err), -EINVAL);
    assert_non_null(strstr(buf_cstr(&err), "no block_count"));
    gguf_free(g);

    /* estimate_path: a split model is summed over its parts */
    struct gm_options o;
    gm_options_init(&o);
    buf_reset(&err);
    assert_int_equal(estimate_path(tmpdir, &p, &e, &err), -ENOENT); /* no safetensors here */
    free(path);
    buf_release(&err);
}

static void test_split_gguf(void **state)
{
    /* two parts: the first with the metadata and token_embd, the second a layer */
    struct buf err = BUF_INIT;
    int64_t emb[2] = {64, 32}, w1[2] = {64, 64};
    struct gw_fill fill = {GW_FILL_RANDOM, 0.02f, 0};
    for (int part = 1; part <= 2; part++) {
        struct gw *w = gw_new();
        gw_kv_u32(w, "split.no", (uint32_t)part - 1);
        gw_kv_u32(w, "split.count", 2);
        if (part == 1) {
            gw_kv_str(w, "general.architecture", "llama");
            gw_kv_u32(w, "llama.block_count", 1);
            gw_kv_u32(w, "llama.embedding_length", 64);
            gw_kv_u32(w, "llama.attention.head_count", 2);
            gw_kv_u32(w, "llama.context_length", 256);
            assert_int_equal(gw_tensor(w, "token_embd.weight", 2, emb, GGML_TYPE_F16, fill, &err), 0);
        } else {
            assert_int_equal(gw_tensor(w, "blk.0.attn_k.weight", 2, w1, GGML_TYPE_F16, fill, &err), 0);
        }
        char *name = xasprintf("m-%05d-of-00002.gguf", part);
        char *path = tpath(name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_int_equal(gw_write(w, fd, 1, &err), 0);
        close(fd);
        gw_free(w);
        free(name);
        free(path);
    }
    struct estimate_params p;
    struct estimate e;
    estimate_params_init(&p);
    char *first = tpath("m-00001-of-00002.gguf");
    assert_int_equal(estimate_path(first, &p, &e, &err), 0);
    assert_int_equal(e.n_files, 2);
    assert_int_equal(e.n_tensors, 2);
    assert_int_equal(e.weights_cpu, 64 * 32 * 2);
    /* the tied output: token_embd is copied to the GPU (rounded to 128) */
    assert_int_equal(e.weights_gpu, 64 * 64 * 2 + 64 * 32 * 2);
    assert_int_equal(e.kv, 256ull * 2 * 64 * 2);
    char *second = tpath("m-00002-of-00002.gguf");
    unlink(second);
    buf_reset(&err);
    assert_true(estimate_path(first, &p, &e, &err) < 0);
    assert_non_null(strstr(buf_cstr(&err), "m-00002-of-00002.gguf"));
    free(first);
    free(second);
    buf_release(&err);
}

/* ----------------------------------------------------------- safetensors */

static void write_st(const char *path, const char *json, size_t data_len, uint64_t declared)
{
    struct buf b = BUF_INIT;
    uint64_t n = declared ? declared : strlen(json);
    for (int i = 0; i < 8; i++)
        buf_addch(&b, (char)(n >> (8 * i)));
    buf_addstr(&b, json);
    for (size_t i = 0; i < data_len; i++)
        buf_addch(&b, (char)i);
    write_file(path, b.data, b.len);
    buf_release(&b);
}

static void test_safetensors(void **state)
{
    char *dir = tpath("st");
    mkdir(dir, 0755);
    char *f1 = xasprintf("%s/model-00001-of-00002.safetensors", dir);
    char *f2 = xasprintf("%s/model-00002-of-00002.safetensors", dir);
    char *cfg = xasprintf("%s/config.json", dir);
    write_st(f1,
             "{\"__metadata__\":{\"format\":\"pt\"},"
             "\"a\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,12]},"
             "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[12,28]}}",
             28, 0);
    write_st(f2, "{\"c\":{\"dtype\":\"F8_E4M3\",\"shape\":[16,2],\"data_offsets\":[0,32]},"
                 "\"d\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[32,32]}}",
             32, 0);
    const char *config = "{\"architectures\":[\"LlamaForCausalLM\"],\"num_hidden_layers\":2,"
                         "\"hidden_size\":8,\"num_attention_heads\":2,\"num_key_value_heads\":1,"
                         "\"head_dim\":4,\"max_position_embeddings\":128,\"vocab_size\":16,"
                         "\"intermediate_size\":16}";
    write_file(cfg, config, strlen(config));

    struct estimate_params p;
    struct estimate e;
    struct buf err = BUF_INIT;
    estimate_params_init(&p);
    p.ctx = 100;
    p.parallel = 2;
    if (estimate_path(dir, &p, &e, &err))
        fail_msg("%s", buf_cstr(&err));
    assert_int_equal(e.format, ESTIMATE_SAFETENSORS);
    assert_string_equal(e.arch, "LlamaForCausalLM");
    assert_int_equal(e.n_files, 2);
    assert_int_equal(e.n_tensors, 4);
    assert_int_equal(e.weights_gpu, 12 + 16 + 32);
    assert_int_equal(e.n_params, 6 + 4 + 32);
    /* vLLM: every sequence may take the full context: 2 x 100 cells, 2 layers,
     * K + V, 1 head of 4, bf16 */
    assert_int_equal(e.kv_cells, 200);
    assert_int_equal(e.kv, 200ull * 2 * 2 * 1 * 4 * 2);
    assert_int_equal(e.nmix, 4); /* BF16, F32, F8_E4M3, U8 */
    /* fp8 KV */
    p.kv_type = GGML_TYPE_Q8_0;
    assert_int_equal(estimate_path(dir, &p, &e, &err), 0);
    assert_int_equal(e.kv, 200ull * 2 * 2 * 4);
    p.kv_type = GGML_TYPE_Q4_0;
    buf_reset(&err);
    assert_int_equal(estimate_path(dir, &p, &e, &err), -EINVAL);

    /* a hybrid config: Mamba-2 and attention layers (Nemotron-H keys) */
    const char *hybrid = "{\"architectures\":[\"NemotronHForCausalLM\"],"
                         "\"llm_config\":{\"num_hidden_layers\":4,\"hidden_size\":8,"
                         "\"num_attention_heads\":2,\"num_key_value_heads\":1,\"head_dim\":4,"
                         "\"hybrid_override_pattern\":\"M*ME\",\"mamba_num_heads\":2,"
                         "\"mamba_head_dim\":4,\"ssm_state_size\":8,\"n_groups\":1,"
                         "\"conv_kernel\":4,\"max_position_embeddings\":64,\"vocab_size\":16,"
                         "\"n_routed_experts\":4,\"num_experts_per_tok\":2,"
                         "\"moe_intermediate_size\":8}}";
    write_file(cfg, hybrid, strlen(hybrid));
    estimate_params_init(&p);
    p.parallel = 3;
    assert_int_equal(estimate_path(dir, &p, &e, &err), 0);
    assert_int_equal(e.n_layer, 4);
    assert_int_equal(e.n_attn_layers, 1);
    assert_int_equal(e.n_recr_layers, 2);
    assert_int_equal(e.kv, 3ull * 64 * 2 * 4 * 2);
    /* 3 sequences x 2 layers x f32 x (conv 3 x (8 + 2*8) + state 8 x 8) */
    assert_int_equal(e.recurrent, 3ull * 2 * 4 * (3 * 24 + 64));

    /* one file, no config: weights only */
    unlink(cfg);
    estimate_params_init(&p);
    assert_int_equal(estimate_path(f1, &p, &e, &err), 0);
    assert_int_equal(e.weights_gpu, 28);
    assert_int_equal(e.kv, 0);

    /* hostile headers */
    static const struct {
        const char *json;
        size_t data;
        uint64_t declared;
        int rc;
        const char *needle;
    } bad[] = {
        {"{\"a\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,10]}}", 12, 0, -EINVAL,
         "data_offsets span 10 bytes"},
        {"{\"a\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,12]}}", 8, 0, -EINVAL,
         "outside the 8 bytes of data"},
        {"{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,1]}}", 1, 0, -EINVAL,
         "unknown dtype 'Q4'"},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
         "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[2,6]}}",
         6, 0, -EINVAL, "overlaps"},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]}}", 1, 0, -EINVAL,
         "bad shape"},
        {"{\"a\":{\"dtype\":\"U8\"}}", 0, 0, -EINVAL, "lacks dtype"},
        {"[1,2]", 0, 0, -EINVAL, "not a JSON object"},
        {"{\"a\":", 0, 0, -EINVAL, "not a JSON object"},
        {"{}", 0, 1000, -EINVAL, "extends past end of file"},
        {"{}", 0, 200000000, -EFBIG, "exceeds the limit"},
        {"{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2, 0, 0, ""},
    };
    char *hp = tpath("bad.safetensors");
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        write_st(hp, bad[i].json, bad[i].data, bad[i].declared);
        buf_reset(&err);
        int rc = estimate_path(hp, &p, &e, &err);
        if (rc != bad[i].rc || !strstr(buf_cstr(&err), bad[i].needle))
            fail_msg("case %zu: got %d '%s'", i, rc, buf_cstr(&err));
    }
    write_file(hp, "abc", 3);
    buf_reset(&err);
    assert_int_equal(estimate_path(hp, &p, &e, &err), -EINVAL);
    assert_non_null(strstr(buf_cstr(&err), "no 8-byte header length"));
    unlink(hp);
    free(hp);
    unlink(f1);
    unlink(f2);
    rmdir(dir);
    free(f1);
    free(f2);
    free(cfg);
    free(dir);
    buf_release(&err);
}

/* --------------------------------------------------------- engine logs */

static void test_log_lines(void **state)
{
    struct engine_report r;
    engine_report_init(&r);
    static const struct {
        const char *line;
        int want;
    } lines[] = {
        {"llama_model_load_from_file_impl: using device CUDA0 (NVIDIA H100 80GB HBM3) (0000:00:07.0) - 80614 MiB free", 1},
        {"load_tensors: offloading 48 repeating layers to GPU", 0},
        {"load_tensors: offloaded 49/49 layers to GPU", 1},
        {"load_tensors:        CUDA0 model buffer size = 16253.70 MiB", 1},
        {"load_tensors:   CPU_Mapped model buffer size =   166.92 MiB\n", 1},
        {"llama_context: n_ctx         = 4096", 0},
        {"llama_context:  CUDA_Host  output buffer size =     4.64 MiB", 1},
        {"llama_kv_cache:      CUDA0 KV buffer size =   384.00 MiB", 1},
        {"llama_kv_cache: size =  384.00 MiB (  4096 cells,  48 layers,  1/1 seqs), K (f16):  "
         "192.00 MiB, V (f16):  192.00 MiB", 0},
        {"llama_memory_recurrent:      CUDA0 RS buffer size =    47.62 MiB", 1},
        {"llama_memory_recurrent:      CUDA0 RS buffer size =    47.62 MiB (projected)", 0},
        {"sched_reserve:      CUDA0 compute buffer size =    88.00 MiB", 1},
        {"llama_context:  CUDA_Host compute buffer size =    12.01 MiB", 1},
        {"~llama_context:  MTL0 compute buffer size is 97.1250 MiB, matches expectation", 0},
        {"ggml_backend: copy buffer size: 128 MB", 0},
        {"srv  log_server_r: request: GET /health 127.0.0.1 200", 0},
        {"", 0},
    };
    for (size_t i = 0; i < ARRAY_SIZE(lines); i++)
        if (estimate_parse_log_line(lines[i].line, &r) != lines[i].want)
            fail_msg("line %zu: '%s'", i, lines[i].line);
    assert_int_equal(r.model_dev, (uint64_t)llround(16253.70 * MiB));
    assert_int_equal(r.model_host, (uint64_t)llround(166.92 * MiB));
    assert_int_equal(r.kv_dev, 384ull << 20);
    assert_int_equal(r.rs_dev, (uint64_t)llround(47.62 * MiB));
    assert_int_equal(r.compute_dev, 88ull << 20);
    assert_int_equal(r.compute_host, (uint64_t)llround(12.01 * MiB));
    assert_int_equal(r.output_host, (uint64_t)llround(4.64 * MiB));
    assert_int_equal(r.layers_offloaded, 49);
    assert_int_equal(r.layers_total, 49);
    assert_int_equal(r.device_free, 80614ull << 20);
    unsigned all = ENGINE_REPORT_MODEL | ENGINE_REPORT_KV | ENGINE_REPORT_RS |
                   ENGINE_REPORT_COMPUTE | ENGINE_REPORT_OUTPUT | ENGINE_REPORT_OFFLOAD |
                   ENGINE_REPORT_DEVICE_FREE;
    assert_int_equal(r.seen, all);

    struct estimate e;
    engine_report_breakdown(&r, &e);
    assert_int_equal(e.format, ESTIMATE_REPORT);
    assert_int_equal(e.weights_gpu, r.model_dev);
    assert_int_equal(e.weights_cpu, r.model_host);
    assert_int_equal(e.kv, 384ull << 20);
    assert_int_equal(e.recurrent, r.rs_dev);
    assert_int_equal(e.overhead, 0);
    assert_int_equal(e.total, r.model_dev + r.model_host + r.kv_dev + r.rs_dev + r.compute_dev +
                                  r.compute_host + r.output_host);

    /* 2024 builds */
    engine_report_init(&r);
    assert_int_equal(estimate_parse_log_line("llm_load_tensors:        CUDA0 buffer size =  4403.49 MiB", &r), 1);
    assert_int_equal(estimate_parse_log_line("llm_load_tensors:        CPU buffer size =   281.81 MiB", &r), 1);
    assert_int_equal(estimate_parse_log_line("llama_kv_cache_init:      CUDA0 KV buffer size =  1024.00 MiB", &r), 1);
    assert_int_equal(estimate_parse_log_line("llama_new_context_with_model:      CUDA0 compute buffer size =   258.50 MiB", &r), 1);
    assert_int_equal(r.model_dev, (uint64_t)llround(4403.49 * MiB));
    assert_int_equal(r.model_host, (uint64_t)llround(281.81 * MiB));
    assert_int_equal(r.kv_dev, 1024ull << 20);
    assert_int_equal(r.compute_dev, (uint64_t)llround(258.50 * MiB));

    /* vLLM */
    engine_report_init(&r);
    static const char *const vllm[] = {
        "INFO 11-27 10:00:00 [gpu_model_runner.py:1234] Model loading took 15.2340 GiB and 12.345678 seconds",
        "(VllmWorker pid=42) INFO 11-27 10:00:05 [gpu_worker.py:345] Available KV cache memory: 53.43 GiB",
        "INFO 11-27 10:00:05 [kv_cache_utils.py:716] GPU KV cache size: 1,234,567 tokens",
        "INFO 11-27 10:00:05 [kv_cache_utils.py:720] Maximum concurrency for 4,096 tokens per request: 12.34x",
        "INFO 01-02 03:04:05 executor_base.py:110] # CUDA blocks: 27306, # CPU blocks: 2048",
    };
    static const int want[] = {1, 1, 1, 0, 1};
    for (size_t i = 0; i < ARRAY_SIZE(vllm); i++)
        assert_int_equal(estimate_parse_log_line(vllm[i], &r), want[i]);
    assert_int_equal(r.vllm_model, (uint64_t)llround(15.2340 * 1024 * MiB));
    assert_int_equal(r.vllm_kv, (uint64_t)llround(53.43 * 1024 * MiB));
    assert_int_equal(r.vllm_kv_tokens, 1234567);
    assert_int_equal(r.vllm_gpu_blocks, 27306);
    assert_int_equal(estimate_parse_log_line("INFO 06-01 worker.py:183] Loading model weights took 14.9595 GB", &r), 1);
    assert_int_equal(r.vllm_model, (uint64_t)llround(14.9595 * 1024 * MiB));
    assert_int_equal(estimate_parse_log_line("INFO # GPU blocks: 100, # CPU blocks: 0", &r), 1);
    assert_int_equal(r.vllm_gpu_blocks, 100);
    /* garbage after the markers is not a figure */
    assert_int_equal(estimate_parse_log_line("load_tensors: CUDA0 model buffer size = lots MiB", &r), 0);
    assert_int_equal(estimate_parse_log_line("GPU KV cache size: many tokens", &r), 0);
    assert_int_equal(estimate_parse_log_line("Model loading took forever", &r), 0);
    assert_int_equal(estimate_parse_log_line("load_tensors: offloaded 50/49 layers to GPU", &r), 0);
}

/* ------------------------------------------------------------- catalog */

static void test_catalog(void **state)
{
    static const char *const names[] = {
        "nemotron-3-nano-30b-a3b", "nemotron-nano-9b-v2", "nemotron-nano-12b-v2",
        "nemotron-nano-12b-v2-vl", "nemotron-4-mini-hindi-4b", "nemotron-speech-0.6b",
        "cosmos-reason2-2b", "cosmos-reason2-8b", "qwen3.5-35b-a3b", "qwen3-30b-a3b",
        "param2-17b-a2.4b", "sarvam-30b", "whisper-large-v3", "nv-embed-0.6b", "nv-embed-8b",
        "kokoro",
    };
    assert_int_equal(catalog_count(), ARRAY_SIZE(names));
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        const struct catalog_entry *e = catalog_find(names[i]);
        assert_non_null(e);
        assert_ptr_equal(catalog_at(i), e);
        assert_true(e->params_b > 0 && e->active_b > 0 && e->active_b <= e->params_b);
        assert_non_null(e->languages);
        assert_non_null(e->languages[0]);
        assert_non_null(e->licence);
        assert_true(e->modalities != 0);
        for (int q = 0; q < CATALOG_QUANT_COUNT; q++)
            assert_int_equal(catalog_size_for(e, (enum catalog_quant)q, NULL, NULL), 0);
    }
    assert_null(catalog_at(ARRAY_SIZE(names)));
    assert_null(catalog_find("gpt-5"));
    assert_ptr_equal(catalog_find("Nemotron-3-Nano"), catalog_find("nemotron-3-nano-30b-a3b"));
    assert_ptr_equal(catalog_find("whisper"), catalog_find("whisper-large-v3"));

    uint64_t b;
    enum catalog_provenance p;
    const struct catalog_entry *vl = catalog_find("nemotron-nano-12b-v2-vl");
    assert_int_equal(catalog_size_for(vl, CATALOG_BF16, &b, &p), 0);
    assert_int_equal(b, 24000000000ull);
    assert_int_equal(p, CATALOG_SEED);
    assert_int_equal(catalog_size_for(vl, CATALOG_NVFP4, &b, &p), 0);
    assert_int_equal(b, 7000000000ull);
    assert_int_equal(p, CATALOG_SEED);
    assert_int_equal(catalog_size_for(vl, CATALOG_FP8, &b, &p), 0);
    assert_int_equal(b, 12000000000ull);
    assert_int_equal(p, CATALOG_DERIVED);
    const struct catalog_entry *nano = catalog_find("nemotron-3-nano-30b-a3b");
    assert_int_equal(catalog_size_for(nano, CATALOG_NVFP4, &b, &p), 0);
    assert_int_equal(b, 20000000000ull);
    assert_int_equal(p, CATALOG_SEED);
    /* derived from the exact 31.6B: 31.6 x 8.5 / 8 GB */
    assert_int_equal(catalog_size_for(nano, CATALOG_Q8_0, &b, &p), 0);
    assert_int_equal(b, 33575000000ull);
    assert_int_equal(p, CATALOG_DERIVED);
    const struct catalog_entry *q35 = catalog_find("qwen3.5-35b-a3b");
    assert_int_equal(catalog_size_for(q35, CATALOG_MXFP4, &b, &p), 0);
    assert_int_equal(b, 18593750000ull);
    assert_int_equal(catalog_size_for(q35, CATALOG_QUANT_COUNT, &b, &p), -EINVAL);

    assert_true(catalog_has_language(q35, "kn"));
    assert_true(catalog_has_language(catalog_find("param2"), "kn"));
    assert_true(catalog_has_language(catalog_find("sarvam-30b"), "kn"));
    assert_true(catalog_has_language(catalog_find("whisper-large-v3"), "KN"));
    assert_false(catalog_has_language(nano, "kn"));
    assert_true(catalog_has_language(nano, "hi"));
    assert_false(catalog_has_language(catalog_find("nemotron-speech-0.6b"), "hi"));
    assert_true(catalog_has_modality(vl, CATALOG_IN_IMAGE | CATALOG_IN_VIDEO | CATALOG_OUT_TEXT));
    assert_false(catalog_has_modality(nano, CATALOG_IN_IMAGE));
    assert_true(catalog_has_modality(catalog_find("kokoro"), CATALOG_OUT_AUDIO));
    assert_true(catalog_has_modality(catalog_find("whisper"), CATALOG_IN_AUDIO));
    assert_true(catalog_has_modality(catalog_find("nv-embed-8b"), CATALOG_OUT_EMBEDDING));

    for (int q = 0; q < CATALOG_QUANT_COUNT; q++)
        assert_int_equal(catalog_quant_from_name(catalog_quant_name((enum catalog_quant)q)), q);
    assert_int_equal(catalog_quant_from_name("q4"), CATALOG_Q4_K_M);
    assert_int_equal(catalog_quant_from_name("int3"), -1);

    /* seed section 8: stack ~30 GB, then 50, 66, 90; 38 GB free of 128 */
    double stack = 0, total = 0;
    for (size_t i = 0; i < catalog_budget_count(); i++) {
        const struct catalog_budget_item *it = catalog_budget_at(i);
        total += it->gb;
        if (!it->addition)
            stack += it->gb;
        if (it->entry)
            assert_non_null(catalog_find(it->entry));
        if (it->entry && it->quant >= 0) {
            assert_int_equal(catalog_size_for(catalog_find(it->entry),
                                              (enum catalog_quant)it->quant, &b, &p), 0);
            assert_int_equal(b, (uint64_t)llround(it->gb * 1e9));
        } else if (it->entry) {
            assert_true(catalog_find(it->entry)->stack_gb == it->gb);
        }
    }
    assert_null(catalog_budget_at(catalog_budget_count()));
    assert_true(fabs(stack - 29.55) < 1e-9);
    assert_true(fabs(total - 89.55) < 1e-9);

    /* printing: the table, and JSON that parses */
    FILE *f = tmpfile();
    assert_int_equal(catalog_print(f, false), 0);
    assert_true(ftell(f) > 2000);
    rewind(f);
    assert_int_equal(ftruncate(fileno(f), 0), 0);
    assert_int_equal(catalog_print(f, true), 0);
    rewind(f);
    json_error_t jerr;
    json_t *root = json_loadf(f, 0, &jerr);
    assert_non_null(root);
    assert_int_equal(json_array_size(json_object_get(root, "models")), ARRAY_SIZE(names));
    json_t *m0 = json_array_get(json_object_get(root, "models"), 0);
    assert_string_equal(json_string_value(json_object_get(m0, "name")), "nemotron-3-nano-30b-a3b");
    json_t *nv = json_object_get(json_object_get(m0, "sizes"), "NVFP4");
    assert_string_equal(json_string_value(json_object_get(nv, "provenance")), "seed");
    assert_int_equal(json_array_size(json_object_get(root, "budget")), catalog_budget_count());
    json_decref(root);
    fclose(f);
}

/* --------------------------------------------------------------- CLI */

static int call_main(int (*fn)(int, char **), const char *const *args)
{
    int argc = 0;
    while (args[argc])
        argc++;
    char **argv = xcalloc((size_t)argc + 1, sizeof(*argv));
    for (int i = 0; i < argc; i++)
        argv[i] = xstrdup(args[i]);
    int rc = fn(argc, argv);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    free(argv);
    return rc;
}

static void test_cli(void **state)
{
    char *path;
    struct gguf *g = gen("tiny-qwen3moe", GGML_TYPE_Q8_0, false, &path);
    gguf_free(g);
    fflush(stdout);
    int saved = dup(1);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    int rc_ok = call_main(estimate_main,
                          (const char *const[]){"estimate", path, "--ctx", "4k", "--parallel", "2",
                                                "--kv-type", "q8_0", "--json", NULL});
    int rc_txt = call_main(estimate_main, (const char *const[]){"estimate", path, "--gpu-layers",
                                                                "1", "--no-flash-attn", NULL});
    int rc_bad = call_main(estimate_main,
                           (const char *const[]){"estimate", path, "--kv-type", "q6_k", NULL});
    int rc_missing =
        call_main(estimate_main, (const char *const[]){"estimate", "/nonexistent/m.gguf", NULL});
    int rc_cat = call_main(catalog_main, (const char *const[]){"models", "--catalog", "--json", NULL});
    int rc_cat_txt = call_main(catalog_main, (const char *const[]){"models", "--catalog", NULL});
    int rc_cat_bad = call_main(catalog_main, (const char *const[]){"models", "--frobnicate", NULL});
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    close(devnull);
    assert_int_equal(rc_ok, 0);
    assert_int_equal(rc_txt, 0);
    assert_int_equal(rc_bad, 2);
    assert_int_equal(rc_missing, 1);
    assert_int_equal(rc_cat, 0);
    assert_int_equal(rc_cat_txt, 0);
    assert_int_equal(rc_cat_bad, 2);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_table),       cmocka_unit_test(test_f16_conversion),
        cmocka_unit_test(test_tiny_llama),       cmocka_unit_test(test_tiny_qwen3moe),
        cmocka_unit_test(test_tiny_nemotron_h),  cmocka_unit_test(test_anchor_qwen3moe),
        cmocka_unit_test(test_nemotron_h_full),  cmocka_unit_test(test_llama8b_full),
        cmocka_unit_test(test_synthetic_tokenizer), cmocka_unit_test(test_vocab_copy),
        cmocka_unit_test(test_writer_errors),    cmocka_unit_test(test_writer_threads),
        cmocka_unit_test(test_hand_valid),
        cmocka_unit_test(test_hand_truncated),   cmocka_unit_test(test_hand_hostile),
        cmocka_unit_test(test_hand_flips),       cmocka_unit_test(test_estimate_errors),
        cmocka_unit_test(test_split_gguf),       cmocka_unit_test(test_safetensors),
        cmocka_unit_test(test_log_lines),        cmocka_unit_test(test_catalog),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
