/* SPDX-License-Identifier: MIT */
/*
 * image_decode.c: one decoder per format, each a thin layer over its
 * Debian library, all producing the same thing (see image_int.h).
 *
 * DESIGN
 * libjpeg and libpng report errors by calling a function that must not
 * return, so they longjmp back to a setjmp in the function that set the
 * decoder up. Every object such a function touches after the setjmp lives
 * in a heap struct it gets by pointer (struct jpeg_state, struct
 * png_state), never in a local that changes between setjmp and longjmp,
 * which C leaves undefined; the caller frees that struct whether or not
 * the jump happened.
 *
 * Each decoder reads the size first (jpeg_read_header, png_read_info,
 * WebPGetFeatures, libheif's handle) and calls image__check_size() before
 * any pixel buffer exists. The libraries' own limits stay in place beneath
 * ours (libpng's chunk limits; libheif's security limits, such as 32768
 * pixels a side, which HEIF lowers to the picture's declared size). HEIF
 * also checks the canvas of every grid and overlay image, which libheif
 * allocates from sizes its handle does not report (image_heif_box.c).
 *
 * Alpha is composited onto white here, straight after decoding, so that
 * everything after this file is plain RGB.
 */
#include "ingest/image_int.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <webp/decode.h>
#include <webp/demux.h>

#include "lib/xalloc.h"
#define MEDIALIB_REDIRECT_HEIF
#include "ingest/medialib.h"

/*
 * A progressive JPEG may have any number of scans, and each scan costs a
 * pass over the whole coefficient buffer; a crafted file with thousands
 * of tiny scans is a CPU bomb. Real encoders write about ten.
 */
#define JPEG_MAX_SCANS 200

/* The largest ancillary PNG chunk we let libpng allocate (eXIf, iCCP...). */
#define PNG_MAX_CHUNK (8u << 20)

void image__dec_release(struct image_dec *d)
{
    image_rgb_release(&d->rgb);
    free(d->exif);
    d->exif = NULL;
    d->exif_len = 0;
}

int image__check_size(const struct image_dec *d, uint64_t w, uint64_t h, struct buf *err)
{
    if (w == 0 || h == 0) {
        buf_addf(err, "%s image has no pixels (%llux%llu)", d->format, (unsigned long long)w,
                 (unsigned long long)h);
        return -EBADMSG;
    }
    if (w > IMAGE_MAX_DIM || h > IMAGE_MAX_DIM || w * h > d->max_pixels) {
        buf_addf(err, "image is %llux%llu pixels, more than the limit of %llu pixels",
                 (unsigned long long)w, (unsigned long long)h, (unsigned long long)d->max_pixels);
        return -E2BIG;
    }
    return 0;
}

unsigned char *image__alloc_rgb(struct image_dec *d, unsigned w, unsigned h)
{
    image_rgb_release(&d->rgb);
    d->rgb.w = w;
    d->rgb.h = h;
    d->rgb.px = xmalloc((size_t)w * h * 3);
    return d->rgb.px;
}

void image__rgba_onto_white(unsigned char *dst, const unsigned char *src, size_t n)
{
    for (size_t i = 0; i < n; i++, src += 4, dst += 3) {
        unsigned a = src[3];
        unsigned ia = 255 - a;
        /* c*a/255 + 255*(1-a/255), rounded */
        unsigned char r = (unsigned char)((src[0] * a + 255 * ia + 127) / 255);
        unsigned char g = (unsigned char)((src[1] * a + 255 * ia + 127) / 255);
        unsigned char b = (unsigned char)((src[2] * a + 255 * ia + 127) / 255);
        dst[0] = r;
        dst[1] = g;
        dst[2] = b;
    }
}

/* Shrinks an RGBA buffer of w*h pixels to RGB on white in place and makes
 * it d->rgb; takes ownership of px. */
static void adopt_rgba(struct image_dec *d, unsigned char *px, unsigned w, unsigned h)
{
    size_t n = (size_t)w * h;
    image__rgba_onto_white(px, px, n);
    image_rgb_release(&d->rgb);
    d->rgb.w = w;
    d->rgb.h = h;
    d->rgb.px = xrealloc(px, n * 3);
}

