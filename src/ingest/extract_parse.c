/* SPDX-License-Identifier: MIT */
/*
 * extract_parse.c: the value parsers of extract.h (money, dates, ranges,
 * measures, units, due days) and the text helpers the OCR readers share.
 *
 * Numbers are read by hand: OCR and models write "1,25,000", "1.250,50"
 * and "12,50", and which separator is the decimal one is decided from the
 * shape of the whole number (the last separator, when both kinds occur; a
 * lone comma before one or two digits), never by the C locale.
 *
 * DESIGN
 * Scanners take (pointer, length) and return the bytes used, so the OCR
 * readers can try them at each word of a line without copying. Nothing
 * here allocates except the line/word arrays and the transliteration
 * buffer of extract_resolve_day(); all of it is reentrant.
 */
#include "ingest/extract.h"

#include <errno.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ingest/extract_int.h"
#include "lib/xalloc.h"
#include "text/timeparse.h"
#include "text/translit.h"

#define MS_DAY 86400000LL

/* ASCII space, or the no-break space U+00A0 that OCR emits; returns its
 * length in bytes, 0 if s[0] is not a space. */
static size_t space_len(const char *s, size_t len)
{
    if (len && is_space(s[0]))
        return 1;
    if (len >= 2 && (unsigned char)s[0] == 0xc2 && (unsigned char)s[1] == 0xa0)
        return 2;
    return 0;
}

/* Case-insensitive: does s[0..len) start with the ASCII word w? */
static size_t prefix_nocase(const char *s, size_t len, const char *w)
{
    size_t n = strlen(w);
    if (n > len || strncasecmp(s, w, n) != 0)
        return 0;
    return n;
}

/* As prefix_nocase, but w must end at a word boundary in s. */
static size_t word_nocase(const char *s, size_t len, const char *w)
{
    size_t n = prefix_nocase(s, len, w);
    if (!n || (n < len && is_alpha(s[n])))
        return 0;
    return n;
}

/* The index of the first byte after the spaces at s[i..len). */
static size_t skip_spaces(const char *s, size_t len, size_t i)
{
    size_t k;
    while (i < len && (k = space_len(s + i, len - i)))
        i += k;
    return i;
}

/* Is w one of the '|'-separated alternatives in alts ("today|eod")? */
static bool word_is(const char *w, const char *alts)
{
    size_t wl = strlen(w);
    for (const char *p = alts; *p;) {
        const char *e = strchr(p, '|');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == wl && !memcmp(p, w, l))
            return true;
        if (!e)
            break;
        p = e + 1;
    }
    return false;
}

/* ---- Text helpers --------------------------------------------------------- */

const char *extract__find_nocase(const char *s, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; n && i + n <= len; i++)
        if (!strncasecmp(s + i, needle, n))
            return s + i;
    return NULL;
}

bool extract_has_word(const char *s, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; n && i + n <= len; i++) {
        if (strncasecmp(s + i, needle, n))
            continue;
        if ((i == 0 || !is_alnum(s[i - 1])) && (i + n == len || !is_alnum(s[i + n])))
            return true;
    }
    return false;
}

struct span extract__trim(struct span s)
{
    size_t k;
    while (s.len && (k = space_len(s.p, s.len))) {
        s.p += k;
        s.len -= k;
    }
    while (s.len && (is_space(s.p[s.len - 1]) ||
                     (s.len >= 2 && (unsigned char)s.p[s.len - 2] == 0xc2 &&
                      (unsigned char)s.p[s.len - 1] == 0xa0)))
        s.len -= is_space(s.p[s.len - 1]) ? 1 : 2;
    return s;
}

size_t extract_trim(const char *s, size_t len, const char **start)
{
    struct span t = extract__trim((struct span){s, len});
    *start = t.p;
    return t.len;
}

size_t extract__lines(const char *text, struct span **out)
{
    struct span *v = NULL;
    size_t n = 0, cap = 0;
    const char *p = text ? text : "";
    while (*p) {
        size_t l = strcspn(p, "\r\n");
        struct span s = extract__trim((struct span){p, l});
        if (s.len) {
            ALLOC_GROW(v, n + 1, cap);
            v[n++] = s;
        }
        p += l;
        while (*p == '\r' || *p == '\n')
            p++;
    }
    *out = v;
    return n;
}

size_t extract__words(struct span line, struct span **out)
{
    struct span *v = NULL;
    size_t n = 0, cap = 0, i = 0, k;
    while (i < line.len) {
        if ((k = space_len(line.p + i, line.len - i))) {
            i += k;
            continue;
        }
        size_t start = i;
        while (i < line.len && !space_len(line.p + i, line.len - i))
            i++;
        ALLOC_GROW(v, n + 1, cap);
        v[n++] = (struct span){line.p + start, i - start};
    }
    *out = v;
    return n;
}

json_t *extract__json_span(struct span s)
{
    s = extract__trim(s);
    json_t *j = s.len ? json_stringn(s.p, s.len) : NULL;
    return j ? j : json_null();
}

