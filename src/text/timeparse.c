/* SPDX-License-Identifier: MIT */
/*
 * timeparse.c: see timeparse.h.
 *
 * The query is split into words; each word is compared in its readable
 * Latin form (translit_kn_to_latn, lowercased), so "ನಿನ್ನೆ" and "ninne"
 * are the same word. The phrase table below lists the spellings people use;
 * spelling variants are listed rather than folded because the folding key
 * of translit would make "ninne" equal "nine".
 */
#include "text/timeparse.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/str.h"
#include "lib/xalloc.h"
#include "text/translit.h"

#define MS_MIN 60000LL
#define MS_HOUR 3600000LL
#define MS_DAY 86400000LL

int64_t timeparse_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* Counts from 0000-03-01 so that the leap day ends the year; 719468
     * days separate that from 1970-01-01. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* The inverse of timeparse_days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* Local day number (days since 1970-01-01 in the zone) of a UTC instant. */
static int64_t local_day(int64_t ms, int tz_min)
{
    return floor_div(ms + tz_min * MS_MIN, MS_DAY);
}

/* UTC instant at which local day `day` starts. */
static int64_t day_start(int64_t day, int tz_min)
{
    return day * MS_DAY - tz_min * MS_MIN;
}

/* Monday = 0; 1970-01-01 was a Thursday. */
static int weekday(int64_t day)
{
    return (int)(day - floor_div(day + 3, 7) * 7 + 3);
}

int timeparse_local_offset(int64_t now_ms)
{
    time_t t = (time_t)(now_ms / 1000);
    struct tm tm;
    if (!localtime_r(&t, &tm))
        return 0;
    return (int)(tm.tm_gmtoff / 60);
}

int timeparse_tz_parse(const char *s, int *offset_min)
{
    if (!strcmp(s, "Z") || !strcasecmp(s, "UTC") || !strcasecmp(s, "GMT")) {
        *offset_min = 0;
        return 0;
    }
    if (!strcasecmp(s, "IST")) {
        *offset_min = 330;
        return 0;
    }
    if (s[0] != '+' && s[0] != '-')
        return -EINVAL;
    const char *p = s + 1;
    if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
        return -EINVAL;
    int h = (p[0] - '0') * 10 + (p[1] - '0'), m = 0;
    p += 2;
    if (*p == ':')
        p++;
    if (*p) {
        if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) || p[2])
            return -EINVAL;
        m = (p[0] - '0') * 10 + (p[1] - '0');
    }
    if (h > 14 || m > 59)
        return -EINVAL;
    *offset_min = (s[0] == '-' ? -1 : 1) * (h * 60 + m);
    return 0;
}

/* ---- Words ------------------------------------------------------------ */

#define NORM_MAX 48

struct tok {
    size_t start, end; /* byte span in the text */
    char norm[NORM_MAX]; /* readable Latin, lowercase; "" if too long */
    bool knda;           /* written in Kannada script */
};

static bool is_word_byte(const char *s, size_t i, size_t len)
{
    unsigned char c = (unsigned char)s[i];
    if (isalnum(c) || c >= 0x80)
        return true;
    /* '-' and ':' inside a date or time: 2026-11-20, 10:30 */
    return (c == '-' || c == ':') && i > 0 && i + 1 < len && isdigit((unsigned char)s[i - 1]) &&
           isdigit((unsigned char)s[i + 1]);
}

static size_t tokenize(const char *s, size_t len, struct tok **out)
{
    struct tok *v = NULL;
    size_t n = 0, cap = 0;
    struct buf b = BUF_INIT;
    for (size_t i = 0; i < len;) {
        if (!is_word_byte(s, i, len)) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && is_word_byte(s, j, len))
            j++;
        ALLOC_GROW(v, n + 1, cap);
        struct tok *t = &v[n++];
        t->start = i;
        t->end = j;
        t->knda = translit_has_kannada(s + i, j - i);
        buf_reset(&b);
        translit_kn_to_latn(s + i, j - i, &b);
        if (b.len < NORM_MAX) {
            for (size_t k = 0; k < b.len; k++)
                t->norm[k] = (char)tolower((unsigned char)b.data[k]);
            t->norm[b.len] = 0;
        } else {
            t->norm[0] = 0;
        }
        i = j;
    }
    buf_release(&b);
    *out = v;
    return n;
}

