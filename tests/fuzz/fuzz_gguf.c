/*
 * libFuzzer harness for the GGUF reader: every input is written to a memfd
 * and parsed; a parse that succeeds is walked through every getter.
 *
 *   make build/fuzz/fuzz_gguf && build/fuzz/fuzz_gguf -max_total_time=60
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/buf.h"
#include "model/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    if (fd < 0)
        fd = memfd_create("fuzz.gguf", 0);
    if (fd < 0 || ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        return 0;
    struct buf err = BUF_INIT;
    struct gguf *g = NULL;
    if (gguf_open_fd(fd, "fuzz.gguf", &g, &err) == 0) {
        for (size_t i = 0; i < gguf_kv_count(g); i++) {
            const char *key = gguf_kv_key(g, i);
            struct gguf_value v;
            uint32_t u;
            uint64_t n;
            float f;
            gguf_kv_value(g, i, &v);
            gguf_get_u32(g, key, &u);
            gguf_get_f32(g, key, &f);
            gguf_get_str(g, key);
            if (gguf_get_arr_len(g, key, &n) == 0 && n) {
                gguf_get_arr_u32(g, key, n - 1, &u);
                gguf_get_arr_str(g, key, n - 1);
                gguf_get_layer_u32(g, key, 0, (uint32_t)(n > 64 ? 64 : n), &u);
            }
        }
        for (size_t i = 0; i < gguf_tensor_count(g); i++) {
            const struct gguf_tensor_info *t = gguf_tensor(g, i);
            if (gguf_find_tensor(g, t->name) < 0)
                __builtin_trap();
        }
        gguf_free(g);
    }
    buf_release(&err);
    return 0;
}
