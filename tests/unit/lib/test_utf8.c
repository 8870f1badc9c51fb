/* Unit tests for src/lib/utf8: the tree's one UTF-8 decoder and encoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "lib/utf8.h"

struct dec_case {
    const char *bytes;
    size_t n;     /* bytes readable */
    size_t len;   /* expected length */
    int32_t cp;   /* expected code point */
};

static void check(const struct dec_case *c, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        int32_t cp = 12345;
        size_t len = utf8_decode((const unsigned char *)c[i].bytes, c[i].n, &cp);
        if (len != c[i].len || cp != c[i].cp)
            fail_msg("case %zu: got len %zu cp %d, want len %zu cp %d", i, len, cp, c[i].len,
                     c[i].cp);
    }
}

static void test_decode_valid(void **state)
{
    static const struct dec_case c[] = {
        {"A", 1, 1, 'A'},
        {"\x00", 1, 1, 0},
        {"\x7f", 1, 1, 0x7f},
        {"\xc2\x80", 2, 2, 0x80},            /* the smallest two-byte form */
        {"\xc3\xa9", 2, 2, 0xe9},            /* é */
        {"\xdf\xbf", 2, 2, 0x7ff},
        {"\xe0\xa0\x80", 3, 3, 0x800},       /* the smallest three-byte form */
        {"\xe0\xb2\x95", 3, 3, 0x0c95},      /* ಕ, Kannada KA */
        {"\xed\x9f\xbf", 3, 3, 0xd7ff},      /* just below the surrogates */
        {"\xee\x80\x80", 3, 3, 0xe000},      /* just above them */
        {"\xef\xbf\xbf", 3, 3, 0xffff},
        {"\xf0\x90\x80\x80", 4, 4, 0x10000}, /* the smallest four-byte form */
        {"\xf0\x9f\x98\x80", 4, 4, 0x1f600}, /* an emoji */
        {"\xf4\x8f\xbf\xbf", 4, 4, 0x10ffff},
        {"\xc3\xa9xyz", 5, 2, 0xe9},         /* reads one character only */
    };
    check(c, sizeof(c) / sizeof(c[0]));
}

static void test_decode_invalid(void **state)
{
    static const struct dec_case c[] = {
        {"\x80", 1, 1, UTF8_INVALID},             /* a lone continuation byte */
        {"\xbf\x80", 2, 1, UTF8_INVALID},
        {"\xc0\x80", 2, 1, UTF8_INVALID},         /* overlong NUL */
        {"\xc1\xbf", 2, 1, UTF8_INVALID},         /* overlong U+007F */
        {"\xe0\x80\x80", 3, 1, UTF8_INVALID},     /* overlong, three bytes */
        {"\xe0\x9f\xbf", 3, 1, UTF8_INVALID},
        {"\xf0\x8f\xbf\xbf", 4, 1, UTF8_INVALID}, /* overlong, four bytes */
        {"\xed\xa0\x80", 3, 1, UTF8_INVALID},     /* U+D800, a surrogate */
        {"\xed\xbf\xbf", 3, 1, UTF8_INVALID},     /* U+DFFF */
        {"\xf4\x90\x80\x80", 4, 1, UTF8_INVALID}, /* U+110000 */
        {"\xf5\x80\x80\x80", 4, 1, UTF8_INVALID}, /* F5..FF start nothing */
        {"\xf8\x88\x80\x80", 4, 1, UTF8_INVALID},
        {"\xff", 1, 1, UTF8_INVALID},
        /* Cut short, by n or by a byte that does not continue it: the
         * maximal subpart, everything before the cut, goes at once. */
        {"\xc3", 1, 1, UTF8_INVALID},
        {"\xe0\xb2\x95", 2, 2, UTF8_INVALID},
        {"\xf0\x9f\x98\x80", 3, 3, UTF8_INVALID},
        {"\xc3" "A", 2, 1, UTF8_INVALID},
        {"\xe0\xb2" "A", 3, 2, UTF8_INVALID},
        {"\xf0\x9f\x98" "A", 4, 3, UTF8_INVALID},
        {"\xe0\xb2\xc3\xa9", 4, 2, UTF8_INVALID}, /* the next lead byte is not eaten */
    };
    check(c, sizeof(c) / sizeof(c[0]));
}

/* A caller that steps over what it cannot read sees every good character,
 * and each ill-formed sequence once. */
static void test_decode_resync(void **state)
{
    static const char s[] = "a\xe0\xb2\xc3\xa9\x80\xe0\xb2\x95z";
    static const int32_t want[] = {'a', UTF8_INVALID, 0xe9, UTF8_INVALID, 0x0c95, 'z'};
    size_t i = 0, k = 0, n = sizeof(s) - 1;
    while (i < n) {
        int32_t cp;
        i += utf8_decode((const unsigned char *)s + i, n - i, &cp);
        assert_true(k < sizeof(want) / sizeof(want[0]));
        assert_int_equal(cp, want[k++]);
    }
    assert_int_equal(i, n);
    assert_int_equal(k, sizeof(want) / sizeof(want[0]));
}

/* Every scalar value survives encode then decode, at the length the
 * standard gives it. */
static void test_encode_roundtrip(void **state)
{
    for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
        if (cp >= 0xd800 && cp <= 0xdfff)
            continue;
        char b[4];
        size_t len = utf8_encode(cp, b);
        size_t want = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        int32_t back;
        if (len != want || utf8_decode((const unsigned char *)b, len, &back) != len ||
            back != (int32_t)cp)
            fail_msg("U+%04X: len %zu", (unsigned)cp, len);
    }
    char b[4];
    assert_int_equal(utf8_encode(0x0c95, b), 3);
    assert_memory_equal(b, "\xe0\xb2\x95", 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_valid),
        cmocka_unit_test(test_decode_invalid),
        cmocka_unit_test(test_decode_resync),
        cmocka_unit_test(test_encode_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
