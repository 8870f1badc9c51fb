/* Unit tests for vision: the schema (valid JSON, strict-mode rules on every
 * object, sample answers valid against it), the prompt, reading a reply
 * (fences, prose, <think>), and normalising answers that are complete,
 * partial, mistyped or not objects at all, including a few hundred random
 * mutations that must never crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include <jansson.h>

#include "ingest/transcript.h"
#include "ingest/vision.h"
#include "lib/buf.h"
#include "lib/xalloc.h"
#include "text/langid.h"

/* ---- A small validator for the schema subset we use ---------------------- */

static bool type_ok(const char *t, const json_t *v)
{
    if (!strcmp(t, "object"))
        return json_is_object(v);
    if (!strcmp(t, "array"))
        return json_is_array(v);
    if (!strcmp(t, "string"))
        return json_is_string(v);
    if (!strcmp(t, "integer"))
        return json_is_integer(v);
    if (!strcmp(t, "number"))
        return json_is_number(v);
    if (!strcmp(t, "boolean"))
        return json_is_boolean(v);
    if (!strcmp(t, "null"))
        return json_is_null(v);
    fail_msg("unknown type %s", t);
    return false;
}

static bool validate(const json_t *s, const json_t *v)
{
    const json_t *any = json_object_get(s, "anyOf"), *x;
    size_t i;
    if (any) {
        json_array_foreach(any, i, x) {
            if (validate(x, v))
                return true;
        }
        return false;
    }
    const json_t *en = json_object_get(s, "enum");
    if (en) {
        bool found = false;
        json_array_foreach(en, i, x) {
            found |= json_equal((json_t *)(uintptr_t)x, (json_t *)(uintptr_t)v);
        }
        if (!found)
            return false;
    }
    const json_t *type = json_object_get(s, "type");
    if (json_is_string(type) && !type_ok(json_string_value(type), v))
        return false;
    if (json_is_array(type)) {
        bool ok = false;
        json_array_foreach(type, i, x) {
            ok |= type_ok(json_string_value(x), v);
        }
        if (!ok)
            return false;
    }
    const json_t *min = json_object_get(s, "minimum");
    if (min && json_is_number(v) && json_number_value(v) < json_number_value(min))
        return false;
    if (json_is_object(v)) {
        const json_t *props = json_object_get(s, "properties");
        const char *k;
        json_object_foreach((json_t *)(uintptr_t)v, k, x) {
            const json_t *ps = json_object_get(props, k);
            if (!ps)
                return !json_is_false(json_object_get(s, "additionalProperties"));
            if (!validate(ps, x))
                return false;
        }
        json_array_foreach(json_object_get(s, "required"), i, x) {
            if (!json_object_get(v, json_string_value(x)))
                return false;
        }
    }
    if (json_is_array(v) && json_object_get(s, "items")) {
        json_array_foreach(v, i, x) {
            if (!validate(json_object_get(s, "items"), x))
                return false;
        }
    }
    return true;
}

/* Every object schema: additionalProperties false, every property
 * required. Returns the number of object schemas seen. */
static size_t check_strict(const json_t *s, const char *path)
{
    size_t n = 0, i;
    const json_t *x;
    const char *k;
    const json_t *props = json_object_get(s, "properties");
    if (props) {
        n++;
        const json_t *req = json_object_get(s, "required");
        if (!json_is_false(json_object_get(s, "additionalProperties")))
            fail_msg("%s: additionalProperties is not false", path);
        if (json_array_size(req) != json_object_size(props))
            fail_msg("%s: %zu properties, %zu required", path, json_object_size(props),
                     json_array_size(req));
        json_array_foreach(req, i, x) {
            if (!json_object_get(props, json_string_value(x)))
                fail_msg("%s: required '%s' is no property", path, json_string_value(x));
        }
        json_object_foreach((json_t *)(uintptr_t)props, k, x) {
            char p[256];
            snprintf(p, sizeof(p), "%s.%s", path, k);
            n += check_strict(x, p);
        }
    }
    if (json_object_get(s, "items"))
        n += check_strict(json_object_get(s, "items"), path);
    json_array_foreach(json_object_get(s, "anyOf"), i, x) {
        n += check_strict(x, path);
    }
    /* Only keywords strict engines accept. */
    static const char *const allowed[] = {"type", "properties", "required",
                                          "additionalProperties", "items", "anyOf", "enum",
                                          "minimum", "description"};
    json_object_foreach((json_t *)(uintptr_t)s, k, x) {
        bool ok = false;
        for (size_t a = 0; a < ARRAY_SIZE(allowed); a++)
            ok |= !strcmp(k, allowed[a]);
        if (!ok)
            fail_msg("%s: keyword '%s'", path, k);
    }
    return n;
}

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("bad test JSON: %s (line %d col %d)", e.text, e.line, e.column);
    return j;
}