/* Whether word w is one of the '|'-separated spellings in alts. A spelling
 * that starts with '@' counts only when written in Kannada script. */
static bool word_in(const struct tok *t, const char *alts)
{
    size_t wl = strlen(t->norm);
    if (!wl)
        return false;
    for (const char *p = alts; *p;) {
        const char *e = strchr(p, '|');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        bool script_only = *p == '@';
        const char *a = script_only ? p + 1 : p;
        size_t al = script_only ? l - 1 : l;
        if (al == wl && !memcmp(a, t->norm, wl) && (!script_only || t->knda))
            return true;
        if (!e)
            break;
        p = e + 1;
    }
    return false;
}

#define W_TODAY "today|ivattu|ivatthu|ivathu|ivaththu|@indu|ivattina"
#define W_YEST "yesterday|ninne|nenne|ninna"
#define W_DBY "monne|monna"
#define W_LAST "last|previous|kaleda|kalede|kalada|kalda|hinde|hinda|hindina"
#define W_THIS "this|ee"
#define W_WEEK "week|vaara|vara|vaarada|varada"
#define W_MONTH "month|tingalu|tingala|thingalu|thingala|tingalina|thingalina"
#define W_YEAR "year|varsha|varshada|varusha"
#define W_MORNING "morning|belagge|beligge|belige|belage|belaggye"
#define W_AFTERNOON "afternoon|madhyaahna|madhyana|madyana"
#define W_EVENING "evening|sanje|saayankaala|sayankala"
#define W_NIGHT "night|raatri|ratri|rathri|raathri|raatre|ratre"
#define W_AGO "ago|back|hinde|hindhe|munche|hinda"

enum span { SP_DAY, SP_PART, SP_WEEK, SP_MONTH, SP_YEAR, SP_BACK_DAYS };

/* Phrases: words separated by spaces, each a set of spellings. */
static const struct phrase {
    const char *words;
    enum span span;
    int k;          /* offset in units of the span: -1 = the one before */
    int h_from, h_to; /* SP_PART: hours after local midnight of that day */
} phrases[] = {
    {W_TODAY, SP_DAY, 0, 0, 0},
    {W_YEST, SP_DAY, -1, 0, 0},
    {W_DBY, SP_DAY, -2, 0, 0},
    {"day before " W_YEST, SP_DAY, -2, 0, 0},
    {W_THIS " " W_MORNING, SP_PART, 0, 5, 12},
    {W_TODAY " " W_MORNING, SP_PART, 0, 5, 12},
    {W_THIS " " W_AFTERNOON, SP_PART, 0, 12, 17},
    {W_TODAY " " W_AFTERNOON, SP_PART, 0, 12, 17},
    {W_THIS " " W_EVENING, SP_PART, 0, 17, 24},
    {W_TODAY " " W_EVENING, SP_PART, 0, 17, 24},
    {"tonight", SP_PART, 0, 17, 24},
    {W_YEST " " W_MORNING, SP_PART, -1, 5, 12},
    {W_YEST " " W_AFTERNOON, SP_PART, -1, 12, 17},
    {W_YEST " " W_EVENING, SP_PART, -1, 17, 24},
    {W_YEST " " W_NIGHT, SP_PART, -1, 18, 30},
    {"last " W_NIGHT, SP_PART, -1, 18, 30},
    {W_THIS " " W_WEEK, SP_WEEK, 0, 0, 0},
    {W_LAST " " W_WEEK, SP_WEEK, -1, 0, 0},
    {W_THIS " " W_MONTH, SP_MONTH, 0, 0, 0},
    {W_LAST " " W_MONTH, SP_MONTH, -1, 0, 0},
    {W_THIS " " W_YEAR, SP_YEAR, 0, 0, 0},
    {W_LAST " " W_YEAR, SP_YEAR, -1, 0, 0},
    {"past " W_WEEK, SP_BACK_DAYS, 7, 0, 0},
    {"recently|ittichege|ittichige|itteechege", SP_BACK_DAYS, 14, 0, 0},
};

