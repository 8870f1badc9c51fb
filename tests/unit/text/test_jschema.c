/* Unit tests for jschema: the keyword table, error paths, code-point
 * lengths, $ref recursion, hostile schemas and the pattern translation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/xalloc.h"
#include "text/jschema.h"
#include "text/jschema_int.h"

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (!j)
        fail_msg("bad test JSON %s: %s", text, e.text);
    return j;
}

/* Validates instance text against schema text; returns rc and fills the
 * first error. A schema the check accepts must give the same through
 * jschema_validate_checked(). */
static int run(const char *schema, const char *inst, struct jschema_error *first, size_t *nerrs)
{
    json_t *s = parse(schema), *i = parse(inst);
    struct jschema_error errs[8], errs2[8];
    size_t n = 99, n2 = 99;
    int rc = jschema_validate(s, i, errs, ARRAY_SIZE(errs), &n);
    if (!jschema_check_schema(s, NULL)) {
        assert_int_equal(jschema_validate_checked(s, i, errs2, ARRAY_SIZE(errs2), &n2), rc);
        assert_int_equal(n2, n);
        for (size_t k = 0; k < n && k < ARRAY_SIZE(errs); k++) {
            assert_string_equal(errs2[k].path, errs[k].path);
            assert_string_equal(errs2[k].msg, errs[k].msg);
        }
    }
    if (first && n)
        *first = errs[0];
    if (nerrs)
        *nerrs = n;
    json_decref(s);
    json_decref(i);
    return rc;
}

/* One row: schema, instance, valid?, and for an invalid one the path of
 * the first error and a piece of its message. */
