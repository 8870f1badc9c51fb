/* SPDX-License-Identifier: MIT */
/*
 * jschema_re.c: the string checks of jschema, "pattern" and "format".
 *
 * Patterns are ECMA-262 in JSON Schema and POSIX extended regular
 * expressions in the C library. Most patterns in structured-output schemas
 * use a common core (anchors, classes, groups, alternation, counted
 * repetition) that differs between the two only in spelling, so a pattern
 * is translated, compiled with regcomp() in the C.UTF-8 locale, and cached
 * for the rest of the validation call. The translation is exact for what it
 * accepts; what it cannot express it refuses (-ENOTSUP), and jschema then
 * does not check that pattern rather than guess.
 *
 * DESIGN
 * The locale is switched with uselocale(), which affects only the calling
 * thread, around each regcomp()/regexec() and switched back before
 * returning, so callers see no change. glibc matches without backtracking
 * (backreferences, which would need it, are refused), but it is not cheap:
 * it copies a repeated atom once per repetition, so regcomp of a{1,30000}
 * takes seconds, and it searches an unanchored pattern by trying each
 * start, so "(a|b|ab)*c" on 64 KiB takes seconds too. Hence a pattern is
 * weighed while it is translated (atoms times the repetitions around them)
 * and refused above JSCHEMA_PATTERN_WEIGHT_MAX; it is compiled as
 * "^.*(P)", which glibc runs in one linear pass; and compiling and matching
 * are charged to the caller's step budget in proportion to weight and
 * subject length, a match that would overrun it being skipped. Measured
 * numbers are in docs/internals/answer.md.
 */
#include "text/jschema_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "lib/str.h"
#include "lib/utf8.h"
#include "lib/xalloc.h"

/* Decodes one UTF-8 sequence at s (n > 0 bytes). Returns its length and
 * the code point in *cp; a byte that starts no valid sequence is returned
 * alone, as itself (jansson strings are valid UTF-8, so this is only
 * defence). */
static size_t utf8_dec(const unsigned char *s, size_t n, uint32_t *cp)
{
    int32_t v;
    size_t k = utf8_decode(s, n, &v);
    if (v == UTF8_INVALID) {
        *cp = s[0];
        return 1;
    }
    *cp = (uint32_t)v;
    return k;
}

static void utf8_enc(struct buf *out, uint32_t cp)
{
    char b[4];
    buf_add(out, b, utf8_encode(cp, b));
}

