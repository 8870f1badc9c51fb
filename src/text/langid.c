/* SPDX-License-Identifier: MIT */
/*
 * langid.c: the language identifier (see langid.h).
 *
 * One pass over the bytes decodes UTF-8, counts code points by script and,
 * for every word in Latin letters or in Devanagari, adds the weights of its
 * hashed features to four "lane" sums (en, kn, hi, other). The script counts
 * then decide which lanes compete:
 *
 *   any Kannada code point      kn, or mixed-script if there is a Latin word;
 *                               the model is not consulted
 *   Devanagari dominates        hi against other
 *   Latin dominates             en, kn-latn, hi-latn and other
 *   other letters dominate      other
 *   no letters at all           other, uncertain
 *
 * DESIGN
 * The model is multinomial logistic regression over feature hashing
 * (tools/langid/train.py writes langid_tables.c). A word's features are its
 * character n-grams of 2..LANGID_NGRAM_MAX symbols, with a start and an end
 * mark so that suffixes such as "-alli$" and "-tini$" are features of their
 * own, plus the whole word. Letters are lowercased and a letter repeated
 * more than twice counts twice ("sooooper" is "sooper"). A word right after
 * '@' is a mention (a user name) and contributes no features. Each n-gram
 * hash is computed backwards from the newest symbol, so one pass of
 * LANGID_NGRAM_MAX multiplications per symbol yields every n-gram ending
 * there, and a word needs no buffer: words of any length cost the same per
 * byte.
 *
 * The weights are one byte each, four per bucket (one cache line holds 16
 * buckets), so the whole table is 4 << LANGID_BITS bytes and stays in L2.
 * Lane sums are exact integers; the one float step is the final scaling.
 *
 * Two paths compute the same sums. The generic one (scan_text()'s loop
 * over code points, letter(), push(), end_word()) takes any text. Most
 * text is words of ASCII or Devanagari letters with ASCII spaces and
 * punctuation between them: fast_words() takes those runs whole, a word's
 * state in locals, the n-grams of its first letters apart from the rest
 * (which always have four), and the weights of two features summed in
 * bytes before they are spread into lanes. It hands anything else back
 * (another script, a Latin-1 letter inside a word, a mention).
 * langid__classify_generic() (langid_int.h) runs the generic path alone;
 * the unit tests and the fuzz harness require the two to agree to the bit.
 *
 * The feature extraction must match scan() in train.py exactly; the unit
 * tests compare both on the golden texts stored in the tables. There is no
 * state outside the stack, so every function here is re-entrant.
 */
#include "text/langid.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "lib/utf8.h"
#include "lib/xalloc.h"
#include "text/langid_int.h"
#include "text/langid_tables.h"

/* Character classes; the twins of C_* in train.py. */
enum cclass { C_SPACE, C_LATIN, C_DEVA, C_KANNADA, C_OTHER, C_PUNCT, C_JOINER };
enum word_kind { WORD_NONE, WORD_LATIN, WORD_DEVA };
enum lane { L_EN, L_KN, L_HI, L_OT };

#define BOUND_START 2u
#define BOUND_END 3u
#define FNV_PRIME 0x01000193u
#define SEED_NGRAM 0x811C9DC5u
#define SEED_WORD 0x2F6B1A53u
#define GOLDEN 0x9E3779B1u
#define MAX_RUN 2
#define CP_INVALID 0xFFFFFFFFu

/* The state of one pass over a text. */
struct scan {
    /* Code point counts by class (size_t: they saturate only at the end). */
    size_t latin, deva, kannada, other, punct;
    size_t invalid; /* ill-formed UTF-8 sequences, also counted in other */
    size_t latin_words, deva_words;
    /* Latin words with features, and how many of them lean to the kn or
     * the en lane on their own (the word votes of the routing decision). */
    size_t vote_words, kn_words, en_words;
    int64_t wstart[LANGID_NLANES]; /* lane sums when the current word began */
    int64_t wnfeat;                /* nfeat when the current word began */
    /* The part of lane and nfeat that came from names (below). */
    int64_t name_lane[LANGID_NLANES], name_nfeat;
    /* Sum of the weight bytes per lane, and how many features were added. */
    int64_t lane[LANGID_NLANES];
    int64_t nfeat;
    /* Weight bytes not yet in lane[]: two lanes in the 16-bit halves of
     * each (kn and other in acc13), for at most PEND_MAX features. */
    uint32_t acc02, acc13;
    unsigned pend;
    /* The current word. */
    enum word_kind kind;
    uint32_t hist[LANGID_NGRAM_MAX]; /* newest symbol first; 0 = none */
    unsigned depth;                  /* symbols in hist */
    uint32_t wh;                     /* whole-word hash so far */
    uint32_t prev_sym;
    int run;
    bool skip;    /* a mention: no features */
    bool prev_at; /* the last non-word code point was '@' */
    /* Name detection: a capitalised Latin word ("Mysuru", not "MYSURU" or
     * "McD") that does not start a sentence, and whose own en lane sum is
     * clearly negative, is taken for a name, and the label leaves its
     * features out: an English sentence about Mysuru is English. Routing
     * keeps them: in real comments, the names of Kannada actors and places
     * are evidence of Kannada (leaving them out there cost a point of
     * recall on the held-out comments). */
    bool sent_start; /* no word yet, or the last one ended a sentence */
    bool may_name;   /* the current word does not start a sentence */
    bool cap_first, cap_rest;
};