/* A complete, schema-valid answer for a Bengaluru restaurant bill. */
static const char receipt_answer[] =
    "{\"scene\":\"A printed restaurant bill on a steel plate.\","
    "\"objects\":[{\"name\":\"bill\",\"count\":1,\"attributes\":[\"thermal paper\",\"crumpled\"]},"
    "{\"name\":\"tumbler\",\"count\":2,\"attributes\":null}],"
    "\"text\":[{\"content\":\"SRI RAGHAVENDRA DARSHINI\",\"language\":\"en\",\"script\":\"Latn\"},"
    "{\"content\":\"ಶ್ರೀ ರಾಘವೇಂದ್ರ ದರ್ಶಿನಿ\",\"language\":\"kn\",\"script\":\"Knda\"},"
    "{\"content\":\"Grand Total ₹ 1,250.00\",\"language\":\"en\",\"script\":\"Latn\"}],"
    "\"actions\":[],\"people_count\":0,\"kind\":\"receipt\","
    "\"receipt\":{\"merchant\":\"Sri Raghavendra Darshini\",\"date\":\"20/11/2026\","
    "\"currency\":\"INR\",\"total\":\"₹ 1,250.00\",\"items\":[{\"name\":\"Masala Dosa\","
    "\"qty\":\"2\",\"price\":\"60.00\",\"amount\":\"120.00\"}]},"
    "\"lab_report\":null,\"screenshot\":null,\"whiteboard\":null}";

static void test_schema_strict(void **state)
{
    json_t *s = vision_schema();
    assert_non_null(s);
    assert_int_equal(check_strict(s, "$"), 10); /* root, object, text, 4 typed + 3 rows */
    const json_t *kind = json_object_get(json_object_get(s, "properties"), "kind");
    const char *kinds[] = {"photo", "screenshot", "receipt", "document", "whiteboard",
                           "lab_report", "meal", "other"};
    assert_int_equal(json_array_size(json_object_get(kind, "enum")), ARRAY_SIZE(kinds));
    for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
        json_t *k = json_string(kinds[i]);
        assert_true(validate(kind, k));
        json_decref(k);
    }
    /* The text is the same JSON. */
    json_t *again = json_loads(vision_schema_json(), 0, NULL);
    assert_true(json_equal(s, again));
    json_decref(again);

    json_t *rf = vision_response_format();
    assert_string_equal(json_string_value(json_object_get(rf, "type")), "json_schema");
    const json_t *js = json_object_get(rf, "json_schema");
    assert_string_equal(json_string_value(json_object_get(js, "name")), "visual_description");
    assert_true(json_is_true(json_object_get(js, "strict")));
    assert_true(json_equal(json_object_get(js, "schema"), s));
    json_decref(rf);

    json_t *t = transcript_schema();
    assert_int_equal(check_strict(t, "$"), 3);
    json_t *trf = transcript_response_format();
    assert_string_equal(json_string_value(json_object_get(json_object_get(trf, "json_schema"),
                                                          "name")),
                        "transcript_facts");
    json_decref(trf);
    json_decref(t);
    json_decref(s);
}