static const struct {
    const char *words;
    int n;
} numbers[] = {
    {"a|an|one|ondu|ond", 1}, {"two|eradu|yeradu|erdu", 2}, {"three|mooru|muru", 3},
    {"four|naalku|nalku", 4}, {"five|aidu|aydu|ayidu", 5},   {"six|aaru", 6},
    {"seven|elu|yelu|eelu", 7}, {"eight|entu|yentu", 8},    {"nine|ombattu|ombhattu", 9},
    {"ten|hattu|hatthu", 10},  {"couple|few", 2},
};

enum unit { U_HOUR, U_DAY, U_WEEK, U_MONTH, U_YEAR };
static const char *const units[] = {
    [U_HOUR] = "hour|hours|hr|hrs|ganta|gante|ghante|ghanta|gantegala|gantegalu",
    [U_DAY] = "day|days|dina|dinagala|dinada|dinagalu",
    [U_WEEK] = "week|weeks|vaara|vaarada|vaaragala|vara|varada|varagala",
    [U_MONTH] = "month|months|tingalu|tingala|tingalugala|thingalu|thingala|thingalugala",
    [U_YEAR] = "year|years|varsha|varshagala|varshada",
};

static const char *const weekday_stems[7] = {
    "soma",
    "mangala",
    "budha|buda",
    "guru|bruhaspati|bruhaspathi",
    "shukra|sukra",
    "shani|sani",
    "bhaanu|bhanu|banu|ravi|aadi|adi",
};
static const char *const weekday_en[7] = {
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
};

static int tok_number(const struct tok *t)
{
    const char *p = t->norm;
    if (isdigit((unsigned char)*p)) {
        long v = 0;
        for (; *p; p++) {
            if (!isdigit((unsigned char)*p) || v > 10000)
                return -1;
            v = v * 10 + (*p - '0');
        }
        return (int)v;
    }
    for (size_t i = 0; i < ARRAY_SIZE(numbers); i++)
        if (word_in(t, numbers[i].words))
            return numbers[i].n;
    return -1;
}

static int tok_unit(const struct tok *t)
{
    for (size_t i = 0; i < ARRAY_SIZE(units); i++)
        if (word_in(t, units[i]))
            return (int)i;
    return -1;
}

/* Monday = 0 .. Sunday = 6 for "monday", "somavaara", "ಸೋಮವಾರದಂದು"; -1. */
static int tok_weekday(const struct tok *t)
{
    static const char *const suffixes[] = {"vaara", "vara", "vaarada", "varada", "vaaradandu",
                                           "varadandu", "vaaradalli", "varadalli"};
    for (int d = 0; d < 7; d++) {
        if (!strcmp(t->norm, weekday_en[d]))
            return d;
        for (const char *p = weekday_stems[d]; *p;) {
            const char *e = strchr(p, '|');
            size_t l = e ? (size_t)(e - p) : strlen(p);
            if (!strncmp(t->norm, p, l))
                for (size_t s = 0; s < ARRAY_SIZE(suffixes); s++)
                    if (!strcmp(t->norm + l, suffixes[s]))
                        return d;
            if (!e)
                break;
            p = e + 1;
        }
    }
    return -1;
}

/* Whether the phrase matches at tokens t[0..n); returns the words used. */
static size_t phrase_match(const char *words, const struct tok *t, size_t n)
{
    char alts[512];
    size_t used = 0;
    const char *p = words;
    while (*p) {
        const char *e = strchr(p, ' ');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (used >= n || l >= sizeof(alts))
            return 0;
        memcpy(alts, p, l);
        alts[l] = 0;
        if (!word_in(&t[used], alts))
            return 0;
        used++;
        p = e ? e + 1 : p + l;
    }
    return used;
}

