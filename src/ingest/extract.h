/* SPDX-License-Identifier: MIT */
/*
 * extract: typed facts from what a vision model said about an image.
 *
 * The vision model (vision.h) answers one JSON object per image: a scene,
 * its OCR text and, for receipts, lab reports, screenshots and whiteboards,
 * a typed sub-object whose values it copies *as printed* ("₹ 1,25,000",
 * "20/11/2026", "6.5 H"). This module turns that into the extract_json the
 * store reads (docs/internals/store.md, "Typed results"): numbers as
 * numbers, dates as ISO dates, each beside the text it came from ("total":
 * 1250, "total_raw": "₹ 1,250.00"). When the model left the sub-object (or
 * a field of it) empty, the same record is read from the OCR text with
 * rules for Indian bills and lab reports. docs/internals/extract.md has the
 * formats, the rules and what is not covered.
 *
 * The value parsers are public so that tests, the transcript converter and
 * the command line can use them:
 *
 *   money    "₹1,250.00", "Rs. 1,25,000", "INR 150", "150/-", "$1,250.50",
 *            "1.250,50 €"
 *   dates    "20/11/2026" (day first, as in India), "20-Nov-2026",
 *            "2026-11-20", "Nov 20, 2026", "20.11.26"
 *   ranges   "0.4-4.0", "0.4 - 4.0", "< 200", ">= 40", "Up to 5.7"
 *   measures "6.5 mIU/L", "120/80 mmHg", "7.2 x10^3/uL" (unit canonical)
 *
 * DESIGN
 * Pure functions: no global state, no clock (the caller passes "now" for
 * two-digit years and words like "Friday"), no locale (numbers are read by
 * hand, never by a locale-dependent strtod on grouped text), so any worker
 * thread may call them. Nothing here fails on bad input: a value that does
 * not parse is kept as its raw text and the number is left out, because a
 * half-read receipt is still worth storing. JSON in and out is jansson;
 * the strings of struct extract_graph are owned by the graph.
 */
#ifndef HERMOD_EXTRACT_H
#define HERMOD_EXTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/buf.h"
#include "store/store.h"

/* ---- Value parsers ----------------------------------------------------- */

struct extract_money {
    double amount;
    /* ISO 4217 code the text names ("INR" for ₹, Rs, Re, INR and the
     * Indian "/-" suffix; USD, EUR, GBP), or "" when it names none. */
    char currency[4];
};

/*
 * Parses an amount of money. Grouping follows the text: "1,25,000" (lakh
 * grouping), "125,000" and "1.250.000" are 125000 or 1250000; a single
 * comma followed by one or two digits ("12,50") or a comma after the last
 * dot ("1.250,50") is a decimal comma. Currency markers may come before
 * ("₹", "Rs.", "INR", "$", "€") or after ("/-", "INR", "€") the number; a
 * minus sign makes it negative (discounts). When s holds several amounts,
 * the first with a currency marker wins, else the first. Returns 0, or
 * -EINVAL when s has no amount.
 */
int extract_parse_money(const char *s, struct extract_money *out);

struct extract_date {
    int year;
    unsigned month, day;
    bool partial; /* the text had no year: it is ref_year's */
    char iso[11]; /* "2026-11-20" */
};

/*
 * Parses a date at the start of s (leading spaces allowed; a time or other
 * text after it is ignored): "20/11/2026", "20-11-2026", "20.11.26"
 * (numeric dates are day first, as printed in India, unless the second
 * number cannot be a month: "11/20/2026" is November 20), "2026-11-20",
 * "20-Nov-2026", "20 November 2026", "20th Nov, 2026", "Nov 20, 2026".
 * A two-digit year is the one within ten years after ref_year or 89 before
 * it ("26" is 2026, "98" 1998 for ref_year 2026); with ref_year <= 0 it
 * is 20yy.
 * A day and month without year ("28/11", "28 Nov") parse with partial set
 * and ref_year as the year. Returns 0, or -EINVAL (not a date, or a day
 * the month does not have).
 */
int extract_parse_date(const char *s, int ref_year, struct extract_date *out);

