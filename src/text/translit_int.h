/* SPDX-License-Identifier: MIT */
/*
 * translit_int.h: the parts of translit that the measurement tool
 * (bench/translit.c) needs and nothing else should use.
 *
 * translit_key() applies TRANSLIT_RULES_DEFAULT. The tool switches single
 * rules off to show what each one buys in match rate and costs in
 * collisions; docs/internals/translit.md has the table.
 */
#ifndef HERMOD_TRANSLIT_INT_H
#define HERMOD_TRANSLIT_INT_H

#include <stddef.h>

#include "lib/buf.h"

enum translit_rule {
    TR_VOWEL_LEN = 1 << 0, /* ee -> i, oo -> u, then aa/ii/uu single */
    TR_ASPIRATE = 1 << 1,  /* ph -> f, then h after a consonant dropped: th, sh, ... */
    TR_WV_ZJ = 1 << 2,     /* w -> v, z -> j, q -> k, x -> ks */
    TR_DOUBLE = 1 << 3,    /* doubled letters single: tt -> t, ll -> l */
    TR_NASAL = 1 << 4,     /* m inside a word before a stop or sibilant -> n */
    TR_FINAL_A = 1 << 5,   /* final 'a' dropped: Rajesha = Rajesh */
    TR_RI_RU = 1 << 6,     /* ri after a consonant -> ru: Krishna = ಕೃಷ್ಣ (krushna) */
    TR_Y_VOWEL = 1 << 7,   /* y between consonants -> ai (Mysuru), final -> i (Shetty) */
    TR_AU = 1 << 8,        /* ow, ou before a consonant -> au: Gowda = ಗೌಡ */
    TR_EXONYM = 1 << 9,    /* Bangalore -> bengaluru, Mysore -> mysuru, ... */
    TR_FINAL_E = 1 << 10,  /* final 'e' dropped (tested, not on by default) */
    TR_C_KS = 1 << 11,     /* c not in ch -> s before e/i/y, else k: Lucy, academic */
    TR_Y_GLIDE = 1 << 12,  /* y between i/e and a vowel dropped: Priya = Pria */
    TR_JN = 1 << 13,       /* jn -> gn: ಜ್ಞಾನ jnana = gnana */
    TR_AIAH = 1 << 14,     /* final aiah/aiya/ayya -> aya, ayi -> ai: Ramaiah = ರಾಮಯ್ಯ */
};

#define TRANSLIT_RULES_DEFAULT                                                 \
    (TR_VOWEL_LEN | TR_ASPIRATE | TR_WV_ZJ | TR_DOUBLE | TR_NASAL | TR_FINAL_A | TR_RI_RU |  \
     TR_Y_VOWEL | TR_AU | TR_EXONYM | TR_C_KS | TR_Y_GLIDE | TR_JN |    \
     TR_AIAH)

/* translit_key() with an explicit rule set (a mask of enum translit_rule). */
void translit__key_rules(const char *utf8, size_t len, unsigned rules, struct buf *out);

#endif
