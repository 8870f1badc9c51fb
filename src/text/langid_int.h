/* SPDX-License-Identifier: MIT */
/*
 * langid_int.h: what langid.c shows its unit test and fuzz harness, and
 * nothing else includes.
 */
#ifndef HERMOD_LANGID_INT_H
#define HERMOD_LANGID_INT_H

#include <stddef.h>

#include "text/langid.h"

/*
 * langid_classify() without the fast path for words of ASCII letters
 * (ascii_word()): every letter goes through the generic per-code-point
 * path. The result must be identical, bit for bit, to langid_classify()'s
 * for every input; the tests compare the two.
 */
void langid__classify_generic(const char *utf8, size_t len, struct langid_result *out);

#endif
