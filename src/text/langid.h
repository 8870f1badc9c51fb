/* SPDX-License-Identifier: MIT */
/*
 * langid: which language, in which script, is a piece of user text?
 *
 * The router asks this before it picks a model: Kannada in any script
 * (Kannada letters, or Kannada typed in Latin letters, "Kanglish") must go
 * to a model that reads Kannada. Generic identifiers call romanized Kannada
 * "English"; this one is trained for it (docs/internals/langid.md).
 *
 * Seven labels:
 *
 *   kn            Kannada in Kannada script
 *   kn-latn       Kannada in Latin letters, including Kannada-English code-mix
 *                 ("naanu nale office ge hogtini, meeting ide")
 *   en            English
 *   hi            Hindi in Devanagari
 *   hi-latn       Hindi in Latin letters, including Hinglish
 *   mixed-script  Kannada script and Latin-letter words in one text
 *   other         anything else (other Indic languages, romanized or not,
 *                 other languages, text without letters)
 *
 * The classifier is a pure function over constant tables: no allocation, no
 * global state, safe to call from any thread at any time.
 */
#ifndef HERMOD_LANGID_H
#define HERMOD_LANGID_H

#include <stdbool.h>
#include <stddef.h>

enum langid_label {
    LANGID_KN,
    LANGID_KN_LATN,
    LANGID_EN,
    LANGID_HI,
    LANGID_HI_LATN,
    LANGID_MIXED_SCRIPT,
    LANGID_OTHER,
    LANGID_NLABELS
};

struct langid_result {
    enum langid_label label;
    /*
     * Probability of each label; they sum to 1. Labels that the script rules
     * exclude get 0 (Latin text can only be en, kn-latn, hi-latn or other).
     */
    float scores[LANGID_NLABELS];
    /*
     * The text should go to a model that reads Kannada. True for kn and
     * mixed-script; for Latin text it is a decision of its own (p_kannada
     * below against a threshold set for precision), so an unsure text
     * routes to Kannada only on evidence of Kannada, and ordinary English
     * does not.
     */
    bool needs_kannada;
    /*
     * How likely the text is Kannada in any script, from its own model (the
     * routing decision): 1 for Kannada script, 0 for text the model does not
     * see (Devanagari, other scripts, no letters). needs_kannada is
     * p_kannada >= langid_kannada_threshold().
     */
    float p_kannada;
    /*
     * The label is a guess: the top probability is low, the text has almost
     * no letters, or needs_kannada disagrees with the label (then the label
     * is never trusted as "en").
     */
    bool uncertain;
    /* Code points by script. Invalid UTF-8 counts one per bad sequence in
     * n_other_script. Whitespace, controls and zero-width joiners count
     * nowhere. */
    unsigned n_kannada;      /* U+0C80..U+0CFF */
    unsigned n_devanagari;   /* U+0900..U+097F */
    unsigned n_latin;        /* Latin letters: ASCII, Latin-1, Extended-A/B/Additional */
    unsigned n_other_script; /* letters of other scripts (other Indic blocks too), bad UTF-8 */
    unsigned n_digits_punct; /* ASCII digits and punctuation, symbols, emoji */
    unsigned n_latin_words;  /* runs of Latin letters */
};

/*
 * Classifies `len` bytes of UTF-8 at `utf8` (need not be NUL-terminated; may
 * be NULL when len is 0) and fills *out completely. Never fails: invalid
 * UTF-8 is counted as other-script and never read past `len`; empty text or
 * text without letters is "other" and uncertain. Counts saturate at
 * UINT_MAX. Runs in time linear in len, touches no memory but *out and the
 * constant model tables, and is thread-safe and re-entrant.
 */
void langid_classify(const char *utf8, size_t len, struct langid_result *out);

/* The p_kannada at and above which needs_kannada is set (tuned for
 * precision on held-out training data; docs/internals/langid.md). */
float langid_kannada_threshold(void);

/* "kn", "kn-latn", "en", "hi", "hi-latn", "mixed-script" or "other"; "?"
 * for a value outside the enum. Static strings. */
const char *langid_label_name(enum langid_label label);

/* Parses a label name as langid_label_name() writes it. Returns 0, or
 * -EINVAL for an unknown name (then *out is untouched). */
int langid_label_parse(const char *name, enum langid_label *out);

#endif
