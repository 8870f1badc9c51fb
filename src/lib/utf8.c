/* SPDX-License-Identifier: MIT */
/* utf8.c: see utf8.h. */
#include "lib/utf8.h"

size_t utf8_decode(const unsigned char *s, size_t n, int32_t *cp)
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

size_t utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}