static void test_schema_accepts_answers(void **state)
{
    json_t *s = vision_schema();
    json_t *a = load(receipt_answer);
    assert_true(validate(s, a));

    /* Every typed sub-object may be null, and a photo has them all null. */
    json_t *photo = load("{\"scene\":\"Two people at Lalbagh.\",\"objects\":[],\"text\":[],"
                         "\"actions\":[\"walking\"],\"people_count\":2,\"kind\":\"photo\","
                         "\"receipt\":null,\"lab_report\":null,\"screenshot\":null,"
                         "\"whiteboard\":null}");
    assert_true(validate(s, photo));

    /* What the schema must reject: a missing property, an extra one, a
     * kind outside the enum, a negative count, a number where text is
     * asked for. */
    json_t *bad = json_deep_copy(photo);
    json_object_del(bad, "whiteboard");
    assert_false(validate(s, bad));
    json_decref(bad);
    bad = json_deep_copy(photo);
    json_object_set_new(bad, "mood", json_string("happy"));
    assert_false(validate(s, bad));
    json_decref(bad);
    bad = json_deep_copy(photo);
    json_object_set_new(bad, "kind", json_string("selfie"));
    assert_false(validate(s, bad));
    json_decref(bad);
    bad = json_deep_copy(photo);
    json_object_set_new(bad, "people_count", json_integer(-1));
    assert_false(validate(s, bad));
    json_decref(bad);
    bad = json_deep_copy(a);
    json_object_set_new(json_object_get(bad, "receipt"), "total", json_real(1250));
    assert_false(validate(s, bad));
    json_decref(bad);

    json_t *ts = transcript_schema();
    json_t *tr = load("{\"entities\":[{\"type\":\"person\",\"name\":\"Rajesh\",\"surface\":"
                      "\"Rajeshna\"}],\"relations\":[{\"subject\":\"me\",\"subject_type\":"
                      "\"person\",\"predicate\":\"met\",\"object\":\"Rajesh\",\"object_type\":"
                      "\"person\",\"value\":null,\"unit\":null,\"time_said\":\"ninne\","
                      "\"date\":\"2026-11-24\",\"fact\":\"I met Rajesh yesterday.\"}]}");
    assert_true(validate(ts, tr));
    json_object_set_new(json_array_get(json_object_get(tr, "relations"), 0), "object_type",
                        json_string("pet"));
    assert_false(validate(ts, tr));
    json_decref(tr);
    json_decref(ts);
    json_decref(photo);
    json_decref(a);
    json_decref(s);
}

static void test_prompt(void **state)
{
    struct buf p = BUF_INIT, f = BUF_INIT;
    vision_prompt(VISION_INPUT_PHOTO, &p);
    vision_prompt(VISION_INPUT_FRAMES, &f);
    const char *s = buf_cstr(&p);
    /* Everything the schema asks for is explained. */
    const char *must[] = {"scene", "objects", "text", "actions", "people_count", "kind",
                          "receipt", "lab_report", "screenshot", "whiteboard", "exactly as written",
                          "ISO 639-1", "ISO 15924", "Knda", "null", "Grand Total", "H, L, *",
                          "120/80", "never guess"};
    for (size_t i = 0; i < ARRAY_SIZE(must); i++)
        if (!strstr(s, must[i]))
            fail_msg("prompt lacks '%s'", must[i]);
    assert_true(p.len < 3000); /* concise: it is sent with every image */
    /* The frames prompt is the photo prompt after a paragraph on frames. */
    assert_true(f.len > p.len && !strcmp(f.data + f.len - p.len, p.data));
    /* Routing reads the language of all the text of a request: the prompt
     * must not make a picture look like Kannada, or every photo would go
     * to the Kannada specialists. */
    struct langid_result lr;
    langid_classify(p.data, p.len, &lr);
    assert_false(lr.needs_kannada);
    langid_classify(f.data, f.len, &lr);
    assert_false(lr.needs_kannada);
    buf_release(&p);
    buf_release(&f);
}

