/* Unit tests for answer: verdicts on vision and lab-report answers, JSON
 * found in fences and prose, truncation, emptiness, Kannada name coverage
 * in both scripts, and the score order. answer_ent.c is included to reach
 * its word lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "route/answer.h"
#include "route/answer_ent.c"

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    if (!j)
        fail_msg("bad test JSON %s: %s", text, e.text);
    return j;
}

/* The vision pipeline's kind of schema, as a json_schema response_format. */
static const char vision_format[] =
    "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"image\",\"strict\":true,\"schema\":"
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"kind\",\"objects\",\"text\",\"scene\",\"actions\",\"people_count\"],"
    "\"properties\":{"
    "\"kind\":{\"type\":\"string\",\"enum\":[\"photo\",\"receipt\",\"lab_report\",\"document\","
    "\"screenshot\",\"other\"]},"
    "\"objects\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"text\":{\"type\":\"string\"},"
    "\"scene\":{\"type\":\"string\"},"
    "\"actions\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"people_count\":{\"type\":\"integer\",\"minimum\":0}}}}}";

static const char lab_format[] =
    "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"lab\",\"schema\":"
    "{\"$ref\":\"#/$defs/report\",\"$defs\":{"
    "\"report\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"patient\",\"lab\",\"date\",\"tests\"],\"properties\":{"
    "\"patient\":{\"type\":\"string\"},\"lab\":{\"type\":\"string\"},"
    "\"date\":{\"type\":[\"string\",\"null\"],\"format\":\"date\"},"
    "\"tests\":{\"type\":\"array\",\"minItems\":1,\"items\":{\"$ref\":\"#/$defs/test\"}}}},"
    "\"test\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"required\":[\"name\",\"value\",\"unit\",\"flag\"],\"properties\":{"
    "\"name\":{\"type\":\"string\"},\"value\":{\"type\":\"number\"},"
    "\"unit\":{\"type\":[\"string\",\"null\"]},"
    "\"flag\":{\"anyOf\":[{\"type\":\"string\",\"enum\":[\"low\",\"normal\",\"high\"]},"
    "{\"type\":\"null\"}]}}}}}}}";

static struct answer_spec *spec_of(const char *format, const char *input, double cov)
{
    json_t *rf = format ? parse(format) : NULL;
    struct answer_spec *s = NULL;
    struct buf err = BUF_INIT;
    int rc = answer_spec_new(rf, input, input ? strlen(input) : 0, cov, &s, &err);
    if (rc)
        fail_msg("spec: %s", buf_cstr(&err));
    buf_release(&err);
    json_decref(rf);
    return s;
}

static void judge(const struct answer_spec *s, const char *text, const char *finish,
                  struct answer_verdict *v)
{
    answer_judge(s, text, strlen(text), finish, v);
}

static bool has_problem(const struct answer_verdict *v, enum answer_problem_kind k,
                        const char *reason_part)
{
    for (size_t i = 0; i < v->nproblems; i++)
        if (v->problems[i].kind == k &&
            (!reason_part || strstr(v->problems[i].reason, reason_part)))
            return true;
    return false;
}

static void dump(const struct answer_verdict *v)
{
    struct buf b = BUF_INIT;
    answer_verdict_describe(v, &b);
    print_message("verdict: %s\n", buf_cstr(&b));
    buf_release(&b);
}

