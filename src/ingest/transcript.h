/* SPDX-License-Identifier: MIT */
/*
 * transcript: the language side of extraction. What hermod asks a
 * language model about a transcript (Kannada-English code-mix, in Kannada
 * script or Latin letters), and the conversion of its answer into the
 * mentions and facts the store takes (struct store_mention, struct
 * store_fact).
 *
 * The model returns entities (people, places, organisations, events,
 * items, health values) and relations (subject, predicate, object or a
 * literal value, the time words as said and the date it thinks they mean).
 * The converter checks and normalises each one, and resolves the time
 * words itself, relative to the capture time, with the rules of
 * extract_resolve_day() and timeparse ("ninne" is the day before the
 * recording): a date the code can work out beats the model's arithmetic.
 * Names stay in the script they were written in; the store merges "ರಾಜೇಶ್"
 * and "Rajesh" by translit key.
 *
 * DESIGN
 * Constant schema and prompt text, pure functions, safe on any worker
 * thread. The converter never fails on a malformed entry: it skips it
 * (noting why in err), because one bad relation should not lose the rest
 * of a conversation.
 */
#ifndef HERMOD_TRANSCRIPT_H
#define HERMOD_TRANSCRIPT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "ingest/extract.h"
#include "lib/buf.h"

/* The name the speaker goes by in facts ("I met Rajesh"): one entity for
 * the owner across all transcripts. */
#define TRANSCRIPT_SPEAKER "me"

/* The schema as JSON text (constant). */
const char *transcript_schema_json(void);

/* The schema as a new JSON object (caller decrefs); never NULL. */
json_t *transcript_schema(void);

/* OpenAI's response_format for it ("name": "transcript_facts", strict),
 * a new object the caller decrefs. */
json_t *transcript_response_format(void);

/*
 * Appends to out the instruction for the language model: what to extract,
 * how to write names (base form, the script used, never translated), and
 * the recording time (captured_at, ms since the epoch, shown in the zone
 * tz_min minutes east of UTC) that time words are relative to. When
 * transcript is not NULL it is appended after the instruction, between
 * markers, so the whole text can go as one user message. The instruction
 * carries guidance for Kannada-English code-mix (case endings, scripts,
 * Kanglish time words) unless the transcript is given and langid says it
 * needs no Kannada: then it is plain English, so that routing by language
 * sends an English note to any model.
 */
void transcript_prompt(const char *transcript, int64_t captured_at, int tz_min,
                       struct buf *out);
/* The instruction alone (for a system message, the transcript going as
 * the user's), with the code-mix guidance when kannada is set. */
void transcript_instruction(int64_t captured_at, int tz_min, bool kannada, struct buf *out);
/* Whether langid says the text needs a model that reads Kannada. */
bool transcript_needs_kannada(const char *text);

/*
 * Converts the model's answer (borrowed; the schema's shape) into
 * mentions and facts appended to g, which owns every string. Relations get
 * valid_from = local midnight of their day (STORE_TIME_NONE when no time
 * was said), attrs_json with the time words, the resolved date and where
 * it came from ("words" or "model"), and ends_previous for lives_in and
 * works_at. The speaker ("I", "naanu", ...) becomes TRANSCRIPT_SPEAKER.
 * Entries without a keyable name, predicate, or object or value are
 * skipped with a note in err (may be NULL). Returns the number of facts
 * added, or -EINVAL when answer is not an object.
 */
int transcript_convert(const json_t *answer, int64_t captured_at, int tz_min,
                       struct extract_graph *g, struct buf *err);

#endif
