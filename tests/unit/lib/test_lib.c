/* Unit tests for src/lib (buf, str) and sse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "net/sse.h"

static void test_buf_basic(void **state)
{
    struct buf b = BUF_INIT;
    assert_string_equal(buf_cstr(&b), "");
    buf_addstr(&b, "hello");
    buf_addch(&b, ' ');
    buf_addf(&b, "%d-%s", 42, "x");
    assert_string_equal(buf_cstr(&b), "hello 42-x");
    buf_consume(&b, 6);
    assert_string_equal(buf_cstr(&b), "42-x");
    buf_setlen(&b, 2);
    assert_string_equal(buf_cstr(&b), "42");
    size_t n;
    char *s = buf_detach(&b, &n);
    assert_int_equal(n, 2);
    assert_string_equal(s, "42");
    assert_null(b.data);
    free(s);
    /* a long formatted string grows the buffer */
    for (int i = 0; i < 1000; i++)
        buf_addf(&b, "%04d", i);
    assert_int_equal(b.len, 4000);
    assert_memory_equal(b.data + 3996, "0999", 4);
    buf_release(&b);
}

static void test_buf_json_str(void **state)
{
    struct buf b = BUF_INIT;
    buf_add_json_str(&b, "a\"b\\c\nd\x01 ಕನ್ನಡ");
    assert_string_equal(buf_cstr(&b), "\"a\\\"b\\\\c\\nd\\u0001 ಕನ್ನಡ\"");
    buf_release(&b);
}

static void test_parse_size(void **state)
{
    uint64_t v;
    assert_int_equal(str_parse_size("120GiB", &v), 0);
    assert_true(v == 120ull << 30);
    assert_int_equal(str_parse_size("20 GB", &v), 0);
    assert_true(v == 20000000000ull);
    assert_int_equal(str_parse_size("8.75GB", &v), 0);
    assert_true(v == 8750000000ull);
    assert_int_equal(str_parse_size("512", &v), 0);
    assert_true(v == 512);
    assert_int_equal(str_parse_size("1.5k", &v), 0);
    assert_true(v == 1536);
    assert_int_equal(str_parse_size("16M", &v), 0);
    assert_true(v == 16ull << 20);
    assert_int_equal(str_parse_size("3 MiB", &v), 0);
    assert_int_equal(str_parse_size("10 parsecs", &v), -EINVAL);
    assert_int_equal(str_parse_size("-1G", &v), -EINVAL);
    assert_int_equal(str_parse_size("", &v), -EINVAL);
    assert_int_equal(str_parse_size("99999999999TB", &v), -ERANGE);
}

static void test_parse_duration(void **state)
{
    uint64_t v;
    assert_int_equal(str_parse_duration_ms("600", &v), 0);
    assert_true(v == 600000);
    assert_int_equal(str_parse_duration_ms("500ms", &v), 0);
    assert_true(v == 500);
    assert_int_equal(str_parse_duration_ms("1.5s", &v), 0);
    assert_true(v == 1500);
    assert_int_equal(str_parse_duration_ms("10m", &v), 0);
    assert_true(v == 600000);
    assert_int_equal(str_parse_duration_ms("2h", &v), 0);
    assert_true(v == 7200000);
    assert_int_equal(str_parse_duration_ms("soon", &v), -EINVAL);
}

static void test_hostport(void **state)
{
    char *h;
    int p;
    assert_int_equal(str_parse_hostport("127.0.0.1:8400", &h, &p), 0);
    assert_string_equal(h, "127.0.0.1");
    assert_int_equal(p, 8400);
    free(h);
    assert_int_equal(str_parse_hostport(":9000", &h, &p), 0);
    assert_string_equal(h, "127.0.0.1");
    free(h);
    assert_int_equal(str_parse_hostport("[::1]:80", &h, &p), 0);
    assert_string_equal(h, "::1");
    free(h);
    assert_int_equal(str_parse_hostport("localhost", &h, &p), -EINVAL);
    assert_int_equal(str_parse_hostport("x:99999", &h, &p), -EINVAL);
}

static void test_edit_distance(void **state)
{
    assert_int_equal(str_edit_distance("engines", "engins"), 1);
    assert_int_equal(str_edit_distance("ttl", "ttl"), 0);
    assert_int_equal(str_edit_distance("", "abc"), 3);
}

static void feed(struct sse_scan *s, const char *str)
{
    sse_scan_feed(s, str, strlen(str));
}

static void test_sse_done(void **state)
{
    struct sse_scan s;
    sse_scan_init(&s);
    const char *stream = "data: {\"a\":1}\n\ndata: {\"choices\":[]}\n\ndata: [DONE]\n\n";
    /* fed one byte at a time: chunk boundaries must not matter */
    for (const char *p = stream; *p; p++)
        sse_scan_feed(&s, p, 1);
    assert_true(s.saw_done);
    assert_int_equal(s.events, 3);

    sse_scan_init(&s);
    feed(&s, "data: {\"a\":1}\r\n\r\n");
    assert_false(s.saw_done);
    feed(&s, "data:[DONE]\r\n\r\n");
    assert_true(s.saw_done);
    /* something after [DONE] means it was not the end */
    feed(&s, "data: {\"late\":1}\n\n");
    assert_false(s.saw_done);
}

