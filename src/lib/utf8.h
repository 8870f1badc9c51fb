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
/* Inline: it is the inner loop of the language identifier, which reads
 * every message, and of the transliteration of every name. */
static inline size_t utf8_decode(const unsigned char *s, size_t n, int32_t *cp)
{
    unsigned c = s[0];
    size_t need;
    int32_t v;
    unsigned lo = 0x80, hi = 0xbf; /* the range allowed for the second byte */

    if (c < 0x80) {
        *cp = (int32_t)c;
        return 1;
    }
    /* The well-formed sequences of Unicode's table 3-7: C0, C1 and F5..FF
     * start none; the second byte's range excludes overlong forms (E0, F0),
     * surrogates (ED) and values above U+10FFFF (F4). */
    if (c >= 0xc2 && c <= 0xdf) {
        need = 1;
        v = (int32_t)(c & 0x1f);
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        v = (int32_t)(c & 0x0f);
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        v = (int32_t)(c & 0x07);
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        *cp = UTF8_INVALID;
        return 1;
    }
    for (size_t i = 1; i <= need; i++) {
        if (i >= n || s[i] < lo || s[i] > hi) {
            /* the maximal subpart: the bytes that could still have begun
             * a character */
            *cp = UTF8_INVALID;
            return i;
        }
        lo = 0x80;
        hi = 0xbf;
        v = (v << 6) | (int32_t)(s[i] & 0x3f);
    }
    *cp = v;
    return need + 1;
}

/*
 * Writes the UTF-8 form of code point cp (at most U+10FFFF; the caller
 * checks) to out and returns its length, 1 to 4. out is not terminated.
 */
size_t utf8_encode(uint32_t cp, char out[4]);

#endif
