/* SPDX-License-Identifier: MIT */
/*
 * translit.c: see translit.h. The romanization tables follow the Unicode
 * Kannada block chart; the key's folding rules and why each exists are in
 * docs/internals/translit.md.
 */
#include "text/translit.h"

#include <stdint.h>
#include <string.h>

#include "lib/utf8.h"
#include "lib/xalloc.h"
#include "text/translit_int.h"

/* Consonants U+0C95..U+0CB9, in chart order; NULL marks an unassigned
 * code point. Retroflex and dental share t/d/n as Kanglish writes them. */
static const char *const consonants[] = {
    "k",  "kh", "g",  "gh", "n",  "ch", "chh", "j",  "jh", "n",  /* 0C95.. */
    "t",  "th", "d",  "dh", "n",  "t",  "th",  "d",  "dh", "n",  /* 0C9F.. */
    NULL, "p",  "ph", "b",  "bh", "m",  "y",   "r",  "r",  "l",  /* 0CA9.. */
    "l",  NULL, "v",  "sh", "sh", "s",  "h",                     /* 0CB3.. */
};

/* Independent vowels U+0C85..U+0C94. */
static const char *const vowels[] = {
    "a", "aa", "i", "ee", "u", "oo", "ru", "lu", NULL, "e", "e", "ai", NULL, "o", "o", "au",
};

/* Dependent vowel signs U+0CBE..U+0CCC. */
static const char *const vowel_signs[] = {
    "aa", "i", "ee", "u", "oo", "ru", "ru", NULL, "e", "e", "ai", NULL, "o", "o", "au",
};

#define KN_VIRAMA 0x0CCD
#define KN_NUKTA 0x0CBC
#define KN_ANUSVARA 0x0C82
#define KN_LENGTH 0x0CD5 /* ೕ, the second half of decomposed ೀ ೇ ೋ */
#define KN_AI_LENGTH 0x0CD6

static const char *consonant_of(int32_t cp)
{
    if (cp >= 0x0C95 && cp <= 0x0CB9)
        return consonants[cp - 0x0C95];
    if (cp == 0x0CDE) /* ೞ, archaic; read as ಳ today */
        return "l";
    return NULL;
}

static const char *vowel_sign_of(int32_t cp)
{
    if (cp >= 0x0CBE && cp <= 0x0CCC)
        return vowel_signs[cp - 0x0CBE];
    if (cp == 0x0CE2 || cp == 0x0CE3)
        return "lu";
    return NULL;
}

/* Whether an anusvara before consonant cp is heard as m rather than n:
 * before labials, and before the semivowels and sibilants, where Kannada
 * writers spell ಸಂಸ್ಕೃತ samskruta and ಸಿಂಹ simha. Labials (ಪ..ಮ, U+0CAA..)
 * and semivowels, sibilants and ಹ (ಯ..ಹ, ..U+0CB9) are one run of the
 * chart. */
static bool anusvara_is_m(int32_t cp)
{
    return (cp >= 0x0CAA && cp <= 0x0CB9) || cp == 0x0CDE;
}

bool translit_has_kannada(const char *utf8, size_t len)
{
    const unsigned char *s = (const unsigned char *)utf8;
    /* Every Kannada code point is E0 B2 xx or E0 B3 xx in UTF-8. */
    for (size_t i = 0; i + 2 < len; i++)
        if (s[i] == 0xe0 && (s[i + 1] == 0xb2 || s[i + 1] == 0xb3) && (s[i + 2] & 0xc0) == 0x80)
            return true;
    return false;
}

/* The vowel sign at s (if any), with the decomposed forms folded:
 * ೆ+ೂ = ೊ, ೆ+ೖ = ೈ, ೆ+ೕ = ೇ, ಿ+ೕ = ೀ, ೊ+ೕ = ೋ. Returns its romanization
 * and sets *used to the bytes consumed, or returns NULL. */
static const char *read_vowel_sign(const unsigned char *s, size_t n, size_t *used)
{
    int32_t cp, cp2;
    size_t l = utf8_decode(s, n, &cp);
    const char *v = vowel_sign_of(cp);
    if (!v)
        return NULL;
    *used = l;
    if (l >= n)
        return v;
    size_t l2 = utf8_decode(s + l, n - l, &cp2);
    if (cp == 0x0CC6 && cp2 == 0x0CC2) {
        *used += l2;
        v = "o";
        if (*used < n) {
            size_t l3 = utf8_decode(s + *used, n - *used, &cp2);
            if (cp2 == KN_LENGTH)
                *used += l3;
        }
    } else if (cp == 0x0CC6 && cp2 == KN_AI_LENGTH) {
        *used += l2;
        v = "ai";
    } else if (cp2 == KN_LENGTH) {
        *used += l2;
        if (cp == 0x0CBF)
            v = "ee";
        else if (cp == 0x0CCA)
            v = "o";
    }
    return v;
}

