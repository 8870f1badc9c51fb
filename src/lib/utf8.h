/* SPDX-License-Identifier: MIT */
/*
 * utf8: the one UTF-8 decoder (and encoder) of the tree. Pure functions on
 * byte ranges, no state, any thread.
 *
 * DESIGN: decoding is strict (RFC 3629, Unicode's table 3-7): overlong
 * forms, surrogates and anything above U+10FFFF are not characters. An
 * ill-formed sequence is consumed as its maximal subpart, Unicode's
 * recommended practice (the bytes that could still have begun a character;
 * never fewer than one), so each error counts once and the next call starts
 * on the next possible lead byte. A caller that skips or copies what it
 * cannot read sees every byte once either way. Text that came through
 * jansson is always well-formed, so there this only matters as defence.
 */
#ifndef HERMOD_UTF8_H
#define HERMOD_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* What utf8_decode() yields for an ill-formed sequence. */
#define UTF8_INVALID (-1)

/*
 * Decodes the character at s (n >= 1 bytes readable). Returns its length
 * in bytes, 1 to 4, and sets *cp to its code point. For an ill-formed
 * sequence sets *cp to UTF8_INVALID and returns the length of its maximal
 * subpart, 1 to 3 and never more than n: 1 for a byte that starts nothing
 * (a continuation byte, C0, C1, F5..FF) or whose next byte is out of range
 * (overlong forms, surrogates, above U+10FFFF); for a sequence cut short,
 * by n or by a byte that does not continue it, the bytes before the cut
 * ("\xe0\xb2" then "A" gives 2).
 */
size_t utf8_decode(const unsigned char *s, size_t n, int32_t *cp);

/*
 * Writes the UTF-8 form of code point cp (at most U+10FFFF; the caller
 * checks) to out and returns its length, 1 to 4. out is not terminated.
 */
size_t utf8_encode(uint32_t cp, char out[4]);

#endif
