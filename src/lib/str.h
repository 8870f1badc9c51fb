/* SPDX-License-Identifier: MIT */
/*
 * str: small string helpers and the parsers for the units that appear in
 * config files and on the command line (sizes, durations, host:port).
 */
#ifndef HERMOD_STR_H
#define HERMOD_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

bool str_starts_with(const char *s, const char *prefix);
bool str_ends_with(const char *s, const char *suffix);
/* Case-insensitive ASCII comparison. */
bool str_eq_nocase(const char *a, const char *b);
/* ASCII only, whatever the locale (unlike <ctype.h>). */
static inline char str_ascii_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}
static inline bool str_ascii_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * Parses a byte size: a number (integer or decimal) with an optional unit,
 * B, KB/MB/GB/TB (powers of 1000), KiB/MiB/GiB/TiB (powers of 1024), or the
 * short forms K/M/G/T, which llama.cpp and most people use for powers of
 * 1024. Spaces between number and unit are allowed; units are
 * case-insensitive. Returns 0, or -EINVAL (garbage) / -ERANGE (overflow).
 */
int str_parse_size(const char *s, uint64_t *out);

/*
 * Parses a duration into milliseconds: a bare number is seconds (the config
 * contract: `ttl: 600`), or a number with ms, s, m, h or d. Returns 0,
 * -EINVAL or -ERANGE.
 */
int str_parse_duration_ms(const char *s, uint64_t *out);

/* Parses an unsigned decimal integer in [min, max]. Returns 0, -EINVAL or -ERANGE. */
int str_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* Formats a byte count for people, "1.5 GiB", into out. Returns out. */
char *str_fmt_size(uint64_t bytes, char *out, size_t outlen);

/*
 * Splits "host:port", "[v6]:port" or ":port" (host defaults to 127.0.0.1).
 * *host is allocated (caller frees). Returns 0 or -EINVAL.
 */
int str_parse_hostport(const char *s, char **host, int *port);

/* Appends s to out percent-encoded for a URL's query (RFC 3986: letters,
 * digits and -._~ stay as they are). */
void str_url_escape(struct buf *out, const char *s);
/* The reverse, for a query's names and values (application/x-www-form-
 * urlencoded: %XX and '+'); n bytes of p. Caller frees. */
char *str_url_unescape(const char *p, size_t n);
/* The value of a hex digit, or -1. */
int str_hex_digit(char c);

/* Levenshtein distance, capped at 255; for "did you mean" hints. */
unsigned str_edit_distance(const char *a, const char *b);

#endif