/* A capitalised word's own en lane sum below this is a name's (weight
 * units; about half a logit). */
#define NAME_EN_MAX (-20)

static inline uint32_t mix(uint32_t h, uint32_t sym)
{
    return (h ^ sym) * FNV_PRIME;
}

/*
 * The four weight bytes of feature hash h as one word: lane k in byte k.
 * Adding whole words, two lanes at a time in 16-bit halves, costs a third
 * of adding four bytes to four sums, and the sums stay in registers for a
 * symbol's features (byte loads may alias the sums in memory; one word
 * loaded and added locally does not make the compiler store and reload).
 */
static inline uint32_t weights_of(uint32_t h)
{
    uint32_t b = (h * GOLDEN) >> (32 - LANGID_BITS);
    const unsigned char *w = (const unsigned char *)langid_weights + ((size_t)b << 2);
    return (uint32_t)w[0] | (uint32_t)w[1] << 8 | (uint32_t)w[2] << 16 | (uint32_t)w[3] << 24;
}

/* A weight byte is at most 126 (printable), so a 16-bit half holds 520
 * of them; pending sums go to lane[] before that. */
#define PEND_MAX 400u

/* Moves the pending sums into lane[]. */
static inline void flush(struct scan *s)
{
    s->lane[0] += s->acc02 & 0xFFFFu;
    s->lane[2] += s->acc02 >> 16;
    s->lane[1] += s->acc13 & 0xFFFFu;
    s->lane[3] += s->acc13 >> 16;
    s->acc02 = s->acc13 = 0;
    s->pend = 0;
}

static inline void add_feature(struct scan *s, uint32_t h)
{
    uint32_t v = weights_of(h);
    s->acc02 += v & 0x00FF00FFu;
    s->acc13 += (v >> 8) & 0x00FF00FFu;
    s->nfeat++;
    if (++s->pend >= PEND_MAX)
        flush(s);
}

static void scan_init(struct scan *s)
{
    memset(s, 0, sizeof(*s));
    s->sent_start = true;
}

/* Appends a symbol to the current word and adds the n-grams ending in it. */
static inline void push(struct scan *s, uint32_t sym)
{
    for (int k = LANGID_NGRAM_MAX - 1; k > 0; k--)
        s->hist[k] = s->hist[k - 1];
    s->hist[0] = sym;
    unsigned depth = s->depth + (s->depth < LANGID_NGRAM_MAX);
    s->depth = depth;
    if (s->skip)
        return;
    uint32_t h = mix(SEED_NGRAM, sym), a02 = 0, a13 = 0;
    unsigned n = depth - 1;
    for (unsigned k = 1; k < depth; k++) {
        h = mix(h, s->hist[k]);
        uint32_t v = weights_of(h);
        a02 += v & 0x00FF00FFu;
        a13 += (v >> 8) & 0x00FF00FFu;
    }
    s->acc02 += a02;
    s->acc13 += a13;
    s->nfeat += n;
    s->pend += n;
    if (s->pend >= PEND_MAX) /* n < LANGID_NGRAM_MAX: no half overflows */
        flush(s);
}

static void start_word(struct scan *s, enum word_kind kind)
{
    s->kind = kind;
    s->wh = SEED_WORD;
    s->skip = s->prev_at;
    s->may_name = !s->sent_start;
    s->sent_start = false;
    memcpy(s->wstart, s->lane, sizeof(s->wstart));
    s->wnfeat = s->nfeat;
    push(s, BOUND_START);
}

static void end_word(struct scan *s)
{
    if (s->kind == WORD_NONE)
        return;
    push(s, BOUND_END);
    if (!s->skip)
        add_feature(s, mix(s->wh, BOUND_END));
    flush(s);
    if (s->kind == WORD_LATIN) {
        s->latin_words++;
        if (!s->skip) {
            /* The lane this word alone would pick (the first on a tie). All
             * lanes got the same number of features, so raw sums compare. */
            int best = 0;
            int64_t d[LANGID_NLANES], nf = s->nfeat - s->wnfeat;
            for (int k = 0; k < LANGID_NLANES; k++) {
                d[k] = s->lane[k] - s->wstart[k];
                if (d[k] > d[best])
                    best = k;
            }
            if (s->may_name && s->cap_first && !s->cap_rest &&
                d[L_EN] - (int64_t)LANGID_WEIGHT_ZERO * nf < NAME_EN_MAX) {
                for (int k = 0; k < LANGID_NLANES; k++)
                    s->name_lane[k] += d[k];
                s->name_nfeat += nf;
            }
            s->vote_words++;
            s->kn_words += best == L_KN;
            s->en_words += best == L_EN;
        }
    } else
        s->deva_words++;
    s->kind = WORD_NONE;
    memset(s->hist, 0, sizeof(s->hist));
    s->depth = 0;
    s->prev_sym = 0;
    s->run = 0;
    s->skip = false;
}

/* A letter (symbol `sym`) of the current word. */
static inline void letter(struct scan *s, uint32_t sym)
{
    if (sym == s->prev_sym) {
        if (++s->run > MAX_RUN)
            return;
    } else {
        s->prev_sym = sym;
        s->run = 1;
    }
    s->wh = mix(s->wh, sym);
    push(s, sym);
}

/*
 * Classifies a code point at or above U+0080; *sym gets the symbol the
 * model sees (the lowercased letter, or the Devanagari code point; 0 for a
 * Devanagari sign that is not part of words). The twin of char_class().
 */