static const struct row {
    const char *schema, *inst;
    bool valid;
    const char *path, *msg;
} rows[] = {
    /* type */
    {"{\"type\":\"string\"}", "\"x\"", true, NULL, NULL},
    {"{\"type\":\"string\"}", "1", false, "", "expected string, got integer"},
    {"{\"type\":\"integer\"}", "3", true, NULL, NULL},
    {"{\"type\":\"integer\"}", "3.0", true, NULL, NULL},
    {"{\"type\":\"integer\"}", "3.5", false, "", "expected integer, got number"},
    {"{\"type\":\"number\"}", "3", true, NULL, NULL},
    {"{\"type\":\"number\"}", "\"3\"", false, "", "got string"},
    {"{\"type\":\"boolean\"}", "false", true, NULL, NULL},
    {"{\"type\":\"boolean\"}", "0", false, "", "expected boolean"},
    {"{\"type\":\"null\"}", "null", true, NULL, NULL},
    {"{\"type\":\"null\"}", "{}", false, "", "expected null, got object"},
    {"{\"type\":\"object\"}", "{}", true, NULL, NULL},
    {"{\"type\":\"array\"}", "[]", true, NULL, NULL},
    {"{\"type\":\"array\"}", "{}", false, "", "expected array"},
    {"{\"type\":[\"string\",\"null\"]}", "null", true, NULL, NULL},
    {"{\"type\":[\"string\",\"null\"]}", "\"a\"", true, NULL, NULL},
    {"{\"type\":[\"string\",\"integer\",\"null\"]}", "true", false, "",
     "expected string, integer or null, got boolean"},
    /* enum, const */
    {"{\"enum\":[\"receipt\",\"lab_report\",null,2]}", "\"receipt\"", true, NULL, NULL},
    {"{\"enum\":[\"receipt\",\"lab_report\",null,2]}", "null", true, NULL, NULL},
    {"{\"enum\":[\"receipt\",\"lab_report\",null,2]}", "2.0", true, NULL, NULL},
    {"{\"enum\":[\"receipt\",\"lab_report\"]}", "\"Receipt\"", false, "",
     "must be one of \"receipt\", \"lab_report\""},
    {"{\"enum\":[[1,{\"a\":[true]}]]}", "[1.0,{\"a\":[true]}]", true, NULL, NULL},
    {"{\"enum\":[[1,{\"a\":[true]}]]}", "[1,{\"a\":[false]}]", false, "", "must be one of [...]"},
    {"{\"const\":{\"a\":1,\"b\":2}}", "{\"b\":2,\"a\":1}", true, NULL, NULL},
    {"{\"const\":\"x\"}", "\"y\"", false, "", "must be \"x\""},
    {"{\"const\":null}", "false", false, "", "must be null"},
    /* strings: lengths in code points */
    {"{\"minLength\":2}", "\"ab\"", true, NULL, NULL},
    {"{\"minLength\":3}", "\"ab\"", false, "", "2 characters long, shorter than minLength 3"},
    {"{\"maxLength\":2}", "\"abc\"", false, "", "longer than maxLength 2"},
    {"{\"maxLength\":6}", "\"ರಾಜೇಶ್\"", true, NULL, NULL},        /* 6 code points, 18 bytes */
    {"{\"maxLength\":5}", "\"ರಾಜೇಶ್\"", false, "", "is 6 characters long"},
    {"{\"minLength\":4,\"maxLength\":4}", "\"ಮೈಸೂರು\"", false, "", "is 6 characters"},
    {"{\"maxLength\":1}", "\"😀\"", true, NULL, NULL},
    {"{\"minLength\":1}", "5", true, NULL, NULL}, /* applies to strings only */
    /* pattern */
    {"{\"pattern\":\"^[0-9]{3}-[0-9]{4}$\"}", "\"555-1234\"", true, NULL, NULL},
    {"{\"pattern\":\"^[0-9]{3}-[0-9]{4}$\"}", "\"555-12345\"", false, "",
     "does not match the pattern"},
    {"{\"pattern\":\"es\"}", "\"test\"", true, NULL, NULL}, /* unanchored search */
    {"{\"pattern\":\"^\\\\d+(\\\\.\\\\d{1,2})?$\"}", "\"12.50\"", true, NULL, NULL},
    {"{\"pattern\":\"^\\\\d+(\\\\.\\\\d{1,2})?$\"}", "\"12.5.0\"", false, "", "pattern"},
    {"{\"pattern\":\"^\\\\w+@\\\\w+\\\\.com$\"}", "\"a_b@c.com\"", true, NULL, NULL},
    {"{\"pattern\":\"^.{6}$\"}", "\"ರಾಜೇಶ್\"", true, NULL, NULL}, /* '.' is a code point */
    {"{\"pattern\":\"^[ಅ-ಹ][ಾ-ೌ]\"}", "\"ರಾಜ\"", true, NULL, NULL},
    {"{\"pattern\":\"^[ಅ-ಹ]+$\"}", "\"Raja\"", false, "", "pattern"},
    {"{\"pattern\":\"^(?:ab)+?$\"}", "\"abab\"", true, NULL, NULL},
    {"{\"pattern\":\"^[\\\\w\\\\-]+$\"}", "\"a-b_c\"", true, NULL, NULL},
    {"{\"pattern\":\"^[\\\\w\\\\-]+$\"}", "\"a b\"", false, "", "pattern"},
    {"{\"pattern\":\"(?=x)y\"}", "\"anything\"", true, NULL, NULL}, /* lookahead: unchecked */
    {"{\"pattern\":\"(a\"}", "\"b\"", true, NULL, NULL},             /* regcomp fails: unchecked */
    /* format */
    {"{\"format\":\"date\"}", "\"2024-02-29\"", true, NULL, NULL},
    {"{\"format\":\"date\"}", "\"2023-02-29\"", false, "", "is not a valid date"},
    {"{\"format\":\"date\"}", "\"2024-13-01\"", false, "", "valid date"},
    {"{\"format\":\"date\"}", "\"24-01-01\"", false, "", "valid date"},
    {"{\"format\":\"date-time\"}", "\"2024-05-01T10:30:00Z\"", true, NULL, NULL},
    {"{\"format\":\"date-time\"}", "\"2024-05-01T10:30:00.123+05:30\"", true, NULL, NULL},
    {"{\"format\":\"date-time\"}", "\"2024-05-01 10:30:00Z\"", true, NULL, NULL},
    {"{\"format\":\"date-time\"}", "\"2024-05-01T10:30:00\"", false, "", "date-time"},
    {"{\"format\":\"date-time\"}", "\"2024-05-01T25:00:00Z\"", false, "", "date-time"},
    {"{\"format\":\"time\"}", "\"23:59:60Z\"", true, NULL, NULL},
    {"{\"format\":\"email\"}", "\"rajesh@example.in\"", true, NULL, NULL},
    {"{\"format\":\"email\"}", "\"rajesh at example.in\"", false, "", "valid email"},
    {"{\"format\":\"email\"}", "\"a@b@c.in\"", false, "", "valid email"},
    {"{\"format\":\"email\"}", "\"a@localhost\"", false, "", "valid email"},
    {"{\"format\":\"uuid\"}", "\"123e4567-e89b-12d3-a456-426614174000\"", true, NULL, NULL},
    {"{\"format\":\"hostname\"}", "\"not checked at all\"", true, NULL, NULL},
    /* numbers */
    {"{\"minimum\":1}", "1", true, NULL, NULL},
    {"{\"minimum\":1}", "0.5", false, "", "0.5 is less than minimum 1"},
    {"{\"maximum\":10}", "10", true, NULL, NULL},
    {"{\"maximum\":10}", "11", false, "", "11 is greater than maximum 10"},
    {"{\"exclusiveMinimum\":0}", "0", false, "", "must be greater than 0"},
    {"{\"exclusiveMinimum\":0}", "0.001", true, NULL, NULL},
    {"{\"exclusiveMaximum\":5}", "5", false, "", "must be less than 5"},
    {"{\"minimum\":0,\"exclusiveMinimum\":true}", "0", false, "", "exclusive minimum"},
    {"{\"maximum\":9007199254740993}", "9007199254740992", true, NULL, NULL},
    {"{\"maximum\":9007199254740992}", "9007199254740993", false, "", "greater than maximum"},
    {"{\"multipleOf\":3}", "9", true, NULL, NULL},
    {"{\"multipleOf\":3}", "10", false, "", "not a multiple of 3"},
    {"{\"multipleOf\":0.01}", "12.34", true, NULL, NULL},
    {"{\"multipleOf\":0.1}", "0.3", true, NULL, NULL},
    {"{\"multipleOf\":0.5}", "1.25", false, "", "multiple of 0.5"},
    {"{\"minimum\":5}", "\"3\"", true, NULL, NULL}, /* applies to numbers only */
    /* objects */
    {"{\"properties\":{\"a\":{\"type\":\"integer\"}}}", "{\"a\":1,\"b\":2}", true, NULL, NULL},
    {"{\"properties\":{\"a\":{\"type\":\"integer\"}}}", "{\"a\":\"1\"}", false, "/a",
     "expected integer"},
    {"{\"required\":[\"a\",\"b\"]}", "{\"a\":1}", false, "", "missing required property \"b\""},
    {"{\"required\":[\"a\"]}", "[1]", true, NULL, NULL},
    {"{\"properties\":{\"a\":{}},\"additionalProperties\":false}", "{\"a\":1}", true, NULL, NULL},
    {"{\"properties\":{\"a\":{}},\"additionalProperties\":false}", "{\"a\":1,\"zz\":2}", false,
     "/zz", "property \"zz\" is not allowed"},
    {"{\"additionalProperties\":{\"type\":\"string\"}}", "{\"x\":\"1\",\"y\":2}", false, "/y",
     "expected string"},
    {"{\"patternProperties\":{\"^n_\":{\"type\":\"number\"}},\"additionalProperties\":false}",
     "{\"n_a\":1,\"n_b\":2.5}", true, NULL, NULL},
    {"{\"patternProperties\":{\"^n_\":{\"type\":\"number\"}},\"additionalProperties\":false}",
     "{\"n_a\":\"x\"}", false, "/n_a", "expected number"},
    {"{\"patternProperties\":{\"^n_\":{}},\"additionalProperties\":false}", "{\"m\":1}", false,
     "/m", "not allowed"},
    {"{\"minProperties\":1}", "{}", false, "", "fewer than minProperties 1"},
    {"{\"maxProperties\":1}", "{\"a\":1,\"b\":2}", false, "", "more than maxProperties 1"},
    {"{\"properties\":{\"a/b\":{\"type\":\"string\"},\"c~d\":{\"type\":\"string\"}}}",
     "{\"a/b\":1}", false, "/a~1b", "expected string"},
    {"{\"properties\":{\"c~d\":{\"type\":\"string\"}}}", "{\"c~d\":1}", false, "/c~0d",
     "expected string"},
    /* arrays */
    {"{\"items\":{\"type\":\"integer\"}}", "[1,2,3]", true, NULL, NULL},
    {"{\"items\":{\"type\":\"integer\"}}", "[1,2,\"3\"]", false, "/2", "expected integer"},
    {"{\"prefixItems\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}", "[\"a\",1,null]", true,
     NULL, NULL},
    {"{\"prefixItems\":[{\"type\":\"string\"}],\"items\":false}", "[\"a\",1]", false, "/1",
     "no value is allowed"},
    {"{\"prefixItems\":[{\"type\":\"string\"}],\"items\":{\"type\":\"integer\"}}", "[\"a\",1,2]",
     true, NULL, NULL},
    {"{\"items\":[{\"type\":\"string\"}],\"additionalItems\":false}", "[\"a\",2]", false, "/1",
     "no value"},
    {"{\"minItems\":2}", "[1]", false, "", "has 1 items, fewer than minItems 2"},
    {"{\"maxItems\":1}", "[1,2]", false, "", "more than maxItems 1"},
    {"{\"uniqueItems\":true}", "[1,2,3]", true, NULL, NULL},
    {"{\"uniqueItems\":true}", "[1,2,1.0]", false, "", "items 0 and 2 are equal"},
    {"{\"uniqueItems\":true}", "[{\"a\":1,\"b\":2},{\"b\":2,\"a\":1}]", false, "", "equal"},
    {"{\"uniqueItems\":false}", "[1,1]", true, NULL, NULL},
    /* combinators */
    {"{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}", "5", true, NULL, NULL},
    {"{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}", "true", false, "",
     "matches none of the 2 anyOf alternatives"},
    /* one alternative fits the type: its own error is reported */
    {"{\"anyOf\":[{\"type\":\"object\",\"required\":[\"a\"]},{\"type\":\"null\"}]}", "{}", false,
     "", "missing required property \"a\""},
    {"{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":2}]}", "1", true, NULL, NULL},
    {"{\"oneOf\":[{\"type\":\"integer\"},{\"minimum\":2}]}", "3", false, "",
     "matches more than one of the 2 oneOf"},
    {"{\"oneOf\":[{\"type\":\"integer\"},{\"type\":\"string\"}]}", "[]", false, "",
     "none of the 2 oneOf"},
    {"{\"allOf\":[{\"type\":\"integer\"},{\"minimum\":2}]}", "3", true, NULL, NULL},
    {"{\"allOf\":[{\"type\":\"integer\"},{\"minimum\":2}]}", "1", false, "", "less than minimum"},
    {"{\"not\":{\"type\":\"null\"}}", "1", true, NULL, NULL},
    {"{\"not\":{\"type\":\"null\"}}", "null", false, "", "must not match"},
    {"{\"if\":{\"properties\":{\"kind\":{\"const\":\"receipt\"}}},"
     "\"then\":{\"required\":[\"total\"]},\"else\":{\"required\":[\"text\"]}}",
     "{\"kind\":\"receipt\",\"total\":5}", true, NULL, NULL},
    {"{\"if\":{\"properties\":{\"kind\":{\"const\":\"receipt\"}}},"
     "\"then\":{\"required\":[\"total\"]},\"else\":{\"required\":[\"text\"]}}",
     "{\"kind\":\"receipt\"}", false, "", "missing required property \"total\""},
    {"{\"if\":{\"properties\":{\"kind\":{\"const\":\"receipt\"}}},"
     "\"then\":{\"required\":[\"total\"]},\"else\":{\"required\":[\"text\"]}}",
     "{\"kind\":\"note\"}", false, "", "\"text\""},
    /* $ref */
    {"{\"$defs\":{\"p\":{\"type\":\"integer\",\"minimum\":0}},\"items\":{\"$ref\":\"#/$defs/p\"}}",
     "[1,2]", true, NULL, NULL},
    {"{\"$defs\":{\"p\":{\"type\":\"integer\",\"minimum\":0}},\"items\":{\"$ref\":\"#/$defs/p\"}}",
     "[1,-2]", false, "/1", "less than minimum 0"},
    {"{\"definitions\":{\"s\":{\"type\":\"string\"}},\"properties\":{\"a\":{\"$ref\":"
     "\"#/definitions/s\"}}}",
     "{\"a\":3}", false, "/a", "expected string"},
    {"{\"$defs\":{\"a b\":{\"type\":\"string\"}},\"$ref\":\"#/$defs/a%20b\"}", "1", false, "",
     "expected string"},
    {"{\"$defs\":{\"x\":{\"type\":\"string\"}},\"$ref\":\"#/$defs/x\",\"maxLength\":2}", "\"abc\"",
     false, "", "maxLength"},
    /* boolean schemas, nullable, unknown keywords */
    {"true", "{\"anything\":[1]}", true, NULL, NULL},
    {"false", "1", false, "", "no value is allowed here"},
    {"{\"type\":\"string\",\"nullable\":true}", "null", true, NULL, NULL},
    {"{\"type\":\"string\",\"nullable\":false}", "null", false, "", "expected string"},
    {"{\"type\":\"string\",\"x-unknown\":{\"type\":5},\"description\":\"d\"}", "\"s\"", true,
     NULL, NULL},
    {"{}", "[1,{\"a\":null}]", true, NULL, NULL},
};

