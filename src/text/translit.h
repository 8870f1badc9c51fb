/* SPDX-License-Identifier: MIT */
/*
 * translit: Kannada script <-> Latin letters, for matching names across
 * scripts.
 *
 * hermod's user writes Kannada in two scripts: "ರಾಜೇಶ್" and "Rajesh" are
 * the same person, "ಮೈಸೂರು" and "Mysuru" the same place. This module gives
 * two views of a word:
 *
 *   - a readable romanization of Kannada script in the common Kanglish
 *     spelling (ಆ aa, ಈ ee, ಊ oo, ಶ/ಷ sh, retroflex and dental both t/d),
 *     for people and for the search index's Latin shadow;
 *   - a matching key, the same for a name in either script and for the
 *     spelling variants Kanglish writers use interchangeably (aa/a, ee/i,
 *     th/t, sh/s, w/v, doubled letters, ...). Two strings name the same
 *     thing when their keys are equal.
 *
 * The key is deliberately lossy: it trades a few collisions between
 * different words for a high match rate across spellings. The numbers, and
 * the data they were measured on, are in docs/internals/translit.md.
 *
 * DESIGN
 * Pure functions over UTF-8 bytes: no state, no locale, no allocation
 * except growing the caller's buf, so any thread may call them at once.
 * Invalid UTF-8 is passed through byte by byte (kn_to_latn) or dropped
 * (key); nothing here fails.
 */
#ifndef HERMOD_TRANSLIT_H
#define HERMOD_TRANSLIT_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

/*
 * Appends to out a readable Latin romanization of the len bytes at utf8.
 * Kannada letters become lowercase Latin (consonants carry the inherent
 * 'a' unless a vowel sign or virama follows; anusvara is m before labials,
 * vowels and semivowels and n before other consonants; Kannada digits
 * become ASCII digits). Everything that is not Kannada is copied
 * unchanged, so mixed-script text keeps its Latin words and punctuation.
 */
void translit_kn_to_latn(const char *utf8, size_t len, struct buf *out);

/*
 * Appends to out the matching key of a name or phrase in either script:
 * Kannada is romanized, Latin is lowercased and stripped of diacritics,
 * spelling variants are folded, punctuation is dropped, and words are
 * separated by one space. A few renamed Karnataka places (Bangalore,
 * Mysore, ...) are keyed as their current names. Appends nothing for a
 * string without letters or digits.
 */
void translit_key(const char *utf8, size_t len, struct buf *out);

/*
 * Returns true when haystack contains needle as a whole word or sequence
 * of whole words, comparing keys, so either may be in either script:
 * translit_contains("lunch at ಮೈಸೂರು palace", "Mysuru") is true,
 * translit_contains("Mysurupak", "Mysuru") is false. Both strings are
 * NUL-terminated UTF-8 and borrowed. An empty needle is never contained.
 */
bool translit_contains(const char *haystack, const char *needle);

/*
 * Returns true when the len bytes at utf8 contain at least one letter of
 * the Kannada block (U+0C80..U+0CFF).
 */
bool translit_has_kannada(const char *utf8, size_t len);

#endif
