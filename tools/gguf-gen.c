/* SPDX-License-Identifier: MIT */
/*
 * gguf-gen: writes a GGUF file with random weights in the exact shapes,
 * tensor names, metadata keys and quantization types of a real model, so
 * that llama-server loads it as it would the real file. hermod uses these to
 * measure engine memory and speed without downloading models.
 *
 *   gguf-gen --preset NAME --out FILE [--type q4_k|q8_0|f16] [--vocab FILE]
 *            [--seed N] [--layers N] [--ctx N] [--threads N] [--sparse]
 *   gguf-gen --list
 *
 * DESIGN: the file is written streaming (gguf_write.c), 8 MiB chunks filled
 * and written by up to 8 threads, so a 30 GB model needs about 10 MB of
 * memory per thread; see gguf_model.h for the presets and where their shapes
 * come from.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf_model.h"
#include "gguf_write.h"
#include "lib/clock.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "model/gguf.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: gguf-gen --preset NAME --out FILE [--type q4_k|q8_0|f16] [--vocab FILE]\n"
               "                [--seed N] [--layers N] [--ctx N] [--threads N] [--sparse]\n"
               "       gguf-gen --list\n"
               "\n"
               "  --preset NAME  model shape (see --list)\n"
               "  --out FILE     where to write (through FILE.tmp)\n"
               "  --type T       weight type: q4_k (default), q8_0, f16; also q6_k, q5_0, q4_0, bf16\n"
               "  --vocab FILE   copy tokenizer.* from a vocab-only GGUF (padded with [PADn])\n"
               "  --seed N       random seed (default 1)\n"
               "  --layers N     number of layers instead of the preset's\n"
               "  --ctx N        context_length key instead of the preset's\n"
               "  --threads N    writer threads (default: CPUs, at most 8)\n"
               "  --sparse       header only, data left a hole: a full-size sparse file for\n"
               "                 `hermod estimate` and tests (engines would compute garbage)\n");
}

static void list(void)
{
    for (size_t i = 0; i < gm_preset_count(); i++) {
        const struct gm_preset *p = gm_preset_at(i);
        printf("%-18s %-15s %s\n", p->name, gm_arch_name(p->arch), p->desc);
    }
}

int main(int argc, char **argv)
{
    const char *preset = NULL, *out = NULL;
    struct gm_options o;
    uint64_t seed = 1, v;
    struct buf err = BUF_INIT;

    gm_options_init(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--list")) {
            list();
            return 0;
        }
        if (!strcmp(a, "--sparse")) {
            o.sparse = true;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "gguf-gen: %s needs a value\n", a);
            usage(stderr);
            return 2;
        }
        const char *val = argv[++i];
        if (!strcmp(a, "--preset")) {
            preset = val;
        } else if (!strcmp(a, "--out")) {
            out = val;
        } else if (!strcmp(a, "--vocab")) {
            o.vocab_path = val;
        } else if (!strcmp(a, "--type")) {
            int t = gguf_type_from_name(val);
            if (t < 0) {
                fprintf(stderr, "gguf-gen: unknown type '%s'\n", val);
                return 2;
            }
            o.type = (uint32_t)t;
        } else if (!strcmp(a, "--seed") && !str_parse_uint(val, 0, UINT64_MAX, &v)) {
            seed = v;
        } else if (!strcmp(a, "--layers") && !str_parse_uint(val, 1, 512, &v)) {
            o.layers = (uint32_t)v;
        } else if (!strcmp(a, "--ctx") && !str_parse_uint(val, 1, UINT32_MAX, &v)) {
            o.ctx = (uint32_t)v;
        } else if (!strcmp(a, "--threads") && !str_parse_uint(val, 1, 64, &v)) {
            o.threads = (unsigned)v;
        } else {
            fprintf(stderr, "gguf-gen: bad option or value: %s %s\n", a, val);
            usage(stderr);
            return 2;
        }
    }
    if (!preset || !out) {
        usage(stderr);
        return 2;
    }
    const struct gm_preset *p = gm_preset_find(preset);
    if (!p) {
        fprintf(stderr, "gguf-gen: unknown preset '%s'; presets:\n", preset);
        list();
        return 2;
    }

    /* Build, report the size up front, then write what was built. */
    struct gw *w = gw_new();
    uint32_t n_vocab = 0;
    int rc = gm_build(p, &o, w, &n_vocab, &err);
    if (rc) {
        fprintf(stderr, "gguf-gen: %s\n", buf_cstr(&err));
        gw_free(w);
        buf_release(&err);
        return 1;
    }
    char size[32];
    uint64_t bytes = gw_file_size(w);
    fprintf(stderr, "gguf-gen: %s (%s, %s), %zu tensors, %.2f B parameters, vocab %" PRIu32
                    ", %s -> %s\n",
            p->name, gm_arch_name(p->arch), gguf_type_name(o.type), gw_tensor_count(w),
            (double)gw_n_elements(w) / 1e9, n_vocab, str_fmt_size(bytes, size, sizeof(size)), out);

    uint64_t t0 = clock_mono_ns();
    rc = gm_write(w, &o, seed, out, &err);
    double dt = (double)(clock_mono_ns() - t0) / 1e9;
    gw_free(w);
    if (rc) {
        fprintf(stderr, "gguf-gen: %s\n", buf_cstr(&err));
        buf_release(&err);
        return 1;
    }
    fprintf(stderr, "gguf-gen: wrote %" PRIu64 " bytes in %.2f s (%.2f GB/s)\n", bytes, dt,
            dt > 0 ? (double)bytes / dt / 1e9 : 0.0);
    buf_release(&err);
    return 0;
}