struct ctx {
    int64_t now;
    int tz;
    int64_t today; /* local day number of now */
};

static void range_days(const struct ctx *c, int64_t first_day, int64_t ndays, int64_t *since,
                       int64_t *until)
{
    *since = day_start(first_day, c->tz);
    *until = day_start(first_day + ndays, c->tz);
}

static void range_week(const struct ctx *c, int k, int64_t *since, int64_t *until)
{
    int64_t monday = c->today - weekday(c->today) + 7 * (int64_t)k;
    range_days(c, monday, 7, since, until);
}

static void range_month(const struct ctx *c, int k, int64_t *since, int64_t *until)
{
    int64_t y;
    unsigned m, d;
    civil_from_days(c->today, &y, &m, &d);
    int64_t mi = y * 12 + (m - 1) + k; /* months since year 0 */
    int64_t y0 = floor_div(mi, 12), y1 = floor_div(mi + 1, 12);
    unsigned m0 = (unsigned)(mi - y0 * 12) + 1, m1 = (unsigned)(mi + 1 - y1 * 12) + 1;
    *since = day_start(timeparse_days_from_civil(y0, m0, 1), c->tz);
    *until = day_start(timeparse_days_from_civil(y1, m1, 1), c->tz);
}

static void range_year(const struct ctx *c, int k, int64_t *since, int64_t *until)
{
    int64_t y;
    unsigned m, d;
    civil_from_days(c->today, &y, &m, &d);
    *since = day_start(timeparse_days_from_civil(y + k, 1, 1), c->tz);
    *until = day_start(timeparse_days_from_civil(y + k + 1, 1, 1), c->tz);
}

/* Parses "YYYY-MM-DD" exactly (len bytes). Returns the day number or
 * INT64_MIN. */