void translit_kn_to_latn(const char *utf8, size_t len, struct buf *out)
{
    const unsigned char *s = (const unsigned char *)utf8;
    size_t i = 0;
    while (i < len) {
        int32_t cp;
        size_t l = utf8_decode(s + i, len - i, &cp);
        const char *c = consonant_of(cp);
        if (c) {
            i += l;
            if (i < len) {
                int32_t nx;
                size_t nl = utf8_decode(s + i, len - i, &nx);
                if (nx == KN_NUKTA) {
                    if (cp == 0x0C9C)
                        c = "z";
                    else if (cp == 0x0CAB)
                        c = "f";
                    i += nl;
                }
            }
            buf_addstr(out, c);
            /* The inherent vowel: a vowel sign replaces it, virama removes it. */
            size_t used = 0;
            const char *v = i < len ? read_vowel_sign(s + i, len - i, &used) : NULL;
            if (v) {
                buf_addstr(out, v);
                i += used;
            } else if (i < len) {
                int32_t nx;
                size_t nl = utf8_decode(s + i, len - i, &nx);
                if (nx == KN_VIRAMA)
                    i += nl;
                else
                    buf_addch(out, 'a');
            } else {
                buf_addch(out, 'a');
            }
            continue;
        }
        i += l;
        if (cp >= 0x0C85 && cp <= 0x0C94 && vowels[cp - 0x0C85]) {
            buf_addstr(out, vowels[cp - 0x0C85]);
        } else if (cp == 0x0CE0) {
            buf_addstr(out, "ru");
        } else if (cp == 0x0CE1) {
            buf_addstr(out, "lu");
        } else if (cp == KN_ANUSVARA) {
            int32_t nx = -1;
            if (i < len)
                utf8_decode(s + i, len - i, &nx);
            buf_addch(out, consonant_of(nx) && !anusvara_is_m(nx) ? 'n' : 'm');
        } else if (cp == 0x0C80 || cp == 0x0C81) { /* candrabindu */
            buf_addch(out, 'n');
        } else if (cp == 0x0C83 || cp == 0x0CF1 || cp == 0x0CF2) { /* visarga */
            buf_addch(out, 'h');
        } else if (cp >= 0x0CE6 && cp <= 0x0CEF) {
            buf_addch(out, (char)('0' + (cp - 0x0CE6)));
        } else if (cp == 0x0964 || cp == 0x0965) { /* danda */
            buf_addch(out, '.');
        } else if (cp >= 0x0C80 && cp <= 0x0CFF) {
            /* A stray sign (virama, nukta, vowel sign without a consonant)
             * or avagraha: nothing to spell. */
        } else if (cp == 0x200C || cp == 0x200D) {
            /* ZWNJ/ZWJ only choose glyph shapes. */
        } else {
            buf_add(out, s + i - l, l);
        }
    }
}

/* ---- Keys ------------------------------------------------------------- */

/* Base letters of U+00C0..U+017F; '.' for none. */
static const char latin_fold[] =
    "aaaaaaaceeeeiiiidnooooo.ouuuuyts"   /* U+00C0 */
    "aaaaaaaceeeeiiiidnooooo.ouuuuyty"   /* U+00E0 */
    "aaaaaaccccccccddddeeeeeeeeeegggggggg" /* U+0100 */
    "hhhhiiiiiiiiiiiijjkkkllllllllllnnnnnnnnn" /* U+0124 */
    "oooooooorrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs"; /* U+014C */
_Static_assert(sizeof(latin_fold) - 1 == 0x180 - 0xC0, "latin_fold covers U+00C0..U+017F");

/* Folds one letter or digit to lowercase ASCII. Returns the replacement
 * (one or two letters), "" for a mark to drop inside a word, or NULL for
 * a word separator. */
