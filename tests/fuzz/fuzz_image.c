/*
 * libFuzzer harness for image headers and decoding (ingest/image.c,
 * image_decode.c): the input is an upload, sent through image_prepare(),
 * the ingest pipeline's decode path (format by magic number; JPEG by
 * libjpeg, PNG by libpng, WebP by libwebp, HEIC/AVIF by libheif, EXIF by
 * libexif; downscale; JPEG out), with small limits so that a header that
 * claims a huge picture is refused the way the daemon refuses it.
 *
 *   make build/fuzz/fuzz_image && build/fuzz/fuzz_image tests/fuzz/image
 */
#include <stdint.h>
#include <stdlib.h>

#include "ingest/image.h"
#include "lib/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct image_opts o;
    image_opts_init(&o);
    o.max_side = 64;
    o.max_pixels = 4u << 20;
    struct buf jpeg = BUF_INIT, err = BUF_INIT;
    struct image_info info;
    image_detect(data, size);
    if (image_prepare(data, size, &o, &jpeg, &info, &err) == 0) {
        if (!jpeg.len || info.out_w > 64 || info.out_h > 64)
            __builtin_trap();
    } else if (!err.len) {
        __builtin_trap();
    }
    buf_release(&jpeg);
    buf_release(&err);
    return 0;
}
