/* SPDX-License-Identifier: MIT */
/*
 * utf8: the one UTF-8 decoder (and encoder) of the tree. Pure functions on
 * byte ranges, no state, any thread.
 *
 * DESIGN: decoding is strict (RFC 3629): overlong forms, surrogates and
 * anything above U+10FFFF are not characters. A byte that starts no
 * well-formed sequence is consumed alone, so a caller that skips or copies
 * what it cannot read resynchronises on the very next byte. Text that came
 * through jansson is always well-formed, so there this only matters as
 * defence.
 */
#ifndef HERMOD_UTF8_H
#define HERMOD_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* What utf8_decode() yields for a byte that starts no character. */
#define UTF8_INVALID (-1)

/*
 * Decodes the character at s (n >= 1 bytes readable). Returns its length
 * in bytes, 1 to 4, and sets *cp to its code point. For a byte that starts
 * no well-formed sequence (a continuation byte, C0, C1, F5..FF, a sequence
 * cut short by n or by a byte that does not continue it, an overlong form,
 * a surrogate, or a value above U+10FFFF) returns 1 and sets *cp to
 * UTF8_INVALID.
 */
size_t utf8_decode(const unsigned char *s, size_t n, int32_t *cp);

/*
 * Writes the UTF-8 form of code point cp (at most U+10FFFF; the caller
 * checks) to out and returns its length, 1 to 4. out is not terminated.
 */
size_t utf8_encode(uint32_t cp, char out[4]);

#endif
