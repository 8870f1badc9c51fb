/* SPDX-License-Identifier: MIT */
/*
 * answer.c: see answer.h. The spec is made once per request; judging an
 * answer is: find the JSON (whole text, fenced block, or first value after
 * prose), apply the format's checks, look for the input's names in the
 * answer, and list the problems in a fixed order (the ones that explain
 * the others first: a truncated answer is usually also not JSON).
 *
 * DESIGN
 * No state outside the spec and the verdict. The names are looked for in
 * the matching key (translit_key) of the answer: of its string values when
 * it is JSON, since key names, quotes and escapes ("Rajesh\nMysuru") would
 * otherwise glue onto words; of the raw text otherwise.
 */
#include "route/answer.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "lib/xalloc.h"
#include "route/answer_int.h"
#include "text/jschema.h"
#include "text/translit.h"

struct answer_spec {
    enum answer_format format;
    json_t *schema; /* a reference; NULL: any JSON */
    double min_coverage;
    struct answer_entities names;
};

/* jansson's refcounting needs a non-const pointer although the value is
 * not changed; the spec only reads the schema. */
static json_t *unconst(const json_t *j)
{
    return (json_t *)(uintptr_t)j;
}

__attribute__((format(printf, 2, 3))) static int bad_format(struct buf *err, const char *fmt,
                                                            ...)
{
    va_list ap;
    if (err) {
        buf_addstr(err, "response_format: ");
        va_start(ap, fmt);
        buf_vaddf(err, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

int answer_spec_new(const json_t *response_format, const char *input, size_t input_len,
                    double min_coverage, struct answer_spec **out, struct buf *err)
{
    enum answer_format format = ANSWER_TEXT;
    const json_t *schema = NULL, *type, *js;
    struct answer_spec *spec;
    struct buf why = BUF_INIT;

    ASSERT(out && (input || !input_len));
    *out = NULL;
    if (response_format && !json_is_null(response_format)) {
        if (!json_is_object(response_format))
            return bad_format(err, "must be an object");
        type = json_object_get(response_format, "type");
        if (!json_is_string(type))
            return bad_format(err, "\"type\" must be a string");
        if (!strcmp(json_string_value(type), "text")) {
            format = ANSWER_TEXT;
        } else if (!strcmp(json_string_value(type), "json_object")) {
            /* llama.cpp's server takes a schema here too */
            schema = json_object_get(response_format, "schema");
            format = schema ? ANSWER_JSON_SCHEMA : ANSWER_JSON_OBJECT;
        } else if (!strcmp(json_string_value(type), "json_schema")) {
            js = json_object_get(response_format, "json_schema");
            if (!json_is_object(js))
                return bad_format(err, "\"json_schema\" must be an object");
            if (json_object_get(js, "name") && !json_is_string(json_object_get(js, "name")))
                return bad_format(err, "json_schema.name must be a string");
            schema = json_object_get(js, "schema");
            format = ANSWER_JSON_SCHEMA;
        } else {
            return bad_format(err, "unsupported type \"%s\"", json_string_value(type));
        }
    }
    if (schema && jschema_check_schema(schema, &why)) {
        bad_format(err, "invalid schema: %s", buf_cstr(&why));
        buf_release(&why);
        return -EINVAL;
    }
    buf_release(&why);

    spec = xcalloc(1, sizeof(*spec));
    spec->format = format;
    spec->schema = schema ? json_incref(unconst(schema)) : NULL;
    /* NaN and out-of-range values are clamped, not trusted */
    spec->min_coverage = min_coverage > 0 ? (min_coverage < 1 ? min_coverage : 1) : 0;
    /* The finder checks Kannada per sentence (langid on Latin ones), so an
     * English system prompt does not hide a Kanglish user message. */
    if (spec->min_coverage > 0 && input_len)
        answer__entities_find(input, input_len, ANSWER_MAX_NAMES, &spec->names);
    *out = spec;
    return 0;
}

void answer_spec_free(struct answer_spec *spec)
{
    if (!spec)
        return;
    json_decref(spec->schema);
    answer__entities_release(&spec->names);
    free(spec);
}

enum answer_format answer_spec_format(const struct answer_spec *spec)
{
    return spec->format;
}

size_t answer_spec_names(const struct answer_spec *spec)
{
    return spec->names.n;
}

const char *answer_spec_name(const struct answer_spec *spec, size_t index)
{
    ASSERT(index < spec->names.n);
    return spec->names.v[index].name;
}

void answer_verdict_init(struct answer_verdict *v)
{
    memset(v, 0, sizeof(*v));
    v->coverage = 1.0;
}

void answer_verdict_release(struct answer_verdict *v)
{
    json_decref(v->json);
    for (size_t i = 0; i < v->nmissing; i++)
        free(v->missing[i]);
    free(v->missing);
    answer_verdict_init(v);
}

const char *answer_problem_name(enum answer_problem_kind kind)
{
    switch (kind) {
    case ANSWER_TRUNCATED: return "truncated";
    case ANSWER_NOT_JSON: return "not_json";
    case ANSWER_NOT_OBJECT: return "not_object";
    case ANSWER_SCHEMA: return "schema";
    case ANSWER_SCHEMA_LIMIT: return "schema_limit";
    case ANSWER_EMPTY: return "empty";
    case ANSWER_NAMES: return "names";
    case ANSWER_WRAPPED: return "wrapped";
    }
    return "?";
}

/* Adds a problem unless the list is full (then it is only counted). */
__attribute__((format(printf, 4, 5))) static void add_problem(struct answer_verdict *v,
                                                              enum answer_problem_kind kind,
                                                              bool minor, const char *fmt, ...)
{
    struct answer_problem *p;
    va_list ap;
    int n;
    size_t cap;

    if (v->nproblems >= ANSWER_MAX_PROBLEMS) {
        v->ndropped++;
        return;
    }
    p = &v->problems[v->nproblems++];
    p->kind = kind;
    p->minor = minor;
    cap = sizeof(p->reason);
    va_start(ap, fmt);
    n = vsnprintf(p->reason, cap, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n >= cap) {
        /* cut on a character boundary and say so */
        size_t k = cap - 4;
        while (k > 0 && ((unsigned char)p->reason[k] & 0xc0) == 0x80)
            k--;
        memcpy(p->reason + k, "...", 4);
    }
}

static bool is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strchr(" \t\n\r\f\v", s[i]) || !s[i])
            return false;
    return true;
}

/*
 * Finds the JSON of an answer: the whole text; else the first ``` fenced
 * block; else the first object or array that parses, trying the first 16
 * places that start with { or [. *wrapped is set when it was not the whole
 * text. On failure, *err holds jansson's complaint about the whole text.
 */
static json_t *find_json(const char *text, size_t len, bool *wrapped, json_error_t *err)
{
    json_error_t e2;
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY, err);
    const char *end = text + len, *fence;
    size_t tries = 0;

    if (j)
        return j;
    fence = len >= 3 ? memmem(text, len, "```", 3) : NULL;
    if (fence) {
        const char *body = fence + 3, *nl, *close;
        nl = memchr(body, '\n', (size_t)(end - body));
        body = nl ? nl + 1 : end; /* skip the info string, "json" */
        close = memmem(body, (size_t)(end - body), "```", 3);
        j = json_loadb(body, (size_t)((close ? close : end) - body), JSON_DECODE_ANY, &e2);
    }
    for (size_t i = 0; !j && i < len && tries < 16; i++) {
        if (text[i] != '{' && text[i] != '[')
            continue;
        tries++;
        j = json_loadb(text + i, len - i, JSON_DISABLE_EOF_CHECK, &e2);
    }
    if (j)
        *wrapped = true;
    return j;
}