static void test_keyword_table(void **state)
{
    for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
        const struct row *r = &rows[i];
        struct jschema_error e = {"?", "?"};
        size_t n;
        int rc = run(r->schema, r->inst, &e, &n);
        if (r->valid) {
            if (rc != 0)
                fail_msg("row %zu: %s / %s: rc %d, %s: %s", i, r->schema, r->inst, rc, e.path,
                         e.msg);
            assert_int_equal(n, 0);
            continue;
        }
        if (rc != -EINVAL)
            fail_msg("row %zu: %s / %s: rc %d, expected -EINVAL", i, r->schema, r->inst, rc);
        assert_true(n >= 1);
        if (strcmp(e.path, r->path) || !strstr(e.msg, r->msg))
            fail_msg("row %zu: %s / %s: got \"%s\": %s; expected \"%s\": ...%s...", i, r->schema,
                     r->inst, e.path, e.msg, r->path, r->msg);
    }
}

/* A receipt schema like the vision pipeline's, strict-mode style. */
static const char receipt_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"kind\",\"merchant\",\"date\",\"items\",\"total\"],"
    "\"properties\":{"
    "\"kind\":{\"type\":\"string\",\"enum\":[\"receipt\",\"lab_report\",\"other\"]},"
    "\"merchant\":{\"type\":\"string\",\"minLength\":1},"
    "\"date\":{\"type\":[\"string\",\"null\"],\"format\":\"date\"},"
    "\"items\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/item\"}},"
    "\"total\":{\"type\":\"number\",\"minimum\":0}},"
    "\"$defs\":{\"item\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"name\",\"price\"],"
    "\"properties\":{\"name\":{\"type\":\"string\"},\"price\":{\"type\":\"number\"}}}}}";

