/* SPDX-License-Identifier: MIT */
/*
 * prom: metric families and the Prometheus text format (version 0.0.4).
 *
 * A module that has something to count owns its families (STYLE.md rule
 * 37): it creates them at init, feeds them as things happen, and writes
 * them into the /metrics answer when asked (`proxy_metrics()`,
 * `sched_metrics()`, ...). Nothing here knows about hermod.
 *
 * A family is a name, a help text, a type and a fixed list of label
 * names; each distinct list of label values is one series. Every family
 * is written with its # HELP and # TYPE lines, even before it has a
 * series, so a scraper sees the whole set from the first scrape. Label
 * values are escaped as the format says (backslash, double quote,
 * newline). Histograms have cumulative buckets, always ending with
 * le="+Inf", and _sum and _count.
 *
 * DESIGN
 * Series are found by a linear scan over the family's array: hermod's
 * label values are configured model, route and engine names and HTTP
 * statuses, a few dozen series per family, and a scan of those costs
 * less than hashing the values would. A family holds at most
 * PROM_MAX_SERIES series; samples for further label sets are counted in
 * prom_family_dropped() and otherwise dropped, so no peer can grow it
 * without bound. Not thread-safe: the loop thread owns every family.
 */
#ifndef HERMOD_PROM_H
#define HERMOD_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define PROM_MAX_SERIES 1024
#define PROM_MAX_LABELS 8

enum prom_type { PROM_COUNTER, PROM_GAUGE, PROM_HISTOGRAM };

struct prom_family;

/*
 * A new family. name and help are copied; help may hold any text (it is
 * escaped). labels names the labels, comma-separated ("model,status"), or
 * is "" for none (at most PROM_MAX_LABELS). A histogram takes its upper
 * bounds in increasing order (copied; "+Inf" is implied); other types pass
 * NULL, 0. BUG()s on a name or label list that the format does not allow.
 */
struct prom_family *prom_family_new(enum prom_type type, const char *name, const char *help,
                                    const char *labels, const double *bounds, size_t nbounds);
/* NULL is a no-op. */
void prom_family_free(struct prom_family *f);

/*
 * Samples. values holds one string per label, in the order of the labels
 * given at creation (NULL when the family has no labels); they are copied
 * when a series is created. A NULL value is written as "".
 *   prom_add      counters and gauges: adds v (a counter's v must be >= 0)
 *   prom_set      gauges: sets v
 *   prom_observe  histograms: counts v in its bucket, its sum and count
 */
void prom_add(struct prom_family *f, const char *const *values, double v);
void prom_set(struct prom_family *f, const char *const *values, double v);
void prom_observe(struct prom_family *f, const char *const *values, double v);

/* The value of a counter's or gauge's series, or a histogram's count; 0
 * when there is no such series. For tests and for getters. */
double prom_value(const struct prom_family *f, const char *const *values);
/* Drops every series (a gauge family rebuilt at each scrape). */
void prom_family_reset(struct prom_family *f);
/* Samples dropped because the family was full. */
uint64_t prom_family_dropped(const struct prom_family *f);

/* Appends the family to out: # HELP, # TYPE and its series in the order
 * they were created. */
void prom_family_write(const struct prom_family *f, struct buf *out);

/* A family of one series without labels, written at once (for values read
 * from a getter when scraped). */
void prom_write_single(struct buf *out, enum prom_type type, const char *name, const char *help,
                       double v);
/* Appends a label value escaped for the text format (no quotes added). */
void prom_escape_label(struct buf *out, const char *value);
/* Appends a sample value: integers as integers, others with enough digits
 * to read back the same double, "+Inf", "-Inf", "NaN". */
void prom_format_value(struct buf *out, double v);

#endif