void image__keep_exif(struct image_dec *d, const unsigned char *p, size_t n)
{
    if (d->exif || !p || n < 8 || n > IMAGE_MAX_EXIF)
        return;
    d->exif = xmemdup(p, n);
    d->exif_len = n;
}

/* ---- JPEG ---------------------------------------------------------------- */

struct jpeg_state {
    struct jpeg_decompress_struct ci;
    struct jpeg_error_mgr jerr;
    struct jpeg_progress_mgr progress;
    jmp_buf jb;
    bool created;
    int rc;                        /* what the jump means */
    char msg[JMSG_LENGTH_MAX + 64];
    unsigned char *row;            /* one CMYK row */
};

static void jpeg_fail(j_common_ptr c, int rc)
{
    struct jpeg_state *s = (struct jpeg_state *)c->client_data;
    char m[JMSG_LENGTH_MAX];
    (*c->err->format_message)(c, m);
    snprintf(s->msg, sizeof(s->msg), "corrupt JPEG: %s", m);
    s->rc = rc;
    longjmp(s->jb, 1);
}

static void jpeg_error_exit_cb(j_common_ptr c)
{
    jpeg_fail(c, -EBADMSG);
}

/*
 * Warnings are not printed. "Premature end of JPEG file" is an error for
 * us: libjpeg would pad the rest of the picture with grey and carry on.
 * The other warnings (extraneous bytes before a marker and the like) are
 * common in files from real cameras and harmless, so they are only counted.
 */
static void jpeg_emit_cb(j_common_ptr c, int level)
{
    if (level < 0) {
        if (c->err->msg_code == JWRN_JPEG_EOF)
            jpeg_fail(c, -EBADMSG);
        c->err->num_warnings++;
    }
}

static void jpeg_output_cb(j_common_ptr c)
{
}

static void jpeg_progress_cb(j_common_ptr c)
{
    struct jpeg_state *s = (struct jpeg_state *)c->client_data;
    if (s->ci.input_scan_number > JPEG_MAX_SCANS) {
        snprintf(s->msg, sizeof(s->msg), "corrupt JPEG: more than %d scans", JPEG_MAX_SCANS);
        s->rc = -EBADMSG;
        longjmp(s->jb, 1);
    }
}

/* The largest DCT scaling (1/2, 1/4, 1/8) that keeps the longer side at
 * least want; libjpeg rounds the scaled size up. */
static unsigned jpeg_pick_denom(unsigned w, unsigned h, unsigned want)
{
    unsigned longer = w > h ? w : h;
    if (want == 0)
        return 1;
    for (unsigned denom = 8; denom > 1; denom /= 2) {
        if ((longer + denom - 1) / denom >= want)
            return denom;
    }
    return 1;
}

static void cmyk_to_rgb(unsigned char *dst, const unsigned char *src, unsigned n, bool inverted)
{
    for (unsigned i = 0; i < n; i++, src += 4, dst += 3) {
        unsigned c = src[0], m = src[1], y = src[2], k = src[3];
        if (!inverted) {
            c = 255 - c;
            m = 255 - m;
            y = 255 - y;
            k = 255 - k;
        }
        /* Now 255 means no ink: R = (1-C)(1-K). */
        dst[0] = (unsigned char)((c * k + 127) / 255);
        dst[1] = (unsigned char)((m * k + 127) / 255);
        dst[2] = (unsigned char)((y * k + 127) / 255);
    }
}