static void test_spec_errors(void **state)
{
    static const struct {
        const char *rf, *msg;
    } bad[] = {
        {"[]", "response_format: must be an object"},
        {"{\"type\":1}", "\"type\" must be a string"},
        {"{\"type\":\"xml\"}", "unsupported type \"xml\""},
        {"{\"type\":\"json_schema\"}", "\"json_schema\" must be an object"},
        {"{\"type\":\"json_schema\",\"json_schema\":{\"name\":5,\"schema\":{}}}",
         "json_schema.name must be a string"},
        {"{\"type\":\"json_schema\",\"json_schema\":{\"schema\":{\"type\":\"strnig\"}}}",
         "invalid schema: #/type: unknown type \"strnig\""},
        {"{\"type\":\"json_object\",\"schema\":{\"required\":1}}", "invalid schema: #/required"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        json_t *rf = parse(bad[i].rf);
        struct answer_spec *s = (struct answer_spec *)1;
        struct buf err = BUF_INIT;
        assert_int_equal(answer_spec_new(rf, "x", 1, 0.8, &s, &err), -EINVAL);
        assert_null(s);
        if (!strstr(buf_cstr(&err), bad[i].msg))
            fail_msg("case %zu: \"%s\"", i, buf_cstr(&err));
        buf_release(&err);
        json_decref(rf);
    }

    struct answer_spec *s = spec_of(NULL, NULL, 0.8);
    assert_int_equal(answer_spec_format(s), ANSWER_TEXT);
    answer_spec_free(s);
    s = spec_of("{\"type\":\"text\"}", "", 0.8);
    assert_int_equal(answer_spec_format(s), ANSWER_TEXT);
    answer_spec_free(s);
    s = spec_of("{\"type\":\"json_object\"}", "", 0.8);
    assert_int_equal(answer_spec_format(s), ANSWER_JSON_OBJECT);
    answer_spec_free(s);
    s = spec_of("{\"type\":\"json_object\",\"schema\":{\"type\":\"object\"}}", "", 0.8);
    assert_int_equal(answer_spec_format(s), ANSWER_JSON_SCHEMA);
    answer_spec_free(s);
    answer_spec_free(NULL);
}

static void test_vision_answers(void **state)
{
    struct answer_spec *s = spec_of(vision_format, "Describe this image as JSON.", 0.8);
    struct answer_verdict v;
    answer_verdict_init(&v);

    judge(s,
          "{\"kind\":\"photo\",\"objects\":[\"cup\",\"laptop\"],\"text\":\"\","
          "\"scene\":\"a desk by a window\",\"actions\":[\"typing\"],\"people_count\":1}",
          "stop", &v);
    assert_true(v.ok);
    assert_true(v.parsed);
    assert_false(v.wrapped);
    assert_int_equal(v.nproblems, 0);
    assert_int_equal(v.names, 0);
    assert_non_null(v.json);
    int64_t best = answer_score(&v);

    /* wrong enum value, a string count, a missing field and an extra one */
    judge(s,
          "{\"kind\":\"selfie\",\"objects\":[\"cup\"],\"text\":\"\",\"scene\":\"desk\","
          "\"people_count\":\"two\",\"mood\":\"happy\"}",
          "stop", &v);
    dump(&v);
    assert_false(v.ok);
    assert_true(v.parsed);
    assert_int_equal(v.schema_errors, 4);
    assert_true(has_problem(&v, ANSWER_SCHEMA, "/: missing required property \"actions\""));
    assert_true(has_problem(&v, ANSWER_SCHEMA, "/kind: must be one of \"photo\""));
    assert_true(has_problem(&v, ANSWER_SCHEMA, "/people_count: expected integer, got string"));
    assert_true(has_problem(&v, ANSWER_SCHEMA, "/mood: property \"mood\" is not allowed"));
    int64_t four = answer_score(&v);
    assert_true(four < best);

    judge(s,
          "{\"kind\":\"photo\",\"objects\":[],\"text\":\"\",\"scene\":\"\","
          "\"actions\":[],\"people_count\":-1}",
          "stop", &v);
    assert_int_equal(v.schema_errors, 1);
    int64_t one = answer_score(&v);
    assert_true(one > four && one < best);

    /* all required strings blank except the enum: not empty */
    judge(s,
          "{\"kind\":\"other\",\"objects\":[],\"text\":\" \",\"scene\":\"\","
          "\"actions\":[],\"people_count\":0}",
          "stop", &v);
    assert_true(v.ok);
    assert_false(v.empty);

    answer_verdict_release(&v);
    answer_spec_free(s);
}

static void test_lab_report(void **state)
{
    struct answer_spec *s = spec_of(lab_format, "Extract the lab report.", 0.8);
    struct answer_verdict v;
    answer_verdict_init(&v);

    judge(s,
          "{\"patient\":\"R. Kumar\",\"lab\":\"City Diagnostics\",\"date\":\"2024-03-05\","
          "\"tests\":[{\"name\":\"HbA1c\",\"value\":6.1,\"unit\":\"%\",\"flag\":\"high\"},"
          "{\"name\":\"Glucose\",\"value\":98,\"unit\":\"mg/dL\",\"flag\":null}]}",
          NULL, &v);
    assert_true(v.ok);

    judge(s,
          "{\"patient\":\"R. Kumar\",\"lab\":\"City Diagnostics\",\"date\":\"05/03/2024\","
          "\"tests\":[{\"name\":\"HbA1c\",\"value\":\"6.1\",\"unit\":\"%\",\"flag\":\"HIGH\"}]}",
          NULL, &v);
    dump(&v);
    assert_false(v.ok);
    assert_int_equal(v.schema_errors, 3);
    assert_true(has_problem(&v, ANSWER_SCHEMA, "/date: is not a valid date"));
    assert_true(has_problem(&v, ANSWER_SCHEMA, "/tests/0/value: expected number, got string"));
    /* the only alternative for a string explains itself */
    assert_true(has_problem(&v, ANSWER_SCHEMA, "/tests/0/flag: must be one of \"low\""));

    /* required strings all blank through the $ref'd root: empty */
    judge(s, "{\"patient\":\"\",\"lab\":\" \",\"date\":null,\"tests\":[]}", NULL, &v);
    assert_true(v.empty);
    assert_true(has_problem(&v, ANSWER_EMPTY, "every required text field is blank: patient, lab"));
    assert_true(has_problem(&v, ANSWER_SCHEMA, "/tests: has 0 items, fewer than minItems 1"));

    answer_verdict_release(&v);
    answer_spec_free(s);
}

static void test_wrapped(void **state)
{
    struct answer_spec *s = spec_of(vision_format, "", 0.8);
    struct answer_verdict v;
    static const char body[] = "{\"kind\":\"receipt\",\"objects\":[\"receipt\"],\"text\":"
                               "\"TOTAL 240.00\",\"scene\":\"a receipt on a table\","
                               "\"actions\":[],\"people_count\":0}";
    struct buf t = BUF_INIT;
    answer_verdict_init(&v);

    buf_addf(&t, "```json\n%s\n```", body);
    judge(s, buf_cstr(&t), "stop", &v);
    assert_true(v.ok);
    assert_true(v.wrapped);
    assert_int_equal(v.nproblems, 1);
    assert_int_equal(v.problems[0].kind, ANSWER_WRAPPED);
    assert_true(v.problems[0].minor);
    assert_non_null(json_object_get(v.json, "kind"));
    int64_t fenced = answer_score(&v);

    buf_reset(&t);
    buf_addf(&t, "Here is the description you asked for:\n\n%s\n\nLet me know if you need more.",
             body);
    judge(s, buf_cstr(&t), "stop", &v);
    assert_true(v.ok);
    assert_true(v.wrapped);

    /* prose with a bracket before the JSON */
    buf_reset(&t);
    buf_addf(&t, "Result [see below]: {not json} %s", body);
    judge(s, buf_cstr(&t), "stop", &v);
    assert_true(v.ok);
    assert_true(v.wrapped);

    judge(s, body, "stop", &v);
    assert_true(v.ok);
    assert_false(v.wrapped);
    assert_true(answer_score(&v) > fenced);

    /* a fence without the info string, with invalid JSON inside */
    judge(s, "```\n{\"kind\": photo}\n```", "stop", &v);
    assert_false(v.parsed);
    assert_true(has_problem(&v, ANSWER_NOT_JSON, "line 1"));

    buf_release(&t);
    answer_verdict_release(&v);
    answer_spec_free(s);
}

static void test_not_json_truncated_empty(void **state)
{
    struct answer_spec *s = spec_of("{\"type\":\"json_object\"}", "List three fruits as JSON", 0.8);
    struct answer_verdict v;
    answer_verdict_init(&v);

    judge(s, "Sure! Apples, bananas and mangoes.", "stop", &v);
    assert_false(v.ok);
    assert_false(v.parsed);
    assert_null(v.json);
    assert_true(has_problem(&v, ANSWER_NOT_JSON, "no JSON found: "));
    assert_true(has_problem(&v, ANSWER_NOT_JSON, "invalid token near 'Sure' (line 1, column"));
    int64_t notjson = answer_score(&v);

    /* cut off in the middle: truncated, and not JSON either */
    judge(s, "{\"fruits\":[\"apple\",\"ban", "length", &v);
    assert_true(v.truncated);
    assert_false(v.parsed);
    assert_int_equal(v.problems[0].kind, ANSWER_TRUNCATED);
    assert_true(has_problem(&v, ANSWER_NOT_JSON, "line 1, column 23"));

    /* complete JSON but finish_reason length: still a failure */
    judge(s, "{\"fruits\":[\"apple\"]}", "length", &v);
    assert_true(v.parsed);
    assert_true(v.truncated);
    assert_false(v.ok);
    int64_t trunc = answer_score(&v);
    assert_true(trunc > notjson);

    judge(s, "[\"apple\"]", "stop", &v);
    assert_true(has_problem(&v, ANSWER_NOT_OBJECT, "an array, not an object"));
    assert_int_equal(v.schema_errors, 1);
    assert_true(answer_score(&v) < trunc);
    assert_true(answer_score(&v) > notjson);

    static const char *const empties[] = {"{}", " { } ", "[]", "\"\"", "\"  \"", "null"};
    for (size_t i = 0; i < ARRAY_SIZE(empties); i++) {
        judge(s, empties[i], "stop", &v);
        assert_true(v.empty);
        assert_true(has_problem(&v, ANSWER_EMPTY, "the JSON is"));
    }
    judge(s, "  \n", "stop", &v);
    assert_true(v.empty);
    assert_true(has_problem(&v, ANSWER_EMPTY, "the answer is empty"));
    assert_true(has_problem(&v, ANSWER_NOT_JSON, NULL));
    answer_spec_free(s);

    /* plain text: only emptiness, truncation and names */
    s = spec_of(NULL, "Tell me a joke", 0.8);
    judge(s, "Why did the chicken cross the road?", "stop", &v);
    assert_true(v.ok);
    assert_null(v.json);
    judge(s, "{not json at all", "stop", &v);
    assert_true(v.ok);
    judge(s, " \t\n", "stop", &v);
    assert_false(v.ok);
    assert_true(v.empty);
    judge(s, "Why did the chicken", "length", &v);
    assert_false(v.ok);
    assert_true(has_problem(&v, ANSWER_TRUNCATED, NULL));
    answer_verdict_release(&v);
    answer_spec_free(s);
}

static const char people_format[] =
    "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"trip\",\"schema\":{\"type\":\"object\","
    "\"required\":[\"people\",\"places\",\"summary\"],\"properties\":{"
    "\"people\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"places\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"summary\":{\"type\":\"string\"}}}}}";

static void test_names_romanized_input(void **state)
{
    struct answer_spec *s =
        spec_of(people_format,
                "You are a helpful assistant. Answer in JSON.\nnaanu Rajesh jothe Mysuru ge hogidde",
                0.8);
    struct answer_verdict v;
    answer_verdict_init(&v);

    assert_int_equal(answer_spec_names(s), 2);
    assert_string_equal(answer_spec_name(s, 0), "Rajesh");
    assert_string_equal(answer_spec_name(s, 1), "Mysuru");

    judge(s, "{\"people\":[\"Rajesh\"],\"places\":[\"Mysuru\"],\"summary\":\"A trip.\"}", "stop",
          &v);
    assert_true(v.ok);
    assert_int_equal(v.names, 2);
    assert_int_equal(v.covered, 2);
    assert_true(v.coverage == 1.0);
    int64_t full = answer_score(&v);

    /* in Kannada script, and with the old name of the city */
    judge(s, "{\"people\":[\"ರಾಜೇಶ್\"],\"places\":[\"ಮೈಸೂರು\"],\"summary\":\"ಪ್ರವಾಸ\"}", "stop",
          &v);
    assert_true(v.ok);
    judge(s, "{\"people\":[\"rajesh\"],\"places\":[\"Mysore\"],\"summary\":\"x\"}", "stop", &v);
    assert_true(v.ok);
    /* names inside a longer string, separated by an escaped newline */
    judge(s, "{\"people\":[],\"places\":[],\"summary\":\"Went with Rajesh\\nMysuru trip\"}",
          "stop", &v);
    assert_int_equal(v.covered, 2);

    judge(s, "{\"people\":[\"Rajesh\"],\"places\":[\"Bengaluru\"],\"summary\":\"A trip.\"}",
          "stop", &v);
    dump(&v);
    assert_false(v.ok);
    assert_int_equal(v.covered, 1);
    assert_int_equal(v.nmissing, 1);
    assert_string_equal(v.missing[0], "Mysuru");
    assert_true(has_problem(&v, ANSWER_NAMES, "mentions 1 of the 2 names"));
    assert_true(has_problem(&v, ANSWER_NAMES, "missing: Mysuru"));
    int64_t half = answer_score(&v);
    assert_true(half < full);

    judge(s, "{\"people\":[],\"places\":[],\"summary\":\"A trip.\"}", "stop", &v);
    assert_int_equal(v.covered, 0);
    assert_true(answer_score(&v) < half);

    /* "Mysurupak" is not Mysuru: whole words only */
    judge(s, "{\"people\":[\"Rajesh\"],\"places\":[\"Mysurupak\"],\"summary\":\"\"}", "stop", &v);
    assert_int_equal(v.covered, 1);

    answer_verdict_release(&v);
    answer_spec_free(s);
}

static void test_names_kannada_input(void **state)
{
    struct answer_spec *s = spec_of(NULL, "ನಾನು ನಿನ್ನೆ ರಾಜೇಶ್ ಜೊತೆ ಮೈಸೂರಿಗೆ ಹೋಗಿದ್ದೆ. ಅಲ್ಲಿ ಸುರೇಶನ ಮನೆಯಲ್ಲಿ ಊಟ ಮಾಡಿದೆವು.",
                                    0.8);
    struct answer_verdict v;
    answer_verdict_init(&v);

    /* function words, verbs and common nouns are not names */
    assert_int_equal(answer_spec_names(s), 3);
    assert_string_equal(answer_spec_name(s, 0), "ರಾಜೇಶ್");
    assert_string_equal(answer_spec_name(s, 1), "ಮೈಸೂರಿಗೆ");
    assert_string_equal(answer_spec_name(s, 2), "ಸುರೇಶನ");

    /* Latin answer: case endings stripped (ಮೈಸೂರಿಗೆ = Mysuru + ge) */
    judge(s, "Yesterday you went to Mysuru with Rajesh and ate at Suresh's house.", "stop", &v);
    assert_true(v.ok);
    assert_int_equal(v.covered, 3);
    judge(s, "ನೀವು ರಾಜೇಶ್ ಜೊತೆ ಮೈಸೂರಿಗೆ ಹೋಗಿ ಸುರೇಶ್ ಅವರ ಮನೆಯಲ್ಲಿ ಊಟ ಮಾಡಿದಿರಿ.", "stop", &v);
    assert_true(v.ok);

    judge(s, "You went on a trip with a friend.", "stop", &v);
    assert_false(v.ok);
    assert_int_equal(v.covered, 0);
    assert_int_equal(v.nmissing, 3);
    assert_true(has_problem(&v, ANSWER_NAMES, "missing: ರಾಜೇಶ್, ಮೈಸೂರಿಗೆ, ಸುರೇಶನ"));

    /* two of three is below 0.8 */
    judge(s, "Rajesh and Suresh", "stop", &v);
    assert_false(v.ok);
    assert_int_equal(v.covered, 2);
    answer_spec_free(s);

    /* ... and passes at 0.6 */
    s = spec_of(NULL, "ನಾನು ನಿನ್ನೆ ರಾಜೇಶ್ ಜೊತೆ ಮೈಸೂರಿಗೆ ಹೋಗಿದ್ದೆ. ಅಲ್ಲಿ ಸುರೇಶನ ಮನೆಯಲ್ಲಿ ಊಟ ಮಾಡಿದೆವು.",
                0.6);
    judge(s, "Rajesh and Suresh", "stop", &v);
    assert_true(v.ok);
    answer_spec_free(s);

    /* the check off */
    s = spec_of(NULL, "ರಾಜೇಶ್ ಜೊತೆ ಮೈಸೂರಿಗೆ", 0);
    assert_int_equal(answer_spec_names(s), 0);
    judge(s, "ok", "stop", &v);
    assert_true(v.ok);
    assert_true(v.coverage == 1.0);
    answer_spec_free(s);

    /* English input has no names to check */
    s = spec_of(NULL, "Where did Rajesh go yesterday? Tell me about Mysuru.", 0.8);
    assert_int_equal(answer_spec_names(s), 0);
    answer_spec_free(s);

    /* a receipt question in Kannada: no names, only common words */
    s = spec_of(NULL, "ಈ ಚಿತ್ರದಲ್ಲಿ ಏನಿದೆ? ರಸೀದಿಯ ಒಟ್ಟು ಮೊತ್ತ ಎಷ್ಟು?", 0.8);
    assert_int_equal(answer_spec_names(s), 0);
    answer_spec_free(s);

    /* the same name in both scripts is one name */
    s = spec_of(NULL, "ರಾಜೇಶ್ ಬಂದ. naanu Rajesh jothe iddini", 0.8);
    assert_int_equal(answer_spec_names(s), 1);
    answer_spec_free(s);
    answer_verdict_release(&v);
}

static void test_score_order(void **state)
{
    struct answer_spec *s = spec_of(people_format, "naanu Rajesh jothe Mysuru ge hogidde", 0.8);
    static const char *const ranked[] = {
        /* best first */
        "{\"people\":[\"Rajesh\"],\"places\":[\"Mysuru\"],\"summary\":\"trip\"}",
        "```json\n{\"people\":[\"Rajesh\"],\"places\":[\"Mysuru\"],\"summary\":\"trip\"}\n```",
        "{\"people\":[\"Rajesh\"],\"places\":[],\"summary\":\"trip\"}",
        "{\"people\":[],\"places\":[],\"summary\":\"\"}",
        "{\"people\":[\"Rajesh\"],\"places\":[\"Mysuru\"],\"summary\":5}",
        "{\"people\":[\"Rajesh\"],\"places\":[1],\"summary\":5}",
        "{\"people\":\"Rajesh\",\"places\":[1],\"summary\":5}",
        "Rajesh and Mysuru, no JSON",
        "no JSON",
    };
    struct answer_verdict v;
    int64_t prev = INT64_MAX;
    answer_verdict_init(&v);
    for (size_t i = 0; i < ARRAY_SIZE(ranked); i++) {
        judge(s, ranked[i], "stop", &v);
        int64_t sc = answer_score(&v);
        if (sc >= prev)
            fail_msg("answer %zu (%s) scores %lld, not below the one before", i, ranked[i],
                     (long long)sc);
        prev = sc;
    }
    answer_verdict_release(&v);
    answer_spec_free(s);
}

static void test_problem_list_bounds(void **state)
{
    /* 40 schema errors: 12 listed, the rest counted; "wrapped" keeps a slot */
    struct buf t = BUF_INIT;
    struct answer_spec *s = spec_of("{\"type\":\"json_schema\",\"json_schema\":{\"schema\":"
                                    "{\"type\":\"array\",\"items\":{\"type\":\"string\"}}}}",
                                    "", 0.8);
    struct answer_verdict v;
    answer_verdict_init(&v);
    buf_addstr(&t, "Here you go: [");
    for (int i = 0; i < 40; i++)
        buf_addf(&t, "%s%d", i ? "," : "", i);
    buf_addch(&t, ']');
    judge(s, buf_cstr(&t), "stop", &v);
    assert_int_equal(v.schema_errors, 40);
    assert_int_equal(v.nproblems, ANSWER_MAX_PROBLEMS);
    assert_int_equal(v.ndropped, 40 - (ANSWER_MAX_PROBLEMS - 1));
    assert_int_equal(v.problems[ANSWER_MAX_PROBLEMS - 1].kind, ANSWER_WRAPPED);
    buf_reset(&t);
    answer_verdict_describe(&v, &t);
    assert_non_null(strstr(buf_cstr(&t), "schema: /0: expected string, got integer; schema: /1"));
    assert_non_null(strstr(buf_cstr(&t), "; and 29 more"));

    /* judging again clears the verdict */
    judge(s, "[\"a\"]", "stop", &v);
    assert_true(v.ok);
    assert_int_equal(v.nproblems, 0);
    buf_reset(&t);
    answer_verdict_describe(&v, &t);
    assert_string_equal(buf_cstr(&t), "ok");
    answer_verdict_release(&v);
    answer_spec_free(s);
    buf_release(&t);
}

static void test_word_lists(void **state)
{
    for (size_t i = 1; i < ARRAY_SIZE(kn_common); i++)
        if (strcmp(kn_common[i - 1], kn_common[i]) >= 0)
            fail_msg("kn_common not sorted at %s, %s", kn_common[i - 1], kn_common[i]);
    for (size_t i = 1; i < ARRAY_SIZE(en_common); i++)
        if (strcmp(en_common[i - 1], en_common[i]) >= 0)
            fail_msg("en_common not sorted at %s, %s", en_common[i - 1], en_common[i]);
    assert_true(ARRAY_SIZE(kn_common) >= 200);
    assert_true(answer__kn_common("ಮತ್ತು", strlen("ಮತ್ತು")));
    assert_false(answer__kn_common("ರಾಜೇಶ್", strlen("ರಾಜೇಶ್")));

    /* answer__entity_in is translit_contains with the haystack key made once */
    static const char *const hay[] = {"lunch at ಮೈಸೂರು palace", "Mysurupak", "with ರಾಜೇಶ್."};
    static const char *const needle[] = {"Mysuru", "Rajesh", "ಮೈಸೂರು"};
    for (size_t h = 0; h < ARRAY_SIZE(hay); h++) {
        for (size_t n = 0; n < ARRAY_SIZE(needle); n++) {
            struct buf hk = BUF_INIT, nk = BUF_INIT;
            buf_addch(&hk, ' ');
            translit_key(hay[h], strlen(hay[h]), &hk);
            buf_addch(&hk, ' ');
            translit_key(needle[n], strlen(needle[n]), &nk);
            char *keys[1] = {nk.data};
            struct answer_entity e = {NULL, {keys[0]}, 1};
            assert_int_equal(answer__entity_in(&e, buf_cstr(&hk)),
                             translit_contains(hay[h], needle[n]));
            buf_release(&nk);
            buf_release(&hk);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_errors),
        cmocka_unit_test(test_vision_answers),
        cmocka_unit_test(test_lab_report),
        cmocka_unit_test(test_wrapped),
        cmocka_unit_test(test_not_json_truncated_empty),
        cmocka_unit_test(test_names_romanized_input),
        cmocka_unit_test(test_names_kannada_input),
        cmocka_unit_test(test_score_order),
        cmocka_unit_test(test_problem_list_bounds),
        cmocka_unit_test(test_word_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