static const char *fold_char(int32_t cp, char tmp[2])
{
    if (cp >= 'A' && cp <= 'Z')
        cp += 'a' - 'A';
    if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9')) {
        tmp[0] = (char)cp;
        tmp[1] = '\0';
        return tmp;
    }
    if (cp == '\'' || cp == 0x2019 || (cp >= 0x0300 && cp <= 0x036F) || cp == 0x200C ||
        cp == 0x200D || (cp >= 0x0C80 && cp <= 0x0CFF))
        return ""; /* apostrophes, combining marks, stray Kannada signs */
    if (cp == 0x00C6 || cp == 0x00E6)
        return "ae";
    if (cp == 0x00DF)
        return "ss";
    if (cp >= 0x00C0 && cp <= 0x017F) {
        char c = latin_fold[cp - 0x00C0];
        if (c == '.')
            return NULL;
        tmp[0] = c;
        tmp[1] = '\0';
        return tmp;
    }
    switch (cp) { /* the IAST letters of Latin Extended Additional */
    case 0x1E0C: case 0x1E0D: return "d";
    case 0x1E24: case 0x1E25: return "h";
    case 0x1E36: case 0x1E37: case 0x1E38: case 0x1E39: return "l";
    case 0x1E40: case 0x1E41: case 0x1E42: case 0x1E43: return "m";
    case 0x1E44: case 0x1E45: case 0x1E46: case 0x1E47: return "n";
    case 0x1E5A: case 0x1E5B: case 0x1E5C: case 0x1E5D: return "ri";
    case 0x1E62: case 0x1E63: return "sh";
    case 0x1E6C: case 0x1E6D: return "t";
    }
    return NULL;
}

/* Places renamed in 2006-2014 (and the Kaveri) whose English names people still use:
 * the old name is keyed as the current one so that both find the entity. */
static const struct {
    const char *old, *cur;
} exonyms[] = {
    {"bangalore", "bengaluru"},   {"mysore", "mysuru"},         {"mangalore", "mangaluru"},
    {"belgaum", "belagavi"},      {"bellary", "ballari"},       {"bijapur", "vijayapura"},
    {"gulbarga", "kalaburagi"},   {"hubli", "hubballi"},        {"shimoga", "shivamogga"},
    {"tumkur", "tumakuru"},       {"chikmagalur", "chikkamagaluru"},
    {"hospet", "hosapete"},       {"bangaluru", "bengaluru"},   {"cauvery", "kaveri"},
};