static void test_error_paths(void **state)
{
    json_t *s = parse(receipt_schema);
    json_t *ok = parse("{\"kind\":\"receipt\",\"merchant\":\"ಮೈಸೂರು ಕೆಫೆ\",\"date\":\"2024-05-01\","
                       "\"items\":[{\"name\":\"ದೋಸೆ\",\"price\":60}],\"total\":60}");
    json_t *bad = parse("{\"kind\":\"bill\",\"merchant\":\"\",\"date\":\"May 1\","
                        "\"items\":[{\"name\":\"a\",\"price\":1},{\"name\":\"b\",\"price\":2},"
                        "{\"name\":\"c\",\"price\":\"3.00\"}],\"total\":-1,\"tip\":0}");
    struct jschema_error errs[10];
    size_t n;

    assert_int_equal(jschema_validate(s, ok, errs, 10, &n), 0);
    assert_int_equal(n, 0);

    assert_int_equal(jschema_validate(s, bad, errs, 10, &n), -EINVAL);
    assert_int_equal(n, 6);
    /* document order: the object's members in instance order */
    assert_string_equal(errs[0].path, "/kind");
    assert_non_null(strstr(errs[0].msg, "must be one of \"receipt\", \"lab_report\", \"other\""));
    assert_string_equal(errs[1].path, "/merchant");
    assert_string_equal(errs[2].path, "/date");
    assert_string_equal(errs[2].msg, "is not a valid date");
    assert_string_equal(errs[3].path, "/items/2/price");
    assert_string_equal(errs[3].msg, "expected number, got string");
    assert_string_equal(errs[4].path, "/total");
    assert_string_equal(errs[5].path, "/tip");

    /* fewer slots than errors: the count is still complete */
    assert_int_equal(jschema_validate(s, bad, errs, 2, &n), -EINVAL);
    assert_int_equal(n, 6);
    assert_string_equal(errs[1].path, "/merchant");
    /* no slots at all */
    assert_int_equal(jschema_validate(s, bad, NULL, 0, &n), -EINVAL);
    assert_int_equal(n, 6);

    json_decref(bad);
    json_decref(ok);
    json_decref(s);
}