static inline __attribute__((always_inline)) enum cclass class_of(uint32_t cp, uint32_t *sym)
{
    *sym = 0;
    if (cp < 0x250) {
        if (cp < 0xC0 || cp == 0xD7 || cp == 0xF7)
            return cp <= 0xA0 ? C_SPACE : C_PUNCT;
        *sym = cp <= 0xDE ? cp + 0x20 : cp;
        return C_LATIN;
    }
    if (cp >= 0x900 && cp <= 0x97F) {
        if (!(cp >= 0x964 && cp <= 0x96F)) /* danda, double danda, digits */
            *sym = cp;
        return C_DEVA;
    }
    if (cp >= 0xC80 && cp <= 0xCFF)
        return C_KANNADA;
    if (cp >= 0x1E00 && cp <= 0x1EFF) {
        *sym = cp;
        return C_LATIN;
    }
    if (cp == 0x200C || cp == 0x200D)
        return C_JOINER;
    if ((cp >= 0x2000 && cp <= 0x200B) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
        cp == 0x205F || cp == 0x3000 || cp == 0xFEFF)
        return C_SPACE;
    if ((cp >= 0x2010 && cp <= 0x2BFF) || (cp >= 0x3001 && cp <= 0x303F) ||
        (cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0xFE30 && cp <= 0xFE4F) ||
        (cp >= 0xFF01 && cp <= 0xFF0F) || (cp >= 0x1F000 && cp <= 0x1FAFF) ||
        (cp >= 0xE0000 && cp <= 0xE007F))
        return C_PUNCT;
    return C_OTHER;
}

/* The next character at p (n >= 1 bytes left), by lib/utf8's decoder: an
 * ill-formed sequence gives CP_INVALID and consumes its maximal subpart. */
static inline size_t utf8_next(const unsigned char *p, size_t n, uint32_t *cp)
{
    int32_t v;
    size_t k = utf8_decode(p, n, &v);
    *cp = v < 0 ? CP_INVALID : (uint32_t)v;
    return k;
}

/*
 * The rest of a run of ASCII letters in the current Latin word, from p:
 * letter() and push() for each, with the word's state in locals (so in
 * registers) and written back once at the end of the run. Most text the
 * router sees is such runs. Returns where the run ends.
 */
_Static_assert(LANGID_NGRAM_MAX == 5, "ascii_run() keeps five symbols");

static inline const unsigned char *ascii_run(struct scan *s, const unsigned char *p,
                                             const unsigned char *end)
{
    uint32_t h0 = s->hist[0], h1 = s->hist[1], h2 = s->hist[2], h3 = s->hist[3],
             h4 = s->hist[4];
    uint32_t wh = s->wh, prev_sym = s->prev_sym, a02 = s->acc02, a13 = s->acc13;
    unsigned depth = s->depth, pend = s->pend;
    int run = s->run;
    int64_t nfeat = s->nfeat;
    const unsigned char *start = p;
    bool cap_rest = s->cap_rest, skip = s->skip;

    while (p < end) {
        uint32_t c = *p;
        if ((c | 0x20) - 'a' >= 26u)
            break;
        p++;
        cap_rest |= c - 'A' < 26u;
        uint32_t sym = c | 0x20;
        if (sym == prev_sym) {
            if (++run > MAX_RUN)
                continue;
        } else {
            prev_sym = sym;
            run = 1;
        }
        wh = mix(wh, sym);
        h4 = h3, h3 = h2, h2 = h1, h1 = h0, h0 = sym;
        depth += depth < LANGID_NGRAM_MAX;
        if (skip)
            continue;
        /* The n-grams ending here: 2 to depth symbols. */
        uint32_t h = mix(mix(SEED_NGRAM, sym), h1), v;
        v = weights_of(h);
        a02 += v & 0x00FF00FFu;
        a13 += (v >> 8) & 0x00FF00FFu;
        if (depth > 2) {
            h = mix(h, h2);
            v = weights_of(h);
            a02 += v & 0x00FF00FFu;
            a13 += (v >> 8) & 0x00FF00FFu;
            if (depth > 3) {
                h = mix(h, h3);
                v = weights_of(h);
                a02 += v & 0x00FF00FFu;
                a13 += (v >> 8) & 0x00FF00FFu;
                if (depth > 4) {
                    h = mix(h, h4);
                    v = weights_of(h);
                    a02 += v & 0x00FF00FFu;
                    a13 += (v >> 8) & 0x00FF00FFu;
                }
            }
        }
        /* depth >= 2 here: the word began with BOUND_START. */
        nfeat += depth - 1;
        pend += depth - 1;
        if (pend >= PEND_MAX) {
            s->lane[0] += a02 & 0xFFFFu;
            s->lane[2] += a02 >> 16;
            s->lane[1] += a13 & 0xFFFFu;
            s->lane[3] += a13 >> 16;
            a02 = a13 = 0;
            pend = 0;
        }
    }
    s->hist[0] = h0, s->hist[1] = h1, s->hist[2] = h2, s->hist[3] = h3, s->hist[4] = h4;
    s->wh = wh;
    s->prev_sym = prev_sym;
    s->run = run;
    s->acc02 = a02;
    s->acc13 = a13;
    s->depth = depth;
    s->pend = pend;
    s->nfeat = nfeat;
    s->cap_rest = cap_rest;
    s->latin += (size_t)(p - start);
    return p;
}