/* Everything between setjmp and the end: see DESIGN. */
static int jpeg_run(struct jpeg_state *s, struct image_dec *d, struct buf *err)
{
    if (setjmp(s->jb))
        return s->rc;

    s->ci.err = jpeg_std_error(&s->jerr);
    s->jerr.error_exit = jpeg_error_exit_cb;
    s->jerr.emit_message = jpeg_emit_cb;
    s->jerr.output_message = jpeg_output_cb;
    s->ci.client_data = s;
    jpeg_create_decompress(&s->ci);
    s->created = true;
    s->progress.progress_monitor = jpeg_progress_cb;
    s->ci.progress = &s->progress;

    jpeg_mem_src(&s->ci, d->data, (unsigned long)d->len);
    jpeg_save_markers(&s->ci, JPEG_APP0 + 1, 0xffff);
    jpeg_read_header(&s->ci, TRUE);

    unsigned w = s->ci.image_width, h = s->ci.image_height;
    int rc = image__check_size(d, w, h, err);
    if (rc < 0)
        return rc;
    d->src_w = w;
    d->src_h = h;

    for (jpeg_saved_marker_ptr m = s->ci.marker_list; m; m = m->next) {
        if (m->marker == JPEG_APP0 + 1 && m->data_length > 6 &&
            memcmp(m->data, "Exif\0\0", 6) == 0) {
            image__keep_exif(d, m->data + 6, m->data_length - 6);
            break;
        }
    }

    bool cmyk = false;
    switch (s->ci.jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
        s->ci.out_color_space = JCS_RGB;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        s->ci.out_color_space = JCS_CMYK;
        cmyk = true;
        break;
    default:
        buf_addf(err, "JPEG colour space %d is not supported", (int)s->ci.jpeg_color_space);
        return -ENOTSUP;
    }
    s->ci.scale_num = 1;
    s->ci.scale_denom = jpeg_pick_denom(w, h, d->want_side);

    jpeg_start_decompress(&s->ci);
    unsigned ow = s->ci.output_width, oh = s->ci.output_height;
    unsigned char *px = image__alloc_rgb(d, ow, oh);
    if (cmyk)
        s->row = xmalloc((size_t)ow * 4);
    while (s->ci.output_scanline < oh) {
        unsigned char *dst = px + (size_t)s->ci.output_scanline * ow * 3;
        JSAMPROW row = cmyk ? s->row : dst;
        if (jpeg_read_scanlines(&s->ci, &row, 1) != 1)
            BUG("jpeg_read_scanlines returned no line from a memory source");
        /* Adobe's CMYK JPEGs (nearly all of them) store the ink inverted. */
        if (cmyk)
            cmyk_to_rgb(dst, s->row, ow, s->ci.saw_Adobe_marker);
    }
    /* Reads up to EOI, so a file cut anywhere ends in JWRN_JPEG_EOF. */
    jpeg_finish_decompress(&s->ci);
    return 0;
}

int image__decode_jpeg(struct image_dec *d, struct buf *err)
{
    struct jpeg_state *s = xcalloc(1, sizeof(*s));
    snprintf(d->format, sizeof(d->format), "jpeg");
    int rc = jpeg_run(s, d, err);
    if (rc < 0) {
        if (s->msg[0])
            buf_addstr(err, s->msg);
        image__dec_release(d);
    }
    if (s->created)
        jpeg_destroy_decompress(&s->ci);
    free(s->row);
    free(s);
    return rc;
}

/* ---- PNG ----------------------------------------------------------------- */

struct png_state {
    png_structp png;
    png_infop info;
    const unsigned char *p;
    size_t left;
    char msg[256];
    unsigned char *px;             /* w * h * channels */
};

static void png_error_cb(png_structp png, png_const_charp m)
{
    struct png_state *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof(s->msg), "corrupt PNG: %s", m);
    png_longjmp(png, 1);
}

static void png_warning_cb(png_structp png, png_const_charp m)
{
}

static void png_read_cb(png_structp png, png_bytep out, size_t n)
{
    struct png_state *s = png_get_io_ptr(png);
    if (n > s->left)
        png_error(png, "file is truncated");
    memcpy(out, s->p, n);
    s->p += n;
    s->left -= n;
}

