/* SPDX-License-Identifier: MIT */
/*
 * bench/translit: how well translit_key() matches Kannada script to its
 * romanizations, measured on a TSV of `kannada<TAB>romanization` pairs
 * (../shared/langid/lexicon/kn_script_to_latin_pairs.tsv, Aksharantar).
 *
 *   build/bench/translit PAIRS.tsv [--show N] [--groups N] [--rules]
 *
 * Prints, for the default rule set:
 *   match rate      pairs with key(kannada) == key(romanization)
 *   readable exact  pairs with translit_kn_to_latn(kannada) == romanization
 *   collisions      distinct Kannada words whose key is also the key of
 *                   another distinct Kannada word, and the same for the
 *                   readable romanization alone (the floor that comes from
 *                   t/d/n/l/sh standing for two letters each)
 * --rules repeats the measurement with each rule switched off in turn.
 * --show N prints N mismatching pairs, --groups N that many sets of
 * different words with one key.
 */
#include "text/translit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/xalloc.h"
#include "text/translit_int.h"

struct pair {
    char *kn, *latn;
};

struct keyed {
    char *key;
    const char *kn;
};

static int cmp_keyed(const void *a, const void *b)
{
    const struct keyed *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->kn, y->kn);
}

struct result {
    size_t pairs, match, words, collide;
};

/* Collisions: sort (key, word) and count words sharing a key with a
 * different word. Words are deduplicated first. */
static size_t collisions(struct keyed *v, size_t n, long groups)
{
    qsort(v, n, sizeof(*v), cmp_keyed);
    size_t c = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && !strcmp(v[j].key, v[i].key))
            j++;
        if (j - i > 1) {
            c += j - i;
            if (groups-- > 0) {
                printf("  same key %s:", v[i].key);
                for (size_t k = i; k < j; k++)
                    printf(" %s", v[k].kn);
                printf("\n");
            }
        }
        i = j;
    }
    return c;
}

static void measure(struct pair *p, size_t n, unsigned rules, bool readable, struct result *r,
                    long show, long groups)
{
    struct buf a = BUF_INIT, b = BUF_INIT;
    struct keyed *v = xcalloc(n, sizeof(*v));
    size_t nv = 0;
    memset(r, 0, sizeof(*r));
    for (size_t i = 0; i < n; i++) {
        buf_reset(&a);
        buf_reset(&b);
        if (readable) {
            translit_kn_to_latn(p[i].kn, strlen(p[i].kn), &a);
            buf_addstr(&b, p[i].latn);
        } else {
            translit__key_rules(p[i].kn, strlen(p[i].kn), rules, &a);
            translit__key_rules(p[i].latn, strlen(p[i].latn), rules, &b);
        }
        r->pairs++;
        if (!strcmp(buf_cstr(&a), buf_cstr(&b)))
            r->match++;
        else if (show-- > 0)
            printf("  miss: %s\t%s\t%s | %s\n", p[i].kn, p[i].latn, buf_cstr(&a), buf_cstr(&b));
        if (i == 0 || strcmp(p[i].kn, p[i - 1].kn)) { /* the file is sorted by kannada */
            v[nv].key = xstrdup(buf_cstr(&a));
            v[nv].kn = p[i].kn;
            nv++;
        }
    }
    r->words = nv;
    r->collide = collisions(v, nv, groups);
    for (size_t i = 0; i < nv; i++)
        free(v[i].key);
    free(v);
    buf_release(&a);
    buf_release(&b);
}

static void print(const char *name, const struct result *r)
{
    printf("%-28s match %6.2f%% (%zu/%zu)   collisions %5.2f%% (%zu/%zu words)\n", name,
           100.0 * (double)r->match / (double)r->pairs, r->match, r->pairs,
           100.0 * (double)r->collide / (double)r->words, r->collide, r->words);
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    long show = 0, groups = 0;
    bool rules = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--show") && i + 1 < argc)
            show = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--groups") && i + 1 < argc)
            groups = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--rules"))
            rules = true;
        else
            path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "usage: %s PAIRS.tsv [--show N] [--groups N] [--rules]\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return 1;
    }
    struct pair *p = NULL;
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) > 0) {
        if (line[0] == '#')
            continue;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = 0;
        ALLOC_GROW(p, n + 1, cap);
        p[n].kn = xstrdup(line);
        p[n].latn = xstrdup(tab + 1);
        n++;
    }
    free(line);
    fclose(f);

    struct result r;
    printf("%zu pairs from %s\n", n, path);
    measure(p, n, 0, true, &r, 0, 0);
    print("readable == romanization", &r);
    measure(p, n, 0, false, &r, 0, 0);
    print("key, no folding rules", &r);
    measure(p, n, TRANSLIT_RULES_DEFAULT, false, &r, show, groups);
    print("key (default rules)", &r);
    if (rules) {
        static const struct {
            unsigned bit;
            const char *name;
        } rl[] = {
            {TR_VOWEL_LEN, "VOWEL_LEN"}, {TR_ASPIRATE, "ASPIRATE"}, {TR_WV_ZJ, "WV_ZJ"},
            {TR_DOUBLE, "DOUBLE"},       {TR_NASAL, "NASAL"},       {TR_FINAL_A, "FINAL_A"},
            {TR_RI_RU, "RI_RU"},         {TR_Y_VOWEL, "Y_VOWEL"},   {TR_AU, "AU"},
            {TR_EXONYM, "EXONYM"},       {TR_C_KS, "C_KS"},         {TR_Y_GLIDE, "Y_GLIDE"},
            {TR_JN, "JN"},               {TR_AIAH, "AIAH"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(rl); i++) {
            char name[64];
            snprintf(name, sizeof(name), "  without %s", rl[i].name);
            measure(p, n, TRANSLIT_RULES_DEFAULT & ~rl[i].bit, false, &r, 0, 0);
            print(name, &r);
        }
        measure(p, n, TRANSLIT_RULES_DEFAULT | TR_FINAL_E, false, &r, 0, 0);
        print("  plus FINAL_E", &r);
    }
    for (size_t i = 0; i < n; i++) {
        free(p[i].kn);
        free(p[i].latn);
    }
    free(p);
    return 0;
}
