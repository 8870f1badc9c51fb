/* SPDX-License-Identifier: MIT */
/*
 * vision: what hermod asks a vision-language model about an image, and
 * what it makes of the answer.
 *
 * Every image (photo, screenshot, receipt, lab report, whiteboard, or the
 * sampled frames of a short video) gets the same question: the prompt of
 * vision_prompt() plus one fixed JSON Schema, sent as OpenAI's
 * response_format {"type":"json_schema", "json_schema": {"name":
 * "visual_description", "strict": true, "schema": ...}} or as Ollama's
 * "format". The answer holds a scene description, the objects, every piece
 * of text verbatim with its language and script, the actions, a people
 * count, the kind of image, and one typed sub-object (receipt, lab_report,
 * screenshot, whiteboard) filled when the kind matches; extract.h turns
 * that sub-object into typed facts. docs/internals/extract.md shows the
 * schema and explains its choices.
 *
 * The schema is written for strict structured-output engines (OpenAI
 * strict mode, llama.cpp and Ollama grammars, vLLM/xgrammar): every object
 * lists all its properties as required and forbids others, optional values
 * are nullable ("type": ["string", "null"]; objects via anyOf with null),
 * and only widely supported keywords are used (type, enum, items,
 * properties, required, additionalProperties, anyOf, minimum,
 * description).
 *
 * DESIGN
 * The schema is a constant string parsed on demand; the prompt is
 * constant text. vision_parse() and vision_normalize() are pure and
 * reentrant, for the worker pool. vision_normalize() never fails on an
 * object: a missing or mistyped field takes its default and is counted in
 * repairs, because engines without grammar support (or a truncated
 * answer) still deserve a description in the store.
 */
#ifndef HERMOD_VISION_H
#define HERMOD_VISION_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "lib/buf.h"
#include "store/store.h"

/* The largest answer vision_parse() reads: a page of OCR is ~10 KiB. */
#define VISION_MAX_ANSWER (1u << 20)

enum vision_input {
    VISION_INPUT_PHOTO,  /* one image */
    VISION_INPUT_FRAMES, /* frames sampled in order from one video */
};

/* The schema as JSON text (constant, NUL-terminated, never freed). */
const char *vision_schema_json(void);

/* The schema as a new JSON object; the caller decrefs it. Never NULL. */
json_t *vision_schema(void);

/*
 * OpenAI's response_format for the schema, a new object the caller
 * decrefs: {"type":"json_schema","json_schema":{"name":
 * "visual_description","strict":true,"schema":{...}}}.
 */
json_t *vision_response_format(void);

/*
 * Appends to out the instruction sent with the image(s): describe, copy
 * every text verbatim with its language and script, classify the kind,
 * fill the matching typed sub-object with values as printed, null the
 * others. For VISION_INPUT_FRAMES it adds how to treat a frame sequence.
 */
void vision_prompt(enum vision_input in, struct buf *out);

/*
 * Reads the model's reply text into a JSON object: the object itself, or
 * one wrapped in a ```json fence, preceded by prose or a <think> block, or
 * followed by chatter. Sets *out (caller decrefs). Returns 0; -EMSGSIZE
 * when len exceeds VISION_MAX_ANSWER; -EPROTO when no JSON object could be
 * read (err says why).
 */
int vision_parse(const char *text, size_t len, json_t **out, struct buf *err);

/*
 * Parses a kind name leniently: the schema's names, any case, with spaces
 * or hyphens for underscores, and synonyms ("bill" and "invoice" are
 * receipts, "lab report" and "medical report" lab reports, "food" a meal,
 * "image" a photo, "chat" a screenshot, "notes" a whiteboard). Returns 0
 * and sets *out, or -EINVAL.
 */
int vision_kind_parse(const char *s, enum store_kind *out);

/* What the pipeline keeps of an answer. */
struct vision_desc {
    enum store_kind kind; /* never STORE_KIND_VIDEO or _TRANSCRIPT; OTHER by default */
    char *scene;          /* as the model wrote it; "" when missing */
    char *ocr_text;       /* the text entries' contents, one per line; "" when none */
    char *language;       /* the language of most OCR text ("en", "kn"), else "und" */
    char *description;    /* scene + "Objects: ..." + "Actions: ...", for the store */
    unsigned people_count;
    size_t nobjects, ntexts, nactions;
    bool has_kannada; /* some text is Kannada (script Knda, language kn, or its letters) */
    bool typed;       /* the sub-object of kind holds something */
    unsigned repairs; /* fields that were missing or of the wrong type */
};

/* Empties d (all strings "", kind OTHER); vision_desc_release frees. */
void vision_desc_init(struct vision_desc *d);
void vision_desc_release(struct vision_desc *d);

/*
 * Turns an answer (borrowed) into *out, which it initialises first (the
 * caller releases it in every case). Fields missing, null or of the wrong
 * type take defaults (an unknown kind is OTHER, a negative count 0) and
 * each is counted in out->repairs with a note in err (may be NULL); so
 * does a kind the typed sub-objects contradict: a "photo" whose receipt
 * is filled becomes a receipt, because the model read it as one.
 * Returns 0, or -EINVAL when answer is not an object (out holds the
 * defaults).
 */
int vision_normalize(const json_t *answer, struct vision_desc *out, struct buf *err);

#endif