/* Reads ndig hex digits at p (n bytes left). Returns the value or -1. */
static long hexn(const char *p, size_t n, size_t ndig)
{
    long v = 0;
    if (n < ndig)
        return -1;
    for (size_t i = 0; i < ndig; i++) {
        int h = str_hex_digit(p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Characters that mean something in a POSIX ERE outside brackets. */
static bool ere_special(uint32_t c)
{
    return c < 0x80 && c && strchr(".[]()*+?{}|^$\\", (int)c) != NULL;
}

/* Appends code point cp as a literal outside brackets. */
static void lit(struct buf *out, uint32_t cp)
{
    if (ere_special(cp))
        buf_addch(out, '\\');
    utf8_enc(out, cp);
}

/*
 * One escape sequence after a backslash at p[0] (n bytes left, n >= 1).
 * Returns the bytes used, with either a code point in *cp (class NULL) or a
 * class name in *cls ("d", "w", "s" and their negations "D" "W" "S"), or 0
 * when the escape is not supported.
 */
static size_t escape(const char *p, size_t n, uint32_t *cp, char *cls)
{
    long v;
    *cls = 0;
    switch (p[0]) {
    case 'd': case 'D': case 'w': case 'W': case 's': case 'S':
        *cls = p[0];
        return 1;
    case 't': *cp = '\t'; return 1;
    case 'n': *cp = '\n'; return 1;
    case 'r': *cp = '\r'; return 1;
    case 'f': *cp = '\f'; return 1;
    case 'v': *cp = '\v'; return 1;
    case 'u':
        v = hexn(p + 1, n - 1, 4);
        /* Surrogates (astral characters as pairs) are not supported. */
        if (v <= 0 || (v >= 0xd800 && v <= 0xdfff))
            return 0;
        *cp = (uint32_t)v;
        return 5;
    case 'x':
        v = hexn(p + 1, n - 1, 2);
        if (v <= 0)
            return 0;
        *cp = (uint32_t)v;
        return 3;
    }
    /* \b \B \1..\9 \k \p \c \0 and the rest of the letters and digits have
     * meanings POSIX lacks; any other escaped character is itself. */
    if (isalnum((unsigned char)p[0]) || (unsigned char)p[0] >= 0x80)
        return 0;
    *cp = (unsigned char)p[0];
    return 1;
}

/* The POSIX spelling of an escape class, outside and inside brackets. ECMA
 * \w and \d are ASCII-only; \s is any white space. */
static const char *cls_outside(char cls)
{
    switch (cls) {
    case 'd': return "[0-9]";
    case 'D': return "[^0-9]";
    case 'w': return "[A-Za-z0-9_]";
    case 'W': return "[^A-Za-z0-9_]";
    case 's': return "[[:space:]]";
    default: return "[^[:space:]]";
    }
}

static const char *cls_inside(char cls)
{
    switch (cls) {
    case 'd': return "0-9";
    case 'w': return "A-Za-z0-9_";
    case 's': return "[:space:]";
    default: return NULL; /* a negated class inside brackets: not expressible */
    }
}

/* What a bracket expression holds besides its plain body: characters that
 * POSIX only accepts in certain places. */
struct bracket {
    struct buf body;
    bool rbracket, dash, caret, lbracket;
};

/* Adds one literal code point to a bracket expression. */
static void br_char(struct bracket *b, uint32_t cp)
{
    switch (cp) {
    case ']': b->rbracket = true; break;
    case '-': b->dash = true; break;
    case '^': b->caret = true; break;
    case '[': b->lbracket = true; break;
    default: utf8_enc(&b->body, cp);
    }
}

/* Ranges of non-ASCII characters are not accepted by glibc's regcomp in
 * C.UTF-8 ("Invalid collation character"), so small ones are spelled out. */
#define RANGE_EXPAND_MAX 1024

static int br_range(struct bracket *b, uint32_t lo, uint32_t hi)
{
    if (lo > hi)
        return -ENOTSUP;
    if (hi < 0x80) {
        /* An endpoint that is special inside brackets would change the
         * meaning of what surrounds it. */
        if (strchr("]-^[\\", (int)lo) || strchr("]-^[\\", (int)hi))
            return -ENOTSUP;
        buf_addch(&b->body, (char)lo);
        buf_addch(&b->body, '-');
        buf_addch(&b->body, (char)hi);
        return 0;
    }
    if (hi - lo > RANGE_EXPAND_MAX)
        return -ENOTSUP;
    for (uint32_t c = lo; c <= hi; c++)
        if (c < 0xd800 || c > 0xdfff)
            br_char(b, c);
    return 0;
}

/* One element of a bracket expression at p (n bytes left): a character or
 * an escape. Returns bytes used or 0 (unsupported); *cp or *cls as escape(). */
static size_t br_atom(const char *p, size_t n, uint32_t *cp, char *cls)
{
    if (p[0] == '\\') {
        size_t e;
        if (n < 2)
            return 0;
        if (p[1] == 'b') { /* ECMA: backspace inside a class */
            *cp = '\b';
            *cls = 0;
            return 2;
        }
        e = escape(p + 1, n - 1, cp, cls);
        return e ? e + 1 : 0;
    }
    *cls = 0;
    return utf8_dec((const unsigned char *)p, n, cp);
}

/* Translates a bracket expression; p[0] is '['. Returns the bytes used or
 * 0 when unsupported. */
static size_t bracket(const char *p, size_t n, struct buf *out)
{
    struct bracket b = {BUF_INIT, false, false, false, false};
    size_t i = 1, used = 0;
    bool neg = false;

    if (i < n && p[i] == '^') {
        neg = true;
        i++;
    }
    if (i < n && p[i] == ']')
        goto out; /* ECMA [] and [^]: nothing, anything; rare, refused */
    while (i < n && p[i] != ']') {
        uint32_t lo, hi;
        char cls, cls2;
        size_t a = br_atom(p + i, n - i, &lo, &cls);
        if (!a)
            goto out;
        i += a;
        if (cls) {
            const char *in = cls_inside(cls);
            if (!in)
                goto out;
            buf_addstr(&b.body, in);
            continue;
        }
        if (i + 1 < n && p[i] == '-' && p[i + 1] != ']') {
            a = br_atom(p + i + 1, n - i - 1, &hi, &cls2);
            if (!a || cls2 || br_range(&b, lo, hi))
                goto out;
            i += 1 + a;
            continue;
        }
        br_char(&b, lo);
    }
    if (i >= n)
        goto out; /* unterminated */

    if (!neg && !b.rbracket && !b.body.len && !b.lbracket && b.caret && !b.dash) {
        buf_addstr(out, "\\^"); /* [\^] alone: "[^]" would mean something else */
    } else {
        buf_addch(out, '[');
        if (neg)
            buf_addch(out, '^');
        if (b.rbracket)
            buf_addch(out, ']');
        if (b.dash && !neg && !b.rbracket && !b.body.len && !b.lbracket)
            buf_addstr(out, b.caret ? "-^" : "-"); /* [-^]: ^ not first */
        else {
            buf_add(out, buf_cstr(&b.body), b.body.len);
            if (b.lbracket)
                buf_addch(out, '[');
            if (b.caret)
                buf_addch(out, '^');
            if (b.dash)
                buf_addch(out, '-');
        }
        buf_addch(out, ']');
    }
    used = i + 1;
out:
    buf_release(&b.body);
    return used;
}

/* Weights saturate here instead of overflowing. */
#define WEIGHT_CAP ((size_t)1 << 30)
/* Nesting of groups a pattern may have. */
#define GROUPS_MAX 32

static size_t wmul(size_t a, size_t b)
{
    return a && b > WEIGHT_CAP / a ? WEIGHT_CAP : a * b;
}

static size_t wadd(size_t a, size_t b)
{
    return a + b > WEIGHT_CAP ? WEIGHT_CAP : a + b;
}

/*
 * The size of the automaton glibc builds: it copies a repeated atom once
 * per repetition (a{1,1000} is a thousand nodes, and regcomp of a{1,30000}
 * takes seconds), so a pattern weighs the sum of its atoms times the
 * counts of the repetitions around them.
 */
struct weigh {
    size_t seq[GROUPS_MAX + 1]; /* weight so far, per open group */
    size_t depth;
    size_t last; /* weight of the last atom, for a quantifier after it */
};

static void w_atom(struct weigh *w, size_t k)
{
    w->last = k;
    w->seq[w->depth] = wadd(w->seq[w->depth], k);
}

static void w_repeat(struct weigh *w, size_t times)
{
    if (times < 1)
        times = 1;
    w->seq[w->depth] = wadd(w->seq[w->depth], wmul(w->last, times - 1));
    w->last = wmul(w->last, times);
}

/* Reads a decimal count at p, saturating. */
static size_t count_at(const char *p, size_t n, size_t *used)
{
    size_t v = 0, i = 0;
    while (i < n && p[i] >= '0' && p[i] <= '9') {
        v = v > WEIGHT_CAP / 10 ? WEIGHT_CAP : v * 10 + (size_t)(p[i] - '0');
        i++;
    }
    *used = i;
    return v;
}

/* Length of a counted repetition {n}, {n,} or {n,m} at p, with the most
 * repetitions it allows in *times, or 0 when the brace is a literal (as
 * ECMA reads "{", "{x}" or "{,3}"). */
static size_t quantifier(const char *p, size_t n, size_t *times)
{
    size_t i = 1, used, lo, hi;
    lo = count_at(p + i, n - i, &used);
    if (!used)
        return 0;
    i += used;
    hi = lo;
    if (i < n && p[i] == ',') {
        i++;
        hi = count_at(p + i, n - i, &used);
        if (!used)
            hi = lo + 1; /* {n,}: n copies and a loop */
        i += used;
    }
    if (i < n && p[i] == '}') {
        *times = hi > lo ? hi : lo;
        return i + 1;
    }
    return 0;
}

int jschema__re_translate(const char *p, size_t n, struct buf *out, size_t *weight)
{
    struct weigh w;
    size_t i = 0;

    memset(&w, 0, sizeof(w));
    while (i < n) {
        char c = p[i];
        uint32_t cp;
        char cls;
        size_t k, times, before;
        if (c == '\0')
            return -ENOTSUP;
        if (c == '\\') {
            if (i + 1 >= n || !(k = escape(p + i + 1, n - i - 1, &cp, &cls)))
                return -ENOTSUP;
            if (cls)
                buf_addstr(out, cls_outside(cls));
            else if (cp == 0)
                return -ENOTSUP;
            else
                lit(out, cp);
            w_atom(&w, 1);
            i += 1 + k;
        } else if (c == '[') {
            before = out->len;
            if (!(k = bracket(p + i, n - i, out)))
                return -ENOTSUP;
            /* a long list of multibyte characters is tested one by one */
            w_atom(&w, 1 + (out->len - before) / 16);
            i += k;
        } else if (c == '(') {
            k = 1;
            if (i + 1 < n && p[i + 1] == '?') {
                if (i + 2 >= n || p[i + 2] != ':')
                    return -ENOTSUP; /* lookaround, named groups */
                k = 3; /* (?:x) groups as (x) */
            }
            if (w.depth >= GROUPS_MAX)
                return -ENOTSUP;
            w.seq[++w.depth] = 0;
            buf_addch(out, '(');
            i += k;
        } else if (c == ')') {
            if (!w.depth)
                return -ENOTSUP;
            w.depth--;
            w_atom(&w, w.seq[w.depth + 1]);
            buf_addch(out, ')');
            i++;
        } else if (c == '*' || c == '+' || c == '?') {
            buf_addch(out, c);
            w_repeat(&w, c == '+' ? 2 : 1);
            i++;
            if (i < n && p[i] == '?')
                i++; /* lazy: changes which match, never whether one exists */
        } else if (c == '{') {
            if ((k = quantifier(p + i, n - i, &times))) {
                buf_add(out, p + i, k);
                w_repeat(&w, times);
                i += k;
                if (i < n && p[i] == '?')
                    i++;
            } else {
                buf_addstr(out, "\\{");
                w_atom(&w, 1);
                i++;
            }
        } else if (c == '}') {
            buf_addstr(out, "\\}");
            w_atom(&w, 1);
            i++;
        } else if (c == '|') {
            buf_addch(out, '|');
            w.last = 0;
            i++;
        } else {
            /* . ^ $ mean the same in both; ] alone is a literal in both. */
            k = utf8_dec((const unsigned char *)p + i, n - i, &cp);
            buf_add(out, p + i, k);
            w_atom(&w, 1);
            i += k;
        }
    }
    if (w.depth)
        return -ENOTSUP; /* unclosed group */
    *weight = w.seq[0];
    return 0;
}

void jschema__rx_init(struct jschema_rxcache *rc)
{
    memset(rc, 0, sizeof(*rc));
}

void jschema__rx_release(struct jschema_rxcache *rc)
{
    for (size_t i = 0; i < rc->n; i++)
        if (rc->e[i].usable)
            regfree(&rc->e[i].re);
    if (rc->loc)
        freelocale(rc->loc);
    jschema__rx_init(rc);
}

/*
 * Compiles pat into e->re under the C.UTF-8 locale as "^.*(P)": glibc
 * searches an unanchored pattern by trying every start in turn, which is
 * quadratic in the subject ("(a|b|ab)*c" takes seconds on 64 KiB of a's),
 * while the anchored form runs once over the subject with the leading .*
 * keeping every start alive: linear, and the same yes or no. Returns true
 * on success; *cost is charged for the work.
 */
static bool compile(struct jschema_rxcache *rc, struct jschema_rx *e, const char *pat,
                    size_t plen, size_t budget, size_t *cost)
{
    struct buf ere = BUF_INIT;
    bool ok = false;
    locale_t old = (locale_t)0;
    size_t c;

    if (plen > JSCHEMA_PATTERN_MAX)
        return false;
    buf_addstr(&ere, "^.*(");
    if (jschema__re_translate(pat, plen, &ere, &e->weight) ||
        e->weight > JSCHEMA_PATTERN_WEIGHT_MAX)
        goto out;
    buf_addch(&ere, ')');
    /* regcomp takes some 4 us per unit of weight: ~70 steps */
    c = 100 + 64 * e->weight;
    if (c > budget)
        goto out;
    *cost += c;
    if (!rc->loc_tried) {
        rc->loc_tried = true;
        rc->loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    }
    if (rc->loc)
        old = uselocale(rc->loc);
    ok = regcomp(&e->re, buf_cstr(&ere), REG_EXTENDED | REG_NOSUB) == 0;
    if (rc->loc)
        uselocale(old);
out:
    buf_release(&ere);
    return ok;
}

int jschema__rx_match(struct jschema_rxcache *rc, const char *pat, size_t plen, const char *s,
                      size_t len, size_t budget, size_t *cost)
{
    struct jschema_rx *e = NULL, tmp = {NULL, {0}, 0, false};
    regmatch_t m[1];
    locale_t old = (locale_t)0;
    size_t c;
    int r = -ENOTSUP;

    if (!plen)
        return 1; /* the empty pattern matches everything */
    for (size_t i = 0; i < rc->n; i++)
        if (rc->e[i].key == pat) {
            e = &rc->e[i];
            break;
        }
    if (!e) {
        size_t before = *cost;
        e = rc->n < JSCHEMA_RX_CACHE ? &rc->e[rc->n++] : &tmp;
        e->key = pat;
        e->usable = compile(rc, e, pat, plen, budget, cost);
        budget -= *cost - before;
    }
    if (!e->usable || len > JSCHEMA_SUBJECT_MAX)
        goto out;
    /* Matching is linear in the subject and the automaton: some 2.5 ns
     * per byte and unit of weight, a step per 16. A match that would
     * overrun the budget is not run: the string goes unchecked. */
    c = 1 + wmul(len, e->weight) / 16;
    if (c > budget)
        goto out;
    *cost += c;
    /* REG_STARTEND: the subject is len bytes and may contain NULs. */
    m[0].rm_so = 0;
    m[0].rm_eo = (regoff_t)len;
    if (rc->loc)
        old = uselocale(rc->loc);
    r = regexec(&e->re, s, 1, m, REG_STARTEND) == 0;
    if (rc->loc)
        uselocale(old);
out:
    if (e == &tmp && tmp.usable)
        regfree(&tmp.re);
    return r;
}

/* ---- formats ---------------------------------------------------------- */

/* Reads exactly nd digits at s. Returns the value or -1. */
static int digits(const char *s, size_t nd)
{
    int v = 0;
    for (size_t i = 0; i < nd; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* RFC 3339 full-date, YYYY-MM-DD, with the days of each month. */
static bool is_date(const char *s, size_t n)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d;
    if (n != 10 || s[4] != '-' || s[7] != '-')
        return false;
    y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
    if (y < 0 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return false;
    if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return false;
    return true;
}

/* RFC 3339 full-time: HH:MM:SS[.frac](Z|+HH:MM|-HH:MM); second 60 is a
 * leap second. */
static bool is_time(const char *s, size_t n)
{
    size_t i = 8;
    int h, m, sec;
    if (n < 9 || s[2] != ':' || s[5] != ':')
        return false;
    h = digits(s, 2), m = digits(s + 3, 2), sec = digits(s + 6, 2);
    if (h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 60)
        return false;
    if (s[i] == '.') {
        size_t f = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == f)
            return false;
    }
    if (i < n && (s[i] == 'Z' || s[i] == 'z'))
        return i + 1 == n;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        int oh, om;
        if (n - i != 6 || s[i + 3] != ':')
            return false;
        oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
        return oh >= 0 && oh <= 23 && om >= 0 && om <= 59;
    }
    return false;
}

/* date-time: the RFC's T or t, or the space its section 5.6 note allows
 * and models often write. */
static bool is_date_time(const char *s, size_t n)
{
    return n > 11 && is_date(s, 10) && (s[10] == 'T' || s[10] == 't' || s[10] == ' ') &&
           is_time(s + 11, n - 11);
}

/* A lenient address check: one @, a local part and a dotted domain, no
 * white space or control characters. RFC 5321 allows far more (quoted
 * local parts, address literals) than a model answer should contain. */
static bool is_email(const char *s, size_t n)
{
    const char *at = memchr(s, '@', n);
    size_t local, dom;
    if (!at || memchr(at + 1, '@', n - (size_t)(at - s) - 1))
        return false;
    local = (size_t)(at - s);
    dom = n - local - 1;
    if (!local || local > 64 || dom < 3 || dom > 253)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
            return false;
    if (at[1] == '.' || s[n - 1] == '.' || s[0] == '.' || at[-1] == '.')
        return false;
    return memchr(at + 1, '.', dom) != NULL;
}

static bool is_uuid(const char *s, size_t n)
{
    if (n != 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : str_hex_digit(s[i]) < 0)
            return false;
    }
    return true;
}

int jschema__format_check(const char *format, const char *s, size_t len)
{
    if (!strcmp(format, "date"))
        return is_date(s, len);
    if (!strcmp(format, "time"))
        return is_time(s, len);
    if (!strcmp(format, "date-time"))
        return is_date_time(s, len);
    if (!strcmp(format, "email"))
        return is_email(s, len);
    if (!strcmp(format, "uuid"))
        return is_uuid(s, len);
    return -1;
}
