/* SPDX-License-Identifier: MIT */
/*
 * image: turns the bytes of an uploaded picture into what the vision model
 * gets (a small, upright, metadata-free JPEG) plus the facts hermod keeps
 * (format, size, capture time, place, camera, content hash).
 *
 * The format is found from the content, never from a name: JPEG, PNG,
 * WebP and HEIF (HEIC from phones; AVIF too, as libheif reads it). Each is
 * decoded by its Debian library (libjpeg-turbo, libpng, libwebp, libheif);
 * EXIF is read with libexif. The picture is then composited onto white,
 * made 8-bit RGB, scaled down by area averaging so its longer side is at
 * most max_side, turned upright by its EXIF orientation and encoded as a
 * baseline JPEG that carries no metadata at all. What the metadata said
 * comes back in struct image_info instead, so the caller decides what to
 * store and nothing about place or camera reaches the model.
 *
 * See docs/internals/media.md for the reasons behind each step.
 *
 * DESIGN
 * Everything here is synchronous and meant for libuv's worker pool: each
 * call owns all of its state (decoder contexts, pixel buffers), there is no
 * mutable global state, and any number of calls may run at once on
 * different threads. The one process-wide step is libheif's heif_init(),
 * done once under pthread_once.
 *
 * Hostile input is the normal case: an upload is checked against
 * max_bytes before anything else, and its pixel count against max_pixels
 * from the header alone, before a pixel buffer is allocated, so a
 * decompression bomb costs a header parse. Library errors (libjpeg's
 * error_exit, libpng's png_error) longjmp back into the decoder that set
 * them up and become -EBADMSG with a message; a truncated file is an
 * error, not a grey-padded picture.
 */
#ifndef HERMOD_IMAGE_H
#define HERMOD_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

#define IMAGE_DEFAULT_MAX_SIDE 1024u
#define IMAGE_DEFAULT_JPEG_QUALITY 90
#define IMAGE_DEFAULT_MAX_PIXELS 100000000ull /* 100 MP */
#define IMAGE_DEFAULT_MAX_BYTES (64ull << 20)
/* No format we read goes beyond this on either side; a larger claim is
 * rejected like a pixel count over max_pixels. */
#define IMAGE_MAX_DIM 65535u

/*
 * Limits and output settings. A zero field means its default, so
 * `struct image_opts o = {0}` (or a NULL pointer) gives all defaults.
 */
struct image_opts {
    unsigned max_side;   /* longer output side; never upscaled (1024) */
    int jpeg_quality;    /* 1..100 (90) */
    uint64_t max_pixels; /* width * height of the stored picture (100 MP) */
    uint64_t max_bytes;  /* size of the upload (64 MiB) */
};

/* What the upload said about itself. Strings are NUL-terminated. */
struct image_info {
    char format[8];       /* "jpeg", "png", "webp", "heic", "avif", "heif" */
    unsigned src_w, src_h; /* as stored, before orientation */
    unsigned out_w, out_h; /* of the prepared picture, upright */
    /*
     * The EXIF orientation applied, 1..8; 1 when absent or invalid, and
     * always 1 for HEIF, whose rotation lives in the container (irot/imir,
     * applied by libheif) and whose EXIF tag readers must ignore.
     */
    int orientation;
    bool has_time;
    int64_t captured_unix; /* see has_tz */
    /*
     * With has_tz, captured_unix is a true Unix time (the EXIF local time
     * minus tz_offset_min). Without it the camera did not say which zone
     * its clock was in, and captured_unix is that wall-clock time read as
     * if it were UTC.
     */
    int tz_offset_min;
    bool has_tz;
    bool has_gps;
    double lat, lon; /* degrees, north and east positive */
    char make[64], model[64];
    char sha256[65]; /* of the original bytes, lower-case hex */
};

/* 8-bit RGB pixels, rows packed (stride w * 3). px is malloc'd. */
struct image_rgb {
    unsigned w, h;
    unsigned char *px;
};