static bool is_vowel(char c)
{
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

/* A consonant letter for the folding rules; 'y' and 'h' are not. */
static bool is_cons(char c)
{
    return c >= 'a' && c <= 'z' && !is_vowel(c) && c != 'y' && c != 'h';
}

/* Folds one word (lowercase ASCII letters and digits) in w, using tmp as
 * scratch space. */
static void fold_word(struct buf *w, struct buf *tmp, unsigned rules)
{
    size_t i, n;
    char *p;

    if (rules & TR_EXONYM)
        for (i = 0; i < ARRAY_SIZE(exonyms); i++)
            if (!strcmp(w->data, exonyms[i].old)) {
                buf_reset(w);
                buf_addstr(w, exonyms[i].cur);
                break;
            }

    /* Name endings: ರಾಮಯ್ಯ is Ramaiah, Ramayya or Ramaiya; ಸಾಯಿ is Sai. */
    if (rules & TR_AIAH) {
        static const char *const endings[][2] = {
            {"aiah", "aya"}, {"aiya", "aya"}, {"ayya", "aya"}, {"aayi", "ai"}, {"ayi", "ai"},
        };
        for (i = 0; i < ARRAY_SIZE(endings); i++) {
            size_t el = strlen(endings[i][0]);
            if (w->len > el + 1 && !strcmp(w->data + w->len - el, endings[i][0])) {
                buf_setlen(w, w->len - el);
                buf_addstr(w, endings[i][1]);
                break;
            }
        }
    }

    /* Rules that grow the word (x -> ks, y -> ai) go first, into tmp. */
    buf_reset(tmp);
    p = w->data;
    n = w->len;
    for (i = 0; i < n; i++) {
        char c = p[i], prev = i ? p[i - 1] : 0, next = p[i + 1];
        if ((rules & TR_WV_ZJ) && c == 'x') {
            buf_addstr(tmp, "ks");
        } else if ((rules & TR_C_KS) && c == 'c' && next != 'h') {
            buf_addch(tmp, next == 'e' || next == 'i' || next == 'y' ? 's' : 'k');
        } else if ((rules & TR_Y_GLIDE) && c == 'y' && (prev == 'i' || prev == 'e') &&
                   is_vowel(next)) {
            /* ಪ್ರಿಯ priya = pria */
        } else if ((rules & TR_JN) && c == 'j' && next == 'n') {
            buf_addch(tmp, 'g');
        } else if ((rules & TR_Y_VOWEL) && c == 'y' && i > 0 && !is_vowel(prev) && prev != 'y' &&
                   !(prev >= '0' && prev <= '9') && (next == 0 || is_cons(next))) {
            buf_addstr(tmp, next == 0 ? "i" : "ai"); /* Shetty, Reddy; Mysuru, Shylaja */
        } else if ((rules & TR_AU) && c == 'o' && (next == 'w' || next == 'u') &&
                   (p[i + 2] == 0 || is_cons(p[i + 2]))) {
            buf_addstr(tmp, "au"); /* Gowda, Gouri */
            i++;
        } else {
            buf_addch(tmp, c);
        }
    }

    /* The rest only shrink the word: back from tmp into w. */
    buf_reset(w);
    p = tmp->data;
    n = tmp->len;
    for (i = 0; i < n; i++) {
        char c = p[i], next = p[i + 1];
        if ((rules & TR_ASPIRATE) && c == 'p' && next == 'h') {
            buf_addch(w, 'f');
            i++;
        } else if ((rules & TR_VOWEL_LEN) && c == 'e' && next == 'e') {
            buf_addch(w, 'i');
            i++;
        } else if ((rules & TR_VOWEL_LEN) && c == 'o' && next == 'o') {
            buf_addch(w, 'u');
            i++;
        } else if ((rules & TR_ASPIRATE) && c == 'h' && w->len > 0 &&
                   is_cons(w->data[w->len - 1])) {
            /* kh gh ch jh th dh bh sh: aspiration is spelled at will */
        } else if ((rules & TR_WV_ZJ) && (c == 'w' || c == 'z' || c == 'q')) {
            buf_addch(w, c == 'w' ? 'v' : c == 'z' ? 'j' : 'k');
        } else {
            buf_addch(w, c);
        }
    }
    p = w->data;
    n = w->len;

    if (rules & TR_RI_RU)
        for (i = 1; i + 1 < n; i++)
            if (p[i] == 'r' && p[i + 1] == 'i' && is_cons(p[i - 1]))
                p[i + 1] = 'u';

    size_t o = 0;
    for (i = 0; i < n; i++) {
        char c = p[i];
        bool same = o > 0 && p[o - 1] == c && c >= 'a' && c <= 'z';
        if (same && (is_vowel(c) ? (rules & TR_VOWEL_LEN) : (rules & TR_DOUBLE)))
            continue;
        p[o++] = c;
    }
    n = o;

    /* An anusvara is m or n by the next letter and writers disagree before
     * sibilants and stops (samskruta, sanskrit); before labials and
     * semivowels both write m, and a word-initial m is no anusvara. */
    if (rules & TR_NASAL)
        for (i = 1; i + 1 < n; i++)
            if (p[i] == 'm' && is_cons(p[i + 1]) && !strchr("bpmvrl", p[i + 1]))
                p[i] = 'n';

    if ((rules & TR_FINAL_A) && n >= 4 && p[n - 1] == 'a' && !is_vowel(p[n - 2]))
        n--;
    if ((rules & TR_FINAL_E) && n >= 4 && p[n - 1] == 'e' && !is_vowel(p[n - 2]))
        n--;
    buf_setlen(w, n);
}

static void add_word(struct buf *out, struct buf *word, struct buf *tmp, unsigned rules)
{
    if (!word->len)
        return;
    fold_word(word, tmp, rules);
    if (word->len) {
        if (out->len && out->data[out->len - 1] != ' ')
            buf_addch(out, ' ');
        buf_add(out, word->data, word->len);
    }
    buf_reset(word);
}

void translit__key_rules(const char *utf8, size_t len, unsigned rules, struct buf *out)
{
    struct buf latn = BUF_INIT, word = BUF_INIT, tmp = BUF_INIT;
    translit_kn_to_latn(utf8, len, &latn);
    const unsigned char *s = (const unsigned char *)buf_cstr(&latn);
    for (size_t i = 0; i < latn.len;) {
        int32_t cp;
        char one[2];
        i += utf8_decode(s + i, latn.len - i, &cp);
        const char *f = cp < 0 ? "" : fold_char(cp, one);
        if (f)
            buf_addstr(&word, f);
        else
            add_word(out, &word, &tmp, rules);
    }
    add_word(out, &word, &tmp, rules);
    buf_release(&tmp);
    buf_release(&word);
    buf_release(&latn);
}

void translit_key(const char *utf8, size_t len, struct buf *out)
{
    translit__key_rules(utf8, len, TRANSLIT_RULES_DEFAULT, out);
}

bool translit_contains(const char *haystack, const char *needle)
{
    struct buf h = BUF_INIT, n = BUF_INIT;
    bool found = false;
    buf_addch(&h, ' ');
    translit_key(haystack, strlen(haystack), &h);
    buf_addch(&h, ' ');
    buf_addch(&n, ' ');
    translit_key(needle, strlen(needle), &n);
    if (n.len > 1) {
        buf_addch(&n, ' ');
        found = strstr(h.data, n.data) != NULL;
    }
    buf_release(&n);
    buf_release(&h);
    return found;
}