bool extract_keyable(const char *s)
{
    struct buf k = BUF_INIT;
    if (!s)
        return false;
    translit_key(s, strlen(s), &k);
    bool ok = k.len > 0;
    buf_release(&k);
    return ok;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* The local day number (days since 1970-01-01) of an instant. */
static int64_t local_day(int64_t ms, int tz_min)
{
    return floor_div(ms + (int64_t)tz_min * 60000, MS_DAY);
}

/* d->iso from the fields, which are valid (year 1900..2199). */
static void fmt_iso(struct extract_date *d)
{
    snprintf(d->iso, sizeof(d->iso), "%04u-%02u-%02u", (unsigned)d->year % 10000u,
             d->month % 100u, d->day % 100u);
}

static void date_of_day(int64_t day, struct extract_date *d)
{
    time_t t = (time_t)(day * 86400);
    struct tm tm;
    gmtime_r(&t, &tm);
    d->year = tm.tm_year + 1900;
    d->month = (unsigned)tm.tm_mon + 1;
    d->day = (unsigned)tm.tm_mday;
    d->partial = false;
    fmt_iso(d);
}

int extract_year_of(int64_t ms, int tz_min)
{
    struct extract_date d;
    date_of_day(local_day(ms, tz_min), &d);
    return d.year;
}

/* ---- Numbers and money ---------------------------------------------------- */

size_t extract__number_at(const char *s, size_t len, double *v, bool *frac)
{
    size_t i, ndot = 0, ncomma = 0, last_dot = 0, last_comma = 0, ndig = 0;
    if (!len || !(is_digit(s[0]) || (s[0] == '.' && len > 1 && is_digit(s[1]))))
        return 0;
    for (i = 0; i < len; i++) {
        char c = s[i];
        if (is_digit(c)) {
            ndig++;
        } else if ((c == ',' || c == '.') && i + 1 < len && is_digit(s[i + 1])) {
            if (c == '.') {
                ndot++;
                last_dot = i;
            } else {
                ncomma++;
                last_comma = i;
            }
        } else {
            break;
        }
    }
    if (ndig > 24)
        return 0;
    /* Which separator is the decimal one, from the shape of the number. */
    size_t dec = SIZE_MAX;
    if (ndot && ncomma)
        dec = last_dot > last_comma ? last_dot : last_comma;
    else if (ncomma == 1 && i - last_comma - 1 <= 2)
        dec = last_comma;
    else if (ndot == 1)
        dec = last_dot;
    double x = 0, scale = 1;
    for (size_t k = 0; k < i; k++) {
        if (!is_digit(s[k]))
            continue;
        if (dec != SIZE_MAX && k > dec) {
            scale /= 10;
            x += (s[k] - '0') * scale;
        } else {
            x = x * 10 + (s[k] - '0');
        }
    }
    *v = x;
    *frac = dec != SIZE_MAX;
    return i;
}

/* A currency marker before an amount; sets cur and returns its bytes. */
static size_t currency_prefix(const char *s, size_t len, char cur[4])
{
    static const struct {
        const char *mark, *code;
        bool word; /* must not run into letters */
    } marks[] = {
        {"\xe2\x82\xb9", "INR", false}, /* ₹ */
        {"Rs.", "INR", false}, {"Rs", "INR", true},   {"Re.", "INR", false},
        {"INR", "INR", true},           {"US$", "USD", false}, {"USD", "USD", true},
        {"$", "USD", false},            {"\xe2\x82\xac", "EUR", false}, /* € */
        {"EUR", "EUR", true},           {"\xc2\xa3", "GBP", false},     /* £ */
        {"GBP", "GBP", true},
    };
    for (size_t i = 0; i < ARRAY_SIZE(marks); i++) {
        size_t n = strlen(marks[i].mark);
        if (n > len || strncasecmp(s, marks[i].mark, n))
            continue;
        if (marks[i].word && n < len && is_alpha(s[n]))
            continue;
        memcpy(cur, marks[i].code, 4);
        /* "Rs.:" and "INR:" appear on bills. */
        while (n < len && (s[n] == ':' || s[n] == '.'))
            n++;
        return n;
    }
    return 0;
}

/* A currency marker after an amount ("150/-", "150 INR", "12,50 €"). */
static size_t currency_suffix(const char *s, size_t len, char cur[4])
{
    size_t i = 0;
    if (len >= 2 && s[0] == '/' && s[1] == '-') {
        memcpy(cur, "INR", 4);
        return 2;
    }
    if (i < len && s[i] == ' ')
        i++;
    static const struct {
        const char *mark, *code;
    } marks[] = {
        {"/-", "INR"}, {"INR", "INR"}, {"Rs", "INR"}, {"rupees", "INR"}, {"\xe2\x82\xb9", "INR"},
        {"EUR", "EUR"}, {"\xe2\x82\xac", "EUR"}, {"USD", "USD"}, {"GBP", "GBP"},
    };
    for (size_t k = 0; k < ARRAY_SIZE(marks); k++) {
        size_t n = strlen(marks[k].mark);
        if (n > len - i || strncasecmp(s + i, marks[k].mark, n))
            continue;
        if (is_alpha(marks[k].mark[0]) && i + n < len && is_alpha(s[i + n]))
            continue;
        memcpy(cur, marks[k].code, 4);
        return i + n;
    }
    return 0;
}

static bool is_minus(const char *s, size_t len, size_t *n)
{
    if (len && s[0] == '-') {
        *n = 1;
        return true;
    }
    if (len >= 3 && !memcmp(s, "\xe2\x88\x92", 3)) { /* U+2212 minus */
        *n = 3;
        return true;
    }
    return false;
}

size_t extract__money_at(const char *s, size_t len, struct extract_money *m, bool *has_marker)
{
    size_t i = 0, k;
    bool neg = false;
    char cur[4] = "";
    if (is_minus(s, len, &k)) {
        neg = true;
        i += k;
    }
    size_t pre = currency_prefix(s + i, len - i, cur);
    if (pre) {
        i = skip_spaces(s, len, i + pre);
        if (!neg && is_minus(s + i, len - i, &k)) {
            neg = true;
            i += k;
        }
    }
    double v;
    bool frac;
    size_t n = extract__number_at(s + i, len - i, &v, &frac);
    if (!n)
        return 0;
    i += n;
    /* A letter straight after the digits makes it a word ("2nd", "500ml"). */
    if (i < len && is_alpha(s[i]) && !pre)
        return 0;
    /* A suffix after a prefix ("Rs. 150/-") adds nothing but its bytes. */
    char ignored[4];
    size_t suf = currency_suffix(s + i, len - i, pre ? ignored : cur);
    i += suf;
    m->amount = neg ? -v : v;
    memcpy(m->currency, cur, 4);
    *has_marker = pre || suf;
    return i;
}

int extract_parse_money(const char *s, struct extract_money *out)
{
    size_t len = strlen(s);
    struct extract_money first = {0}, m;
    bool found = false, marker;
    for (size_t i = 0; i < len; i++) {
        /* Start only at the beginning of a word or after a separator, so the
         * 1 of "A1c" or the 250 of "1,250" is not an amount. */
        if (i > 0 && (is_alnum(s[i - 1]) || s[i - 1] == '.' || s[i - 1] == ','))
            continue;
        size_t n = extract__money_at(s + i, len - i, &m, &marker);
        if (!n)
            continue;
        if (marker) {
            *out = m;
            return 0;
        }
        if (!found) {
            first = m;
            found = true;
        }
        i += n - 1;
    }
    if (!found)
        return -EINVAL;
    *out = first;
    return 0;
}

/* ---- Dates ---------------------------------------------------------------- */

static const char *const month_names[12][3] = {
    {"january", "jan", NULL},   {"february", "feb", NULL},         {"march", "mar", NULL},
    {"april", "apr", NULL},     {"may", NULL, NULL},               {"june", "jun", NULL},
    {"july", "jul", NULL},      {"august", "aug", NULL},           {"september", "sept", "sep"},
    {"october", "oct", NULL},   {"november", "nov", NULL},         {"december", "dec", NULL},
};

/* A month name or abbreviation (and an optional dot); returns its bytes. */
static size_t month_at(const char *s, size_t len, unsigned *mon)
{
    for (unsigned m = 0; m < 12; m++) {
        for (unsigned a = 0; a < 3 && month_names[m][a]; a++) {
            size_t n = word_nocase(s, len, month_names[m][a]);
            if (!n)
                continue;
            *mon = m + 1;
            if (n < len && s[n] == '.')
                n++;
            return n;
        }
    }
    return 0;
}

/* A run of 1..max digits; returns its length (0 if none or too long). */
static size_t digits_at(const char *s, size_t len, size_t max, int *v)
{
    size_t i = 0;
    int x = 0;
    while (i < len && is_digit(s[i])) {
        if (i == max)
            return 0;
        x = x * 10 + (s[i] - '0');
        i++;
    }
    *v = x;
    return i;
}

static size_t ordinal_at(const char *s, size_t len)
{
    static const char *const suf[] = {"st", "nd", "rd", "th"};
    for (size_t i = 0; i < ARRAY_SIZE(suf); i++) {
        size_t n = prefix_nocase(s, len, suf[i]);
        if (n && (n == len || !is_alpha(s[n])))
            return n;
    }
    return 0;
}

static int full_year(int yy, int ref)
{
    if (ref <= 0)
        return 2000 + yy;
    int base = ref;
    int y = base / 100 * 100 + yy;
    if (y > base + 10)
        y -= 100;
    else if (y < base - 89)
        y += 100;
    return y;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static bool valid_date(int y, unsigned m, unsigned d)
{
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || y > 2199 || m < 1 || m > 12 || d < 1)
        return false;
    return d <= mdays[m - 1] + (m == 2 && leap(y));
}

static size_t date_done(struct extract_date *d, int y, unsigned m, unsigned day, bool partial,
                        size_t used)
{
    if (!valid_date(y, m, day))
        return 0;
    d->year = y;
    d->month = m;
    d->day = day;
    d->partial = partial;
    fmt_iso(d);
    return used;
}

/* A year after a month name: ", 2026", " 2026", "-26". Returns its bytes. */
static size_t year_after(const char *s, size_t len, int ref, int *y)
{
    size_t i = 0;
    while (i < len && (s[i] == ',' || s[i] == ' ' || s[i] == '-' || s[i] == '/' || s[i] == '.' ||
                       s[i] == '\''))
        i++;
    int v;
    size_t n = digits_at(s + i, len - i, 4, &v);
    if ((n != 2 && n != 4) || (i + n < len && (is_digit(s[i + n]) || s[i + n] == ':')))
        return 0;
    *y = n == 2 ? full_year(v, ref) : v;
    return i + n;
}

size_t extract__date_at(const char *s, size_t len, int ref_year, bool allow_partial,
                        struct extract_date *d)
{
    size_t i, n;
    unsigned mon;
    int n1, n2, y;
    int ref = ref_year; /* full_year() reads <= 0 as "20yy"; partial dates get 2000 */

    /* "Nov 20, 2026", "November 20 2026", "Nov. 20" */
    if ((n = month_at(s, len, &mon))) {
        i = n;
        while (i < len && (s[i] == ' ' || s[i] == '-'))
            i++;
        size_t k = digits_at(s + i, len - i, 2, &n1);
        if (!k || (i + k < len && is_digit(s[i + k])))
            return 0;
        i += k;
        i += ordinal_at(s + i, len - i);
        if ((n = year_after(s + i, len - i, ref, &y)))
            return date_done(d, y, mon, (unsigned)n1, false, i + n);
        if (!allow_partial)
            return 0;
        return date_done(d, ref > 0 ? ref : 2000, mon, (unsigned)n1, true, i);
    }

    size_t k1 = digits_at(s, len, 4, &n1);
    if (!k1 || k1 == 3 || (k1 < len && is_digit(s[k1])))
        return 0;
    i = k1;
    if (k1 == 4) { /* 2026-11-20, 2026/11/20 */
        char sep = i < len ? s[i] : 0;
        if (sep != '-' && sep != '/' && sep != '.')
            return 0;
        int m, dd;
        size_t k2 = digits_at(s + i + 1, len - i - 1, 2, &m);
        if (!k2 || i + 1 + k2 >= len || s[i + 1 + k2] != sep)
            return 0;
        i += 1 + k2 + 1;
        size_t k3 = digits_at(s + i, len - i, 2, &dd);
        if (!k3 || (i + k3 < len && is_digit(s[i + k3])))
            return 0;
        return date_done(d, n1, (unsigned)m, (unsigned)dd, false, i + k3);
    }

    /* Day first: "20th Nov 2026", "20-Nov-26", "20 November, 2026" */
    size_t o = ordinal_at(s + i, len - i);
    i += o;
    size_t j = i;
    while (j < len && (s[j] == ' ' || s[j] == '-' || s[j] == '/' || s[j] == '.') && j - i < 3)
        j++;
    if (j > i || o) {
        if ((n = month_at(s + j, len - j, &mon))) {
            j += n;
            if ((n = year_after(s + j, len - j, ref, &y)))
                return date_done(d, y, mon, (unsigned)n1, false, j + n);
            if (!allow_partial)
                return 0;
            return date_done(d, ref > 0 ? ref : 2000, mon, (unsigned)n1, true, j);
        }
    }
    if (o || i >= len)
        return 0;

    /* Numeric: 20/11/2026, 20-11-2026, 20.11.26, and the partial 28/11 */
    char sep = s[i];
    if (sep != '-' && sep != '/' && sep != '.')
        return 0;
    size_t k2 = digits_at(s + i + 1, len - i - 1, 2, &n2);
    if (!k2)
        return 0;
    i += 1 + k2;
    if (i < len && is_digit(s[i]))
        return 0;
    if (i < len && s[i] == sep) {
        int yv;
        size_t k3 = digits_at(s + i + 1, len - i - 1, 4, &yv);
        if ((k3 != 2 && k3 != 4) || (i + 1 + k3 < len && is_digit(s[i + 1 + k3])))
            return 0;
        y = k3 == 2 ? full_year(yv, ref) : yv;
        i += 1 + k3;
        /* Day first, unless the second number cannot be a month. */
        if (n2 > 12 && n1 <= 12)
            return date_done(d, y, (unsigned)n1, (unsigned)n2, false, i);
        return date_done(d, y, (unsigned)n2, (unsigned)n1, false, i);
    }
    if (!allow_partial || sep == '.')
        return 0;
    if (i < len && (s[i] == '-' || s[i] == '/' || s[i] == '.') && i + 1 < len &&
        is_digit(s[i + 1]))
        return 0;
    if (ref <= 0)
        ref = 2000;
    if (n2 > 12 && n1 <= 12)
        return date_done(d, ref, (unsigned)n1, (unsigned)n2, true, i);
    return date_done(d, ref, (unsigned)n2, (unsigned)n1, true, i);
}

int extract_parse_date(const char *s, int ref_year, struct extract_date *out)
{
    size_t len = strlen(s), i = skip_spaces(s, len, 0);
    struct extract_date d;
    if (!extract__date_at(s + i, len - i, ref_year, true, &d))
        return -EINVAL;
    *out = d;
    return 0;
}

int extract_find_date(const char *s, int ref_year, bool allow_partial, struct extract_date *out)
{
    size_t len = strlen(s);
    for (size_t i = 0; i < len; i++) {
        if (i > 0 && (is_alnum(s[i - 1]) || s[i - 1] == '.' || s[i - 1] == '/' ||
                      s[i - 1] == '-' || s[i - 1] == ','))
            continue;
        if (!is_alnum(s[i]))
            continue;
        struct extract_date d;
        if (extract__date_at(s + i, len - i, ref_year, allow_partial, &d)) {
            *out = d;
            return 0;
        }
    }
    return -EINVAL;
}

/* ---- Ranges --------------------------------------------------------------- */

/* A comparison before a bound: sets *upper (the bound is a maximum) and
 * *incl. Returns its bytes. */
static size_t range_op_at(const char *s, size_t len, bool *upper, bool *incl)
{
    static const struct {
        const char *op;
        bool upper, incl, word;
    } ops[] = {
        {"<=", true, true, false},       {"=<", true, true, false},
        {"\xe2\x89\xa4", true, true, false}, /* ≤ */
        {"<", true, false, false},       {">=", false, true, false},
        {"=>", false, true, false},      {"\xe2\x89\xa5", false, true, false}, /* ≥ */
        {">", false, false, false},      {"up to", true, true, true},
        {"upto", true, true, true},      {"up-to", true, true, true},
        {"till", true, true, true},      {"less than", true, false, true},
        {"lesser than", true, false, true}, {"lower than", true, false, true},
        {"below", true, false, true},    {"under", true, false, true},
        {"more than", false, false, true}, {"greater than", false, false, true},
        {"higher than", false, false, true}, {"above", false, false, true},
        {"over", false, false, true},
    };
    for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
        size_t n = ops[i].word ? word_nocase(s, len, ops[i].op) : prefix_nocase(s, len, ops[i].op);
        if (!n)
            continue;
        *upper = ops[i].upper;
        *incl = ops[i].incl;
        return n;
    }
    return 0;
}