/* Is c an ASCII letter? */
static inline bool ascii_alpha(uint32_t c)
{
    return (c | 0x20) - 'a' < 26u;
}

/* The Devanagari code point encoded at p (E0 A4|A5 xx), or 0. */
static inline uint32_t deva_at(const unsigned char *p, const unsigned char *end)
{
    if (end - p < 3 || p[0] != 0xE0 || (p[1] & 0xFE) != 0xA4 || (p[2] & 0xC0) != 0x80)
        return 0;
    return 0x900 + ((uint32_t)(p[1] & 1) << 6) + (p[2] & 0x3Fu);
}

/* A Devanagari sign that is not part of words: danda, double danda, digits. */
static inline bool deva_sign(uint32_t cp)
{
    return cp - 0x964 < 12u;
}

/* Is a zero-width non-joiner or joiner (E2 80 8C|8D) encoded at p? */
static inline bool joiner_at(const unsigned char *p, const unsigned char *end)
{
    return end - p >= 3 && p[0] == 0xE2 && p[1] == 0x80 && (p[2] & 0xFE) == 0x8C;
}

/*
 * The next letter of a word of `kind` at p: its symbol in *sym, and where
 * it ends; NULL when the word has no letter at p. In a Devanagari word
 * joiners are stepped over, as the generic path ignores them.
 */
static inline __attribute__((always_inline)) const unsigned char *
word_letter(enum word_kind kind, const unsigned char *p, const unsigned char *end, uint32_t *sym)
{
    if (kind == WORD_LATIN) {
        if (p < end && ascii_alpha(*p)) {
            *sym = *p | 0x20;
            return p + 1;
        }
        return NULL;
    }
    for (;;) {
        uint32_t cp = deva_at(p, end);
        if (cp && !deva_sign(cp)) {
            *sym = cp;
            return p + 3;
        }
        if (!joiner_at(p, end))
            return NULL;
        p += 3;
    }
}

/* Adds a weight word's four bytes to the 16-bit halves of a02 and a13. */
#define ACC(a02, a13, v)                                                                    \
    do {                                                                                   \
        uint32_t v_ = (v);                                                                 \
        (a02) += v_ & 0x00FF00FFu;                                                         \
        (a13) += (v_ >> 8) & 0x00FF00FFu;                                                  \
    } while (0)

/* Adds the n-grams of 2 to n + 1 symbols that end in sym, h0..h3 being
 * the symbols before it (newest first; n <= 4), to a02 and a13. */
static inline __attribute__((always_inline)) void add_ngrams(uint32_t sym, uint32_t h0,
                                                            uint32_t h1, uint32_t h2,
                                                            uint32_t h3, unsigned n,
                                                            uint32_t *a02, uint32_t *a13)
{
    uint32_t h = mix(mix(SEED_NGRAM, sym), h0);
    ACC(*a02, *a13, weights_of(h));
    if (n > 1) {
        h = mix(h, h1);
        ACC(*a02, *a13, weights_of(h));
        if (n > 2) {
            h = mix(h, h2);
            ACC(*a02, *a13, weights_of(h));
            if (n > 3) {
                h = mix(h, h3);
                ACC(*a02, *a13, weights_of(h));
            }
        }
    }
}

/* Letters of a word taken in one go before the pending sums are flushed:
 * at 4 features of at most 126 a letter, 97 letters and the 11 features
 * of a word's start and end stay below a 16-bit half. */
#define WORD_CHUNK 96

/* What fast_words() gathers, written to the scan when it returns. */
struct words {
    int64_t lane[LANGID_NLANES], nfeat;
    size_t latin, deva, punct, latin_words, deva_words, kn_words, en_words;
    bool sent_start;
};

/*
 * One word of `kind` (ASCII letters, or Devanagari letters and joiners)
 * from its first letter at p, with its state in locals; the twin of
 * start_word(), letter(), push() and end_word() for such a word. Returns
 * where the word ends. An ASCII word followed by a non-ASCII byte (a
 * Latin-1 letter or a joiner may go on with it) is handed to the generic
 * path open, as start_word() and letter() leave it, and *open set.
 */