/* The top-level schema, through a $ref to #/$defs/x or #/definitions/x. */
static const json_t *root_schema(const json_t *s)
{
    for (int hop = 0; hop < 4 && json_is_object(s); hop++) {
        const json_t *r = json_object_get(s, "$ref");
        const char *ref, *name;
        if (!json_is_string(r) || json_object_get(s, "required"))
            return s;
        ref = json_string_value(r);
        if (!strncmp(ref, "#/$defs/", 8))
            name = ref + 8, s = json_object_get(json_object_get(s, "$defs"), name);
        else if (!strncmp(ref, "#/definitions/", 14))
            name = ref + 14, s = json_object_get(json_object_get(s, "definitions"), name);
        else
            return s;
    }
    return s;
}

/* Is the JSON empty? Appends why to *why. The schema (may be NULL) tells
 * which fields are required. */
static bool json_empty(const json_t *schema, const json_t *j, struct buf *why)
{
    const json_t *req, *name;
    size_t i, nstr = 0;

    if (json_is_null(j)) {
        buf_addstr(why, "the JSON is null");
        return true;
    }
    if ((json_is_object(j) && !json_object_size(j)) || (json_is_array(j) && !json_array_size(j))) {
        buf_addstr(why, json_is_object(j) ? "the JSON is {}" : "the JSON is []");
        return true;
    }
    if (json_is_string(j) && is_blank(json_string_value(j), json_string_length(j))) {
        buf_addstr(why, "the JSON is an empty string");
        return true;
    }
    if (!json_is_object(j) || !schema)
        return false;
    req = json_object_get(root_schema(schema), "required");
    for (i = 0; i < json_array_size(req); i++) {
        name = json_array_get(req, i);
        const json_t *val = json_object_get(j, json_string_value(name));
        if (!json_is_string(name) || !json_is_string(val))
            continue;
        if (!is_blank(json_string_value(val), json_string_length(val)))
            return false;
        buf_addstr(why, nstr++ ? ", " : "every required text field is blank: ");
        buf_addstr(why, json_string_value(name));
    }
    return nstr > 0;
}

