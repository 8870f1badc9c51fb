/* SPDX-License-Identifier: MIT */
/*
 * langid-eval: accuracy of the C language identifier on labelled TSV files.
 *
 *   build/tools/langid-eval [--part all|heldout|train] [--errors N] [--pr OUT.tsv]
 *                           FILE.tsv...
 *
 * Each line of FILE is `label<TAB>text` (the format of ../shared/langid).
 * Prints, per file: macro-F1 over the labels present in the file, precision,
 * recall and F1 per label, the confusion matrix, needs_kannada recall and
 * precision (gold: kn, kn-latn, mixed-script), how often the result was
 * flagged uncertain, and how many Kannada items came out as a confident
 * "en" (the costly mistake). --errors N lists the first N misrouted lines.
 *
 * --part heldout keeps only the lines whose text hashes to 0 modulo 5 (FNV-1a
 * of the text's bytes), --part train the others: the split of
 * kancmd_train.tsv that tools/langid/train.py uses, so that the held-out
 * fifth can be scored without writing it anywhere.
 *
 * --pr OUT.tsv writes the precision/recall curve of needs_kannada over all
 * the files: one row per threshold on `p_kannada` (0.01 steps, plus the
 * threshold langid uses), with precision, recall and the counts. The
 * decision langid makes is `p_kannada >= threshold`, so each row is what
 * that threshold would give.
 *
 * DESIGN
 * A tool, not part of the daemon: it reads whole lines with getline() and
 * uses stdio freely. The numbers it prints are the ones reported in
 * docs/internals/langid.md and bench/README-langid.md.
 */
#include "text/langid.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

enum part { PART_ALL, PART_HELDOUT, PART_TRAIN };

/* (p_kannada, gold is Kannada) of every item, for --pr. */
struct point {
    float p;
    bool gold;
};
static struct point *points;
static size_t npoints, points_cap;

struct tally {
    unsigned long conf[LANGID_NLABELS][LANGID_NLABELS]; /* [gold][pred] */
    unsigned long n, uncertain, bad_label;
    unsigned long need_tp, need_fp, need_fn, need_tn;
    unsigned long silent_en; /* Kannada gold, "en", not uncertain, not routed */
};

static uint32_t fnv1a(const char *p, size_t n)
{
    uint32_t h = 0x811C9DC5u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 0x01000193u;
    return h;
}

static bool is_kannada(enum langid_label l)
{
    return l == LANGID_KN || l == LANGID_KN_LATN || l == LANGID_MIXED_SCRIPT;
}

static double ratio(unsigned long a, unsigned long b)
{
    return b ? (double)a / (double)b : 0.0;
}

static void report(const char *name, const struct tally *t)
{
    double sum_f1 = 0;
    int nlab = 0;

    printf("== %s: %lu items", name, t->n);
    if (t->bad_label)
        printf(" (%lu lines with an unknown label skipped)", t->bad_label);
    printf("\n%-13s %6s %7s %7s %7s\n", "label", "n", "prec", "recall", "F1");
    for (int g = 0; g < LANGID_NLABELS; g++) {
        unsigned long tp = t->conf[g][g], gold = 0, pred = 0;
        for (int k = 0; k < LANGID_NLABELS; k++) {
            gold += t->conf[g][k];
            pred += t->conf[k][g];
        }
        if (!gold)
            continue;
        double p = ratio(tp, pred), r = ratio(tp, gold);
        double f1 = p + r > 0 ? 2 * p * r / (p + r) : 0;
        sum_f1 += f1;
        nlab++;
        printf("%-13s %6lu %7.4f %7.4f %7.4f\n", langid_label_name((enum langid_label)g), gold,
               p, r, f1);
    }
    printf("macro-F1 %.4f over %d labels\n", nlab ? sum_f1 / nlab : 0.0, nlab);
    printf("needs_kannada: recall %.4f precision %.4f (tp %lu fp %lu fn %lu tn %lu)\n",
           ratio(t->need_tp, t->need_tp + t->need_fn), ratio(t->need_tp, t->need_tp + t->need_fp),
           t->need_tp, t->need_fp, t->need_fn, t->need_tn);
    printf("uncertain %lu (%.1f %%); Kannada labelled a confident en: %lu\n", t->uncertain,
           100.0 * ratio(t->uncertain, t->n), t->silent_en);
    printf("confusion (rows gold, columns predicted):\n%-13s", "");
    for (int k = 0; k < LANGID_NLABELS; k++)
        printf(" %7.7s", langid_label_name((enum langid_label)k));
    printf("\n");
    for (int g = 0; g < LANGID_NLABELS; g++) {
        unsigned long gold = 0;
        for (int k = 0; k < LANGID_NLABELS; k++)
            gold += t->conf[g][k];
        if (!gold)
            continue;
        printf("%-13s", langid_label_name((enum langid_label)g));
        for (int k = 0; k < LANGID_NLABELS; k++)
            printf(" %7lu", t->conf[g][k]);
        printf("\n");
    }
    printf("\n");
}

