/* SPDX-License-Identifier: MIT */
/*
 * image_int.h: what image.c (the pipeline) and image_decode.c (one decoder
 * per format) share. Not for other modules.
 *
 * A decoder gets the upload and the limits in a struct image_dec, checks
 * the size from the header against the limits before it allocates pixels,
 * and hands back 8-bit RGB composited onto white plus the raw EXIF block,
 * if the file had one. It does not interpret the EXIF; image.c does, for
 * every format alike.
 */
#ifndef HERMOD_IMAGE_INT_H
#define HERMOD_IMAGE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest/image.h"
#include "lib/buf.h"

/* An EXIF block larger than this is ignored (JPEG's own limit is 64 KiB). */
#define IMAGE_MAX_EXIF (1u << 20)

struct image_dec {
    /* in */
    const unsigned char *data;
    size_t len;
    uint64_t max_pixels;
    /*
     * The decoder may deliver a smaller picture (JPEG's DCT scaling, WebP's
     * scaling decoder) as long as its longer side stays at least this; 0
     * asks for the full size.
     */
    unsigned want_side;

    /* out */
    char format[8];
    unsigned src_w, src_h;   /* the picture's size at full resolution */
    struct image_rgb rgb;    /* src_w x src_h, or smaller (see want_side) */
    unsigned char *exif;     /* malloc'd, from the TIFF header on; or NULL */
    size_t exif_len;
    bool oriented;           /* the container's rotation is already applied */
};

/*
 * Each returns 0 or a negative errno as documented for image_prepare(),
 * with a message in err. On failure rgb and exif are freed and left NULL.
 */
int image__decode_jpeg(struct image_dec *d, struct buf *err);
int image__decode_png(struct image_dec *d, struct buf *err);
int image__decode_webp(struct image_dec *d, struct buf *err);
int image__decode_heif(struct image_dec *d, struct buf *err);

/*
 * Called for each grid or overlay image of a HEIF file with the canvas
 * size its own data declares (item is its ID), and for each HEVC sequence
 * parameter set with the picture size it declares (item 0); returns 0 to
 * go on, or a negative errno (with a message in err) to stop.
 */
typedef int image_canvas_cb(void *arg, uint32_t item, uint32_t w, uint32_t h, struct buf *err);

/*
 * Reads the sizes that libheif and its decoder allocate without checking
 * from the HEIF file p[0..n) (image_heif_box.c): the canvas of every grid
 * and overlay image, the picture of every HEVC parameter set in an hvcC
 * property. Calls cb with each. Returns 0, cb's error, or -EBADMSG with a
 * message in err when such a size cannot be read. A file without the
 * boxes it looks for returns 0 (then libheif says what is wrong with it).
 */
int image__heif_canvases(const unsigned char *p, size_t n, image_canvas_cb *cb, void *arg,
                         struct buf *err);

/* Releases what a decoder left in d (pixels and EXIF). */
void image__dec_release(struct image_dec *d);

/*
 * Checks a header's size against the limits. Returns 0, or -E2BIG with a
 * message in err ("image is 100000x100000 pixels, more than ...").
 */
int image__check_size(const struct image_dec *d, uint64_t w, uint64_t h, struct buf *err);

/*
 * Allocates d->rgb for w x h and returns it, for decoders that write RGB
 * rows straight into it.
 */
unsigned char *image__alloc_rgb(struct image_dec *d, unsigned w, unsigned h);

/*
 * Writes n pixels of RGBA (8 bits, straight alpha) as RGB onto white into
 * dst. dst may be the same memory as src: it never runs ahead of it.
 */
void image__rgba_onto_white(unsigned char *dst, const unsigned char *src, size_t n);

/* Copies the EXIF block p[0..n) into d->exif when it is sane and small. */
void image__keep_exif(struct image_dec *d, const unsigned char *p, size_t n);

#endif
