/* SPDX-License-Identifier: MIT */
/* prom.c: metric families in the Prometheus text format. See prom.h. */
#include "lib/prom.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"

struct series {
    char **values;          /* one per label, owned */
    double v;               /* counter, gauge */
    uint64_t *buckets;      /* histogram: counts per bound (not cumulative) */
    uint64_t count;
    double sum;
};

struct prom_family {
    enum prom_type type;
    char *name;
    char *help;
    char *labels[PROM_MAX_LABELS];
    size_t nlabels;
    double *bounds;
    size_t nbounds;
    struct series *series;
    size_t nseries, cap;
    uint64_t dropped;
};

static bool name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

static bool valid_name(const char *s, size_t n, bool label)
{
    if (!n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!name_char(s[i], i == 0) || (label && s[i] == ':'))
            return false;
    return true;
}

struct prom_family *prom_family_new(enum prom_type type, const char *name, const char *help,
                                    const char *labels, const double *bounds, size_t nbounds)
{
    if (!valid_name(name, strlen(name), false))
        BUG("prom: invalid metric name '%s'", name);
    if ((type == PROM_HISTOGRAM) != (nbounds > 0))
        BUG("prom: %s: only a histogram has buckets", name);
    struct prom_family *f = xcalloc(1, sizeof(*f));
    f->type = type;
    f->name = xstrdup(name);
    f->help = xstrdup(help);
    for (const char *p = labels; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (f->nlabels == PROM_MAX_LABELS || !valid_name(p, n, true) ||
            (n == 2 && type == PROM_HISTOGRAM && !memcmp(p, "le", 2)))
            BUG("prom: %s: invalid label list '%s'", name, labels);
        f->labels[f->nlabels++] = xstrndup(p, n);
        p += n + (comma != NULL);
    }
    for (size_t i = 1; i < nbounds; i++)
        if (!(bounds[i] > bounds[i - 1]))
            BUG("prom: %s: bucket bounds must increase", name);
    if (nbounds) {
        f->bounds = xmemdup(bounds, nbounds * sizeof(*bounds));
        f->nbounds = nbounds;
    }
    return f;
}

static void series_release(const struct prom_family *f, struct series *s)
{
    for (size_t i = 0; i < f->nlabels; i++)
        free(s->values[i]);
    free(s->values);
    free(s->buckets);
}

void prom_family_reset(struct prom_family *f)
{
    for (size_t i = 0; i < f->nseries; i++)
        series_release(f, &f->series[i]);
    f->nseries = 0;
}

void prom_family_free(struct prom_family *f)
{
    if (!f)
        return;
    prom_family_reset(f);
    free(f->series);
    for (size_t i = 0; i < f->nlabels; i++)
        free(f->labels[i]);
    free(f->bounds);
    free(f->help);
    free(f->name);
    free(f);
}

uint64_t prom_family_dropped(const struct prom_family *f)
{
    return f->dropped;
}

static bool same(const struct prom_family *f, const struct series *s, const char *const *values)
{
    for (size_t i = 0; i < f->nlabels; i++)
        if (strcmp(s->values[i], values[i] ? values[i] : ""))
            return false;
    return true;
}

static struct series *find(const struct prom_family *f, const char *const *values)
{
    for (size_t i = 0; i < f->nseries; i++)
        if (same(f, &f->series[i], values))
            return &f->series[i];
    return NULL;
}

/* The series for values, created if need be; NULL when the family is full. */
static struct series *get(struct prom_family *f, const char *const *values)
{
    struct series *s = find(f, values);
    if (s)
        return s;
    if (f->nseries == PROM_MAX_SERIES) {
        f->dropped++;
        return NULL;
    }
    if (f->nseries == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 8;
        f->series = xrealloc(f->series, f->cap * sizeof(*f->series));
    }
    s = &f->series[f->nseries++];
    memset(s, 0, sizeof(*s));
    s->values = xcalloc(f->nlabels ? f->nlabels : 1, sizeof(char *));
    for (size_t i = 0; i < f->nlabels; i++)
        s->values[i] = xstrdup(values[i] ? values[i] : "");
    if (f->type == PROM_HISTOGRAM)
        s->buckets = xcalloc(f->nbounds, sizeof(uint64_t));
    return s;
}

void prom_add(struct prom_family *f, const char *const *values, double v)
{
    ASSERT(f->type != PROM_HISTOGRAM);
    ASSERT(f->type != PROM_COUNTER || v >= 0);
    struct series *s = get(f, values);
    if (s)
        s->v += v;
}

void prom_set(struct prom_family *f, const char *const *values, double v)
{
    ASSERT(f->type == PROM_GAUGE);
    struct series *s = get(f, values);
    if (s)
        s->v = v;
}

