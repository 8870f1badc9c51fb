/* SPDX-License-Identifier: MIT */
/*
 * estimate_cli.c: `hermod estimate` and `hermod models --catalog`: argv in,
 * an estimate (model/estimate.h) or the catalog (core/catalog.h) printed.
 *
 * DESIGN: these run before any loop exists, print to stdout and return an
 * exit code; main.c only dispatches to them.
 */
#include "cli/cli.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/catalog.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "model/estimate.h"
#include "model/sysmem.h"

#define MIB (1024ull * 1024ull)

/* ------------------------------------------------------------ printing */

static const char *format_name(enum estimate_format f)
{
    switch (f) {
    case ESTIMATE_GGUF:
        return "gguf";
    case ESTIMATE_SAFETENSORS:
        return "safetensors";
    default:
        return "report";
    }
}

static double mib(uint64_t b)
{
    return (double)b / (double)MIB;
}

static void print_text(FILE *f, const char *label, const struct estimate *e)
{
    char size[32];
    if (e->format != ESTIMATE_REPORT) {
        fprintf(f, "%s: %s", label ? label : "model", e->arch);
        if (e->name[0])
            fprintf(f, " \"%s\"", e->name);
        fprintf(f, ", %s, %" PRIu32 " file%s, %s, %" PRIu32 " tensors, ", format_name(e->format),
                e->n_files, e->n_files == 1 ? "" : "s",
                str_fmt_size(e->file_bytes, size, sizeof(size)), e->n_tensors);
        if (e->n_params >= 1000000000)
            fprintf(f, "%.2f B parameters\n", (double)e->n_params / 1e9);
        else
            fprintf(f, "%.2f M parameters\n", (double)e->n_params / 1e6);
        fprintf(f, "  layers %" PRIu32 " (%" PRIu32 " with KV cache, %" PRIu32
                   " recurrent), trained context %" PRIu32 ", vocab %" PRIu32,
                e->n_layer, e->n_attn_layers, e->n_recr_layers, e->ctx_train, e->n_vocab);
        if (e->n_expert)
            fprintf(f, ", experts %" PRIu32 "/%" PRIu32, e->n_expert_used, e->n_expert);
        fprintf(f, "\n  weights:");
        for (size_t i = 0; i < e->nmix; i++)
            fprintf(f, "%s %s %s (%" PRIu64 ")", i ? "," : "", e->mix[i].type,
                    str_fmt_size(e->mix[i].bytes, size, sizeof(size)), e->mix[i].tensors);
        fprintf(f, "\nestimate for %" PRIu32 " KV cells, %" PRIu32 " slot%s, KV %s, ubatch %" PRIu32
                   ", flash attention %s, ",
                e->kv_cells, e->parallel, e->parallel == 1 ? "" : "s", gguf_type_name(e->kv_type),
                e->ubatch, e->flash_attn ? "on" : "off");
        if (e->gpu_layers == 0)
            fprintf(f, "CPU only:\n");
        else if (e->format == ESTIMATE_GGUF && (uint32_t)e->gpu_layers <= e->n_layer)
            fprintf(f, "%" PRId32 " of %" PRIu32 " layers on the GPU:\n", e->gpu_layers,
                    e->n_layer + 1);
        else
            fprintf(f, "all layers on the GPU:\n");
    }
    static const struct {
        const char *name;
        size_t off;
    } rows[] = {
        {"weights (GPU)", offsetof(struct estimate, weights_gpu)},
        {"weights (CPU)", offsetof(struct estimate, weights_cpu)},
        {"KV cache", offsetof(struct estimate, kv)},
        {"recurrent state", offsetof(struct estimate, recurrent)},
        {"compute (GPU)", offsetof(struct estimate, compute)},
        {"compute (host)", offsetof(struct estimate, compute_host)},
        {"overhead", offsetof(struct estimate, overhead)},
        {"total", offsetof(struct estimate, total)},
    };
    for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
        uint64_t v;
        memcpy(&v, (const char *)e + rows[i].off, sizeof(v));
        fprintf(f, "  %-16s %10.1f MiB\n", rows[i].name, mib(v));
    }
    fprintf(f, "  %-16s %10.2f GiB (%.2f GB)\n", "", (double)e->total / (double)(MIB * 1024),
            (double)e->total / 1e9);
}