/*
 * Finds the first date anywhere in s (words are tried in turn; a partial
 * date only when allow_partial). Returns 0 or -EINVAL.
 */
int extract_find_date(const char *s, int ref_year, bool allow_partial, struct extract_date *out);

struct extract_range {
    bool has_low, has_high;
    bool low_inclusive, high_inclusive;
    double low, high;
};

/*
 * Parses a reference range: "0.4-4.0", "0.4 - 4.0", "0.4 to 4.0" (both
 * ends included), "< 200", "<= 200", "≤ 200", "Up to 5.7", "Below 200",
 * "> 40", ">= 40", "Above 40". Text before the range ("Normal: 0.4-4.0",
 * "Non-diabetic: < 5.7") and after it (a unit, further categories) is
 * skipped; the first range found wins. Returns 0 or -EINVAL.
 */
int extract_parse_range(const char *s, struct extract_range *out);

/* Whether v lies within r (an empty range contains everything). */
bool extract_range_contains(const struct extract_range *r, double v);

#define EXTRACT_UNIT_MAX 24

struct extract_measure {
    double value;
    double value2;    /* the second of "120/80" (diastolic) */
    bool has_value2;
    char unit[EXTRACT_UNIT_MAX]; /* canonical ("mg/dL", "µIU/mL"), as printed
                                  * if unknown, or "" */
    bool unit_known;  /* unit is one of the canonical table */
    char flag;        /* 'H' (high, ↑), 'L' (low, ↓), '*' (abnormal) or 0 */
};

/*
 * Parses a measured value: a number, optionally "/" and a second number
 * (blood pressure), then optionally a unit and a flag in either order:
 * "6.5", "6.5 mIU/L", "6.1%", "120/80 mmHg", "210 H mg/dL", "6.5*". Units
 * are matched case-insensitively with µ, μ and u alike and put in
 * canonical form. Returns 0, or -EINVAL when s does not start (after
 * spaces) with a number ("Negative", "< 0.5").
 */
int extract_parse_measure(const char *s, struct extract_measure *out);

/*
 * Puts the canonical form of a unit into out ("mg/dl" -> "mg/dL", "uIU/ml"
 * -> "µIU/mL", "10^3/uL" -> "x10^3/µL", "mm Hg" -> "mmHg"). Returns true
 * when the unit is known; otherwise out is the trimmed input (cut to fit).
 */
bool extract_unit_canonical(const char *s, char out[EXTRACT_UNIT_MAX]);

/*
 * Resolves the day a short text names, relative to now_ms in a zone of
 * tz_min minutes east of UTC: an explicit date (a partial one takes the
 * year that puts it nearest now in the direction asked), "today", "EOD",
 * "tomorrow"/"naale"/"ನಾಳೆ", "day after tomorrow"/"naadidu",
 * "yesterday"/"ninne", "monne", weekday names in English or Kannada
 * ("Friday", "shukravaara"), "EOW"/"end of week", "next week", "EOM". With
 * future set (due dates), weekdays and partial dates are the next such day
 * on or after today; otherwise the most recent one before today, and the
 * time words of timeparse_extract ("last week", "3 days ago") are
 * understood too (the start of their range). Returns 0, or -EINVAL when
 * the text names no day.
 */
int extract_resolve_day(const char *text, int64_t now_ms, int tz_min, bool future,
                        struct extract_date *out);

/* ---- Text helpers the other ingest stages share ------------------------ */

/* The local calendar year of ms in a zone of tz_min minutes east of UTC. */
int extract_year_of(int64_t ms, int tz_min);

/* Whether s has a letter or a digit, i.e. whether the store can key it. */
bool extract_keyable(const char *s);

/* Whether s[0..len) contains needle as a whole word (ASCII, no case). */
bool extract_has_word(const char *s, size_t len, const char *needle);

/*
 * Trims white space (ASCII and U+00A0) from both ends of s[0..len).
 * Returns the trimmed length and sets *start to its first byte, inside s.
 */
size_t extract_trim(const char *s, size_t len, const char **start);