static int png_run(struct png_state *s, struct image_dec *d, struct buf *err)
{
    if (setjmp(png_jmpbuf(s->png)))
        return -EBADMSG;

    /* Our own limits apply below; libpng's default of a million a side
     * would reject a file before we could say why. */
    png_set_user_limits(s->png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    png_set_chunk_malloc_max(s->png, PNG_MAX_CHUNK);
    png_set_read_fn(s->png, s, png_read_cb);
    png_read_info(s->png, s->info);

    png_uint_32 w, h;
    int depth, ctype, interlace;
    png_get_IHDR(s->png, s->info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    int rc = image__check_size(d, w, h, err);
    if (rc < 0)
        return rc;
    d->src_w = w;
    d->src_h = h;

    /* Palette to RGB, low-bit grey to 8 bits, tRNS to alpha; 16 bits
     * scaled (not chopped) to 8; grey to RGB. */
    png_set_expand(s->png);
    png_set_scale_16(s->png);
    png_set_gray_to_rgb(s->png);
    int passes = png_set_interlace_handling(s->png);
    png_read_update_info(s->png, s->info);
    unsigned ch = png_get_channels(s->png, s->info);
    if ((ch != 3 && ch != 4) || png_get_rowbytes(s->png, s->info) != (size_t)w * ch)
        png_error(s->png, "unexpected layout after transformations");

    /* An interlaced image is filled in over seven passes, so its rows must
     * all be kept; one buffer serves both kinds. */
    s->px = xmalloc((size_t)w * h * ch);
    for (int pass = 0; pass < passes; pass++) {
        for (png_uint_32 y = 0; y < h; y++)
            png_read_row(s->png, s->px + (size_t)y * w * ch, NULL);
    }
    /* Reads the chunks after IDAT up to IEND: a cut file fails here. */
    png_read_end(s->png, s->info);

    png_uint_32 exif_len = 0;
    png_bytep exif = NULL;
    if (png_get_eXIf_1(s->png, s->info, &exif_len, &exif) && exif)
        image__keep_exif(d, exif, exif_len);

    if (ch == 4) {
        adopt_rgba(d, s->px, w, h);
    } else {
        image_rgb_release(&d->rgb);
        d->rgb.w = w;
        d->rgb.h = h;
        d->rgb.px = s->px;
    }
    s->px = NULL;
    return 0;
}

int image__decode_png(struct image_dec *d, struct buf *err)
{
    struct png_state *s = xcalloc(1, sizeof(*s));
    snprintf(d->format, sizeof(d->format), "png");
    s->p = d->data;
    s->left = d->len;
    int rc = -ENOMEM;
    s->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, s, png_error_cb, png_warning_cb);
    if (s->png)
        s->info = png_create_info_struct(s->png);
    if (!s->png || !s->info) {
        buf_addstr(err, "libpng could not allocate a decoder");
        goto out;
    }
    rc = png_run(s, d, err);
    if (rc < 0 && s->msg[0])
        buf_addstr(err, s->msg);
out:
    if (rc < 0)
        image__dec_release(d);
    png_destroy_read_struct(&s->png, &s->info, NULL);
    free(s->px);
    free(s);
    return rc;
}

/* ---- WebP ---------------------------------------------------------------- */

/* An animated WebP: the first frame, as the animation decoder composes it. */
static int webp_first_frame(struct image_dec *d, const WebPData *wd, unsigned w, unsigned h,
                            struct buf *err)
{
    WebPAnimDecoderOptions ao;
    if (!WebPAnimDecoderOptionsInit(&ao))
        BUG("libwebp ABI mismatch");
    ao.color_mode = MODE_RGBA;
    ao.use_threads = 0;
    WebPAnimDecoder *ad = WebPAnimDecoderNew(wd, &ao);
    if (!ad) {
        buf_addstr(err, "corrupt WebP: the animation cannot be read");
        return -EBADMSG;
    }
    uint8_t *frame = NULL;
    int ts = 0;
    int rc = 0;
    if (!WebPAnimDecoderGetNext(ad, &frame, &ts) || !frame) {
        buf_addstr(err, "corrupt WebP: the first frame cannot be decoded");
        rc = -EBADMSG;
    } else {
        size_t n = (size_t)w * h;
        unsigned char *px = xmalloc(n * 4);
        memcpy(px, frame, n * 4);
        adopt_rgba(d, px, w, h);
    }
    WebPAnimDecoderDelete(ad);
    return rc;
}

static void webp_status(VP8StatusCode st, struct buf *err, int *rc)
{
    buf_addf(err, "corrupt WebP: %s",
             st == VP8_STATUS_NOT_ENOUGH_DATA        ? "truncated"
             : st == VP8_STATUS_OUT_OF_MEMORY        ? "out of memory"
             : st == VP8_STATUS_UNSUPPORTED_FEATURE ? "unsupported feature"
                                                     : "bitstream error");
    *rc = st == VP8_STATUS_OUT_OF_MEMORY           ? -ENOMEM
          : st == VP8_STATUS_UNSUPPORTED_FEATURE ? -ENOTSUP
                                                   : -EBADMSG;
}

int image__decode_webp(struct image_dec *d, struct buf *err)
{
    snprintf(d->format, sizeof(d->format), "webp");
    WebPData wd = {d->data, d->len};
    WebPDecoderConfig cfg;
    WebPDemuxer *dm = NULL;
    int rc = 0;
    if (!WebPInitDecoderConfig(&cfg))
        BUG("libwebp ABI mismatch");
    /* The canvas size from the header alone, before anything else. */
    VP8StatusCode st = WebPGetFeatures(d->data, d->len, &cfg.input);
    if (st != VP8_STATUS_OK) {
        webp_status(st, err, &rc);
        goto out;
    }
    unsigned w = (unsigned)cfg.input.width, h = (unsigned)cfg.input.height;
    rc = image__check_size(d, w, h, err);
    if (rc < 0)
        goto out;
    d->src_w = w;
    d->src_h = h;

    /* The demuxer checks the RIFF structure against the length, so a cut
     * file fails here even where the bitstream decoder would not notice. */
    dm = WebPDemux(&wd);
    if (!dm || WebPDemuxGetI(dm, WEBP_FF_CANVAS_WIDTH) != w ||
        WebPDemuxGetI(dm, WEBP_FF_CANVAS_HEIGHT) != h) {
        buf_addstr(err, "corrupt WebP: truncated, or not a valid RIFF/WebP structure");
        rc = -EBADMSG;
        goto out;
    }
    WebPChunkIterator ci;
    if (WebPDemuxGetChunk(dm, "EXIF", 1, &ci)) {
        image__keep_exif(d, ci.chunk.bytes, ci.chunk.size);
        WebPDemuxReleaseChunkIterator(&ci);
    }

    if (cfg.input.has_animation) {
        rc = webp_first_frame(d, &wd, w, h, err);
        goto out;
    }

    /* libwebp scales while it decodes, by area averaging like ours, so the
     * full-size picture never exists. */
    unsigned ow = w, oh = h;
    if (d->want_side) {
        image_fit(w, h, d->want_side, &ow, &oh);
        if (ow != w || oh != h) {
            cfg.options.use_scaling = 1;
            cfg.options.scaled_width = (int)ow;
            cfg.options.scaled_height = (int)oh;
        }
    }
    size_t n = (size_t)ow * oh;
    bool alpha = cfg.input.has_alpha;
    unsigned char *px = xmalloc(n * (alpha ? 4 : 3));
    cfg.output.colorspace = alpha ? MODE_RGBA : MODE_RGB;
    cfg.output.is_external_memory = 1;
    cfg.output.u.RGBA.rgba = px;
    cfg.output.u.RGBA.stride = (int)(ow * (alpha ? 4 : 3));
    cfg.output.u.RGBA.size = n * (alpha ? 4 : 3);
    st = WebPDecode(d->data, d->len, &cfg);
    WebPFreeDecBuffer(&cfg.output);
    if (st != VP8_STATUS_OK) {
        free(px);
        webp_status(st, err, &rc);
    } else if (alpha) {
        adopt_rgba(d, px, ow, oh);
    } else {
        image_rgb_release(&d->rgb);
        d->rgb.w = ow;
        d->rgb.h = oh;
        d->rgb.px = px;
    }
out:
    WebPDemuxDelete(dm);
    if (rc < 0)
        image__dec_release(d);
    return rc;
}

/* ---- HEIF ---------------------------------------------------------------- */

static pthread_once_t heif_once = PTHREAD_ONCE_INIT;
/* libheif's functions (medialib.h), loaded on the first HEIF picture;
 * NULL when they cannot be. Set once under heif_once. */
static const struct medialib_heif *hf;

static void heif_init_once(void)
{
    hf = medialib_heif(NULL);
    /* Registers the built-in codecs; reference counted, never undone. */
    if (hf)
        heif_init(NULL);
}

static int heif_fail(struct buf *err, const char *what, struct heif_error he)
{
    const char *m = he.message ? he.message : "?";
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' ')) /* libheif may end it with one */
        n--;
    buf_addf(err, "corrupt HEIF: %s: %.*s", what, (int)n, m);
    if (he.subcode == heif_suberror_Security_limit_exceeded)
        return -E2BIG;
    if (he.code == heif_error_Memory_allocation_error)
        return -ENOMEM;
    if (he.code == heif_error_Unsupported_feature || he.code == heif_error_Unsupported_filetype)
        return -ENOTSUP;
    return -EBADMSG;
}