static size_t signed_number_at(const char *s, size_t len, double *v)
{
    size_t k = 0;
    bool neg = is_minus(s, len, &k);
    bool frac;
    size_t n = extract__number_at(s + (neg ? k : 0), len - (neg ? k : 0), v, &frac);
    if (!n)
        return 0;
    if (neg)
        *v = -*v;
    return n + (neg ? k : 0);
}

/* The dash or word between the two ends of "0.4 - 4.0". */
static size_t range_sep_at(const char *s, size_t len)
{
    if (len && (s[0] == '-' || s[0] == '~'))
        return 1;
    if (len >= 3 && (!memcmp(s, "\xe2\x80\x93", 3) || !memcmp(s, "\xe2\x80\x94", 3)))
        return 3; /* – — */
    return word_nocase(s, len, "to");
}

int extract_parse_range(const char *s, struct extract_range *out)
{
    size_t len = strlen(s);
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < len; i++) {
        bool at_word = i == 0 || !(is_alnum(s[i - 1]) || s[i - 1] == '.' || s[i - 1] == ',');
        bool upper, incl;
        size_t n = at_word || !is_alpha(s[i]) ? range_op_at(s + i, len - i, &upper, &incl) : 0;
        double a, b;
        if (n) {
            size_t j = skip_spaces(s, len, i + n);
            while (j < len && s[j] == ':')
                j = skip_spaces(s, len, j + 1);
            if (signed_number_at(s + j, len - j, &a)) {
                if (upper) {
                    out->has_high = true;
                    out->high = a;
                    out->high_inclusive = incl;
                } else {
                    out->has_low = true;
                    out->low = a;
                    out->low_inclusive = incl;
                }
                return 0;
            }
            continue;
        }
        if (!at_word || !(is_digit(s[i]) || (s[i] == '.' && i + 1 < len && is_digit(s[i + 1])) ||
                          (s[i] == '-' && i + 1 < len && is_digit(s[i + 1]))))
            continue;
        n = signed_number_at(s + i, len - i, &a);
        if (!n)
            continue;
        size_t j = skip_spaces(s, len, i + n);
        size_t k = range_sep_at(s + j, len - j);
        if (k) {
            j = skip_spaces(s, len, j + k);
            if (signed_number_at(s + j, len - j, &b) && a <= b) {
                out->has_low = out->has_high = true;
                out->low = a;
                out->high = b;
                out->low_inclusive = out->high_inclusive = true;
                return 0;
            }
        }
        i += n - 1;
    }
    return -EINVAL;
}