/* ---- Typed results ----------------------------------------------------- */

struct extract_opts {
    int64_t now_ms;               /* capture time; the reference for years and
                                   * "Friday"; 0 = the wall clock */
    int tz_min;                   /* the user's zone, minutes east of UTC (IST 330) */
    const char *default_currency; /* when a receipt names none; NULL = "INR" */
};

/*
 * Builds the typed record of an image of the given kind and sets *out (a
 * new reference the caller decrefs) to it, in the shape of
 * docs/internals/store.md "Typed results" with "type" set, ready to be
 * dumped into store_result.extract_json:
 *
 *   receipt     merchant, date, currency, total, items [{name, qty, price,
 *               amount}], taxes [{name, rate, amount}], gstin
 *   lab_report  lab, date, tests [{test, value, unit, reference_range,
 *               out_of_range, flag, range_low, range_high}]
 *   whiteboard  action_items [{text, owner, due}]
 *   screenshot  app, people [], topics []
 *
 * Every parsed field keeps its original text in "<field>_raw"; entries
 * read from OCR keep their line in "raw"; "source" says where the record
 * came from ("model", "ocr" or "model+ocr"). answer is the whole vision
 * answer (vision.h schema), borrowed; its sub-object of the kind's name is
 * read first, and each field it leaves null or empty is read from
 * ocr_text (may be NULL). Other kinds (photo, meal, ...) have no record.
 * opts may be NULL (now, UTC, INR).
 *
 * Returns 0 with *out set, or 0 with *out NULL when the kind has no record
 * or nothing could be read; -EINVAL when kind is not a store kind.
 */
int extract_typed(const json_t *answer, enum store_kind kind, const char *ocr_text,
                  const struct extract_opts *opts, json_t **out, struct buf *err);

/*
 * Dumps a record for store_result.extract_json: compact, keys in the order
 * built, reals with at most 12 significant digits ("29.38", not
 * "29.379999999999999"). The caller frees the string; NULL for NULL.
 */
char *extract_dumps(const json_t *record);

/* ---- Mentions and facts that own their strings -------------------------- */

/*
 * Arrays of store_mention and store_fact ready for a store_result, with
 * the strings they point to owned by the graph. Mentions are unique by type
 * and translit key, so "Rajesh" and "ರಾಜೇಶ್" are added once. Read the
 * arrays directly; change them only through the functions below.
 */
struct extract_graph {
    struct store_mention *mentions;
    size_t nmentions;
    struct store_fact *facts;
    size_t nfacts;
    /* private */
    size_t mentions_cap, facts_cap;
    char **strs;
    size_t nstrs, strs_cap;
};

/* Makes g empty; no allocation until something is added. */
void extract_graph_init(struct extract_graph *g);
/* Frees the arrays and every string; the graph is left empty and usable.
 * The store_result that borrowed them must be done with them. */
void extract_graph_release(struct extract_graph *g);

/* Copies s (NULL gives NULL) into the graph; the copy lives until release. */
const char *extract_graph_str(struct extract_graph *g, const char *s);

/*
 * Adds a mention of name (trimmed; copied) with the given type and surface
 * (NULL = name). Returns 0, 1 when the same type and key is there already,
 * or -EINVAL when name has no letter or digit (the store could not key it)
 * or type is not [a-z_]+.
 */
int extract_graph_mention(struct extract_graph *g, const char *type, const char *name,
                          const char *surface);

/*
 * Appends a fact slot, zeroed except valid_from/valid_until (unknown), and
 * returns it. Every string put into it must be owned by the graph
 * (extract_graph_str). The pointer is valid until the next append.
 */
struct store_fact *extract_graph_fact(struct extract_graph *g);

/*
 * Adds the mentions of a typed record (extract_typed's output, borrowed):
 * for a screenshot its people (person), app (app) and topics (topic).
 * Receipts, lab reports and whiteboards add nothing here: the store
 * derives their entities from extract_json itself. Returns the number of
 * mentions added.
 */
size_t extract_mentions(const json_t *record, struct extract_graph *g);

#endif
