/* SPDX-License-Identifier: MIT */
/*
 * jschema: checks a JSON value against a JSON Schema.
 *
 * When a client asks for structured output (response_format json_schema),
 * hermod validates the model's answer itself and escalates to a stronger
 * model when it falls short. This module is the validator: it walks a
 * schema and an instance that jansson has already parsed and reports every
 * violation with the JSON pointer of the offending value, in words that can
 * be logged or handed back to a model.
 *
 * The dialect is JSON Schema draft 2020-12 as OpenAI structured outputs use
 * it, plus what older drafts and OpenAPI put in schemas that clients still
 * send:
 *
 *   type (a name or an array of names; "integer" accepts 1.0), enum, const,
 *   properties, required, additionalProperties, patternProperties,
 *   minProperties, maxProperties, items, prefixItems, minItems, maxItems,
 *   uniqueItems, minLength, maxLength (in code points, not bytes), pattern,
 *   format (date, time, date-time, email, uuid), minimum, maximum,
 *   exclusiveMinimum, exclusiveMaximum (numbers, or draft-4 booleans),
 *   multipleOf, allOf, anyOf, oneOf, not, if/then/else, $ref to a JSON
 *   pointer inside the same document ("#", "#/$defs/x", "#/definitions/x"),
 *   boolean schemas, "items" as an array (draft 4 tuples, with
 *   additionalItems) and OpenAPI's "nullable": true.
 *
 * Every other keyword is ignored, as the specification asks of unknown
 * ones; docs/internals/answer.md lists the known keywords that are not
 * implemented (contains, dependentSchemas, unevaluated*, $dynamicRef,
 * remote $ref, ...).
 *
 * `pattern` is ECMA-262 in the specification but POSIX extended regular
 * expressions here (regcomp, REG_EXTENDED) in the C.UTF-8 locale, so '.'
 * and {n,m} count code points. The common ECMA escapes are translated
 * (\d \w \s and their negations, \uXXXX, \xHH, \t \n \r, (?:...), lazy
 * quantifiers, \- and \] in classes, ranges of non-ASCII letters). A
 * pattern that uses what POSIX cannot express (lookaround, backreferences,
 * \b, \p{...}), that regcomp rejects, or that is too costly for glibc to
 * compile or match within the call's budget is not checked at all: a
 * validator that cannot tell must not fail an answer for it.
 *
 * DESIGN
 * Pure functions: no global state, no allocation that outlives a call
 * (compiled patterns are cached per call), any thread. The locale for
 * patterns is switched with uselocale(), which is per thread, and restored
 * before each pattern function returns. Schemas come from clients, so
 * nothing here trusts one: recursion depth (nesting and $ref chains) and
 * the total work of one call are bounded, and a call that reaches a bound
 * stops with -ELOOP instead of recursing or looping without end. The bounds
 * are far above what real structured-output schemas need (OpenAI allows 10
 * levels of nesting and 5,000 properties).
 */
#ifndef HERMOD_JSCHEMA_H
#define HERMOD_JSCHEMA_H

#include <stddef.h>

#include <jansson.h>

#include "lib/buf.h"

/* Deepest nesting of schemas applied to one value path, $ref hops included. */
#define JSCHEMA_MAX_DEPTH 128
/* Most units of work for one call: a schema applied to a value, a value
 * compared for enum/const/uniqueItems, a pattern compiled or matched. */
#define JSCHEMA_MAX_STEPS 250000
/* Most schema objects jschema_check_schema() walks. */
#define JSCHEMA_MAX_NODES 50000

struct jschema_error {
    /* JSON pointer (RFC 6901) of the offending value in the instance: "" is
     * the whole value, "/items/2/price" a member of an element. Truncated
     * with "/..." when it does not fit. */
    char path[256];
    /* What is wrong, in one line: "expected number, got string",
     * "missing required property \"price\"". Truncated to fit. */
    char msg[256];
};

/*
 * Validates instance against schema. Both are borrowed and not changed.
 *
 * Returns 0 when the instance is valid, -EINVAL when it is not, -ELOOP when
 * a bound was reached before the answer was known (the schema is nested
 * deeper than JSCHEMA_MAX_DEPTH, recurses through $ref without end, or the
 * work exceeds JSCHEMA_MAX_STEPS), and -ENOTSUP when the schema is
 * malformed or uses what is not supported (see jschema_check_schema()).
 *
 * *nerrs is set to the number of violations found, which may be more than
 * max_errs; the first max_errs of them are written to errs, in document
 * order. errs may be NULL when max_errs is 0. On -ELOOP and -ENOTSUP,
 * *nerrs is 1 and errs[0] says why the call gave up; on 0 it is 0.
 *
 * Every schema is checked with jschema_check_schema() first; this function
 * remembers nothing between calls, so a caller that validates many
 * instances against one schema checks it once up front and calls
 * jschema_validate_checked() instead.
 */
int jschema_validate(const json_t *schema, const json_t *instance, struct jschema_error *errs,
                     size_t max_errs, size_t *nerrs);

/*
 * jschema_validate() for a schema that jschema_check_schema() has already
 * accepted, without checking it again: answer checks a request's schema
 * once and judges every attempt against it. Same results and bounds for
 * such a schema.
 */
int jschema_validate_checked(const json_t *schema, const json_t *instance,
                             struct jschema_error *errs, size_t max_errs, size_t *nerrs);

/*
 * Checks that schema is one this module can apply: an object or a boolean;
 * every keyword it knows has a value of the right shape ("type" names known
 * types, "required" is an array of strings, "minLength" a non-negative
 * integer, "multipleOf" a positive number, subschemas are schemas, ...);
 * every $ref is local and resolves to a schema. Unknown keywords are
 * accepted. The schema is borrowed.
 *
 * Returns 0, -EINVAL for a malformed schema or -ELOOP for one nested deeper
 * than JSCHEMA_MAX_DEPTH or with more than JSCHEMA_MAX_NODES schemas. On
 * failure, appends one line to err (when not NULL) naming the place in the
 * schema as a JSON pointer: "#/properties/kind/enum: must be an array".
 * The gateway answers such a request with 400.
 */
int jschema_check_schema(const json_t *schema, struct buf *err);

/*
 * Parses a schema that is part of hermod (constant JSON text) into a new
 * object the caller decrefs. Never NULL: text that does not parse is a
 * bug, reported with name.
 */
json_t *jschema_parse_const(const char *name, const char *text);

/*
 * OpenAI's response_format for such a schema, a new object the caller
 * decrefs: {"type":"json_schema","json_schema":{"name":name,
 * "strict":true,"schema":{...}}}.
 */
json_t *jschema_response_format(const char *name, const char *schema_text);

#endif
