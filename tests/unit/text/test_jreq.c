/* Unit tests for jreq: the relay's quick look at a request body (yajl),
 * and where it leaves the body to jansson. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "text/jreq.h"

static void scan_ok(const char *body, struct jreq *q)
{
    int rc = jreq_scan(body, strlen(body), q);
    if (rc)
        print_error("refused: %s\n", body);
    assert_int_equal(rc, 0);
}

static void scan_refused(const char *body)
{
    struct jreq q;
    int rc = jreq_scan(body, strlen(body), &q);
    if (!rc)
        print_error("taken: %s\n", body);
    assert_int_equal(rc, -1);
}

static void test_chat_request(void **state)
{
    const char *b = "{\"model\":\"qwen-kn\",\"messages\":[{\"role\":\"user\",\"content\":"
                    "\"\xe0\xb2\xa8\xe0\xb2\xae\xe0\xb2\xb8\xe0\xb3\x8d\xe0\xb2\x95\xe0\xb2\xbe\xe0\xb2\xb0\"}],"
                    "\"stream\":true,\"max_tokens\":8}";
    struct jreq q;
    scan_ok(b, &q);
    assert_int_equal(q.model_kind, JREQ_STRING);
    assert_string_equal(q.model, "qwen-kn");
    assert_int_equal(q.stream_kind, JREQ_TRUE);
    assert_false(q.has_hermod);
    /* the span is the value's token, quotes included */
    assert_int_equal(q.model_end - q.model_off, strlen("\"qwen-kn\""));
    assert_memory_equal(b + q.model_off, "\"qwen-kn\"", q.model_end - q.model_off);
    jreq_release(&q);
}

static void test_span_with_space_and_escapes(void **state)
{
    const char *b = "{ \"stream\" : null ,\n \"model\"\t:  \"a\\\"b\\\\c\\u00e9\" , \"hermod\": {} }";
    struct jreq q;
    scan_ok(b, &q);
    assert_string_equal(q.model, "a\"b\\c\xc3\xa9");
    assert_int_equal(q.stream_kind, JREQ_NULL);
    assert_true(q.has_hermod);
    assert_memory_equal(b + q.model_off, "\"a\\\"b\\\\c\\u00e9\"", q.model_end - q.model_off);
    jreq_release(&q);
}

static void test_kinds_and_repeats(void **state)
{
    struct jreq q;
    /* jansson keeps the last of a repeated key: so does the scan */
    scan_ok("{\"model\":\"a\",\"x\":{\"model\":\"deep\"},\"model\":\"b\",\"stream\":\"yes\"}", &q);
    assert_string_equal(q.model, "b");
    assert_int_equal(q.stream_kind, JREQ_STRING);
    jreq_release(&q);
    scan_ok("{\"model\":7,\"stream\":false}", &q);
    assert_int_equal(q.model_kind, JREQ_OTHER);
    assert_null(q.model);
    assert_int_equal(q.stream_kind, JREQ_FALSE);
    jreq_release(&q);
    scan_ok("{\"messages\":[]}", &q);
    assert_int_equal(q.model_kind, JREQ_ABSENT);
    assert_int_equal(q.stream_kind, JREQ_ABSENT);
    jreq_release(&q);
}

/* Not JSON, not an object, or what only jansson may decide. */
static void test_left_to_jansson(void **state)
{
    scan_refused("");
    scan_refused("   ");
    scan_refused("[1,2]");
    scan_refused("\"model\"");
    scan_refused("{\"model\":\"a\"");
    scan_refused("{\"model\":\"a\"} x");
    scan_refused("{}\"");
    scan_refused("{\"model\":\"a\"}{}");
    scan_refused("{\"model\":\"a\",}");
    scan_refused("{\"model\":'a'}");
    scan_refused("{\"model\":\"a\" /* c */}");
    scan_refused("{\"model\":\"\\u0000\"}");          /* NUL in a string */
    scan_refused("{\"model\":\"\\ud83d\\ude00\"}");   /* surrogate escapes */
    scan_refused("{\"n\":1e5,\"model\":\"a\"}");       /* exponent */
    scan_refused("{\"n\":12345678901234567890}");      /* over 18 characters */
    scan_refused("{\"model\":\"a\"}\f");               /* form feed: not JSON space */
    scan_refused("{\"model\":\"\xe0\x93\xa8\"}");      /* overlong UTF-8 */
    scan_refused("{\"model\":\"\xed\xa0\x80\"}");      /* surrogate in UTF-8 */
    scan_refused("{\"model\":\"a\tb\"}");              /* control character */
    char deep[2100];
    size_t n = 0;
    deep[n++] = '{';
    deep[n++] = '"';
    deep[n++] = 'a';
    deep[n++] = '"';
    deep[n++] = ':';
    for (int i = 0; i < 600; i++)
        deep[n++] = '[';
    for (int i = 0; i < 600; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    deep[n] = '\0';
    scan_refused(deep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chat_request),
        cmocka_unit_test(test_span_with_space_and_escapes),
        cmocka_unit_test(test_kinds_and_repeats),
        cmocka_unit_test(test_left_to_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
