/* SPDX-License-Identifier: MIT */
/* utf8.c: see utf8.h. */
#include "lib/utf8.h"

size_t utf8_decode(const unsigned char *s, size_t n, int32_t *cp)
{
    unsigned c = s[0];
    size_t len;
    int32_t v, min;
    if (c < 0x80) {
        *cp = (int32_t)c;
        return 1;
    } else if ((c & 0xe0) == 0xc0) {
        len = 2, v = (int32_t)(c & 0x1f), min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3, v = (int32_t)(c & 0x0f), min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4, v = (int32_t)(c & 0x07), min = 0x10000;
    } else {
        *cp = UTF8_INVALID;
        return 1;
    }
    if (n < len) {
        *cp = UTF8_INVALID;
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = UTF8_INVALID;
            return 1;
        }
        v = (v << 6) | (int32_t)(s[i] & 0x3f);
    }
    /* The minimum per length rejects the overlong forms (C0 80 for NUL). */
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
        *cp = UTF8_INVALID;
        return 1;
    }
    *cp = v;
    return len;
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