bool extract_range_contains(const struct extract_range *r, double v)
{
    if (r->has_low && (r->low_inclusive ? v < r->low : v <= r->low))
        return false;
    if (r->has_high && (r->high_inclusive ? v > r->high : v >= r->high))
        return false;
    return true;
}

/* ---- Units and measures --------------------------------------------------- */

/* Canonical units and their folded spellings (see unit_fold). */
static const struct {
    const char *canon, *folds;
} units[] = {
    {"mg/dL", "mg/dl|mg%|mgs/dl|mgm/dl|mgms/dl"},
    {"g/dL", "g/dl|gm/dl|gms/dl|gm%|g%|grams/dl"},
    {"mIU/L", "miu/l|mu/l|miu/litre"},
    {"µIU/mL", "uiu/ml|microiu/ml|uu/ml|uiu/l"},
    {"mIU/mL", "miu/ml"},
    {"%", "%"},
    {"mmHg", "mmhg|mm/hg|mmofhg"},
    {"x10^3/µL", "103/ul|103/mm3|103/cumm|k/ul|thou/ul|thou/mm3|thou/cumm|103cells/ul"},
    {"x10^6/µL", "106/ul|106/mm3|106/cumm|mill/cumm|mill/ul|million/cumm|mil/ul|m/ul"},
    {"x10^9/L", "109/l"},
    {"x10^12/L", "1012/l"},
    {"/µL", "/ul|/cumm|/mm3|cells/ul|cells/cumm|cells/mm3|/c.mm|/cmm"},
    {"lakh/µL", "lakhs/cumm|lakh/cumm|lakhs/ul|lakh/ul|lakhs/mm3|lakh/mm3"},
    {"ng/mL", "ng/ml"},
    {"ng/dL", "ng/dl"},
    {"pg/mL", "pg/ml"},
    {"µg/dL", "ug/dl|mcg/dl"},
    {"µg/L", "ug/l|mcg/l"},
    {"mg/L", "mg/l"},
    {"g/L", "g/l"},
    {"mmol/L", "mmol/l"},
    {"mmol/mol", "mmol/mol"},
    {"µmol/L", "umol/l"},
    {"mEq/L", "meq/l"},
    {"U/L", "u/l"},
    {"IU/L", "iu/l"},
    {"IU/mL", "iu/ml"},
    {"fL", "fl|cumicron|cu.micron"},
    {"pg", "pg"},
    {"mm/hr", "mm/hr|mm/h|mm/1sthr|mm/1hr|mm/1sthour|mm/hour"},
    {"mL/min/1.73m²", "ml/min/1.73m2|ml/min/1.73sqm"},
    {"kg/m²", "kg/m2|kg/sqm"},
    {"kg", "kg|kgs"},
    {"cm", "cm"},
    {"bpm", "bpm|beats/min|/min"},
    {"°C", "\xc2\xb0" "c|degc"},
    {"°F", "\xc2\xb0" "f|degf"},
};