static void test_parse(void **state)
{
    json_t *j;
    struct buf err = BUF_INIT;
    static const char *const ok[] = {
        "{\"kind\":\"photo\"}",
        "  \n{\"kind\":\"photo\"}\n",
        "```json\n{\"kind\":\"photo\"}\n```",
        "Here is the description:\n{\"kind\":\"photo\"} Hope this helps {!}",
        "<think>The user wants {json}. Let me see {</think>\n{\"kind\":\"photo\"}",
        "Use {curly braces} like {\"kind\":\"photo\"}",
    };
    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        assert_int_equal(vision_parse(ok[i], strlen(ok[i]), &j, &err), 0);
        assert_string_equal(json_string_value(json_object_get(j, "kind")), "photo");
        json_decref(j);
    }
    static const char *const bad[] = {"", "no json here", "[1,2,3]", "{\"kind\":", "{{{{"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        buf_reset(&err);
        assert_int_equal(vision_parse(bad[i], strlen(bad[i]), &j, &err), -EPROTO);
        assert_null(j);
        assert_non_null(strstr(buf_cstr(&err), "vision: no JSON object"));
    }
    assert_int_equal(vision_parse("{}", VISION_MAX_ANSWER + 1, &j, &err), -EMSGSIZE);
    /* Only len bytes are read: no NUL needed. */
    const char cut[] = "{\"kind\":\"meal\"}GARBAGE";
    assert_int_equal(vision_parse(cut, 15, &j, NULL), 0);
    json_decref(j);
    buf_release(&err);
}

static void test_kind_parse(void **state)
{
    static const struct {
        const char *in;
        enum store_kind k;
    } cases[] = {
        {"receipt", STORE_KIND_RECEIPT},      {"Receipt", STORE_KIND_RECEIPT},
        {"bill", STORE_KIND_RECEIPT},         {"INVOICE", STORE_KIND_RECEIPT},
        {"lab_report", STORE_KIND_LAB_REPORT}, {"lab report", STORE_KIND_LAB_REPORT},
        {"Lab-Report", STORE_KIND_LAB_REPORT}, {"medical report", STORE_KIND_LAB_REPORT},
        {"screenshot", STORE_KIND_SCREENSHOT}, {"screen shot", STORE_KIND_SCREENSHOT},
        {"whiteboard", STORE_KIND_WHITEBOARD}, {"blackboard", STORE_KIND_WHITEBOARD},
        {"meal", STORE_KIND_MEAL},            {"food", STORE_KIND_MEAL},
        {"photo", STORE_KIND_PHOTO},          {" image ", STORE_KIND_PHOTO},
        {"document", STORE_KIND_DOCUMENT},    {"other", STORE_KIND_OTHER},
    };
    enum store_kind k;
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        assert_int_equal(vision_kind_parse(cases[i].in, &k), 0);
        assert_int_equal(k, cases[i].k);
    }
    assert_int_equal(vision_kind_parse("video", &k), -EINVAL); /* not a model's answer */
    assert_int_equal(vision_kind_parse("transcript", &k), -EINVAL);
    assert_int_equal(vision_kind_parse("", &k), -EINVAL);
    assert_int_equal(vision_kind_parse(NULL, &k), -EINVAL);
    assert_int_equal(vision_kind_parse("a-very-long-kind-name-that-is-nothing-at-all", &k),
                     -EINVAL);
}

static void test_normalize_full(void **state)
{
    json_t *a = load(receipt_answer);
    struct vision_desc d;
    struct buf err = BUF_INIT;
    assert_int_equal(vision_normalize(a, &d, &err), 0);
    assert_int_equal(d.repairs, 0);
    assert_int_equal(err.len, 0);
    assert_int_equal(d.kind, STORE_KIND_RECEIPT);
    assert_string_equal(d.scene, "A printed restaurant bill on a steel plate.");
    assert_string_equal(d.ocr_text, "SRI RAGHAVENDRA DARSHINI\nಶ್ರೀ ರಾಘವೇಂದ್ರ ದರ್ಶಿನಿ\n"
                                    "Grand Total ₹ 1,250.00");
    /* In characters, the Kannada line outweighs either English one alone,
     * but not both together. */
    assert_string_equal(d.language, "en");
    assert_true(d.has_kannada);
    assert_true(d.typed);
    assert_int_equal(d.nobjects, 2);
    assert_int_equal(d.ntexts, 3);
    assert_int_equal(d.nactions, 0);
    assert_int_equal(d.people_count, 0);
    assert_string_equal(d.description, "A printed restaurant bill on a steel plate. Objects: "
                                       "bill (thermal paper, crumpled), 2 tumbler.");
    vision_desc_release(&d);
    json_decref(a);
    buf_release(&err);
}

