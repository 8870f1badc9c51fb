/* SPDX-License-Identifier: MIT */
/*
 * bench/ocr.c: character error rate and time of hermod's OCR (src/ingest/ocr.c)
 * on pictures whose text is known. bench/ocr.sh renders the pictures.
 *
 *   build/bench/ocr [--all] MANIFEST
 *
 * MANIFEST has one picture a line: condition<TAB>path<TAB>reference text
 * (the text as rendered, lines joined by spaces). For each picture the
 * program reads the file with ocr_read_image(), exactly as the pipeline
 * does (kan+eng, the default confidence floors; --all keeps every word),
 * and compares the lines it kept, joined by spaces, with the reference.
 *
 * CER = Levenshtein distance in Unicode code points / reference length,
 * both with runs of white space made one space and the ends trimmed,
 * summed over the pictures of a condition (so long sentences weigh more).
 * CER-zw is the same with U+200C and U+200D (zero-width non-joiner and
 * joiner) left out of both texts: after a word-final virama they change
 * nothing on the page ("ನಡಾಲ್" and "ನಡಾಲ್\u200c" print alike), so no reader
 * can tell them apart, and the sentences use them inconsistently.
 * It prints one row per condition: pictures, CER, the share of pictures
 * read exactly, and the median and mean time per picture (decode + OCR;
 * the first picture's engine initialisation is shown apart).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ocr.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/utf8.h"
#include "lib/xalloc.h"

/* Code points of s with white space collapsed, into *out (caller frees). */
static size_t codepoints(const char *s, bool joiners, uint32_t **out)
{
    size_t n = strlen(s), k = 0;
    uint32_t *cp = xmalloc((n + 1) * sizeof(*cp));
    bool space = true; /* trims the start */
    for (size_t i = 0; i < n;) {
        int32_t d;
        i += utf8_decode((const unsigned char *)s + i, n - i, &d);
        uint32_t u = d < 0 ? 0xfffd : (uint32_t)d;
        if (!joiners && (u == 0x200c || u == 0x200d))
            continue;
        bool sp = u == ' ' || u == '\t' || u == '\n' || u == '\r';
        if (sp && space)
            continue;
        cp[k++] = sp ? ' ' : u;
        space = sp;
    }
    if (k && cp[k - 1] == ' ')
        k--;
    *out = cp;
    return k;
}

