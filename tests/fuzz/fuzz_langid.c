/*
 * libFuzzer harness for language identification (text/langid.c) on any
 * bytes, invalid UTF-8 included: the routing decision (Kannada in any
 * script never reaches a model without Kannada) must come out of every
 * input, with probabilities that are numbers, and the fast path for ASCII
 * words must give what the generic path gives, to the bit.
 *
 *   make build/fuzz/fuzz_langid && build/fuzz/fuzz_langid tests/fuzz/langid
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text/langid.h"
#include "text/langid_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct langid_result r;
    langid_classify((const char *)data, size, &r);
    if (!langid_label_name(r.label) || isnan(r.p_kannada) || r.p_kannada < 0 ||
        r.p_kannada > 1.0001f)
        __builtin_trap();
    float sum = 0;
    for (int i = 0; i < LANGID_NLABELS; i++) {
        if (isnan(r.scores[i]) || r.scores[i] < 0)
            __builtin_trap();
        sum += r.scores[i];
    }
    if (sum > 1.01f)
        __builtin_trap();
    struct langid_result g;
    langid__classify_generic((const char *)data, size, &g);
    if (memcmp(&r, &g, sizeof(r)))
        __builtin_trap();
    return 0;
}
