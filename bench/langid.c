/* SPDX-License-Identifier: MIT */
/*
 * bench/langid: speed of langid_classify() on one core.
 *
 *   build/bench/langid [--seconds S] [FILE...]
 *
 * FILEs are text, one message per line; a `label<TAB>` prefix (the TSV
 * format of ../shared/langid) is dropped. Without files, a built-in set of
 * chat messages is used, so the benchmark runs without the data.
 *
 * Reports three numbers:
 *   messages   MB/s classifying every line with one call each (realistic)
 *   bulk       MB/s classifying all the lines joined as one 64 MiB text
 *   1kb        mean, median and 99th percentile of one call on a 1 KiB
 *              message of Kanglish, Hinglish and English chat
 *
 * DESIGN
 * Each measurement repeats its work for at least --seconds (default 1)
 * and keeps the best of 5 rounds, which on a shared VM is the figure least
 * disturbed by neighbours. A volatile sink keeps the calls from being
 * optimised away.
 */
#include "text/langid.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/xalloc.h"

static volatile unsigned sink;

static const char *const builtin[] = {
    "naanu nale office ge hogtini, meeting ide",
    "order cancel maadbeku swalpa urgent, refund yaavaga barutte?",
    "Sir nanna account inda double payment aagide, please check maadi",
    "I will go to the office tomorrow, can you send me the agenda?",
    "kal office jaana hai, meeting hai",
    "ನಾನು ನಾಳೆ office ಗೆ ಹೋಗ್ತೀನಿ",
    "ತುಂಬಾ ಚೆನ್ನಾಗಿದೆ ಸಾರ್, ಧನ್ಯವಾದಗಳು",
    "मैं कल दफ़्तर जाऊँगा और मीटिंग में रहूँगा।",
    "Please summarise this article in three bullet points and keep it short.",
    "ivattu rain jaasti, mane alli irtini, online meeting maadona",
    "super song guru, D boss fans like maadi",
    "What time does the train leave? I need to be there by 9.",
};

/* Monotonic seconds. */
static double now(void)
{
    return (double)clock_mono_ns() * 1e-9;
}

struct lines {
    char **v;
    size_t *len;
    size_t n, cap, bytes;
};

static void lines_add(struct lines *l, const char *s, size_t n)
{
    ALLOC_GROW(l->v, l->n + 1, l->cap);
    l->len = xrealloc(l->len, l->cap * sizeof(*l->len));
    l->v[l->n] = xmemdup(s, n);
    l->len[l->n] = n;
    l->n++;
    l->bytes += n;
}

static int read_lines(struct lines *l, const char *path)
{
    FILE *f = fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    if (!f) {
        perror(path);
        return -1;
    }
    while ((n = getline(&line, &cap, f)) > 0) {
        size_t len = (size_t)n;
        const char *p = line;
        while (len && (p[len - 1] == '\n' || p[len - 1] == '\r'))
            len--;
        const char *tab = memchr(p, '\t', len);
        if (tab) {
            len -= (size_t)(tab + 1 - p);
            p = tab + 1;
        }
        if (len)
            lines_add(l, p, len);
    }
    free(line);
    fclose(f);
    return 0;
}

/* Best-of-5 MB/s of classifying every line, each with its own call. */
static double bench_messages(const struct lines *l, double seconds)
{
    double best = 0;
    for (int round = 0; round < 5; round++) {
        size_t bytes = 0;
        double t0 = now(), t;
        do {
            for (size_t i = 0; i < l->n; i++) {
                struct langid_result r;
                langid_classify(l->v[i], l->len[i], &r);
                sink += r.label;
            }
            bytes += l->bytes;
        } while ((t = now() - t0) < seconds / 5);
        double mbs = (double)bytes / t / 1e6;
        if (mbs > best)
            best = mbs;
    }
    return best;
}

/* Best-of-5 MB/s of one call over a 64 MiB text. */
static double bench_bulk(const struct lines *l)
{
    size_t n = 64u << 20, off = 0;
    char *big = xmalloc(n);
    double best = 0;

    for (size_t i = 0; off < n; i = (i + 1) % l->n) {
        size_t k = l->len[i] + 1 <= n - off ? l->len[i] : n - off - 1;
        memcpy(big + off, l->v[i], k);
        off += k;
        big[off++] = '\n';
    }
    for (int round = 0; round < 5; round++) {
        struct langid_result r;
        double t0 = now();
        langid_classify(big, n, &r);
        double t = now() - t0;
        sink += r.label;
        if ((double)n / t / 1e6 > best)
            best = (double)n / t / 1e6;
    }
    free(big);
    return best;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/*
 * A 1 KiB message: the built-in Latin-script chat lines (the worst case:
 * every byte goes through the model) joined until 1024 bytes. Times
 * batches of 100 calls; reports mean, median and p99 of the per-call time
 * over the batches.
 */
static void bench_1kb(double seconds, double *mean, double *p50, double *p99)
{
    struct buf msg = BUF_INIT;
    enum { BATCH = 100, MAXB = 200000 };
    double *samples = xmalloc(MAXB * sizeof(*samples));
    size_t ns = 0;

    for (size_t i = 0; msg.len < 1024; i = (i + 1) % ARRAY_SIZE(builtin)) {
        const char *t = builtin[i];
        bool ascii = true;
        for (const char *c = t; *c; c++)
            ascii = ascii && !((unsigned char)*c & 0x80);
        if (!ascii)
            continue;
        buf_addstr(&msg, t);
        buf_addch(&msg, ' ');
    }
    size_t len = 1024;
    double t0 = now(), total = 0;
    while (ns < MAXB && now() - t0 < seconds) {
        double b0 = now();
        for (int i = 0; i < BATCH; i++) {
            struct langid_result r;
            langid_classify(msg.data, len, &r);
            sink += r.label;
        }
        double dt = (now() - b0) / BATCH;
        samples[ns++] = dt;
        total += dt;
    }
    qsort(samples, ns, sizeof(*samples), cmp_double);
    *mean = total / (double)ns * 1e6;
    *p50 = samples[ns / 2] * 1e6;
    *p99 = samples[ns * 99 / 100] * 1e6;
    printf("1kb message: %zu bytes of Latin-script chat\n", len);
    free(samples);
    buf_release(&msg);
}

int main(int argc, char **argv)
{
    struct lines l = {0};
    double seconds = 1.0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            char *end;
            seconds = strtod(argv[++i], &end);
            if (*end || seconds <= 0) {
                fprintf(stderr, "bad --seconds\n");
                return 2;
            }
        } else if (read_lines(&l, argv[i])) {
            return 1;
        }
    }
    if (!l.n)
        for (size_t i = 0; i < ARRAY_SIZE(builtin); i++)
            lines_add(&l, builtin[i], strlen(builtin[i]));

    printf("corpus: %zu lines, %zu bytes%s\n", l.n, l.bytes, argc > 1 ? "" : " (built-in)");
    printf("messages: %.1f MB/s (one call per line, mean %.0f bytes)\n",
           bench_messages(&l, seconds), (double)l.bytes / (double)l.n);
    printf("bulk: %.1f MB/s (one call on 64 MiB)\n", bench_bulk(&l));
    double mean, p50, p99;
    bench_1kb(seconds, &mean, &p50, &p99);
    printf("1kb: mean %.2f us, median %.2f us, p99 %.2f us per call\n", mean, p50, p99);

    for (size_t i = 0; i < l.n; i++)
        free(l.v[i]);
    free(l.v);
    free(l.len);
    return 0;
}