static int eval_file(const char *path, enum part part, long errors)
{
    FILE *f = fopen(path, "r");
    struct tally *t;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    if (!f) {
        perror(path);
        return -1;
    }
    t = xcalloc(1, sizeof(*t));
    while ((n = getline(&line, &cap, f)) > 0) {
        size_t len = (size_t)n;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        line[len] = '\0';
        char *tab = memchr(line, '\t', len);
        if (!tab)
            continue;
        *tab = '\0';
        const char *text = tab + 1;
        size_t tlen = len - (size_t)(text - line);
        if (part != PART_ALL && (fnv1a(text, tlen) % 5 == 0) != (part == PART_HELDOUT))
            continue;
        enum langid_label gold;
        if (langid_label_parse(line, &gold)) {
            t->bad_label++;
            continue;
        }
        struct langid_result r;
        langid_classify(text, tlen, &r);
        t->n++;
        t->conf[gold][r.label]++;
        t->uncertain += r.uncertain;
        bool g = is_kannada(gold);
        t->need_tp += g && r.needs_kannada;
        t->need_fn += g && !r.needs_kannada;
        t->need_fp += !g && r.needs_kannada;
        t->need_tn += !g && !r.needs_kannada;
        t->silent_en += g && r.label == LANGID_EN && !r.uncertain && !r.needs_kannada;
        ALLOC_GROW(points, npoints + 1, points_cap);
        points[npoints++] = (struct point){r.p_kannada, g};
        if (errors > 0 && (g != r.needs_kannada || gold != r.label)) {
            errors--;
            printf("%s gold=%s got=%s p(kn-latn)=%.3f p_kannada=%.3f%s: %s\n",
                   g != r.needs_kannada ? "MISROUTED" : "MISLABELLED", line,
                   langid_label_name(r.label), (double)r.scores[LANGID_KN_LATN],
                   (double)r.p_kannada, r.uncertain ? " uncertain" : "", text);
        }
    }
    free(line);
    fclose(f);
    report(path, t);
    free(t);
    return 0;
}

static void pr_row(FILE *f, float t)
{
    unsigned long tp = 0, fp = 0, fn = 0;
    for (size_t i = 0; i < npoints; i++) {
        bool yes = points[i].p >= t;
        tp += yes && points[i].gold;
        fp += yes && !points[i].gold;
        fn += !yes && points[i].gold;
    }
    fprintf(f, "%.4f\t%.4f\t%.4f\t%lu\t%lu\t%lu\n", (double)t, ratio(tp, tp + fp),
            ratio(tp, tp + fn), tp, fp, fn);
}

static int write_pr(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return -1;
    }
    fprintf(f, "# needs_kannada precision/recall by threshold on p_kannada; %zu items; "
               "langid's threshold: %.4f\n",
            npoints, (double)langid_kannada_threshold());
    fprintf(f, "threshold\tprecision\trecall\ttp\tfp\tfn\n");
    bool done = false;
    for (int i = 1; i < 100; i++) {
        float t = (float)i / 100;
        if (!done && langid_kannada_threshold() <= t) {
            if (langid_kannada_threshold() < t)
                pr_row(f, langid_kannada_threshold());
            done = true;
        }
        pr_row(f, t);
    }
    if (!done)
        pr_row(f, langid_kannada_threshold());
    if (fclose(f)) {
        perror(path);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    enum part part = PART_ALL;
    const char *pr = NULL;
    long errors = 0;
    int rc = 0, files = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--part") && i + 1 < argc) {
            const char *v = argv[++i];
            if (!strcmp(v, "all"))
                part = PART_ALL;
            else if (!strcmp(v, "heldout"))
                part = PART_HELDOUT;
            else if (!strcmp(v, "train"))
                part = PART_TRAIN;
            else
                goto usage;
        } else if (!strcmp(argv[i], "--errors") && i + 1 < argc) {
            char *end;
            errors = strtol(argv[++i], &end, 10);
            if (*end || errors < 0)
                goto usage;
        } else if (!strcmp(argv[i], "--pr") && i + 1 < argc) {
            pr = argv[++i];
        } else if (argv[i][0] == '-') {
            goto usage;
        } else {
            files++;
            if (eval_file(argv[i], part, errors))
                rc = 1;
        }
    }
    if (!files)
        goto usage;
    if (pr && write_pr(pr))
        rc = 1;
    free(points);
    return rc;
usage:
    fprintf(stderr, "usage: langid-eval [--part all|heldout|train] [--errors N] [--pr OUT.tsv] "
                    "FILE.tsv...\n");
    return 2;
}