/*
 * The Exif item of a HEIF file begins with a 4-byte big-endian offset from
 * there to the TIFF header (ISO/IEC 23008-12 A.2.1); usually "Exif\0\0"
 * sits in between.
 */
static void heif_keep_exif(struct image_dec *d, const struct heif_image_handle *h)
{
    heif_item_id id;
    if (heif_image_handle_get_list_of_metadata_block_IDs(h, "Exif", &id, 1) != 1)
        return;
    size_t n = heif_image_handle_get_metadata_size(h, id);
    if (n < 4 + 8 || n > IMAGE_MAX_EXIF)
        return;
    unsigned char *p = xmalloc(n);
    struct heif_error he = heif_image_handle_get_metadata(h, id, p);
    if (he.code == heif_error_Ok) {
        size_t off = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        if (off < n - 4)
            image__keep_exif(d, p + 4 + off, n - 4 - off);
    }
    free(p);
}

struct heif_canvas_check {
    const struct image_dec *d;
    bool has_primary;
    heif_item_id primary;
    int iw, ih; /* the primary image's ispe */
};

static int heif_canvas_cb(void *arg, uint32_t item, uint32_t w, uint32_t h, struct buf *err)
{
    const struct heif_canvas_check *cc = arg;
    int rc = image__check_size(cc->d, w, h, err);
    if (rc < 0 && item == 0)
        buf_addstr(err, " (the size its HEVC stream declares)");
    if (rc == 0 && item != 0 && cc->has_primary && item == cc->primary &&
        (w != (uint32_t)cc->iw || h != (uint32_t)cc->ih)) {
        buf_addf(err, "corrupt HEIF: its canvas is %ux%u, but the image says it is %dx%d", w, h,
                 cc->iw, cc->ih);
        rc = -EBADMSG;
    }
    return rc;
}

