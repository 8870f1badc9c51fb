/* SPDX-License-Identifier: MIT */
/* sizing.c: see sizing.h. */
#include "model/sizing.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/catalog.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "model/estimate.h"
#include "model/gguf.h"

const char *sizing_source_name(enum sizing_source s)
{
    static const char *const n[] = {"unknown", "declared", "model file", "catalog"};
    return n[s];
}

const struct catalog_entry *sizing_catalog_entry(const struct config_model *m)
{
    const struct catalog_entry *c = NULL;
    if (m->catalog)
        return catalog_find(m->catalog);
    c = catalog_find(m->name);
    for (size_t i = 0; !c && m->aliases[i]; i++)
        c = catalog_find(m->aliases[i]);
    return c;
}

static bool arg_is(const char *a, const char *s1, const char *s2)
{
    return !strcmp(a, s1) || (s2 && !strcmp(a, s2));
}

static uint32_t num(const char *s)
{
    uint64_t v = 0;
    if (str_parse_uint(s, 0, UINT32_MAX, &v))
        return 0;
    return (uint32_t)v;
}

static uint32_t kv_type_of(const char *s)
{
    if (!strcasecmp(s, "q8_0"))
        return GGML_TYPE_Q8_0;
    if (!strcasecmp(s, "q4_0"))
        return GGML_TYPE_Q4_0;
    if (!strcasecmp(s, "f32"))
        return GGML_TYPE_F32;
    if (!strcasecmp(s, "bf16"))
        return GGML_TYPE_BF16;
    return GGML_TYPE_F16;
}

/* Reads llama-server's options from an engine command line. Returns the
 * model file (borrowed), or NULL; *mmproj likewise. */
static const char *llama_args(char *const *cmd, struct estimate_params *p, const char **mmproj)
{
    const char *model = NULL;
    *mmproj = NULL;
    for (size_t i = 1; cmd && cmd[i]; i++) {
        const char *a = cmd[i], *v = cmd[i + 1];
        if (!v)
            break;
        if (arg_is(a, "-m", "--model"))
            model = v;
        else if (arg_is(a, "--mmproj", "-mm"))
            *mmproj = v;
        else if (arg_is(a, "-c", "--ctx-size"))
            p->ctx = num(v);
        else if (arg_is(a, "-np", "--parallel"))
            p->parallel = num(v);
        else if (arg_is(a, "-ngl", "--n-gpu-layers") || !strcmp(a, "--gpu-layers"))
            p->gpu_layers = (int32_t)num(v);
        else if (arg_is(a, "-ctk", "--cache-type-k"))
            p->kv_type = kv_type_of(v);
        else if (arg_is(a, "-ub", "--ubatch-size"))
            p->ubatch = num(v);
        else if (arg_is(a, "-fa", "--flash-attn") && !strcmp(v, "off"))
            p->flags |= ESTIMATE_NO_FLASH_ATTN;
        else
            continue;
        i++;
    }
    return model;
}

static enum catalog_quant quant_for(const struct config_engine *e,
                                    const struct catalog_entry *c)
{
    switch (e->kind) {
    case ENGINE_KIND_NIM:
        /* NIM on a Blackwell box serves NVFP4 where NVIDIA publishes it */
        return c->seed[CATALOG_NVFP4].gb > 0 ? CATALOG_NVFP4 : CATALOG_FP8;
    case ENGINE_KIND_VLLM:
        return CATALOG_BF16;
    default:
        return CATALOG_Q4_K_M;
    }
}

void sizing_engine(const struct config_model *m, const struct config_engine *e, bool have_gpu,
                   struct sizing *out)
{
    memset(out, 0, sizeof(*out));
    uint64_t declared = e->memory ? e->memory : m->memory;
    /* The file is read even when a size is declared: a file that is not a
     * model must be caught before an engine is started with it. */
    if (e->cmd && (e->kind == ENGINE_KIND_LLAMA_SERVER || e->kind == ENGINE_KIND_VLLM ||
                   e->kind == ENGINE_KIND_OPENAI)) {
        struct estimate_params p;
        estimate_params_init(&p);
        if (m->context)
            p.ctx = m->context;
        if (m->parallel)
            p.parallel = m->parallel;
        const char *mmproj;
        const char *file = llama_args(e->cmd, &p, &mmproj);
        if (!have_gpu)
            p.gpu_layers = 0;
        struct estimate est;
        struct buf err = BUF_INIT;
        int rc = -ENOENT;
        if (file && access(file, R_OK) == 0) {
            rc = estimate_path(file, &p, &est, &err);
            if (rc && rc != -ENOENT && rc != -EACCES)
                snprintf(out->file_error, sizeof(out->file_error), "%s", buf_cstr(&err));
        }
        if (rc == 0 && !declared) {
            out->bytes = est.total;
            out->source = SIZING_FILE;
            struct stat st;
            if (mmproj && stat(mmproj, &st) == 0)
                out->bytes += (uint64_t)st.st_size;
            snprintf(out->detail, sizeof(out->detail), "%s %s, ctx %u x %u slot%s%s",
                     est.format == ESTIMATE_GGUF ? "GGUF" : "safetensors", est.arch,
                     est.kv_cells, est.parallel, est.parallel == 1 ? "" : "s",
                     mmproj ? " + projector" : "");
            buf_release(&err);
            return;
        }
        buf_release(&err);
    }
    if (declared) {
        out->bytes = declared;
        out->source = SIZING_DECLARED;
        snprintf(out->detail, sizeof(out->detail), "declared");
        return;
    }
    const struct catalog_entry *c = sizing_catalog_entry(m);
    if (c) {
        enum catalog_quant q = quant_for(e, c);
        enum catalog_provenance prov;
        uint64_t b;
        if (catalog_size_for(c, q, &b, &prov) == 0) {
            out->bytes = b;
            out->source = SIZING_CATALOG;
            snprintf(out->detail, sizeof(out->detail), "catalog %s (%s)", catalog_quant_name(q),
                     catalog_provenance_name(prov));
            return;
        }
    }
    snprintf(out->detail, sizeof(out->detail), "unknown: declare memory:");
}
