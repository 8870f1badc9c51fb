/* SPDX-License-Identifier: MIT */
/*
 * answer_int.h: the named-entity half of answer (answer_ent.c), shared with
 * answer.c and the unit test.
 */
#ifndef HERMOD_ANSWER_INT_H
#define HERMOD_ANSWER_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/* Spellings tried per name: as written, and stems without a case ending. */
#define ANSWER_FORMS_MAX 6

struct answer_entity {
    char *name;                     /* as written in the input */
    char *keys[ANSWER_FORMS_MAX];   /* translit_key() of each form */
    size_t nkeys;
};

struct answer_entities {
    struct answer_entity *v;
    size_t n, alloc;
};

/*
 * Finds the candidate names in the len bytes of input (the heuristic is in
 * docs/internals/answer.md): Kannada-script words that are not common
 * words, and capitalised Latin words in sentences that langid takes for
 * Kannada. Appends at most max distinct names to *out.
 * Reads at most ANSWER_INPUT_SCAN bytes of the input.
 */
void answer__entities_find(const char *input, size_t len, size_t max,
                           struct answer_entities *out);
void answer__entities_release(struct answer_entities *e);

/* Is word (a Kannada-script word, len bytes) one of the common words? */
bool answer__kn_common(const char *word, size_t len);

/*
 * Does the matching key of an answer, as " key " (a space on each side),
 * contain any form of entity e? The same test as translit_contains(),
 * with the answer's key computed once for all names.
 */
bool answer__entity_in(const struct answer_entity *e, const char *spaced_key);

/* How many of the input's bytes are searched for names. */
#define ANSWER_INPUT_SCAN (64 * 1024)

#endif