static void test_long_paths_and_messages(void **state)
{
    /* A key longer than the path field: the path ends in "/..." and the
     * message is cut on a character boundary. */
    struct buf key = BUF_INIT, doc = BUF_INIT;
    struct jschema_error e;
    size_t n;
    for (int i = 0; i < 120; i++)
        buf_addstr(&key, "ಕ");
    buf_addf(&doc, "{\"%s\":{\"%s\":1}}", buf_cstr(&key), buf_cstr(&key));
    json_t *inst = parse(buf_cstr(&doc));
    json_t *s = parse("{\"additionalProperties\":{\"additionalProperties\":false}}");
    assert_int_equal(jschema_validate(s, inst, &e, 1, &n), -EINVAL);
    assert_int_equal(n, 1);
    assert_string_equal(e.path, "/...");
    assert_true(strlen(e.msg) < sizeof(e.msg));
    assert_non_null(strstr(e.msg, "...\" is not allowed"));
    json_decref(s);
    json_decref(inst);
    buf_release(&doc);
    buf_release(&key);
}

static void test_ref_recursion(void **state)
{
    /* A tree of arbitrary depth through a recursive $ref. */
    json_t *s = parse("{\"$ref\":\"#/$defs/node\",\"$defs\":{\"node\":{\"type\":\"object\","
                      "\"required\":[\"name\"],\"properties\":{\"name\":{\"type\":\"string\"},"
                      "\"children\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/node\"}}}}}}");
    json_t *good = parse("{\"name\":\"a\",\"children\":[{\"name\":\"b\",\"children\":[{\"name\":"
                         "\"c\"}]},{\"name\":\"d\",\"children\":[]}]}");
    json_t *bad = parse("{\"name\":\"a\",\"children\":[{\"name\":\"b\",\"children\":[{\"nom\":"
                        "\"c\"}]}]}");
    struct jschema_error e;
    size_t n;
    assert_int_equal(jschema_validate(s, good, &e, 1, &n), 0);
    assert_int_equal(jschema_validate(s, bad, &e, 1, &n), -EINVAL);
    assert_string_equal(e.path, "/children/0/children/0");
    assert_string_equal(e.msg, "missing required property \"name\"");
    json_decref(bad);
    json_decref(good);
    json_decref(s);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void expect_eloop(const json_t *s, const json_t *inst)
{
    struct jschema_error e;
    size_t n = 0;
    double t0 = now_s();
    assert_int_equal(jschema_validate(s, inst, &e, 1, &n), -ELOOP);
    assert_int_equal(n, 1);
    assert_true(e.msg[0] != '\0');
    /* "quickly": a generous bound that still catches exponential work */
    assert_true(now_s() - t0 < 2.0);
}

static void test_hostile_deep_schema(void **state)
{
    /* {"properties":{"a":{"properties":{"a":...}}}} 10,000 levels deep. */
    json_t *s = json_object(), *cur = s, *inst = json_object();
    struct buf err = BUF_INIT;
    for (int i = 0; i < 10000; i++) {
        json_t *props = json_object(), *next = json_object();
        json_object_set_new(props, "a", next);
        json_object_set_new(cur, "properties", props);
        cur = next;
    }
    expect_eloop(s, inst);
    assert_int_equal(jschema_check_schema(s, &err), -ELOOP);
    assert_non_null(strstr(buf_cstr(&err), "nested deeper than"));
    buf_release(&err);
    json_decref(inst);
    json_decref(s);

    /* allOf nesting: the same through a list */
    s = json_object();
    cur = s;
    for (int i = 0; i < 10000; i++) {
        json_t *next = json_object();
        json_object_set_new(cur, "allOf", json_pack("[o]", next));
        cur = next;
    }
    inst = json_integer(1);
    expect_eloop(s, inst);
    json_decref(inst);
    json_decref(s);
}

static void test_hostile_refs(void **state)
{
    static const char *const loops[] = {
        "{\"$ref\":\"#\"}",
        "{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},\"b\":{\"$ref\":\"#/$defs/a\"}},"
        "\"$ref\":\"#/$defs/a\"}",
        "{\"type\":\"object\",\"allOf\":[{\"$ref\":\"#\"}]}",
        /* 2^depth alternatives: only the step bound stops it */
        "{\"anyOf\":[{\"$ref\":\"#\"},{\"$ref\":\"#\"}]}",
        "{\"not\":{\"anyOf\":[{\"not\":{\"$ref\":\"#\"}},{\"$ref\":\"#\"}]}}",
        "{\"oneOf\":[{\"$ref\":\"#\"},{\"$ref\":\"#\"},{\"$ref\":\"#\"}]}",
    };
    struct buf err = BUF_INIT;
    for (size_t i = 0; i < ARRAY_SIZE(loops); i++) {
        json_t *s = parse(loops[i]), *inst = parse("{\"a\":[1,2,3]}");
        /* the schema itself is well formed */
        assert_int_equal(jschema_check_schema(s, &err), 0);
        expect_eloop(s, inst);
        json_decref(inst);
        json_decref(s);
    }
    buf_release(&err);

    /* Exponential without depth: d20 = anyOf[d19, d19], ... d0 = null,
     * against a number: 2^20 leaves, far beyond the step bound. */
    struct buf b = BUF_INIT;
    buf_addstr(&b, "{\"$ref\":\"#/$defs/d20\",\"$defs\":{\"d0\":{\"type\":\"null\"}");
    for (int i = 1; i <= 20; i++)
        buf_addf(&b, ",\"d%d\":{\"anyOf\":[{\"$ref\":\"#/$defs/d%d\"},{\"$ref\":\"#/$defs/d%d\"}]}",
                 i, i - 1, i - 1);
    buf_addstr(&b, "}}");
    json_t *s = parse(buf_cstr(&b)), *inst = json_integer(7);
    struct jschema_error e;
    size_t n;
    assert_int_equal(jschema_validate(s, inst, &e, 1, &n), -ELOOP);
    assert_non_null(strstr(e.msg, "steps"));
    expect_eloop(s, inst);
    json_decref(inst);
    json_decref(s);
    buf_release(&b);
}

static void test_hostile_deep_instance(void **state)
{
    /* A recursive schema meets a 10,000-deep instance. */
    json_t *s = parse("{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}");
    json_t *inst = json_array(), *cur = inst;
    for (int i = 0; i < 10000; i++) {
        json_t *next = json_array();
        json_array_append_new(cur, next);
        cur = next;
    }
    expect_eloop(s, inst);
    json_decref(s);

    /* ... and a deep value compared by enum */
    s = json_pack("{s:[O]}", "enum", inst);
    expect_eloop(s, inst);
    json_decref(s);
    json_decref(inst);
}

static void test_hostile_work(void **state)
{
    /* uniqueItems over many distinct items is quadratic: bounded by steps. */
    json_t *s = parse("{\"uniqueItems\":true}"), *inst = json_array();
    for (int i = 0; i < 20000; i++)
        json_array_append_new(inst, json_integer(i));
    expect_eloop(s, inst);
    json_decref(s);
    /* the same array without uniqueItems is fine */
    s = parse("{\"items\":{\"type\":\"integer\",\"minimum\":0}}");
    struct jschema_error e;
    size_t n;
    assert_int_equal(jschema_validate(s, inst, &e, 1, &n), 0);
    json_decref(s);
    json_decref(inst);

    /* many patterns: more than the cache holds still works */
    struct buf b = BUF_INIT;
    buf_addstr(&b, "{\"properties\":{");
    for (int i = 0; i < 40; i++)
        buf_addf(&b, "%s\"p%d\":{\"pattern\":\"^v%d$\"}", i ? "," : "", i, i);
    buf_addstr(&b, "}}");
    s = parse(buf_cstr(&b));
    buf_reset(&b);
    buf_addch(&b, '{');
    for (int i = 0; i < 40; i++)
        buf_addf(&b, "%s\"p%d\":\"v%d\"", i ? "," : "", i, i == 39 ? 0 : i);
    buf_addch(&b, '}');
    inst = parse(buf_cstr(&b));
    assert_int_equal(jschema_validate(s, inst, &e, 1, &n), -EINVAL);
    assert_int_equal(n, 1);
    assert_string_equal(e.path, "/p39");
    json_decref(inst);
    json_decref(s);
    buf_release(&b);
}

static void test_check_schema(void **state)
{
    static const struct {
        const char *schema, *msg; /* msg NULL: accepted */
    } cases[] = {
        {"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}}}", NULL},
        {"true", NULL},
        {"{\"x-vendor\":{\"type\":42},\"title\":\"t\"}", NULL},
        {"[]", "#: a schema must be an object or a boolean, not array"},
        {"{\"type\":\"text\"}", "#/type: unknown type \"text\""},
        {"{\"type\":[]}", "#/type: must be a type name"},
        {"{\"type\":[\"string\",5]}", "#/type: must be a type name"},
        {"{\"properties\":{\"a\":{\"type\":\"strin\"}}}", "#/properties/a/type: unknown type"},
        {"{\"properties\":[]}", "#/properties: must be an object"},
        {"{\"required\":\"a\"}", "#/required: must be an array of strings"},
        {"{\"required\":[\"a\",1]}", "#/required: must be an array of strings"},
        {"{\"minLength\":-1}", "#/minLength: must be a non-negative integer"},
        {"{\"maxItems\":1.5}", "#/maxItems: must be a non-negative integer"},
        {"{\"maxItems\":2.0}", NULL},
        {"{\"multipleOf\":0}", "#/multipleOf: must be a number greater than 0"},
        {"{\"minimum\":\"1\"}", "#/minimum: must be a number"},
        {"{\"exclusiveMinimum\":true}", NULL},
        {"{\"enum\":\"a\"}", "#/enum: must be an array"},
        {"{\"anyOf\":[]}", "#/anyOf: must be a non-empty array of schemas"},
        {"{\"anyOf\":[{\"type\":\"string\"},7]}", "#/anyOf/1: a schema must be"},
        {"{\"items\":[{\"type\":\"string\"},\"x\"]}", "#/items/1: a schema must be"},
        {"{\"additionalProperties\":\"no\"}", "#/additionalProperties: a schema must be"},
        {"{\"pattern\":7}", "#/pattern: must be a string"},
        {"{\"uniqueItems\":1}", "#/uniqueItems: must be true or false"},
        {"{\"$ref\":\"#/$defs/missing\"}", "#/$ref: cannot resolve \"#/$defs/missing\""},
        {"{\"$ref\":\"other.json#/a\"}", "only local references"},
        {"{\"$ref\":\"#anchor\"}", "anchors"},
        {"{\"$defs\":{\"a\":5},\"$ref\":\"#/$defs/a\"}", "#/$defs/a: a schema must be"},
        {"{\"$defs\":{\"a\":{}},\"properties\":{\"x/y\":{\"$ref\":\"#/$defs/b\"}}}",
         "#/properties/x~1y/$ref: cannot resolve"},
        {"{\"$defs\":{\"a\":[{}]},\"$ref\":\"#/$defs/a/0\"}", "#/$defs/a: a schema must be"},
        {"{\"prefixItems\":[{}],\"$ref\":\"#/prefixItems/0\"}", NULL},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        json_t *s = parse(cases[i].schema), *inst = json_integer(1);
        struct buf err = BUF_INIT;
        struct jschema_error e;
        size_t n;
        int rc = jschema_check_schema(s, &err);
        if (!cases[i].msg) {
            if (rc)
                fail_msg("case %zu (%s): %s", i, cases[i].schema, buf_cstr(&err));
        } else {
            assert_int_equal(rc, -EINVAL);
            if (!strstr(buf_cstr(&err), cases[i].msg))
                fail_msg("case %zu: got \"%s\", expected \"%s\"", i, buf_cstr(&err),
                         cases[i].msg);
            /* validate refuses the same schema */
            assert_int_equal(jschema_validate(s, inst, &e, 1, &n), -ENOTSUP);
            assert_int_equal(n, 1);
            assert_non_null(strstr(e.msg, cases[i].msg));
        }
        buf_release(&err);
        json_decref(inst);
        json_decref(s);
    }
    /* err may be NULL */
    json_t *s = parse("{\"type\":1}");
    assert_int_equal(jschema_check_schema(s, NULL), -EINVAL);
    json_decref(s);
}

static void test_pattern_translation(void **state)
{
    static const struct {
        const char *ecma, *posix; /* posix NULL: refused */
    } cases[] = {
        {"^\\d{3}$", "^[0-9]{3}$"},
        {"\\D\\W\\S", "[^0-9][^A-Za-z0-9_][^[:space:]]"},
        {"[\\d\\s]", "[0-9[:space:]]"},
        {"[a\\-z]", "[az-]"},
        {"[\\]a]", "[]a]"},
        {"[^\\]]", "[^]]"},
        {"[\\^]", "\\^"},
        {"[\\^\\-]", "[-^]"},
        {"[\\[x]", "[x[]"},
        {"a\\.b\\/c", "a\\.b/c"},
        {"\\u0041\\x42\\u002e", "AB\\."},
        {"(?:a|b)+?c*?", "(a|b)+c*"},
        {"a{2,}?", "a{2,}"},
        {"a{,3}", "a\\{,3\\}"},
        {"{x}", "\\{x\\}"},
        {"[ಅ-ಆ]", "[ಅಆ]"},
        {"\\t\\n", "\t\n"},
        {"(?=a)", NULL},
        {"(?<n>a)", NULL},
        {"\\bword\\b", NULL},
        {"(a)\\1", NULL},
        {"\\p{L}", NULL},
        {"[\\D]", NULL},
        {"[]", NULL},
        {"[a-", NULL},
        {"a\\", NULL},
        {"[z-a]", NULL},
        {"[\\u0000-\\uffff]", NULL},
        {"(a", NULL},
        {"a)", NULL},
        {"(:a)", "(:a)"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct buf out = BUF_INIT;
        size_t weight;
        int rc = jschema__re_translate(cases[i].ecma, strlen(cases[i].ecma), &out, &weight);
        if (!cases[i].posix) {
            if (rc != -ENOTSUP)
                fail_msg("case %zu (%s): accepted as %s", i, cases[i].ecma, buf_cstr(&out));
        } else if (rc || strcmp(buf_cstr(&out), cases[i].posix)) {
            fail_msg("case %zu (%s): rc %d, \"%s\", expected \"%s\"", i, cases[i].ecma, rc,
                     buf_cstr(&out), cases[i].posix);
        }
        buf_release(&out);
    }
}

static void test_pattern_weight(void **state)
{
    static const struct {
        const char *ecma;
        size_t weight;
    } cases[] = {
        {"abc", 3},
        {"^a+$", 4},           /* ^ a a* $ */
        {"a{3}", 3},
        {"a{2,5}", 5},
        {"a{2,}", 3},
        {"(ab){10}", 20},
        {"(a{1,10}){1,10}", 100},
        {"a|bc", 3},
        {"(?:x|y)*z", 3},
        {"a{1,30000}", 30000},
        {"(((a{1,1000}){1,1000}){1,1000}){9}", (size_t)1 << 30}, /* saturates */
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct buf out = BUF_INIT;
        size_t weight = 0;
        assert_int_equal(jschema__re_translate(cases[i].ecma, strlen(cases[i].ecma), &out,
                                               &weight), 0);
        if (weight != cases[i].weight)
            fail_msg("%s weighs %zu, expected %zu", cases[i].ecma, weight, cases[i].weight);
        buf_release(&out);
    }
}

/* Patterns that make glibc slow: seconds of regcomp for a{1,30000},
 * seconds of regexec for unanchored nested repetition on long strings.
 * Each must come back quickly, checked or not. */
static void test_hostile_patterns(void **state)
{
    static const char *const pats[] = {
        "a{1,30000}", "(a|b|ab)*c", "((a+)+)+b", ".{1,1000}x", "(.{1,30}){1,30}x",
        "(a{1,100}){1,100}",
    };
    char *big = xmalloc(60001);
    memset(big, 'a', 60000);
    big[60000] = '\0';
    json_t *inst = json_pack("[s,s,s,s]", big, big, big, big);
    for (size_t i = 0; i < ARRAY_SIZE(pats); i++) {
        json_t *s = json_pack("{s:{s:s}}", "items", "pattern", pats[i]);
        struct jschema_error e;
        size_t n;
        double t0 = now_s();
        int rc = jschema_validate(s, inst, &e, 1, &n);
        double dt = now_s() - t0;
        if (dt > 0.5)
            fail_msg("%s took %.3f s", pats[i], dt);
        /* the ones that ran found no match; none gave up the whole call */
        assert_true(rc == 0 || rc == -EINVAL);
        json_decref(s);
    }
    json_decref(inst);
    free(big);

    /* a short string is still checked against a nested repetition */
    struct jschema_error e;
    assert_int_equal(run("{\"pattern\":\"^(a|b|ab)*c$\"}", "\"ababc\"", &e, NULL), 0);
    assert_int_equal(run("{\"pattern\":\"(a|b|ab)*c\"}", "\"abab\"", &e, NULL), -EINVAL);
    assert_int_equal(run("{\"pattern\":\"\"}", "\"x\"", &e, NULL), 0);
}

static void test_formats(void **state)
{
    assert_int_equal(jschema__format_check("date", "2000-02-29", 10), 1);
    assert_int_equal(jschema__format_check("date", "1900-02-29", 10), 0);
    assert_int_equal(jschema__format_check("date", "2024-04-31", 10), 0);
    assert_int_equal(jschema__format_check("date", "2024-4-3", 8), 0);
    assert_int_equal(jschema__format_check("time", "10:00:00.5-08:00", 16), 1);
    assert_int_equal(jschema__format_check("time", "10:00:00.-08:00", 15), 0);
    assert_int_equal(jschema__format_check("time", "10:00:00+5:30", 13), 0);
    assert_int_equal(jschema__format_check("date-time", "2024-01-01t00:00:00z", 20), 1);
    assert_int_equal(jschema__format_check("email", "a.b+c@mail.example.com", 22), 1);
    assert_int_equal(jschema__format_check("email", "a.@b.com", 8), 0);
    assert_int_equal(jschema__format_check("email", "a b@c.com", 9), 0);
    assert_int_equal(jschema__format_check("uuid", "123e4567-e89b-12d3-a456-42661417400g", 36),
                     0);
    assert_int_equal(jschema__format_check("ipv4", "1.2.3.4", 7), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyword_table),
        cmocka_unit_test(test_error_paths),
        cmocka_unit_test(test_long_paths_and_messages),
        cmocka_unit_test(test_ref_recursion),
        cmocka_unit_test(test_hostile_deep_schema),
        cmocka_unit_test(test_hostile_refs),
        cmocka_unit_test(test_hostile_deep_instance),
        cmocka_unit_test(test_hostile_work),
        cmocka_unit_test(test_check_schema),
        cmocka_unit_test(test_pattern_translation),
        cmocka_unit_test(test_pattern_weight),
        cmocka_unit_test(test_hostile_patterns),
        cmocka_unit_test(test_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