enum image_format {
    IMAGE_FMT_UNKNOWN = 0,
    IMAGE_FMT_JPEG,
    IMAGE_FMT_PNG,
    IMAGE_FMT_WEBP,
    IMAGE_FMT_HEIF,
};

/* Fills o with the defaults. */
void image_opts_init(struct image_opts *o);

/*
 * Guesses the format from the first bytes (magic numbers; for HEIF the
 * ISO-BMFF brand, checked by libheif). Says nothing about whether the rest
 * of the file is sound. Never fails; IMAGE_FMT_UNKNOWN when in doubt.
 */
enum image_format image_detect(const void *data, size_t len);

/*
 * The whole preparation: hash, detect, read EXIF, decode, composite onto
 * white, downscale, orient, encode. data is borrowed for the call. The
 * JPEG is appended to jpeg_out and info is filled in completely (it is
 * zeroed first). o may be NULL for defaults.
 *
 * Returns 0, or on failure a negative errno with a message appended to
 * err (jpeg_out is then left as it was and info is unspecified):
 *   -EINVAL    empty input or options out of range
 *   -E2BIG     more than max_bytes, or more than max_pixels / IMAGE_MAX_DIM
 *   -ENOTSUP   not an image, or an image kind not handled (the message
 *              says which: "not an image: starts with 25 50 44 46 '%PDF'")
 *   -EBADMSG   truncated or corrupt
 *   -ENOMEM    a library could not allocate
 */
int image_prepare(const void *data, size_t len, const struct image_opts *o, struct buf *jpeg_out,
                  struct image_info *info, struct buf *err);

/*
 * Decodes to upright 8-bit RGB on white, scaled down (area averaging) so
 * the longer side is at most o->max_side. Fills info like image_prepare
 * except sha256. *out is overwritten; on success the caller releases it
 * with image_rgb_release(), on failure it is left empty. Errors as for
 * image_prepare. For the full size pass max_side = IMAGE_MAX_DIM.
 */
int image_decode_rgb(const void *data, size_t len, const struct image_opts *o,
                     struct image_rgb *out, struct image_info *info, struct buf *err);

/* Frees the pixels and leaves im empty; im may be empty already. */
void image_rgb_release(struct image_rgb *im);

/*
 * The output size for a w x h picture whose longer side may be at most
 * max_side: the same size when it fits (no upscaling), else the aspect
 * ratio kept, rounded, each side at least 1.
 */
void image_fit(unsigned w, unsigned h, unsigned max_side, unsigned *out_w, unsigned *out_h);

/*
 * Resamples in to w x h (each >= 1) into *out, which is overwritten and
 * must be released by the caller. Area averaging (every source pixel
 * weighed by how much of it each output pixel covers) when shrinking,
 * which is what the model should see; nearest neighbour on an axis that
 * grows, which only image_fit's rounding ever asks for by a pixel.
 */
void image_resize(const struct image_rgb *in, unsigned w, unsigned h, struct image_rgb *out);

/*
 * Turns im upright in place according to the EXIF orientation (1..8; the
 * values 5..8 swap width and height). Anything else leaves it unchanged.
 */
void image_orient(struct image_rgb *im, int orientation);

/*
 * Encodes im as a baseline JPEG (4:2:0, optimised Huffman tables, a JFIF
 * header and nothing else: no EXIF, XMP, ICC or comment) and appends it
 * to out. quality is 1..100. Returns 0, or -EINVAL (bad quality, empty
 * picture) / -ENOMEM with a message in err.
 */
int image_encode_jpeg(const struct image_rgb *im, int quality, struct buf *out, struct buf *err);

/* Appends "data:image/jpeg;base64,..." for the given JPEG bytes to out. */
void image_data_url(const void *jpeg, size_t len, struct buf *out);

/* Writes the SHA-256 of data as 64 lower-case hex digits and a NUL. */
void image_sha256_hex(const void *data, size_t len, char out[65]);

#endif
