/* SPDX-License-Identifier: MIT */
/*
 * extract_int.h: what extract.c, extract_parse.c and extract_ocr.c share
 * and nothing else includes (tests excepted).
 *
 * The scanners work on (pointer, length) spans of a line and return the
 * bytes they used, 0 when nothing matched, so the OCR readers can try them
 * at every word of a line.
 */
#ifndef HERMOD_EXTRACT_INT_H
#define HERMOD_EXTRACT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ingest/extract.h"

static inline bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}
static inline bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static inline bool is_alnum(char c)
{
    return is_digit(c) || is_alpha(c);
}
static inline char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}
static inline bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* A line or word of OCR text: borrowed bytes, not NUL-terminated. */
struct span {
    const char *p;
    size_t len;
};

/* Scans money at s[0..len): currency marker and number. Sets *has_marker
 * when a currency marker was part of it. Returns the bytes used or 0. */
size_t extract__money_at(const char *s, size_t len, struct extract_money *m, bool *has_marker);

/* Scans a plain number with grouping separators ("1,25,000.50", "6.5").
 * *frac is set when it had a decimal part. Returns the bytes used or 0. */
size_t extract__number_at(const char *s, size_t len, double *v, bool *frac);

/* Scans a date at s[0..len) (see extract_parse_date). Returns the bytes
 * used or 0. */
size_t extract__date_at(const char *s, size_t len, int ref_year, bool allow_partial,
                        struct extract_date *d);

/* Scans a known unit at s[0..len), possibly several words ("mm Hg", "x 10^3
 * /µL"); the longest match wins. Returns the bytes used or 0. */
size_t extract__unit_at(const char *s, size_t len, char out[EXTRACT_UNIT_MAX]);

/* Whether the word is a high/low/abnormal flag; sets *flag to 'H', 'L' or
 * '*'. */
bool extract__flag_word(const char *s, size_t len, char *flag);

/* Case-insensitive search for an ASCII needle in s[0..len). */
const char *extract__find_nocase(const char *s, size_t len, const char *needle);

/* s without leading and trailing spaces (ASCII and U+00A0). */
struct span extract__trim(struct span s);

/* Splits text into its non-empty lines, trimmed. *out is allocated (caller
 * frees) and borrows text. Returns the number of lines. */
size_t extract__lines(const char *text, struct span **out);

/* Splits a span into whitespace-separated words. Same ownership. */
size_t extract__words(struct span line, struct span **out);

/* A new JSON string of a span (trimmed), or JSON null when empty. */
json_t *extract__json_span(struct span s);

/* A new JSON number for a value: an integer when it is whole, else a real
 * rounded to four decimals. */
json_t *extract__num_json(double v);

/* Reads the typed record of a kind from OCR text; each returns a new
 * object in the output shape of extract_typed (without "type" and
 * "source"), or NULL when nothing was found. */
json_t *extract__ocr_receipt(const char *text, const struct extract_opts *o);
json_t *extract__ocr_lab(const char *text, const struct extract_opts *o);
json_t *extract__ocr_whiteboard(const char *text, const struct extract_opts *o);
json_t *extract__ocr_screenshot(const char *text, const struct extract_opts *o);

/*
 * One lab test from its parts (the model's fields, or the pieces of an OCR
 * line): parses value, canonicalises unit, parses range, reads flag and
 * works out out_of_range. Appends one entry to tests (two for blood
 * pressure "120/80": systolic and diastolic). raw_line may be NULL.
 * Returns the number of entries appended.
 */
size_t extract__lab_test(json_t *tests, const char *name, const char *value, const char *unit,
                         const char *range, const char *flag, const char *raw_line);

/* The due date of a whiteboard item: sets due (ISO, or the raw text when it
 * names no day we know) and due_raw on item. */
void extract__set_due(json_t *item, const char *due, const struct extract_opts *o);

#endif
