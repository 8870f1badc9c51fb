/*
 * libFuzzer harness for the SSE relay's scanner and model renamer
 * (net/sse.c): the input is an engine's stream, fed whole and then split
 * in two at every boundary (at 64 boundaries for inputs over 512 bytes).
 * Whatever the split, the scanner must count the same events and see the
 * same end, and the renamer must give the same bytes.
 *
 *   make build/fuzz/fuzz_sse && build/fuzz/fuzz_sse tests/fuzz/sse
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "net/sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run(const char *p, size_t n, size_t cut, struct sse_scan *s, struct buf *out)
{
    struct sse_rename rn;
    sse_scan_init(s);
    sse_rename_init(&rn, "client-name");
    sse_scan_feed(s, p, cut);
    sse_rename_feed(&rn, p, cut, out);
    sse_scan_feed(s, p + cut, n - cut);
    sse_rename_feed(&rn, p + cut, n - cut, out);
    sse_rename_flush(&rn, out);
    sse_rename_release(&rn);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    struct sse_scan whole, part;
    struct buf wout = BUF_INIT, pout = BUF_INIT;
    run(p, size, size, &whole, &wout);
    size_t step = size > 512 ? size / 64 : 1;
    for (size_t cut = 0; cut <= size; cut += step) {
        buf_reset(&pout);
        run(p, size, cut, &part, &pout);
        if (part.events != whole.events || part.saw_done != whole.saw_done ||
            part.saw_error != whole.saw_error)
            __builtin_trap();
        if (pout.len != wout.len || memcmp(buf_cstr(&pout), buf_cstr(&wout), wout.len))
            __builtin_trap();
    }
    buf_release(&wout);
    buf_release(&pout);
    return 0;
}