void prom_observe(struct prom_family *f, const char *const *values, double v)
{
    ASSERT(f->type == PROM_HISTOGRAM);
    struct series *s = get(f, values);
    if (!s)
        return;
    for (size_t i = 0; i < f->nbounds; i++)
        if (v <= f->bounds[i]) {
            s->buckets[i]++;
            break;
        }
    s->count++;
    s->sum += v;
}

double prom_value(const struct prom_family *f, const char *const *values)
{
    const struct series *s = find(f, values);
    if (!s)
        return 0;
    return f->type == PROM_HISTOGRAM ? (double)s->count : s->v;
}

/* ---- the text format ---------------------------------------------------------------- */

void prom_escape_label(struct buf *out, const char *value)
{
    for (const char *p = value ? value : ""; *p; p++) {
        if (*p == '\\')
            buf_addstr(out, "\\\\");
        else if (*p == '"')
            buf_addstr(out, "\\\"");
        else if (*p == '\n')
            buf_addstr(out, "\\n");
        else
            buf_addch(out, *p);
    }
}

/* HELP text escapes only backslash and newline. */
static void escape_help(struct buf *out, const char *help)
{
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            buf_addstr(out, "\\\\");
        else if (*p == '\n')
            buf_addstr(out, "\\n");
        else
            buf_addch(out, *p);
    }
}

void prom_format_value(struct buf *out, double v)
{
    if (isnan(v))
        buf_addstr(out, "NaN");
    else if (isinf(v))
        buf_addstr(out, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 9007199254740992.0)
        buf_addf(out, "%.0f", v);
    else {
        /* the shortest of 15 and 17 digits that reads back as v */
        char t[40];
        snprintf(t, sizeof(t), "%.15g", v);
        if (strtod(t, NULL) != v)
            snprintf(t, sizeof(t), "%.17g", v);
        buf_addstr(out, t);
    }
}

static const char *type_name(enum prom_type t)
{
    return t == PROM_COUNTER ? "counter" : t == PROM_GAUGE ? "gauge" : "histogram";
}

static void write_head(struct buf *out, const char *name, enum prom_type type, const char *help)
{
    buf_addf(out, "# HELP %s ", name);
    escape_help(out, help);
    buf_addf(out, "\n# TYPE %s %s\n", name, type_name(type));
}

/* name{a="x",b="y"[,le="..."]} */
static void write_labels(struct buf *out, const struct prom_family *f, const struct series *s,
                         const char *le)
{
    if (!f->nlabels && !le)
        return;
    buf_addch(out, '{');
    for (size_t i = 0; i < f->nlabels; i++) {
        buf_addf(out, "%s%s=\"", i ? "," : "", f->labels[i]);
        prom_escape_label(out, s->values[i]);
        buf_addch(out, '"');
    }
    if (le)
        buf_addf(out, "%sle=\"%s\"", f->nlabels ? "," : "", le);
    buf_addch(out, '}');
}

void prom_family_write(const struct prom_family *f, struct buf *out)
{
    write_head(out, f->name, f->type, f->help);
    for (size_t i = 0; i < f->nseries; i++) {
        const struct series *s = &f->series[i];
        if (f->type != PROM_HISTOGRAM) {
            buf_addstr(out, f->name);
            write_labels(out, f, s, NULL);
            buf_addch(out, ' ');
            prom_format_value(out, s->v);
            buf_addch(out, '\n');
            continue;
        }
        uint64_t cum = 0;
        for (size_t b = 0; b <= f->nbounds; b++) {
            struct buf le = BUF_INIT;
            if (b < f->nbounds) {
                cum += s->buckets[b];
                prom_format_value(&le, f->bounds[b]);
            } else {
                cum = s->count;
                buf_addstr(&le, "+Inf");
            }
            buf_addf(out, "%s_bucket", f->name);
            write_labels(out, f, s, buf_cstr(&le));
            buf_addf(out, " %llu\n", (unsigned long long)cum);
            buf_release(&le);
        }
        buf_addf(out, "%s_sum", f->name);
        write_labels(out, f, s, NULL);
        buf_addch(out, ' ');
        prom_format_value(out, s->sum);
        buf_addf(out, "\n%s_count", f->name);
        write_labels(out, f, s, NULL);
        buf_addf(out, " %llu\n", (unsigned long long)s->count);
    }
}

void prom_write_single(struct buf *out, enum prom_type type, const char *name, const char *help,
                       double v)
{
    ASSERT(type != PROM_HISTOGRAM);
    write_head(out, name, type, help);
    buf_addf(out, "%s ", name);
    prom_format_value(out, v);
    buf_addch(out, '\n');
}