/* Folds a unit for matching: ASCII lowercased, µ/μ to u, superscripts to
 * digits, × to x, spaces, '^' and '*' dropped, and a leading "x" before
 * "10" dropped ("x10^3/µL" and "10*3/uL" both fold to "103/ul"). Returns
 * false when it does not fit. */
static bool unit_fold(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        size_t skip = 0;
        if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] == 0xb5)
            rep = "u", skip = 1; /* µ */
        else if (c == 0xce && i + 1 < len && (unsigned char)s[i + 1] == 0xbc)
            rep = "u", skip = 1; /* μ */
        else if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] == 0xb3)
            rep = "3", skip = 1; /* ³ */
        else if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] == 0xb2)
            rep = "2", skip = 1; /* ² */
        else if (c == 0xc3 && i + 1 < len && (unsigned char)s[i + 1] == 0x97)
            rep = "x", skip = 1; /* × */
        else if (c == ' ' || c == '^' || c == '*')
            rep = "";
        if (rep) {
            size_t n = strlen(rep);
            if (o + n >= cap)
                return false;
            memcpy(out + o, rep, n);
            o += n;
            i += skip;
            continue;
        }
        if (o + 1 >= cap)
            return false;
        out[o++] = lower((char)c);
    }
    out[o] = '\0';
    if (o > 3 && out[0] == 'x' && out[1] == '1' && out[2] == '0')
        memmove(out, out + 1, o);
    return o > 0;
}