static size_t levenshtein(const uint32_t *a, size_t n, const uint32_t *b, size_t m)
{
    size_t *row = xmalloc((m + 1) * sizeof(*row));
    for (size_t j = 0; j <= m; j++)
        row[j] = j;
    for (size_t i = 1; i <= n; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= m; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t d = row[m];
    free(row);
    return d;
}

struct cond {
    char name[32];
    size_t pics, exact, edits, chars;
    size_t edits_zw, chars_zw; /* zero-width (non-)joiners left out of both texts */
    double *ms;
    size_t nms, capms;
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int read_file(const char *path, struct buf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        buf_add(out, tmp, n);
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    bool all = false;
    float word_conf = -1, line_conf = -1;
    int ai = 1;
    for (; ai < argc - 1; ai++) {
        if (!strcmp(argv[ai], "--all"))
            all = true, word_conf = line_conf = 0;
        else if (!strcmp(argv[ai], "--word-conf") && ai + 2 < argc)
            word_conf = strtof(argv[++ai], NULL);
        else if (!strcmp(argv[ai], "--line-conf") && ai + 2 < argc)
            line_conf = strtof(argv[++ai], NULL);
        else
            break;
    }
    if (argc < 2 || ai != argc - 1) {
        fprintf(stderr, "usage: ocr [--all] [--word-conf N] [--line-conf N] MANIFEST\n");
        return 2;
    }
    const char *manifest = argv[argc - 1];
    FILE *f = fopen(manifest, "r");
    if (!f) {
        perror(manifest);
        return 2;
    }
    struct ocr_opts o = {.langs = NULL, .min_word_conf = word_conf, .min_line_conf = line_conf};
    struct cond conds[16];
    size_t nconds = 0;
    double first_init = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int bad = 0;
    const char *verbose = getenv("OCR_BENCH_VERBOSE");
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        char *path = strchr(line, '\t'), *ref = path ? strchr(path + 1, '\t') : NULL;
        if (!ref)
            continue;
        *path++ = '\0';
        *ref++ = '\0';
        size_t c;
        for (c = 0; c < nconds && strcmp(conds[c].name, line); c++)
            ;
        if (c == nconds) {
            if (nconds == ARRAY_SIZE(conds))
                continue;
            memset(&conds[c], 0, sizeof(conds[c]));
            snprintf(conds[c].name, sizeof(conds[c].name), "%s", line);
            nconds++;
        }
        struct cond *cd = &conds[c];
        struct buf data = BUF_INIT, err = BUF_INIT, hyp = BUF_INIT;
        if (read_file(path, &data)) {
            perror(path);
            bad = 1;
            continue;
        }
        struct ocr_result r;
        uint64_t t0 = clock_mono_ns();
        int rc = ocr_read_image(data.data, data.len, &o, &r, &err);
        double ms = (double)(clock_mono_ns() - t0) / 1e6 - r.init_ms;
        if (rc) {
            fprintf(stderr, "%s: %s\n", path, buf_cstr(&err));
            bad = 1;
        }
        if (r.init_ms > 0 && first_init == 0)
            first_init = r.init_ms;
        for (size_t i = 0; i < r.nlines; i++) {
            if (hyp.len)
                buf_addch(&hyp, ' ');
            buf_addstr(&hyp, r.lines[i].text);
        }
        uint32_t *a, *b;
        size_t n = codepoints(ref, true, &a), m = codepoints(buf_cstr(&hyp), true, &b);
        size_t d = levenshtein(a, n, b, m);
        free(a);
        free(b);
        n = codepoints(ref, false, &a);
        m = codepoints(buf_cstr(&hyp), false, &b);
        cd->edits_zw += levenshtein(a, n, b, m);
        cd->chars_zw += n;
        if (verbose && d) {
            printf("  %s %s: %zu/%zu\n    ref %s\n    got %s\n", line, path, d, n, ref,
                   buf_cstr(&hyp));
            for (size_t i = 0; *verbose == '2' && i < r.nlines; i++)
                printf("    line %zu at %u,%u %ux%u conf %.0f: %s\n", i, r.lines[i].x,
                       r.lines[i].y, r.lines[i].w, r.lines[i].h, r.lines[i].confidence,
                       r.lines[i].text);
        }
        cd->pics++;
        cd->exact += d == 0;
        cd->edits += d;
        cd->chars += n;
        if (cd->nms == cd->capms) {
            cd->capms = cd->capms ? cd->capms * 2 : 64;
            cd->ms = xrealloc(cd->ms, cd->capms * sizeof(double));
        }
        cd->ms[cd->nms++] = ms;
        free(a);
        free(b);
        ocr_result_release(&r);
        buf_release(&data);
        buf_release(&err);
        buf_release(&hyp);
    }
    free(line);
    fclose(f);
    printf("%-14s %6s %8s %8s %7s %10s %10s\n", "condition", "pics", "CER", "CER-zw", "exact",
           "median ms", "mean ms");
    for (size_t c = 0; c < nconds; c++) {
        struct cond *cd = &conds[c];
        double sum = 0;
        for (size_t i = 0; i < cd->nms; i++)
            sum += cd->ms[i];
        qsort(cd->ms, cd->nms, sizeof(double), cmp_double);
        printf("%-14s %6zu %7.2f%% %7.2f%% %6.0f%% %10.0f %10.0f\n", cd->name, cd->pics,
               cd->chars ? 100.0 * (double)cd->edits / (double)cd->chars : 0.0,
               cd->chars_zw ? 100.0 * (double)cd->edits_zw / (double)cd->chars_zw : 0.0,
               cd->pics ? 100.0 * (double)cd->exact / (double)cd->pics : 0.0,
               cd->nms ? cd->ms[cd->nms / 2] : 0.0, cd->nms ? sum / (double)cd->nms : 0.0);
        free(cd->ms);
    }
    printf("engine: %s, languages %s, first initialisation %.0f ms%s\n",
           ocr_version() ? ocr_version() : "?", OCR_DEFAULT_LANGS, first_init,
           all ? ", every word kept (--all)" : "");
    ocr_shutdown();
    return bad;
}