static json_t *u64(uint64_t v)
{
    return json_integer((json_int_t)v);
}

static void print_json(FILE *f, const char *label, const struct estimate *e)
{
    json_t *o = json_object();
    json_object_set_new(o, "file", label ? json_string(label) : json_null());
    json_object_set_new(o, "format", json_string(format_name(e->format)));
    if (e->format != ESTIMATE_REPORT) {
        json_object_set_new(o, "arch", json_string(e->arch));
        json_object_set_new(o, "name", json_string(e->name));
        json_object_set_new(o, "files", u64(e->n_files));
        json_object_set_new(o, "file_bytes", u64(e->file_bytes));
        json_object_set_new(o, "tensors", u64(e->n_tensors));
        json_object_set_new(o, "params", u64(e->n_params));
        json_object_set_new(o, "layers", u64(e->n_layer));
        json_object_set_new(o, "kv_layers", u64(e->n_attn_layers));
        json_object_set_new(o, "recurrent_layers", u64(e->n_recr_layers));
        json_object_set_new(o, "ctx_train", u64(e->ctx_train));
        json_object_set_new(o, "vocab", u64(e->n_vocab));
        json_object_set_new(o, "experts", u64(e->n_expert));
        json_object_set_new(o, "experts_used", u64(e->n_expert_used));
        json_t *mix = json_array();
        for (size_t i = 0; i < e->nmix; i++) {
            json_t *m = json_object();
            json_object_set_new(m, "type", json_string(e->mix[i].type));
            json_object_set_new(m, "bytes", u64(e->mix[i].bytes));
            json_object_set_new(m, "tensors", u64(e->mix[i].tensors));
            json_array_append_new(mix, m);
        }
        json_object_set_new(o, "mix", mix);
        json_t *in = json_object();
        json_object_set_new(in, "kv_cells", u64(e->kv_cells));
        json_object_set_new(in, "parallel", u64(e->parallel));
        json_object_set_new(in, "kv_type", json_string(gguf_type_name(e->kv_type)));
        json_object_set_new(in, "ubatch", u64(e->ubatch));
        json_object_set_new(in, "gpu_layers", json_integer(e->gpu_layers));
        json_object_set_new(in, "flash_attn", json_boolean(e->flash_attn));
        json_object_set_new(o, "params_in", in);
    }
    json_t *b = json_object();
    json_object_set_new(b, "weights_gpu", u64(e->weights_gpu));
    json_object_set_new(b, "weights_cpu", u64(e->weights_cpu));
    json_object_set_new(b, "kv", u64(e->kv));
    json_object_set_new(b, "recurrent", u64(e->recurrent));
    json_object_set_new(b, "compute", u64(e->compute));
    json_object_set_new(b, "compute_host", u64(e->compute_host));
    json_object_set_new(b, "overhead", u64(e->overhead));
    json_object_set_new(b, "total", u64(e->total));
    json_object_set_new(o, "bytes", b);
    json_dumpf(o, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    fputc('\n', f);
    json_decref(o);
}

/* e for people (a table, MiB like llama.cpp's logs) or as one JSON object;
 * label names the model (a path) and may be NULL. */
static void print_estimate(FILE *f, const char *label, const struct estimate *e, bool json)
{
    if (json)
        print_json(f, label, e);
    else
        print_text(f, label, e);
}

/* ---------------------------------------------------------------- CLI */

static void estimate_usage(FILE *f)
{
    fprintf(f, "usage: hermod estimate FILE|DIR [--ctx N] [--parallel N] [--kv-type f16|q8_0|q4_0]\n"
               "                       [--ubatch N] [--gpu-layers N|all] [--no-flash-attn]\n"
               "                       [--ctx-per-slot] [--json]\n"
               "\n"
               "Estimates the memory an engine needs for a GGUF file (llama-server/Ollama) or a\n"
               "safetensors directory (vLLM/NIM): weights on GPU and CPU, KV cache, recurrent\n"
               "state, compute buffers and the per-process overhead.\n"
               "\n"
               "  --ctx N          context (llama-server -c, shared by all slots); default: trained\n"
               "  --parallel N     slots / sequences (-np), default 1\n"
               "  --kv-type T      KV cache type, default f16\n"
               "  --ubatch N       physical batch (-ub), default 512\n"
               "  --gpu-layers N   layers offloaded (-ngl), default all (none when this\n"
               "                   machine has no GPU)\n"
               "  --no-flash-attn  attention without flash attention (-fa off)\n"
               "  --ctx-per-slot   --ctx is per slot (Ollama's num_ctx): cells = ctx x parallel\n"
               "  --json           one JSON object\n");
}

int estimate_main(int argc, char **argv)
{
    struct estimate_params p;
    const char *path = NULL;
    bool json = false;
    uint64_t v;

    bool gpu_given = false;
    estimate_params_init(&p);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            estimate_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--json")) {
            json = true;
            continue;
        }
        if (!strcmp(a, "--no-flash-attn")) {
            p.flags |= ESTIMATE_NO_FLASH_ATTN;
            continue;
        }
        if (!strcmp(a, "--ctx-per-slot")) {
            p.flags |= ESTIMATE_CTX_PER_SLOT;
            continue;
        }
        if (a[0] != '-') {
            if (path) {
                fprintf(stderr, "hermod estimate: more than one model given\n");
                return 2;
            }
            path = a;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "hermod estimate: %s needs a value\n", a);
            return 2;
        }
        const char *val = argv[++i];
        bool ok = true;
        if (!strcmp(a, "--ctx")) {
            ok = !str_parse_size(val, &v) && v >= 1 && v <= UINT32_MAX;
            p.ctx = (uint32_t)v;
        } else if (!strcmp(a, "--parallel")) {
            ok = !str_parse_uint(val, 1, 4096, &v);
            p.parallel = (uint32_t)v;
        } else if (!strcmp(a, "--ubatch")) {
            ok = !str_parse_uint(val, 1, 1u << 20, &v);
            p.ubatch = (uint32_t)v;
        } else if (!strcmp(a, "--gpu-layers")) {
            gpu_given = true;
            if (!strcmp(val, "all"))
                p.gpu_layers = -1;
            else if ((ok = !str_parse_uint(val, 0, 100000, &v)))
                p.gpu_layers = (int32_t)v;
        } else if (!strcmp(a, "--kv-type")) {
            int t = gguf_type_from_name(val);
            ok = t >= 0 && (t == GGML_TYPE_F16 || t == GGML_TYPE_BF16 || t == GGML_TYPE_F32 ||
                            t == GGML_TYPE_Q8_0 || t == GGML_TYPE_Q4_0 || t == GGML_TYPE_Q4_1 ||
                            t == GGML_TYPE_Q5_0 || t == GGML_TYPE_Q5_1 || t == GGML_TYPE_IQ4_NL);
            p.kv_type = (uint32_t)t;
        } else {
            fprintf(stderr, "hermod estimate: unknown option '%s'\n", a);
            estimate_usage(stderr);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "hermod estimate: bad value for %s: '%s'\n", a, val);
            return 2;
        }
    }
    if (!path) {
        estimate_usage(stderr);
        return 2;
    }
    if (!gpu_given) {
        /* Estimate for the machine it runs on: without a GPU, llama.cpp
         * keeps every layer on the CPU. */
        struct sysmem_info si;
        sysmem_probe(&si);
        if (!si.ngpus && !si.unified) {
            p.gpu_layers = 0;
            fprintf(stderr, "hermod estimate: no GPU found here, so this is for the CPU; "
                            "--gpu-layers all estimates for a GPU\n");
        }
    }
    struct estimate e;
    struct buf err = BUF_INIT;
    int rc = estimate_path(path, &p, &e, &err);
    if (rc) {
        fprintf(stderr, "hermod estimate: %s\n", buf_cstr(&err));
        buf_release(&err);
        return 1;
    }
    buf_release(&err);
    print_estimate(stdout, path, &e, json);
    return ferror(stdout) ? 1 : 0;
}

int catalog_main(int argc, char **argv)
{
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = true;
        } else if (!strcmp(argv[i], "--catalog")) {
            continue;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: hermod models --catalog [--json]\n"
                   "Prints the built-in model catalog: parameters, context, modalities,\n"
                   "languages, licence and published sizes (seed or derived).\n");
            return 0;
        } else {
            fprintf(stderr, "hermod models: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    return catalog_print(stdout, json) ? 1 : 0;
}