/* Appends every string value in j, one per line. */
static void add_strings(struct buf *out, const json_t *j)
{
    if (json_is_string(j)) {
        buf_add(out, json_string_value(j), json_string_length(j));
        buf_addch(out, '\n');
    } else if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++)
            add_strings(out, json_array_get(j, i));
    } else if (json_is_object(j)) {
        for (void *it = json_object_iter(unconst(j)); it;
             it = json_object_iter_next(unconst(j), it))
            add_strings(out, json_object_iter_value(it));
    }
}

static void check_names(const struct answer_spec *spec, const char *text, size_t len,
                        struct answer_verdict *v)
{
    struct buf hay = BUF_INIT, key = BUF_INIT;
    const struct answer_entities *names = &spec->names;

    if (!names->n)
        return;
    if (v->json)
        add_strings(&hay, v->json);
    else
        buf_add(&hay, text, len);
    buf_addch(&key, ' ');
    translit_key(buf_cstr(&hay), hay.len, &key);
    buf_addch(&key, ' ');

    v->names = names->n;
    v->missing = xcalloc(names->n, sizeof(char *));
    for (size_t i = 0; i < names->n; i++) {
        if (answer__entity_in(&names->v[i], buf_cstr(&key)))
            v->covered++;
        else
            v->missing[v->nmissing++] = xstrdup(names->v[i].name);
    }
    v->coverage = (double)v->covered / (double)v->names;
    buf_release(&key);
    buf_release(&hay);
}