static inline __attribute__((always_inline)) const unsigned char *
fast_word(struct scan *s, struct words *w, enum word_kind kind, const unsigned char *p,
          const unsigned char *end, bool *open)
{
    const unsigned char *w0 = p, *q;
    /* h0..h3: the symbols before the current one, newest first. */
    uint32_t wh = SEED_WORD, h0 = BOUND_START, h1 = 0, h2 = 0, h3 = 0, a02 = 0, a13 = 0, sym;
    int64_t d0 = 0, d1 = 0, d2 = 0, d3 = 0, nf = 0;
    unsigned depth = 1; /* symbols so far, the start mark included */
    size_t dropped = 0, nsym = 0; /* letters left out of runs; Devanagari letters */
    bool may_name = !w->sent_start;
    w->sent_start = false;

    /* The first three letters: the n-grams reach back to the start. The
     * loop below repeats this one's head on purpose: one loop for both,
     * with a branch on depth a letter, measured 0.90x (10 pairs). */
    while (depth < LANGID_NGRAM_MAX - 1 && (q = word_letter(kind, p, end, &sym))) {
        p = q;
        nsym += kind == WORD_DEVA;
        if (sym == h0 && sym == h1) {
            dropped++;
            continue;
        }
        wh = mix(wh, sym);
        add_ngrams(sym, h0, h1, h2, h3, depth, &a02, &a13);
        nf += depth;
        h3 = h2, h2 = h1, h1 = h0, h0 = sym;
        depth++;
    }
    /* The rest: the history holds four symbols, so four n-grams a letter,
     * summed two by two in bytes (a weight byte is at most 126), in chunks
     * that a 16-bit half holds. */
    while (word_letter(kind, p, end, &sym)) {
        size_t span = WORD_CHUNK * (kind == WORD_DEVA ? 3 : 1);
        const unsigned char *lim = (size_t)(end - p) > span ? p + span : end, *c0 = p;
        size_t dropped0 = dropped, nsym0 = nsym;
        /* lim <= end, so for ASCII it bounds the letter's read too. */
        while (p < lim && (q = word_letter(kind, p, kind == WORD_LATIN ? lim : end, &sym))) {
            p = q;
            nsym += kind == WORD_DEVA;
            if (sym == h0 && sym == h1) {
                dropped++;
                continue;
            }
            wh = mix(wh, sym);
            uint32_t h = mix(mix(SEED_NGRAM, sym), h0), x, y;
            x = weights_of(h);
            h = mix(h, h1);
            x += weights_of(h);
            h = mix(h, h2);
            y = weights_of(h);
            h = mix(h, h3);
            y += weights_of(h);
            a02 += (x & 0x00FF00FFu) + (y & 0x00FF00FFu);
            a13 += ((x >> 8) & 0x00FF00FFu) + ((y >> 8) & 0x00FF00FFu);
            h3 = h2, h2 = h1, h1 = h0, h0 = sym;
        }
        size_t taken = (kind == WORD_DEVA ? nsym - nsym0 : (size_t)(p - c0)) - (dropped - dropped0);
        nf += 4 * (int64_t)taken;
        if (taken)
            depth = LANGID_NGRAM_MAX;
        d0 += a02 & 0xFFFFu, d2 += a02 >> 16, d1 += a13 & 0xFFFFu, d3 += a13 >> 16;
        a02 = a13 = 0;
    }

    bool cap_first = false, cap_rest = false;
    if (kind == WORD_LATIN) {
        w->latin += (size_t)(p - w0);
        cap_first = (unsigned)*w0 - 'A' < 26u;
        if (cap_first && may_name)
            for (q = w0 + 1; q < p; q++)
                cap_rest |= (unsigned)*q - 'A' < 26u;
    } else {
        w->deva += nsym;
    }

    if (kind == WORD_LATIN && p < end && *p >= 0x80) {
        /* The word may go on in a letter that is not ASCII. */
        memcpy(s->wstart, w->lane, sizeof(s->wstart));
        s->wnfeat = w->nfeat;
        w->lane[0] += d0 + (a02 & 0xFFFFu), w->lane[2] += d2 + (a02 >> 16);
        w->lane[1] += d1 + (a13 & 0xFFFFu), w->lane[3] += d3 + (a13 >> 16);
        w->nfeat += nf;
        s->kind = WORD_LATIN;
        s->wh = wh;
        s->hist[0] = h0, s->hist[1] = h1, s->hist[2] = h2, s->hist[3] = h3, s->hist[4] = 0;
        s->depth = depth;
        s->prev_sym = h0; /* a letter: the first is never dropped */
        s->run = depth > 2 && h0 == h1 ? MAX_RUN : 1;
        s->skip = false;
        s->may_name = may_name;
        s->cap_first = cap_first;
        s->cap_rest = cap_rest;
        *open = true;
        return p;
    }

    /* The end mark's n-grams (up to four symbols back) and the word. */
    add_ngrams(BOUND_END, h0, h1, h2, h3, depth, &a02, &a13);
    ACC(a02, a13, weights_of(mix(wh, BOUND_END)));
    nf += (depth < LANGID_NGRAM_MAX - 1 ? depth : LANGID_NGRAM_MAX - 1) + 1;
    d0 += a02 & 0xFFFFu, d2 += a02 >> 16, d1 += a13 & 0xFFFFu, d3 += a13 >> 16;
    w->lane[0] += d0, w->lane[1] += d1, w->lane[2] += d2, w->lane[3] += d3;
    w->nfeat += nf;
    if (kind == WORD_DEVA) {
        w->deva_words++;
        return p;
    }
    /* The word's vote: its best lane, the first on a tie. */
    int64_t m = d0;
    int best = L_EN;
    if (d1 > m)
        m = d1, best = L_KN;
    if (d2 > m)
        m = d2, best = L_HI;
    if (d3 > m)
        best = L_OT;
    w->kn_words += best == L_KN;
    w->en_words += best == L_EN;
    w->latin_words++;
    if (cap_first && may_name && !cap_rest &&
        d0 - (int64_t)LANGID_WEIGHT_ZERO * nf < NAME_EN_MAX) {
        s->name_lane[0] += d0, s->name_lane[1] += d1;
        s->name_lane[2] += d2, s->name_lane[3] += d3;
        s->name_nfeat += nf;
    }
    return p;
}

/*
 * Words of ASCII letters or of Devanagari letters, and the separators
 * between them (ASCII spaces and punctuation, danda and Devanagari digits,
 * joiners), from the first letter of a word at p: the common case, at a
 * third of the instructions of the generic path's letter(), push() and
 * end_word() (bench/README-langid.md). The caller guarantees that no word
 * is open and that this one is not a mention. Features, sums, counts and
 * votes are exactly those of the generic path, which the unit tests and
 * the fuzz harness compare (langid__classify_generic()). Returns where the
 * generic path goes on: the end of the text, a word it must start (a
 * mention, or one in other letters), any other code point, or inside a
 * word handed over open (fast_word()).
 */