static const char *unit_lookup(const char *s, size_t len)
{
    char f[48];
    while (len && (s[len - 1] == ',' || s[len - 1] == ';' || s[len - 1] == ')' ||
                   s[len - 1] == ':'))
        len--;
    if (!len || !unit_fold(s, len, f, sizeof(f)))
        return NULL;
    for (size_t i = 0; i < ARRAY_SIZE(units); i++)
        if (word_is(f, units[i].folds))
            return units[i].canon;
    return NULL;
}

size_t extract__unit_at(const char *s, size_t len, char out[EXTRACT_UNIT_MAX])
{
    size_t ends[3], n = 0, i = 0;
    /* The ends of the first three words. */
    while (n < 3 && i < len) {
        while (i < len && !space_len(s + i, len - i))
            i++;
        ends[n++] = i;
        i = skip_spaces(s, len, i);
    }
    while (n--) {
        const char *c = unit_lookup(s, ends[n]);
        if (c) {
            snprintf(out, EXTRACT_UNIT_MAX, "%s", c);
            return ends[n];
        }
    }
    /* A unit glued to what follows it: "%H". */
    if (len && s[0] == '%') {
        snprintf(out, EXTRACT_UNIT_MAX, "%%");
        return 1;
    }
    return 0;
}

/* Copies at most cap-1 bytes of s, not cutting a UTF-8 sequence. */
static void copy_utf8(char *out, size_t cap, const char *s, size_t len)
{
    if (len >= cap) {
        len = cap - 1;
        while (len && ((unsigned char)s[len] & 0xc0) == 0x80)
            len--;
    }
    memcpy(out, s, len);
    out[len] = '\0';
}