static void test_normalize_partial(void **state)
{
    struct vision_desc d;
    struct buf err = BUF_INIT;

    /* Not an object: defaults, -EINVAL, and release still works. */
    assert_int_equal(vision_normalize(NULL, &d, &err), -EINVAL);
    assert_int_equal(d.kind, STORE_KIND_OTHER);
    assert_string_equal(d.scene, "");
    assert_string_equal(d.ocr_text, "");
    assert_string_equal(d.language, "und");
    vision_desc_release(&d);
    json_t *arr = load("[1,2]");
    assert_int_equal(vision_normalize(arr, &d, NULL), -EINVAL);
    vision_desc_release(&d);
    json_decref(arr);

    /* An empty object: every field defaulted and noted. */
    json_t *e = json_object();
    buf_reset(&err);
    assert_int_equal(vision_normalize(e, &d, &err), 0);
    assert_int_equal(d.repairs, 6);
    assert_non_null(strstr(buf_cstr(&err), "'scene' missing"));
    assert_non_null(strstr(buf_cstr(&err), "'kind' missing, other assumed"));
    assert_int_equal(d.kind, STORE_KIND_OTHER);
    assert_false(d.typed);
    assert_string_equal(d.description, "");
    vision_desc_release(&d);
    json_decref(e);

    /* Wrong types everywhere. */
    json_t *w = load("{\"scene\":42,\"objects\":\"a cat\",\"text\":\"MYLARI HOTEL\","
                     "\"actions\":{\"x\":1},\"people_count\":\"3\",\"kind\":\"selfie stick\","
                     "\"receipt\":[],\"lab_report\":7}");
    buf_reset(&err);
    assert_int_equal(vision_normalize(w, &d, &err), 0);
    assert_string_equal(d.scene, "");
    assert_string_equal(d.ocr_text, "MYLARI HOTEL"); /* a bare string is still text */
    assert_int_equal(d.ntexts, 1);
    assert_int_equal(d.people_count, 3); /* "3" read, but noted */
    assert_int_equal(d.kind, STORE_KIND_OTHER);
    assert_int_equal(d.nobjects, 0);
    assert_true(d.repairs >= 5);
    vision_desc_release(&d);
    json_decref(w);

    /* Counts: negative and absurd values, reals. */
    json_t *c = load("{\"scene\":\"x\",\"people_count\":-2,\"kind\":\"photo\"}");
    assert_int_equal(vision_normalize(c, &d, NULL), 0);
    assert_int_equal(d.people_count, 0);
    vision_desc_release(&d);
    json_object_set_new(c, "people_count", json_real(2.6));
    assert_int_equal(vision_normalize(c, &d, NULL), 0);
    assert_int_equal(d.people_count, 3);
    vision_desc_release(&d);
    json_object_set_new(c, "people_count", json_real(1e30));
    assert_int_equal(vision_normalize(c, &d, NULL), 0);
    assert_int_equal(d.people_count, 100000);
    vision_desc_release(&d);
    json_decref(c);

    /* Text entries that are not objects or have no content are skipped. */
    json_t *t = load("{\"text\":[1,null,{\"language\":\"en\"},{\"content\":\"\"},"
                     "{\"content\":\"ಮೈಸೂರು ಪಾಕ್\",\"language\":null,\"script\":\"Knda\"},"
                     "\"Nandini Milk\"],\"kind\":\"photo\"}");
    assert_int_equal(vision_normalize(t, &d, NULL), 0);
    assert_string_equal(d.ocr_text, "ಮೈಸೂರು ಪಾಕ್\nNandini Milk");
    assert_int_equal(d.ntexts, 2);
    assert_true(d.has_kannada);
    assert_string_equal(d.language, "kn"); /* no language given, Kannada letters seen */
    vision_desc_release(&d);
    json_decref(t);
    buf_release(&err);
}