static void test_sse_not_fooled(void **state)
{
    struct sse_scan s;
    sse_scan_init(&s);
    /* [DONE] inside content, a long line, and a comment are not the end */
    const char *a = "data: {\"content\":\"data: [DONE]\"}\n\n: comment [DONE]\n\n";
    sse_scan_feed(&s, a, strlen(a));
    assert_false(s.saw_done);
    char big[1000];
    memset(big, 'x', sizeof(big));
    memcpy(big, "data: [DONE]", 12);
    sse_scan_feed(&s, big, sizeof(big));
    sse_scan_feed(&s, "\n", 1);
    assert_false(s.saw_done);
    feed(&s, "data: {\"error\":{\"message\":\"x\"}}\n\n");
    assert_true(s.saw_error);
}

/* Renames in one feed and split at every pair of boundaries: the same output. */
static void check_rename(const char *in, const char *want)
{
    size_t n = strlen(in);
    for (size_t i = 0; i <= n; i++)
        for (size_t j = i; j <= n; j += (n > 200 ? 37 : 1)) {
            struct sse_rename r;
            sse_rename_init(&r, "fast");
            struct buf out = BUF_INIT;
            sse_rename_feed(&r, in, i, &out);
            sse_rename_feed(&r, in + i, j - i, &out);
            sse_rename_feed(&r, in + j, n - j, &out);
            sse_rename_flush(&r, &out);
            assert_string_equal(buf_cstr(&out), want);
            buf_release(&out);
            sse_rename_release(&r);
        }
}

static void test_sse_rename(void **state)
{
    check_rename("data: {\"id\":\"x\",\"model\":\"/models/q.gguf\",\"c\":1}\n\n",
                 "data: {\"id\":\"x\",\"model\":\"fast\",\"c\":1}\n\n");
    /* white space, escapes in the old value, several events */
    check_rename("{\"model\" : \"a\\\"b\"}\n{ \"model\":\"c\"}",
                 "{\"model\" : \"fast\"}\n{ \"model\":\"fast\"}");
    /* "model" inside a string, as a value, or not followed by a string: untouched */
    const char *same[] = {
        "{\"content\":\"the \\\"model\\\":\\\"x\\\" text\"}",
        "{\"a\":\"model\",\"b\":[\"model\"]}",
        "{\"model\":null,\"model\":{\"x\":1}}",
        "plain text with \"model\": \"nothing\"",
        "",
    };
    for (size_t i = 0; i < ARRAY_SIZE(same); i++)
        check_rename(same[i], same[i]);
    /* a value too long to hold goes through as it came */
    struct buf big = BUF_INIT;
    buf_addstr(&big, "{\"model\":\"");
    for (int i = 0; i < 3000; i++)
        buf_addch(&big, 'p');
    buf_addstr(&big, "\",\"x\":1}");
    struct sse_rename r;
    sse_rename_init(&r, "fast");
    struct buf out = BUF_INIT;
    for (size_t i = 0; i < big.len; i += 100)
        sse_rename_feed(&r, big.data + i, big.len - i < 100 ? big.len - i : 100, &out);
    sse_rename_flush(&r, &out);
    assert_int_equal(out.len, big.len);
    assert_memory_equal(out.data, big.data, big.len);
    sse_rename_release(&r);
    buf_release(&out);
    /* and in one piece too: where the reads fall changes nothing
     * (fuzz_sse found a long value renamed whole and kept when cut) */
    sse_rename_init(&r, "fast");
    sse_rename_feed(&r, big.data, big.len, &out);
    sse_rename_flush(&r, &out);
    assert_int_equal(out.len, big.len);
    assert_memory_equal(out.data, big.data, big.len);
    sse_rename_release(&r);
    buf_release(&out);
    buf_release(&big);
    /* at the limit, key and value of SSE_RENAME_HOLD bytes are renamed
     * however the reads fall; one byte more and they go as they came */
    for (int extra = 0; extra < 2; extra++) {
        struct buf in = BUF_INIT, want = BUF_INIT;
        buf_addstr(&in, "{\"model\":\"");
        while (in.len < 1 + SSE_RENAME_HOLD - 1 + (size_t)extra)
            buf_addch(&in, 'v');
        buf_addstr(&in, "\"}");
        if (extra)
            buf_addstr(&want, buf_cstr(&in));
        else
            buf_addstr(&want, "{\"model\":\"fast\"}");
        check_rename(buf_cstr(&in), buf_cstr(&want));
        buf_release(&in);
        buf_release(&want);
    }
}

static void test_url_escape(void **state)
{
    const char *in[] = {"", "plain-text_1.2~", "a b&c=d/e?f", "ಮೈಸೂರು 2026-11-20T18:30+05:30", "%+"};
    for (size_t i = 0; i < ARRAY_SIZE(in); i++) {
        struct buf b = BUF_INIT;
        str_url_escape(&b, in[i]);
        for (size_t k = 0; k < b.len; k++)
            assert_true(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%",
                               b.data[k]) != NULL);
        char *back = str_url_unescape(b.data ? b.data : "", b.len);
        assert_string_equal(back, in[i]);
        free(back);
        buf_release(&b);
    }
    char *s = str_url_unescape("a+b%20c%zz%4", 12);
    assert_string_equal(s, "a b c%zz%4"); /* a bad escape stays as it came */
    free(s);
    assert_int_equal(str_hex_digit('f'), 15);
    assert_int_equal(str_hex_digit('G'), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buf_basic),     cmocka_unit_test(test_buf_json_str),
        cmocka_unit_test(test_parse_size),    cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_hostport),      cmocka_unit_test(test_edit_distance),
        cmocka_unit_test(test_sse_done),      cmocka_unit_test(test_sse_not_fooled),
        cmocka_unit_test(test_sse_rename),    cmocka_unit_test(test_url_escape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