void answer_judge(const struct answer_spec *spec, const char *text, size_t len,
                  const char *finish_reason, struct answer_verdict *v)
{
    struct jschema_error errs[ANSWER_MAX_PROBLEMS];
    size_t nerrs = 0;
    int vrc = 0;
    json_error_t jerr;
    struct buf why = BUF_INIT;
    bool not_object = false;

    ASSERT(spec && v && (text || !len));
    answer_verdict_release(v);
    if (!text)
        text = "";

    v->truncated = finish_reason && !strcmp(finish_reason, "length");
    if (spec->format != ANSWER_TEXT)
        v->json = find_json(text, len, &v->wrapped, &jerr);
    v->parsed = spec->format == ANSWER_TEXT || v->json;
    if (!v->json) {
        if ((v->empty = is_blank(text, len)))
            buf_addstr(&why, "the answer is empty");
    } else {
        v->empty = json_empty(spec->schema, v->json, &why);
        if (spec->format == ANSWER_JSON_OBJECT && !json_is_object(v->json)) {
            not_object = true;
            v->schema_errors = 1;
        }
        if (spec->schema) {
            /* answer_spec_new() has checked the schema */
            vrc = jschema_validate_checked(spec->schema, v->json, errs, ARRAY_SIZE(errs),
                                           &nerrs);
            v->schema_errors = vrc ? nerrs : 0;
        }
    }
    check_names(spec, text, len, v);

    /* The problems, causes first. */
    if (v->truncated)
        add_problem(v, ANSWER_TRUNCATED, false, "the answer was cut off (finish_reason length)");
    if (!v->parsed)
        add_problem(v, ANSWER_NOT_JSON, false, "no JSON found: %s (line %d, column %d)", jerr.text,
                    jerr.line, jerr.column);
    if (not_object)
        add_problem(v, ANSWER_NOT_OBJECT, false, "the JSON is %s, not an object",
                    json_is_array(v->json) ? "an array" : "a single value");
    if (vrc && vrc != -EINVAL)
        add_problem(v, ANSWER_SCHEMA_LIMIT, false, "the schema check gave up: %s", errs[0].msg);
    if (v->empty)
        add_problem(v, ANSWER_EMPTY, false, "%s", buf_cstr(&why));
    if (v->names && v->coverage < spec->min_coverage) {
        struct buf miss = BUF_INIT;
        for (size_t i = 0; i < v->nmissing; i++) {
            buf_addstr(&miss, i ? ", " : "");
            buf_addstr(&miss, v->missing[i]);
        }
        add_problem(v, ANSWER_NAMES, false,
                    "mentions %zu of the %zu names in the input (%.0f%%, %.0f%% needed); "
                    "missing: %s",
                    v->covered, v->names, v->coverage * 100, spec->min_coverage * 100,
                    buf_cstr(&miss));
        buf_release(&miss);
    }
    if (vrc == -EINVAL) {
        size_t listed = nerrs < ARRAY_SIZE(errs) ? nerrs : ARRAY_SIZE(errs);
        for (size_t i = 0; i < listed; i++) {
            /* keep the last slot for "wrapped" */
            if (v->wrapped && v->nproblems + 1 >= ANSWER_MAX_PROBLEMS) {
                v->ndropped++;
                continue;
            }
            add_problem(v, ANSWER_SCHEMA, false, "%s: %s", errs[i].path[0] ? errs[i].path : "/",
                        errs[i].msg);
        }
        v->ndropped += nerrs - listed;
    }
    v->ok = v->nproblems == 0 && v->ndropped == 0;
    if (v->wrapped)
        add_problem(v, ANSWER_WRAPPED, true, "the JSON was inside a code fence or after prose");
    buf_release(&why);
}

int64_t answer_score(const struct answer_verdict *v)
{
    int64_t cls, errs, permille;

    if (v->ok)
        cls = 3;
    else if (!v->parsed)
        cls = 0;
    else if (v->schema_errors)
        cls = 1;
    else
        cls = 2;
    errs = v->schema_errors > 0xffff ? 0xffff : (int64_t)v->schema_errors;
    permille = (int64_t)lround(v->coverage * 1000);
    if (permille < 0)
        permille = 0;
    if (permille > 1000)
        permille = 1000;
    return cls << 60 | (0xffff - errs) << 40 | permille << 28 | (int64_t)!v->empty << 27 |
           (int64_t)!v->truncated << 26 | (int64_t)!v->wrapped << 25;
}

void answer_verdict_describe(const struct answer_verdict *v, struct buf *out)
{
    if (!v->nproblems) {
        buf_addstr(out, "ok");
        return;
    }
    for (size_t i = 0; i < v->nproblems; i++)
        buf_addf(out, "%s%s: %s", i ? "; " : "", answer_problem_name(v->problems[i].kind),
                 v->problems[i].reason);
    if (v->ndropped)
        buf_addf(out, "; and %zu more", v->ndropped);
}