static int64_t parse_date(const char *s, size_t len)
{
    if (len != 10 || s[4] != '-' || s[7] != '-')
        return INT64_MIN;
    for (size_t i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
            return INT64_MIN;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    unsigned m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
    unsigned d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return INT64_MIN;
    if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return INT64_MIN;
    return timeparse_days_from_civil(y, m, d);
}

/* Tries every expression at t[0..n); returns the words of the longest
 * match (0 if none) and its range. */
static size_t match_at(const struct ctx *c, const char *text, const struct tok *t, size_t n,
                       int64_t *since, int64_t *until)
{
    size_t best = 0;
    int64_t s = TIMEPARSE_OPEN, u = TIMEPARSE_OPEN;

    int64_t day = parse_date(text + t[0].start, t[0].end - t[0].start);
    if (day != INT64_MIN) {
        range_days(c, day, 1, &s, &u);
        best = 1;
    }

    for (size_t i = 0; i < ARRAY_SIZE(phrases); i++) {
        const struct phrase *ph = &phrases[i];
        size_t used = phrase_match(ph->words, t, n);
        if (used <= best)
            continue;
        best = used;
        switch (ph->span) {
        case SP_DAY:
            range_days(c, c->today + ph->k, 1, &s, &u);
            break;
        case SP_PART:
            s = day_start(c->today + ph->k, c->tz) + ph->h_from * MS_HOUR;
            u = day_start(c->today + ph->k, c->tz) + ph->h_to * MS_HOUR;
            break;
        case SP_WEEK:
            range_week(c, ph->k, &s, &u);
            break;
        case SP_MONTH:
            range_month(c, ph->k, &s, &u);
            break;
        case SP_YEAR:
            range_year(c, ph->k, &s, &u);
            break;
        case SP_BACK_DAYS:
            s = c->now - ph->k * MS_DAY;
            u = TIMEPARSE_OPEN;
            break;
        }
    }

    /* "N days ago", "3 dina hinde", "a week ago" */
    int num = tok_number(&t[0]);
    int unit = n >= 3 && num >= 0 ? tok_unit(&t[1]) : -1;
    if (unit >= 0 && word_in(&t[2], W_AGO) && best < 3) {
        best = 3;
        switch (unit) {
        case U_HOUR:
            s = c->now - (num + 1) * MS_HOUR;
            u = c->now - (num > 0 ? num - 1 : 0) * MS_HOUR;
            break;
        case U_DAY:
            range_days(c, c->today - num, 1, &s, &u);
            break;
        case U_WEEK:
            range_week(c, -num, &s, &u);
            break;
        case U_MONTH:
            range_month(c, -num, &s, &u);
            break;
        case U_YEAR:
            range_year(c, -num, &s, &u);
            break;
        }
    }

    /* "last 3 days", "past 2 weeks", "kaleda 3 dina" */
    if (n >= 3 && (word_in(&t[0], W_LAST) || word_in(&t[0], "past")) && best < 3) {
        num = tok_number(&t[1]);
        unit = num > 0 ? tok_unit(&t[2]) : -1;
        if (unit >= 0) {
            static const int64_t unit_ms[] = {
                [U_HOUR] = MS_HOUR, [U_DAY] = MS_DAY, [U_WEEK] = 7 * MS_DAY,
                [U_MONTH] = 30 * MS_DAY, [U_YEAR] = 365 * MS_DAY,
            };
            best = 3;
            s = c->now - num * unit_ms[unit];
            u = TIMEPARSE_OPEN;
        }
    }

    /* "monday", "on monday", "last monday", "ಸೋಮವಾರ", "kaleda somavaara":
     * the most recent such day before today. */
    size_t pre = (n >= 2 && (word_in(&t[0], "on") || word_in(&t[0], W_LAST))) ? 1 : 0;
    int wd = tok_weekday(&t[pre]);
    if (wd >= 0 && best < pre + 1) {
        int back = (weekday(c->today) - wd + 7) % 7;
        if (back == 0)
            back = 7;
        best = pre + 1;
        range_days(c, c->today - back, 1, &s, &u);
    }

    if (best) {
        *since = s;
        *until = u;
    }
    return best;
}

int timeparse_extract(const char *text, int64_t now_ms, int tz_min, struct buf *rest,
                      int64_t *since, int64_t *until)
{
    struct ctx c = {.now = now_ms, .tz = tz_min, .today = local_day(now_ms, tz_min)};
    size_t len = strlen(text);
    struct tok *t;
    size_t n = tokenize(text, len, &t);
    size_t copied = 0; /* text before this offset is done */
    int found = 0;
    *since = *until = TIMEPARSE_OPEN;
    for (size_t i = 0; i < n;) {
        int64_t s, u;
        size_t used = match_at(&c, text, t + i, n - i, &s, &u);
        if (!used) {
            i++;
            continue;
        }
        found++;
        if (s != TIMEPARSE_OPEN && (*since == TIMEPARSE_OPEN || s > *since))
            *since = s;
        if (u != TIMEPARSE_OPEN && (*until == TIMEPARSE_OPEN || u < *until))
            *until = u;
        if (rest) {
            buf_add(rest, text + copied, t[i].start - copied);
            buf_addch(rest, ' ');
        }
        copied = t[i + used - 1].end;
        i += used;
    }
    if (rest) {
        buf_add(rest, text + copied, len - copied);
        /* Collapse the gaps left behind and trim. */
        size_t o = 0;
        char *p = rest->data;
        for (size_t i = 0; p && i < rest->len; i++) {
            bool sp = isspace((unsigned char)p[i]);
            if (sp && (o == 0 || p[o - 1] == ' '))
                continue;
            p[o++] = sp ? ' ' : p[i];
        }
        while (o && p[o - 1] == ' ')
            o--;
        if (p)
            buf_setlen(rest, o);
    }
    free(t);
    return found;
}

/* "HH:MM[:SS[.fff]]" after a date; sets *ms_of_day and returns the bytes
 * used, or 0. */
static size_t parse_clock(const char *s, int64_t *ms_of_day)
{
    int h, m, sec = 0, frac = 0;
    size_t i = 0;
    if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) || s[2] != ':' ||
        !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
        return 0;
    h = (s[0] - '0') * 10 + (s[1] - '0');
    m = (s[3] - '0') * 10 + (s[4] - '0');
    i = 5;
    if (s[i] == ':' && isdigit((unsigned char)s[i + 1]) && isdigit((unsigned char)s[i + 2])) {
        sec = (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
        i += 3;
        if (s[i] == '.') {
            int digits = 0;
            i++;
            while (isdigit((unsigned char)s[i])) {
                if (digits < 3) {
                    frac = frac * 10 + (s[i] - '0');
                    digits++;
                }
                i++;
            }
            while (digits++ < 3)
                frac *= 10;
        }
    }
    if (h > 23 || m > 59 || sec > 60)
        return 0;
    *ms_of_day = ((h * 60 + m) * 60 + sec) * 1000LL + frac;
    return i;
}

int timeparse_point(const char *s, int64_t now_ms, int tz_min, bool end, int64_t *out,
                    struct buf *err)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    char *str = xstrndup(s, len);
    int rc = 0;

    if (!strcasecmp(str, "now")) {
        *out = now_ms;
        goto out;
    }

    /* A span before now: 7d, 12h, 2w, 1.5h, 90s, 30m, 1y. */
    if (len >= 2 && isdigit((unsigned char)str[0])) {
        char last = (char)tolower((unsigned char)str[len - 1]);
        uint64_t ms = 0;
        if (last == 'w' || last == 'y') {
            char *num = xstrndup(str, len - 1);
            if (str_parse_duration_ms(num, &ms) == 0) /* bare number: seconds */
                ms = ms / 1000 * (last == 'w' ? 7 : 365) * (uint64_t)MS_DAY;
            else
                ms = 0;
            free(num);
        } else if (!isdigit((unsigned char)last) && str_parse_duration_ms(str, &ms) != 0) {
            ms = 0;
        }
        if (ms > 0 && ms < (uint64_t)INT64_MAX / 2) {
            *out = now_ms - (int64_t)ms;
            goto out;
        }
    }

    /* A date, maybe with a time of day and a zone. */
    if (len >= 10) {
        int64_t day = parse_date(str, 10);
        if (day != INT64_MIN) {
            if (len == 10) {
                *out = day_start(day + (end ? 1 : 0), tz_min);
                goto out;
            }
            int64_t tod;
            size_t used;
            if ((str[10] == 'T' || str[10] == 't' || str[10] == ' ') &&
                (used = parse_clock(str + 11, &tod)) > 0) {
                const char *zone = str + 11 + used;
                int off = tz_min;
                if (*zone == ' ')
                    zone++;
                if (!*zone || timeparse_tz_parse(zone, &off) == 0) {
                    *out = day * MS_DAY + tod - off * MS_MIN;
                    goto out;
                }
            }
        }
    }

    /* Time words that make up the whole argument. */
    {
        struct buf rest = BUF_INIT;
        int64_t since, until;
        int found = timeparse_extract(str, now_ms, tz_min, &rest, &since, &until);
        bool whole = found > 0 && rest.len == 0;
        buf_release(&rest);
        if (whole && (end ? until : since) != TIMEPARSE_OPEN) {
            *out = end ? until : since;
            goto out;
        }
        if (whole && end && until == TIMEPARSE_OPEN) {
            *out = now_ms;
            goto out;
        }
    }

    rc = -EINVAL;
    if (err)
        buf_addf(err,
                 "cannot read time '%s' (use 2026-11-20, 2026-11-20T10:00:00+05:30, "
                 "7d/12h/2w, or words like yesterday, last week)",
                 str);
out:
    free(str);
    return rc;
}
