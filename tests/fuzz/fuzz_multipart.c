/*
 * libFuzzer harness for multipart forms (net/form.c, GMime): the input's
 * first line is the Content-Type (with its boundary), the rest the body,
 * as http_req_form_each() passes them for an upload.
 *
 *   make build/fuzz/fuzz_multipart && build/fuzz/fuzz_multipart tests/fuzz/multipart
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int part_cb(void *arg, const char *name, const char *filename, const char *ct,
                   const char *d, uint64_t off, size_t n)
{
    size_t *total = arg;
    *total += (name ? strlen(name) : 0) + (filename ? strlen(filename) : 0) + (ct ? strlen(ct) : 0);
    for (size_t i = 0; d && i < n; i++)
        *total += (unsigned char)d[i];
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *nl = memchr(data, '\n', size);
    if (!nl)
        return 0;
    size_t cl = (size_t)(nl - (const char *)data);
    char *ct = malloc(cl + 1);
    memcpy(ct, data, cl);
    ct[cl] = '\0';
    size_t total = 0;
    int rc = form_each(ct, nl + 1, size - cl - 1, part_cb, &total);
    if (rc == -ENOSYS)
        abort(); /* GMime missing: the harness would test nothing */
    free(ct);
    return 0;
}