static const unsigned char *fast_words(struct scan *s, const unsigned char *p,
                                       const unsigned char *end)
{
    struct words w = {.nfeat = s->nfeat, .sent_start = s->sent_start};
    bool at = false, open = false;
    memcpy(w.lane, s->lane, sizeof(w.lane));

    for (;;) {
        if (*p < 0x80)
            p = fast_word(s, &w, WORD_LATIN, p, end, &open);
        else
            p = fast_word(s, &w, WORD_DEVA, p, end, &open);
        if (open)
            break;
        /* The separators up to the next word. */
        at = false;
        while (p < end) {
            uint32_t c = *p, cp;
            if (c < 0x80) {
                if (ascii_alpha(c))
                    break;
                p++;
                w.punct += c > 0x20 && c != 0x7F;
                at = c == '@';
                w.sent_start |= c == '.' || c == '!' || c == '?';
            } else if (joiner_at(p, end)) {
                p += 3;
            } else if ((cp = deva_at(p, end)) && deva_sign(cp)) {
                p += 3;
                w.deva++;
                at = false;
            } else {
                break;
            }
        }
        if (p == end || at || !(ascii_alpha(*p) || deva_at(p, end)))
            break;
    }
    memcpy(s->lane, w.lane, sizeof(w.lane));
    s->nfeat = w.nfeat;
    s->latin += w.latin;
    s->deva += w.deva;
    s->punct += w.punct;
    s->latin_words += w.latin_words;
    s->deva_words += w.deva_words;
    s->vote_words += w.latin_words;
    s->kn_words += w.kn_words;
    s->en_words += w.en_words;
    s->sent_start = w.sent_start;
    s->prev_at = at;
    return p;
}

/* The class of an ASCII byte; a letter's symbol is its lowercase form. */
#define ASCII_CLASS(c)                                                          \
    ((c) >= 'a' && (c) <= 'z'   ? C_LATIN                                       \
     : (c) >= 'A' && (c) <= 'Z' ? C_LATIN                                       \
     : (c) <= 0x20 || (c) == 0x7F ? C_SPACE                                     \
                                  : C_PUNCT)

/* fast: words of ASCII or Devanagari letters by fast_words(); false only
 * for the tests' twin (langid__classify_generic()). */
static inline __attribute__((always_inline)) void scan_text(struct scan *s, const unsigned char *p,
                                                           size_t len, bool fast)
{
    const unsigned char *end = p + len;

    while (p < end) {
        uint32_t cp, sym;
        enum cclass cls;
        if (*p < 0x80) {
            if (fast && ascii_alpha(*p) && s->kind == WORD_NONE && !s->prev_at) {
                p = fast_words(s, p, end);
                continue;
            }
            cp = *p++;
            cls = ASCII_CLASS(cp);
            sym = cp | 0x20; /* only used for letters */
        } else {
            if (fast && s->kind == WORD_NONE && !s->prev_at && (cp = deva_at(p, end)) &&
                !deva_sign(cp)) {
                p = fast_words(s, p, end);
                continue;
            }
            p += utf8_next(p, (size_t)(end - p), &cp);
            if (cp == CP_INVALID) {
                cls = C_OTHER;
                sym = 0;
                s->invalid++;
            } else {
                cls = class_of(cp, &sym);
            }
        }

        enum word_kind wk = WORD_NONE;
        switch (cls) {
        case C_JOINER:
            continue;
        case C_LATIN:
            s->latin++;
            wk = WORD_LATIN;
            break;
        case C_DEVA:
            s->deva++;
            if (sym)
                wk = WORD_DEVA;
            break;
        case C_KANNADA:
            s->kannada++;
            break;
        case C_OTHER:
            s->other++;
            break;
        case C_PUNCT:
            s->punct++;
            break;
        case C_SPACE:
            break;
        }
        if (wk != s->kind) {
            end_word(s);
            if (wk != WORD_NONE) {
                start_word(s, wk);
                s->cap_first = cp - 'A' < 26u;
                s->cap_rest = false;
            }
        } else if (wk == WORD_LATIN) {
            s->cap_rest |= cp - 'A' < 26u;
        }
        if (wk == WORD_NONE) {
            s->prev_at = cp == '@';
            if (cp == '.' || cp == '!' || cp == '?')
                s->sent_start = true;
            /* The rest of a run of Kannada letters and joiners: counted,
             * nothing else (U+0C80..U+0CFF is E0 B2|B3 xx). */
            if (cls == C_KANNADA) {
                size_t k = 0;
                while (end - p >= 3 && p[0] == 0xE0 && (p[1] & 0xFE) == 0xB2 &&
                       (p[2] & 0xC0) == 0x80) {
                    p += 3;
                    k++;
                }
                s->kannada += k;
            }
            continue;
        }
        s->prev_at = false;
        letter(s, sym);
        if (wk == WORD_LATIN)
            p = ascii_run(s, p, end);
    }
    end_word(s);
}

static unsigned sat(size_t n)
{
    return n > UINT_MAX ? UINT_MAX : (unsigned)n;
}