static void test_normalize_promote(void **state)
{
    struct vision_desc d;
    struct buf err = BUF_INIT;
    /* A "photo" whose receipt is filled is a receipt. */
    json_t *a = load("{\"scene\":\"bill\",\"kind\":\"photo\",\"receipt\":{\"merchant\":\"MTR\","
                     "\"date\":null,\"currency\":null,\"total\":\"285\",\"items\":[]},"
                     "\"lab_report\":null,\"screenshot\":null,\"whiteboard\":null}");
    assert_int_equal(vision_normalize(a, &d, &err), 0);
    assert_int_equal(d.kind, STORE_KIND_RECEIPT);
    assert_true(d.typed);
    assert_non_null(strstr(buf_cstr(&err), "receipt assumed"));
    vision_desc_release(&d);
    /* Two typed fields filled: ambiguous, the label stays. */
    json_object_set_new(a, "whiteboard", load("{\"action_items\":[{\"text\":\"x\"}]}"));
    assert_int_equal(vision_normalize(a, &d, NULL), 0);
    assert_int_equal(d.kind, STORE_KIND_PHOTO);
    assert_false(d.typed);
    vision_desc_release(&d);
    /* A screenshot is never relabelled (a payment screenshot fills a
     * receipt-like field but is still a screenshot). */
    json_object_set_new(a, "kind", json_string("screenshot"));
    json_object_set_new(a, "whiteboard", json_null());
    assert_int_equal(vision_normalize(a, &d, NULL), 0);
    assert_int_equal(d.kind, STORE_KIND_SCREENSHOT);
    vision_desc_release(&d);
    /* An all-null receipt object is not "typed". */
    json_object_set_new(a, "kind", json_string("receipt"));
    json_object_set_new(a, "receipt", load("{\"merchant\":null,\"date\":null,\"currency\":null,"
                                           "\"total\":null,\"items\":[]}"));
    assert_int_equal(vision_normalize(a, &d, NULL), 0);
    assert_int_equal(d.kind, STORE_KIND_RECEIPT);
    assert_false(d.typed);
    vision_desc_release(&d);
    json_decref(a);
    buf_release(&err);
}

/* Random damage to a valid answer: delete, retype or replace values at
 * random depths. Nothing may crash or leak (ASan checks), and every
 * object normalises. */
static uint32_t rng = 12345;
static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static json_t *random_value(void)
{
    switch (next_rand() % 7) {
    case 0: return json_null();
    case 1: return json_integer((json_int_t)(next_rand() % 2000) - 1000);
    case 2: return json_real((double)next_rand() / 7.0);
    case 3: return json_string("ಕನ್ನಡ text ₹ 1,250.00");
    case 4: return json_array();
    case 5: return json_object();
    default: return json_true();
    }
}

static void damage(json_t *j, int depth)
{
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(j, tmp, k, v) {
            uint32_t r = next_rand() % 8;
            if (r == 0)
                json_object_del(j, k);
            else if (r == 1)
                json_object_set_new(j, k, random_value());
            else if (depth < 4)
                damage(v, depth + 1);
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) {
            if (next_rand() % 5 == 0)
                json_array_set_new(j, i, random_value());
            else if (depth < 4)
                damage(v, depth + 1);
        }
    }
}

static void test_normalize_fuzz(void **state)
{
    json_t *base = load(receipt_answer);
    for (int i = 0; i < 400; i++) {
        json_t *a = json_deep_copy(base);
        damage(a, 0);
        struct vision_desc d;
        struct buf err = BUF_INIT;
        assert_int_equal(vision_normalize(a, &d, &err), 0);
        assert_non_null(d.scene);
        assert_non_null(d.ocr_text);
        assert_non_null(d.description);
        assert_true((unsigned)d.kind < STORE_KIND__COUNT);
        vision_desc_release(&d);
        buf_release(&err);
        json_decref(a);
    }
    json_decref(base);
}

static void test_frames(void **state)
{
    struct buf p = BUF_INIT;
    vision_prompt(VISION_INPUT_FRAMES, &p);
    assert_true(!strncmp(buf_cstr(&p), "These images are frames sampled in order", 40));
    buf_release(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_strict),    cmocka_unit_test(test_schema_accepts_answers),
        cmocka_unit_test(test_prompt),           cmocka_unit_test(test_frames),
        cmocka_unit_test(test_parse),            cmocka_unit_test(test_kind_parse),
        cmocka_unit_test(test_normalize_full),   cmocka_unit_test(test_normalize_partial),
        cmocka_unit_test(test_normalize_promote), cmocka_unit_test(test_normalize_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