int image__decode_heif(struct image_dec *d, struct buf *err)
{
    pthread_once(&heif_once, heif_init_once);
    if (!hf) {
        medialib_heif(err);
        return -ENOTSUP;
    }
    snprintf(d->format, sizeof(d->format), "heif");
    heif_brand2 brand = heif_read_main_brand(d->data, d->len > INT_MAX ? INT_MAX : (int)d->len);
    if (brand == heif_fourcc_to_brand("avif") || brand == heif_fourcc_to_brand("avis"))
        snprintf(d->format, sizeof(d->format), "avif");
    else if (brand != heif_fourcc_to_brand("mif1") && brand != heif_fourcc_to_brand("msf1"))
        snprintf(d->format, sizeof(d->format), "heic");

    struct heif_context *ctx = heif_context_alloc();
    struct heif_image_handle *h = NULL;
    struct heif_image *img = NULL;
    struct heif_decoding_options *dopt = NULL;
    int rc = 0;
    if (!ctx) {
        buf_addstr(err, "libheif could not allocate a context");
        return -ENOMEM;
    }
    /* Tiles are decoded on the calling thread: we already run on a worker
     * pool, and more threads per picture would only compete with it. */
    heif_context_set_max_decoding_threads(ctx, 0);

    struct heif_error he = heif_context_read_from_memory_without_copy(ctx, d->data, d->len, NULL);
    if (he.code != heif_error_Ok) {
        rc = heif_fail(err, "reading the file", he);
        goto out;
    }
    he = heif_context_get_primary_image_handle(ctx, &h);
    if (he.code != heif_error_Ok) {
        rc = heif_fail(err, "finding the primary image", he);
        goto out;
    }
    /* Both the coded size (ispe) and the size after the container's crop
     * and rotation, which is what libheif hands back, are checked. */
    int iw0 = heif_image_handle_get_ispe_width(h), ih0 = heif_image_handle_get_ispe_height(h);
    int w = heif_image_handle_get_width(h), hh = heif_image_handle_get_height(h);
    rc = image__check_size(d, iw0 < 0 ? 0 : (uint64_t)iw0, ih0 < 0 ? 0 : (uint64_t)ih0, err);
    if (rc == 0)
        rc = image__check_size(d, w < 0 ? 0 : (uint64_t)w, hh < 0 ? 0 : (uint64_t)hh, err);
    if (rc < 0)
        goto out;
    /* A grid or overlay canvas comes from the item's own data, and a
     * tile's picture from its HEVC parameter sets: neither is what the
     * handle reports, and libheif 1.15 and libde265 allocate them
     * unchecked (image_heif_box.c). Each one is held to our limits, and
     * the primary image's canvas must be the size its handle declares. */
    struct heif_canvas_check cc = {.d = d, .iw = iw0, .ih = ih0};
    cc.has_primary = heif_context_get_primary_image_ID(ctx, &cc.primary).code == heif_error_Ok;
    rc = image__heif_canvases(d->data, d->len, heif_canvas_cb, &cc, err);
    if (rc < 0)
        goto out;
    /* And beneath that, libheif's own per-side limit, lowered from 32768
     * towards the declared size, for any canvas this reading and libheif's
     * might see differently. libheif holds coded frames to it too, and
     * those are padded (HEVC to its coding-block size, up to 64) and may
     * be tiles larger than a small picture: hence the rounding and the
     * floor of 4096 (a canvas then at most 4096 x 4096, 100 MB). */
    int side = iw0 > ih0 ? iw0 : ih0;
    side = side > w ? side : w;
    side = side > hh ? side : hh;
    side = (side + 63) / 64 * 64;
    heif_context_set_maximum_image_size_limit(ctx, (side > 4096 ? side : 4096) + 1);
    d->src_w = (unsigned)w;
    d->src_h = (unsigned)hh;
    heif_keep_exif(d, h);

    bool alpha = heif_image_handle_has_alpha_channel(h);
    dopt = heif_decoding_options_alloc();
    if (!dopt) {
        rc = -ENOMEM;
        buf_addstr(err, "libheif could not allocate options");
        goto out;
    }
    dopt->convert_hdr_to_8bit = 1;
    he = heif_decode_image(h, &img, heif_colorspace_RGB,
                           alpha ? heif_chroma_interleaved_RGBA : heif_chroma_interleaved_RGB, dopt);
    if (he.code != heif_error_Ok) {
        rc = heif_fail(err, "decoding", he);
        goto out;
    }
    int iw = heif_image_get_width(img, heif_channel_interleaved);
    int ih = heif_image_get_height(img, heif_channel_interleaved);
    int stride = 0;
    const uint8_t *plane = heif_image_get_plane_readonly(img, heif_channel_interleaved, &stride);
    unsigned ch = alpha ? 4 : 3;
    if (!plane || iw != w || ih != hh || stride < w * (int)ch ||
        heif_image_get_bits_per_pixel_range(img, heif_channel_interleaved) != 8) {
        buf_addf(err, "corrupt HEIF: decoded %dx%d, expected %dx%d 8-bit", iw, ih, w, hh);
        rc = -EBADMSG;
        goto out;
    }
    unsigned char *px = image__alloc_rgb(d, (unsigned)w, (unsigned)hh);
    for (int y = 0; y < hh; y++) {
        const uint8_t *src = plane + (size_t)y * stride;
        unsigned char *dst = px + (size_t)y * w * 3;
        if (alpha)
            image__rgba_onto_white(dst, src, (size_t)w);
        else
            memcpy(dst, src, (size_t)w * 3);
    }
    /* HEIF rotates and mirrors with irot/imir boxes, which libheif has
     * applied; the spec says readers must then ignore EXIF's orientation. */
    d->oriented = true;
out:
    if (rc < 0)
        image__dec_release(d);
    if (img)
        heif_image_release(img);
    if (dopt)
        heif_decoding_options_free(dopt);
    if (h)
        heif_image_handle_release(h);
    heif_context_free(ctx);
    return rc;
}