/* Softmax of n logits into p. */
static void softmax(const float *x, float *p, int n)
{
    float m = x[0], z = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > m)
            m = x[i];
    for (int i = 0; i < n; i++) {
        p[i] = expf(x[i] - m);
        z += p[i];
    }
    for (int i = 0; i < n; i++)
        p[i] /= z;
}

/* Lane logits of a finished scan; the twin of lane_logits() in train.py. */
static void lane_logits(const struct scan *s, float *logit)
{
    for (int k = 0; k < LANGID_NLANES; k++) {
        int64_t v = s->lane[k] - (int64_t)LANGID_WEIGHT_ZERO * s->nfeat;
        logit[k] = (float)v * langid_scale + langid_bias[k];
    }
}

/* The same without the names, for the label; the twin of label_logits(). */
static void label_logits(const struct scan *s, float *logit)
{
    for (int k = 0; k < LANGID_NLANES; k++) {
        int64_t v = s->lane[k] - s->name_lane[k] -
                    (int64_t)LANGID_WEIGHT_ZERO * (s->nfeat - s->name_nfeat);
        logit[k] = (float)v * langid_scale + langid_bias[k];
    }
}

/* Units of measure that Kannada text writes in Latin letters ("5 km"). */
static bool is_unit(const unsigned char *w, size_t n)
{
    static const char *const units[] = {
        "km", "cm", "mm", "kg", "mg", "ml", "mph", "kmph", "kmh", "hz", "khz", "mhz", "ghz",
        "kb", "mb", "gb", "tb", "rs", "ft", "sq", "am", "pm", "kw", "mw", "gw", "kwh", "mah",
    };
    char low[8];
    if (n > 4 || n < 2)
        return false;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)(w[i] | 0x20);
    for (size_t i = 0; i < ARRAY_SIZE(units); i++)
        if (strlen(units[i]) == n && !memcmp(units[i], low, n))
            return true;
    return false;
}

/*
 * Does a capitalised Latin word (bytes w[0..n)) look like a name rather
 * than a word? Names of people and places here are Indian ("Rakshith",
 * "Ganesh Bhat", "Mysuru"), and their en lane is clearly negative, while
 * English words, even those that Kannada comments borrow ("Song", "Voice",
 * "Super"), score around zero or above (a margin of 20 weight units,
 * about half a logit, measured on such words).
 */
static bool looks_like_name(const unsigned char *w, size_t n)
{
    struct scan s;
    scan_init(&s);
    scan_text(&s, w, n, true);
    return s.lane[L_EN] - (int64_t)LANGID_WEIGHT_ZERO * s.nfeat < -20;
}

/*
 * Kannada-script text with Latin words: are all of them incidental, so that
 * the text stays kn? Incidental are acronyms and other all-capital words
 * ("MRI", "KSRTC"), words attached to a digit ("10th", "KV62", "5km"),
 * units ("5 km"), single letters, @mentions and the capitalised words right
 * after one ("@Nandi Parthasarathi"), and capitalised words that look like
 * names (looks_like_name(): "Rakshith", "Mysuru"). Any other
 * Latin word, an English word or Kannada typed in Latin letters, makes the
 * text mixed-script; so does Latin that outweighs the Kannada script.
 * Only Kannada-script text with Latin in it comes here, so this second pass
 * costs nothing on the common path.
 */
static bool latin_incidental(const unsigned char *p, size_t len, size_t kannada)
{
    const unsigned char *end = p + len, *w = NULL;
    uint32_t before = 0, prev = 0;
    size_t nletters = 0, nupper = 0, latin = 0;
    bool in_mention = false, first_upper = false;

    while (p <= end) {
        uint32_t cp = 0, sym = 0;
        enum cclass cls = C_SPACE;
        const unsigned char *at = p;
        if (p < end) {
            if (*p < 0x80) {
                cp = *p++;
                cls = ASCII_CLASS(cp);
            } else {
                p += utf8_next(p, (size_t)(end - p), &cp);
                cls = cp == CP_INVALID ? C_OTHER : class_of(cp, &sym);
            }
            if (cls == C_JOINER)
                continue;
        } else {
            p++; /* the end of the text ends the last word */
        }
        if (cls == C_LATIN) {
            if (!w) {
                w = at;
                before = prev;
                nletters = nupper = 0;
                first_upper = cp >= 'A' && cp <= 'Z';
            }
            nletters++;
            nupper += (cp >= 'A' && cp <= 'Z') || (cp >= 0xC0 && cp <= 0xDE);
            prev = cp;
            continue;
        }
        if (w) {
            size_t n = (size_t)(at - w);
            bool digit_next = cp >= '0' && cp <= '9', digit_before = before >= '0' && before <= '9';
            bool title = first_upper && nupper == 1;
            bool ok;
            latin += nletters;
            if (before == '@') {
                ok = in_mention = true;
            } else if (in_mention && title && (before == ' ')) {
                ok = true; /* "@Nandi Parthasarathi" */
            } else {
                in_mention = false;
                ok = nletters == 1 || nupper == nletters || digit_next || digit_before ||
                     is_unit(w, n) || (title && looks_like_name(w, n));
            }
            if (!ok)
                return false;
            w = NULL;
        }
        if (cls != C_SPACE)
            in_mention = false;
        prev = cp;
    }
    return latin < kannada;
}

/*
 * The features of the routing decision for Latin text: the twin of
 * route_features() in train.py. z is the log-odds of the kn lane against
 * the other three.
 */
