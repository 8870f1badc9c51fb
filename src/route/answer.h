/* SPDX-License-Identifier: MIT */
/*
 * answer: is a model's answer good enough to return, or should the gateway
 * try a stronger model?
 *
 * For a chat completion the gateway builds one answer_spec from the
 * request (its response_format and the text of its system and user
 * messages) and judges each attempt's assistant message against it. The
 * verdict lists what is wrong, each with a short reason fit for a log line
 * or for the retry prompt:
 *
 *   truncated   finish_reason was "length"
 *   not JSON    a JSON format was asked for and none was found (with
 *               jansson's message and position)
 *   not object  {"type":"json_object"} and the JSON is not an object
 *   schema      the JSON violates the json_schema (one problem per violation,
 *               from jschema), or validation gave up (limits)
 *   empty       nothing but white space; or the JSON is {}, [], "", null;
 *               or every required string field of the top-level object is
 *               blank
 *   names       the input is Kannada (script, or romanized as langid judges
 *               it) and the answer mentions too few of the names in it,
 *               in either script (ರಾಜೇಶ್ is covered by "Rajesh")
 *   wrapped     minor, not a failure: the JSON was inside a ``` fence or
 *               after some prose, and was taken from there
 *
 * answer_score() orders verdicts so that, when every attempt fails, the
 * gateway can still return the best one. docs/internals/answer.md has the
 * details, the name heuristic and its limits.
 *
 * DESIGN
 * A spec is immutable once made, so several attempts may be judged at once
 * from any threads; everything else is pure. The spec holds a reference
 * to the schema (json_incref) and its own copy of the names; a verdict owns
 * what it points to and is released with answer_verdict_release().
 */
#ifndef HERMOD_ANSWER_H
#define HERMOD_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/buf.h"

enum answer_format {
    ANSWER_TEXT,        /* no response_format, or {"type":"text"} */
    ANSWER_JSON_OBJECT, /* {"type":"json_object"} */
    ANSWER_JSON_SCHEMA, /* {"type":"json_schema","json_schema":{...}} */
};

enum answer_problem_kind {
    ANSWER_TRUNCATED,
    ANSWER_NOT_JSON,
    ANSWER_NOT_OBJECT,
    ANSWER_SCHEMA,       /* one schema violation */
    ANSWER_SCHEMA_LIMIT, /* validation stopped at a limit (jschema -ELOOP) */
    ANSWER_EMPTY,
    ANSWER_NAMES,        /* too few of the input's Kannada names */
    ANSWER_WRAPPED,      /* minor */
};

/* Problems listed per verdict; more are counted in ndropped. */
#define ANSWER_MAX_PROBLEMS 12
/* Names taken from one input. */
#define ANSWER_MAX_NAMES 32

struct answer_problem {
    enum answer_problem_kind kind;
    bool minor; /* does not make the answer fail */
    /* "/items/2/price: expected number, got string", cut to fit on a
     * character boundary. */
    char reason[320];
};

struct answer_verdict {
    bool ok;        /* no problem but minor ones: return this answer */
    bool parsed;    /* text format, or JSON was found (maybe wrapped) */
    bool wrapped;
    bool truncated;
    bool empty;
    /* The JSON found, owned by the verdict; NULL for text or none. When
     * wrapped, this is what the client should get instead of the text. */
    json_t *json;
    /* Violations of the schema (all of them, listed or not); a non-object
     * for json_object and a validation that gave up count as one. */
    size_t schema_errors;
    /* Names in the input, how many the answer mentions, and their ratio
     * (1 when there are no names or the check is off). */
    size_t names, covered;
    double coverage;
    /* The names not mentioned, as written in the input; owned. */
    char **missing;
    size_t nmissing;
    struct answer_problem problems[ANSWER_MAX_PROBLEMS];
    size_t nproblems, ndropped;
};

struct answer_spec;

/*
 * Makes the spec that answers to one request are judged by.
 *
 * response_format is the request's member of that name (borrowed; NULL
 * when absent). For json_schema, json_schema.schema is checked with
 * jschema_check_schema() and a reference to it is kept; a missing schema
 * accepts any JSON. llama.cpp's {"type":"json_object","schema":{...}} is
 * accepted too. input (input_len bytes of UTF-8, borrowed) is the text of
 * the request's system and user messages; the names of the coverage check
 * are found in it now. min_coverage in [0, 1] is the fraction of those
 * names an answer must mention; 0 turns the check off.
 *
 * Returns 0 and sets *out (free with answer_spec_free()), or -EINVAL when
 * response_format is malformed: not an object, an unknown type, a
 * json_schema without an object in "json_schema", or a schema that
 * jschema_check_schema() rejects. Then one line saying why is appended to
 * err (when not NULL) and *out is NULL; the gateway answers 400.
 */
int answer_spec_new(const json_t *response_format, const char *input, size_t input_len,
                    double min_coverage, struct answer_spec **out, struct buf *err);

/* Frees a spec; NULL is a no-op. Verdicts made with it stay valid. */
void answer_spec_free(struct answer_spec *spec);

enum answer_format answer_spec_format(const struct answer_spec *spec);

/* The names found in the input, in the order found; index < count. The
 * strings belong to the spec. */
size_t answer_spec_names(const struct answer_spec *spec);
const char *answer_spec_name(const struct answer_spec *spec, size_t index);

void answer_verdict_init(struct answer_verdict *v);
/* Frees what the verdict owns and leaves it initialised. */
void answer_verdict_release(struct answer_verdict *v);

/*
 * Judges one answer: text (len bytes of UTF-8, borrowed; the assistant
 * message's content) and finish_reason (NUL-terminated, or NULL when
 * unknown). *v must be initialised; it is cleared and filled. Never fails.
 * Thread-safe for one spec and distinct verdicts.
 */
void answer_judge(const struct answer_spec *spec, const char *text, size_t len,
                  const char *finish_reason, struct answer_verdict *v);

/*
 * Ranks a verdict; higher is better, and an ok verdict beats any other.
 * Then: JSON that meets the schema (failing only on emptiness, truncation
 * or names) beats JSON with schema errors, fewer errors beat more, and any
 * JSON beats none; within that, higher name coverage, then not empty, not
 * truncated and not wrapped. Equal scores are equally good; the gateway
 * keeps the earlier attempt.
 */
int64_t answer_score(const struct answer_verdict *v);

/* "truncated", "not_json", "not_object", "schema", "schema_limit",
 * "empty", "names", "wrapped". Static strings. */
const char *answer_problem_name(enum answer_problem_kind kind);

/*
 * Appends the verdict's problems to out as one line for a log or a retry
 * prompt: "schema: /total: expected number, got string; names: covers 1 of
 * 2 ...". Appends "ok" for a verdict without problems.
 */
void answer_verdict_describe(const struct answer_verdict *v, struct buf *out);

#endif
