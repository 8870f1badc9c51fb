/* SPDX-License-Identifier: MIT */
/*
 * jschema_int.h: what jschema.c needs from jschema_re.c (patterns and
 * formats), and the unit test reaches directly. Nothing else includes it.
 */
#ifndef HERMOD_JSCHEMA_INT_H
#define HERMOD_JSCHEMA_INT_H

#include <locale.h>
#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/* Longest pattern that is compiled; longer ones are not checked. */
#define JSCHEMA_PATTERN_MAX 1024
/* Longest string a pattern is matched against; longer ones are not checked. */
#define JSCHEMA_SUBJECT_MAX (64 * 1024)
/* Heaviest pattern compiled (see jschema__re_translate()); a{1,1000}
 * weighs 1000 and compiles in some 4 ms. */
#define JSCHEMA_PATTERN_WEIGHT_MAX 1000

/*
 * Compiled patterns of one validation call, keyed by the address of the
 * pattern text inside the schema (a jansson string or object key, stable
 * while the call runs). A pattern that cannot be translated or compiled is
 * cached too, as unsupported, so it costs one attempt per call.
 */
#define JSCHEMA_RX_CACHE 16
struct jschema_rx {
    const char *key;
    regex_t re;
    size_t weight;
    bool usable;
};
struct jschema_rxcache {
    struct jschema_rx e[JSCHEMA_RX_CACHE];
    size_t n;
    locale_t loc; /* C.UTF-8, made on first use; (locale_t)0 if unavailable */
    bool loc_tried;
};

void jschema__rx_init(struct jschema_rxcache *rc);
void jschema__rx_release(struct jschema_rxcache *rc);

/*
 * Searches the len bytes at s (anywhere, as JSON Schema's pattern does, not
 * anchored) for the pattern of plen bytes at pat. Returns 1 for a match,
 * 0 for none, and -ENOTSUP when the pattern cannot be checked (see
 * jschema.h), s is longer than JSCHEMA_SUBJECT_MAX, or compiling or
 * matching would cost more than budget validation steps. *cost is
 * increased by the work done, in validation steps.
 */
int jschema__rx_match(struct jschema_rxcache *rc, const char *pat, size_t plen, const char *s,
                      size_t len, size_t budget, size_t *cost);

/*
 * Translates an ECMA-262 pattern to a POSIX extended one for the C.UTF-8
 * locale, appending it to out, and sets *weight to the size of the
 * automaton glibc will build for it (atoms times the repetition counts
 * around them). Returns 0, or -ENOTSUP when the pattern uses what POSIX
 * cannot express or its groups do not balance (out then holds garbage).
 */
int jschema__re_translate(const char *pat, size_t len, struct buf *out, size_t *weight);

/*
 * Checks the len bytes at s against a "format". Returns 1 when they
 * conform, 0 when they do not, -1 for a format this module does not know
 * (which then asserts nothing).
 */
int jschema__format_check(const char *format, const char *s, size_t len);

#endif