bool extract_unit_canonical(const char *s, char out[EXTRACT_UNIT_MAX])
{
    struct span t = extract__trim((struct span){s, strlen(s)});
    const char *c = t.len ? unit_lookup(t.p, t.len) : NULL;
    if (c) {
        snprintf(out, EXTRACT_UNIT_MAX, "%s", c);
        return true;
    }
    copy_utf8(out, EXTRACT_UNIT_MAX, t.p, t.len);
    return false;
}

bool extract__flag_word(const char *s, size_t len, char *flag)
{
    /* "(H)", "[L]" */
    if (len >= 3 && (s[0] == '(' || s[0] == '[') && (s[len - 1] == ')' || s[len - 1] == ']')) {
        s++;
        len -= 2;
    }
    if (len == 1 && (s[0] == 'H' || s[0] == 'L' || s[0] == '*')) {
        *flag = s[0];
        return true;
    }
    if ((len == 2 && !memcmp(s, "**", 2)) || (len == 2 && (s[0] == 'H' || s[0] == 'L') &&
                                              s[1] == '*')) {
        *flag = s[0] == '*' ? '*' : s[0];
        return true;
    }
    if (len == 3 && !memcmp(s, "\xe2\x86\x91", 3)) { /* ↑ */
        *flag = 'H';
        return true;
    }
    if (len == 3 && !memcmp(s, "\xe2\x86\x93", 3)) { /* ↓ */
        *flag = 'L';
        return true;
    }
    if (len == 4 && !strncasecmp(s, "high", 4)) {
        *flag = 'H';
        return true;
    }
    if (len == 3 && !strncasecmp(s, "low", 3)) {
        *flag = 'L';
        return true;
    }
    if ((len == 8 && !strncasecmp(s, "abnormal", 8)) || (len == 3 && !strncasecmp(s, "abn", 3))) {
        *flag = '*';
        return true;
    }
    return false;
}

/* Whether an unknown word may be a unit: short, with a slash, a percent
 * sign or letters, and not a number. */
static bool unitlike(const char *s, size_t len)
{
    if (!len || len >= EXTRACT_UNIT_MAX || is_digit(s[0]) || s[0] == '<' || s[0] == '>' ||
        s[0] == '(' || s[0] == '-')
        return false;
    bool letter = false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '/' || s[i] == '%')
            return true;
        letter |= is_alpha(s[i]) || (unsigned char)s[i] >= 0x80;
    }
    return letter && len <= 10;
}

int extract_parse_measure(const char *s, struct extract_measure *out)
{
    size_t len = strlen(s), i = skip_spaces(s, len, 0), n;
    memset(out, 0, sizeof(*out));
    if (!(n = signed_number_at(s + i, len - i, &out->value)))
        return -EINVAL;
    i += n;
    if (i + 1 < len && s[i] == '/' && is_digit(s[i + 1])) {
        bool frac;
        n = extract__number_at(s + i + 1, len - i - 1, &out->value2, &frac);
        out->has_value2 = true;
        i += 1 + n;
    }
    /* Glued flag: "6.5H", "6.5*" */
    if (i < len && (s[i] == 'H' || s[i] == 'L' || s[i] == '*') &&
        (i + 1 == len || space_len(s + i + 1, len - i - 1))) {
        out->flag = s[i];
        i++;
    }
    while ((i = skip_spaces(s, len, i)) < len) {
        size_t e = i;
        while (e < len && !space_len(s + e, len - e))
            e++;
        char flag;
        if (extract__flag_word(s + i, e - i, &flag)) {
            out->flag = flag;
            i = e;
            continue;
        }
        if (!out->unit[0]) {
            if ((n = extract__unit_at(s + i, len - i, out->unit))) {
                out->unit_known = true;
                i += n;
                continue;
            }
            if (unitlike(s + i, e - i)) {
                copy_utf8(out->unit, sizeof(out->unit), s + i, e - i);
                i = e;
                continue;
            }
        }
        i = e;
    }
    return 0;
}

/* ---- Days named by words -------------------------------------------------- */

static const char *const weekday_en[7][3] = {
    {"monday", "mon", NULL}, {"tuesday", "tue", "tues"}, {"wednesday", "wed", NULL},
    {"thursday", "thu", "thurs"}, {"friday", "fri", NULL}, {"saturday", "sat", NULL},
    {"sunday", "sun", NULL},
};
/* Kannada weekday stems (romanized as translit writes them), before
 * "vaara". */
static const char *const weekday_kn[7] = {
    "soma", "mangala", "budha", "guru", "shukra", "shani", "bhaanu",
};