static void route_features(const struct scan *s, float z, float *x)
{
    float nv = s->vote_words ? (float)s->vote_words : 1.0f;
    float shrt = s->latin_words <= langid_short_words ? 1.0f : 0.0f;
    z = z < -12 ? -12 : z > 12 ? 12 : z;
    x[0] = z / 4;
    x[1] = (float)s->kn_words / nv;
    x[2] = (float)s->en_words / nv;
    x[3] = shrt;
    x[4] = shrt * x[0];
}

/* P(the text needs Kannada) of Latin text with lane logits `logit`. */
static float route_prob(const struct scan *s, const float *logit)
{
    float m = logit[L_EN], x[LANGID_NROUTE], a = langid_route_bias;
    for (int k = 1; k < LANGID_NLANES; k++)
        if (k != L_KN && logit[k] > m)
            m = logit[k];
    float rest = 0;
    for (int k = 0; k < LANGID_NLANES; k++)
        if (k != L_KN)
            rest += expf(logit[k] - m);
    /* rest >= 1: the lane that gave m adds expf(0). */
    // cppcheck-suppress invalidFunctionArg
    route_features(s, logit[L_KN] - m - logf(rest), x);
    for (int i = 0; i < LANGID_NROUTE; i++)
        a += langid_route_w[i] * x[i];
    return 1 / (1 + expf(-a));
}

float langid_kannada_threshold(void)
{
    return langid_route_min;
}

static inline __attribute__((always_inline)) void classify_text(const char *utf8, size_t len,
                                                          struct langid_result *out, bool fast)
{
    struct scan s;
    float logit[LANGID_NLANES], p[LANGID_NLANES];

    ASSERT(utf8 || !len);
    scan_init(&s);
    memset(out, 0, sizeof(*out));
    if (len)
        scan_text(&s, (const unsigned char *)utf8, len, fast);

    out->n_kannada = sat(s.kannada);
    out->n_devanagari = sat(s.deva);
    out->n_latin = sat(s.latin);
    out->n_other_script = sat(s.other);
    out->n_digits_punct = sat(s.punct);
    out->n_latin_words = sat(s.latin_words);

    if (s.kannada > 0) {
        /* Kannada script: the model has nothing to add. Any Latin word,
         * even an acronym, makes the text mixed-script. */
        out->label = s.latin_words > 0 && !latin_incidental((const unsigned char *)utf8, len,
                                                            s.kannada)
                         ? LANGID_MIXED_SCRIPT
                         : LANGID_KN;
        out->scores[out->label] = 1;
        out->needs_kannada = true;
        out->p_kannada = 1;
        return;
    }
    if (s.deva > 0 && s.deva >= s.latin && s.deva >= s.other) {
        float x[2];
        lane_logits(&s, logit);
        x[0] = logit[L_HI];
        x[1] = logit[L_OT];
        softmax(x, p, 2);
        out->scores[LANGID_HI] = p[0];
        out->scores[LANGID_OTHER] = p[1];
        out->label = p[0] >= p[1] ? LANGID_HI : LANGID_OTHER;
        out->uncertain = (p[0] >= p[1] ? p[0] : p[1]) < langid_uncertain_below;
        return;
    }
    if (s.latin > 0 && s.latin >= s.other) {
        static const enum langid_label lane_label[LANGID_NLANES] = {
            [L_EN] = LANGID_EN, [L_KN] = LANGID_KN_LATN,
            [L_HI] = LANGID_HI_LATN, [L_OT] = LANGID_OTHER,
        };
        int best = 0;
        float lab[LANGID_NLANES];
        lane_logits(&s, logit);
        label_logits(&s, lab);
        softmax(lab, p, LANGID_NLANES);
        for (int k = 0; k < LANGID_NLANES; k++) {
            out->scores[lane_label[k]] = p[k];
            if (p[k] > p[best])
                best = k;
        }
        out->label = lane_label[best];
        out->p_kannada = route_prob(&s, logit);
        out->needs_kannada = out->p_kannada >= langid_route_min;
        out->uncertain = p[best] < langid_uncertain_below || s.latin < langid_min_letters ||
                         out->needs_kannada != (best == L_KN);
        return;
    }
    /* Letters of other scripts, or no letters at all (then it is a guess;
     * so is a text whose only "letters" are invalid UTF-8). */
    out->label = LANGID_OTHER;
    out->scores[LANGID_OTHER] = 1;
    out->uncertain = s.other == s.invalid;
}

void langid_classify(const char *utf8, size_t len, struct langid_result *out)
{
    classify_text(utf8, len, out, true);
}

void langid__classify_generic(const char *utf8, size_t len, struct langid_result *out)
{
    classify_text(utf8, len, out, false);
}

static const char *const label_names[LANGID_NLABELS] = {
    [LANGID_KN] = "kn",
    [LANGID_KN_LATN] = "kn-latn",
    [LANGID_EN] = "en",
    [LANGID_HI] = "hi",
    [LANGID_HI_LATN] = "hi-latn",
    [LANGID_MIXED_SCRIPT] = "mixed-script",
    [LANGID_OTHER] = "other",
};

const char *langid_label_name(enum langid_label label)
{
    if ((unsigned)label >= LANGID_NLABELS)
        return "?";
    return label_names[label];
}

int langid_label_parse(const char *name, enum langid_label *out)
{
    for (int i = 0; i < LANGID_NLABELS; i++) {
        if (!strcmp(name, label_names[i])) {
            *out = (enum langid_label)i;
            return 0;
        }
    }
    return -EINVAL;
}