static int word_weekday(const char *w)
{
    for (int d = 0; d < 7; d++)
        for (int a = 0; a < 3 && weekday_en[d][a]; a++)
            if (!strcmp(w, weekday_en[d][a]))
                return d;
    for (int d = 0; d < 7; d++) {
        size_t n = strlen(weekday_kn[d]);
        if (!strncmp(w, weekday_kn[d], n) && (strstr(w + n, "vaar") || strstr(w + n, "var")))
            return d;
    }
    if (!strncmp(w, "ravivaar", 8) || !strncmp(w, "bhanuvaar", 9))
        return 6;
    return -1;
}

/* Words of the romanized, lowercased text, NUL-separated in b; returns
 * their count and fills w[] (at most max). */
static size_t split_words(const char *text, struct buf *b, const char **w, size_t max)
{
    translit_kn_to_latn(text, strlen(text), b);
    size_t n = 0;
    char *p = b->data;
    for (size_t i = 0; p && i < b->len; i++)
        p[i] = is_alnum(p[i]) ? lower(p[i]) : '\0';
    for (size_t i = 0; p && i < b->len && n < max; i++)
        if (p[i] && (i == 0 || !p[i - 1]))
            w[n++] = p + i;
    return n;
}

int extract_resolve_day(const char *text, int64_t now_ms, int tz_min, bool future,
                        struct extract_date *out)
{
    int64_t today = local_day(now_ms, tz_min);
    struct extract_date d;
    date_of_day(today, &d);
    int ref = d.year;

    if (!extract_find_date(text, ref, true, &d)) {
        if (d.partial) {
            int64_t day = timeparse_days_from_civil(d.year, d.month, d.day);
            int y = d.year;
            if (future && day < today - 31)
                y++;
            else if (!future && day > today + 31)
                y--;
            if (y != d.year && !date_done(&d, y, d.month, d.day, true, 1))
                return -EINVAL; /* 29 Feb of a year that has none */
        }
        *out = d;
        return 0;
    }

    struct buf b = BUF_INIT;
    const char *w[64];
    size_t n = split_words(text, &b, w, ARRAY_SIZE(w));
    int64_t day = INT64_MIN;
    int wd = (int)(((today + 3) % 7 + 7) % 7); /* Monday 0; 1970-01-01 was a Thursday */
    for (size_t i = 0; i < n && day == INT64_MIN; i++) {
        const char *a = w[i], *b1 = i + 1 < n ? w[i + 1] : "", *b2 = i + 2 < n ? w[i + 2] : "";
        if (!strcmp(a, "day") && !strcmp(b1, "after") && word_is(b2, "tomorrow|tmrw"))
            day = today + 2;
        else if (!strcmp(a, "day") && !strcmp(b1, "before") && !strcmp(b2, "yesterday"))
            day = today - 2;
        else if (word_is(a, "naadidu|naadiddu|nadidu|naadidhu|naaddidu"))
            day = today + 2;
        else if (word_is(a, "tomorrow|tmrw|tmr|tomo|naale|nale|naaley"))
            day = today + 1;
        else if (word_is(a, "today|tonight|eod|ivattu|ivathu|ivatthu|ivaththu"))
            day = today;
        else if (word_is(a, "yesterday|ninne|nenne|ninna"))
            day = today - 1;
        else if (word_is(a, "monne|monna"))
            day = today - 2;
        else if (word_is(a, "eow") ||
                 (!strcmp(a, "end") && !strcmp(b1, "of") &&
                  (!strcmp(b2, "week") || (!strcmp(b2, "the") && i + 3 < n &&
                                           !strcmp(w[i + 3], "week")))))
            day = today + (4 - wd >= 0 ? 4 - wd : 4 - wd + 7); /* this Friday */
        else if (word_is(a, "next|mundina|mundin") && word_is(b1, "week|vaara|vara"))
            day = today + (7 - wd); /* next Monday */
        else if (word_is(a, "eom") || (!strcmp(a, "end") && !strcmp(b1, "of") &&
                                       (!strcmp(b2, "month") || !strcmp(b2, "the")))) {
            struct extract_date t;
            date_of_day(today, &t);
            unsigned m = t.month == 12 ? 1 : t.month + 1;
            int y = t.month == 12 ? t.year + 1 : t.year;
            day = timeparse_days_from_civil(y, m, 1) - 1;
        } else {
            int k = word_weekday(a);
            if (k >= 0 && future)
                day = today + (k - wd + 7) % 7;
            else if (k >= 0)
                day = today - ((wd - k + 7) % 7 ? (wd - k + 7) % 7 : 7);
            if (k >= 0 && future && day == today && i > 0 && word_is(w[i - 1], "next|mundina"))
                day += 7;
        }
    }
    buf_release(&b);

    if (day == INT64_MIN && !future) {
        int64_t since, until;
        if (timeparse_extract(text, now_ms, tz_min, NULL, &since, &until) > 0 &&
            since != TIMEPARSE_OPEN && until != TIMEPARSE_OPEN && until - since <= 31 * MS_DAY)
            day = local_day(since, tz_min);
    }
    if (day == INT64_MIN)
        return -EINVAL;
    date_of_day(day, out);
    return 0;
}
