/* SPDX-License-Identifier: MIT */
/*
 * image.c: the preparation pipeline, EXIF, resampling, orientation and the
 * JPEG encoder. The per-format decoders are in image_decode.c. See image.h
 * for the contract.
 *
 * DESIGN
 * The order of the steps is chosen for cost: decode (JPEG already at a
 * reduced size where DCT scaling allows), composite alpha (in the
 * decoder), shrink, and only then rotate, since the longer side is the
 * same either way and rotating the small picture is cheap. Shrinking
 * streams over the source rows with two float rows of scratch, so its
 * memory is proportional to the output width, not the source size.
 *
 * EXIF is parsed by libexif from the block the decoder found. Nothing of
 * it is written back: the encoder emits a JFIF header and pixels only.
 */
#include "ingest/image.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jpeglib.h>
#include <libexif/exif-data.h>
#include <nettle/base64.h>
#include <nettle/sha2.h>

#include "ingest/image_int.h"
#include "ingest/medialib.h"
#include "lib/xalloc.h"

void image_opts_init(struct image_opts *o)
{
    o->max_side = IMAGE_DEFAULT_MAX_SIDE;
    o->jpeg_quality = IMAGE_DEFAULT_JPEG_QUALITY;
    o->max_pixels = IMAGE_DEFAULT_MAX_PIXELS;
    o->max_bytes = IMAGE_DEFAULT_MAX_BYTES;
}

/* Copies o with zero fields replaced by defaults and checks the ranges. */
static int resolve_opts(const struct image_opts *o, struct image_opts *r, struct buf *err)
{
    image_opts_init(r);
    if (!o)
        return 0;
    if (o->max_side)
        r->max_side = o->max_side;
    if (o->jpeg_quality)
        r->jpeg_quality = o->jpeg_quality;
    if (o->max_pixels)
        r->max_pixels = o->max_pixels;
    if (o->max_bytes)
        r->max_bytes = o->max_bytes;
    if (r->max_side > IMAGE_MAX_DIM || r->jpeg_quality < 1 || r->jpeg_quality > 100) {
        buf_addf(err, "image options out of range: max_side %u (1..%u), jpeg_quality %d (1..100)",
                 r->max_side, IMAGE_MAX_DIM, r->jpeg_quality);
        return -EINVAL;
    }
    return 0;
}

enum image_format image_detect(const void *data, size_t len)
{
    const unsigned char *p = data;
    if (len >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
        return IMAGE_FMT_JPEG;
    if (len >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
        return IMAGE_FMT_PNG;
    if (len >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
        return IMAGE_FMT_WEBP;
    if (len >= 12 && memcmp(p + 4, "ftyp", 4) == 0) {
        const struct medialib_heif *hf = medialib_heif(NULL);
        if (hf)
            return hf->heif_check_filetype(p, len > INT_MAX ? INT_MAX : (int)len) !=
                           heif_filetype_no
                       ? IMAGE_FMT_HEIF
                       : IMAGE_FMT_UNKNOWN;
        /* Without libheif: the major brands of HEIF stills (image__decode_heif
         * then says what is missing). */
        static const char *const brands[] = {"heic", "heix", "heim", "heis", "mif1",
                                             "msf1", "avif", "avis"};
        for (size_t i = 0; i < sizeof(brands) / sizeof(brands[0]); i++)
            if (!memcmp(p + 8, brands[i], 4))
                return IMAGE_FMT_HEIF;
    }
    return IMAGE_FMT_UNKNOWN;
}

/* Images people do send that we do not decode, so that the message can
 * say so rather than call them "not an image". */
static const struct {
    const char *magic;
    size_t len;
    const char *name;
} unsupported[] = {
    {"GIF87a", 6, "GIF"},
    {"GIF89a", 6, "GIF"},
    {"BM", 2, "BMP"},
    {"II*\0", 4, "TIFF"},
    {"MM\0*", 4, "TIFF"},
    {"\xff\x0a", 2, "JPEG XL"},
    {"\0\0\0\x0cJXL ", 8, "JPEG XL"},
    {"\0\0\1\0", 4, "ICO"},
};

/* "not an image: starts with 25 50 44 46 2d 31 2e 37 '%PDF-1.7'" */
static void describe_unknown(const unsigned char *p, size_t len, struct buf *err)
{
    for (size_t i = 0; i < ARRAY_SIZE(unsupported); i++) {
        if (len >= unsupported[i].len && memcmp(p, unsupported[i].magic, unsupported[i].len) == 0) {
            buf_addf(err, "unsupported image format %s (JPEG, PNG, WebP and HEIC are read)",
                     unsupported[i].name);
            return;
        }
    }
    if (len >= 12 && memcmp(p + 4, "ftyp", 4) == 0) {
        buf_addstr(err, "not an image: an ISO media file of brand '");
        for (int i = 8; i < 12; i++)
            buf_addch(err, p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '.');
        buf_addstr(err, "' (a video?)");
        return;
    }
    size_t n = len < 8 ? len : 8;
    buf_addstr(err, "not an image: starts with");
    for (size_t i = 0; i < n; i++)
        buf_addf(err, " %02x", p[i]);
    buf_addstr(err, " '");
    for (size_t i = 0; i < n; i++)
        buf_addch(err, p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '.');
    buf_addch(err, '\'');
}

/* ---- EXIF ---------------------------------------------------------------- */

/* Reads n decimal digits; -1 if any is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Copies an ASCII entry into out (NUL-terminated, trailing blanks and
 * anything unprintable dropped). Returns out's length. */
static size_t exif_ascii(ExifContent *c, ExifTag tag, char *out, size_t cap)
{
    out[0] = '\0';
    ExifEntry *e = c ? exif_content_get_entry(c, tag) : NULL;
    if (!e || e->format != EXIF_FORMAT_ASCII || !e->data)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < e->size && e->data[i] && n + 1 < cap; i++) {
        unsigned char ch = e->data[i];
        out[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
    return n;
}

/* "YYYY:MM:DD HH:MM:SS", with "+HH:MM" from the matching OffsetTime tag. */
static void exif_time(ExifContent *c, ExifTag tag, ExifTag offset_tag, struct image_info *info)
{
    char s[32], z[16];
    if (exif_ascii(c, tag, s, sizeof(s)) < 19 || s[4] != ':' || s[7] != ':' || s[13] != ':' ||
        s[16] != ':')
        return;
    struct tm tm = {0};
    tm.tm_year = digits(s, 4) - 1900;
    tm.tm_mon = digits(s + 5, 2) - 1;
    tm.tm_mday = digits(s + 8, 2);
    tm.tm_hour = digits(s + 11, 2);
    tm.tm_min = digits(s + 14, 2);
    tm.tm_sec = digits(s + 17, 2);
    /* "0000:00:00 00:00:00" and blanks are how cameras say "unknown". */
    if (tm.tm_year < 1 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 ||
        tm.tm_sec > 60)
        return;
    info->has_time = true;
    info->captured_unix = (int64_t)timegm(&tm);
    if (exif_ascii(c, offset_tag, z, sizeof(z)) >= 6 && (z[0] == '+' || z[0] == '-') &&
        z[3] == ':') {
        int hh = digits(z + 1, 2), mm = digits(z + 4, 2);
        if (hh >= 0 && hh <= 14 && mm >= 0 && mm < 60) {
            info->tz_offset_min = (z[0] == '-' ? -1 : 1) * (hh * 60 + mm);
            info->has_tz = true;
            info->captured_unix -= (int64_t)info->tz_offset_min * 60;
        }
    }
}

/* Degrees from GPS's three rationals (degrees, minutes, seconds). */
static bool exif_gps_coord(ExifContent *gps, ExifTag tag, ExifTag ref_tag, double max,
                           ExifByteOrder bo, double *out)
{
    char ref[4];
    ExifEntry *e = exif_content_get_entry(gps, tag);
    if (!e || e->format != EXIF_FORMAT_RATIONAL || e->components < 3 || !e->data ||
        e->size < 3 * 8 || exif_ascii(gps, ref_tag, ref, sizeof(ref)) < 1)
        return false;
    double v = 0, scale = 1;
    for (int i = 0; i < 3; i++, scale *= 60) {
        ExifRational r = exif_get_rational(e->data + 8 * i, bo);
        if (r.denominator == 0)
            return false;
        v += (double)r.numerator / r.denominator / scale;
    }
    if (!(v <= max))
        return false;
    if (ref[0] == 'S' || ref[0] == 'W')
        v = -v;
    else if (ref[0] != 'N' && ref[0] != 'E')
        return false;
    *out = v;
    return true;
}

/* Fills info's orientation, time, place and camera from a TIFF-headed EXIF
 * block. Whatever is missing or malformed is simply left unset. */
static void exif_read(const unsigned char *p, size_t n, struct image_info *info)
{
    if (n >= 6 && memcmp(p, "Exif\0\0", 6) == 0) {
        p += 6;
        n -= 6;
    }
    if (n < 8 || (memcmp(p, "II*\0", 4) != 0 && memcmp(p, "MM\0*", 4) != 0))
        return;
    /* libexif wants the APP1 payload, "Exif\0\0" first. */
    unsigned char *blk = xmalloc(n + 6);
    memcpy(blk, "Exif\0\0", 6);
    memcpy(blk + 6, p, n);
    ExifData *ed = exif_data_new();
    if (!ed)
        goto out;
    /* We only read: no fixing up of entries the camera left out. */
    exif_data_unset_option(ed, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
    exif_data_load_data(ed, blk, (unsigned)(n + 6));
    ExifByteOrder bo = exif_data_get_byte_order(ed);

    ExifEntry *e = exif_content_get_entry(ed->ifd[EXIF_IFD_0], EXIF_TAG_ORIENTATION);
    if (e && e->format == EXIF_FORMAT_SHORT && e->components >= 1 && e->data && e->size >= 2) {
        unsigned v = exif_get_short(e->data, bo);
        if (v >= 1 && v <= 8)
            info->orientation = (int)v;
    }

    exif_time(ed->ifd[EXIF_IFD_EXIF], EXIF_TAG_DATE_TIME_ORIGINAL, EXIF_TAG_OFFSET_TIME_ORIGINAL,
              info);
    if (!info->has_time)
        exif_time(ed->ifd[EXIF_IFD_EXIF], EXIF_TAG_DATE_TIME_DIGITIZED,
                  EXIF_TAG_OFFSET_TIME_DIGITIZED, info);

    ExifContent *gps = ed->ifd[EXIF_IFD_GPS];
    if (gps && exif_gps_coord(gps, EXIF_TAG_GPS_LATITUDE, EXIF_TAG_GPS_LATITUDE_REF, 90, bo,
                              &info->lat) &&
        exif_gps_coord(gps, EXIF_TAG_GPS_LONGITUDE, EXIF_TAG_GPS_LONGITUDE_REF, 180, bo,
                       &info->lon))
        info->has_gps = true;
    else
        info->lat = info->lon = 0;

    exif_ascii(ed->ifd[EXIF_IFD_0], EXIF_TAG_MAKE, info->make, sizeof(info->make));
    exif_ascii(ed->ifd[EXIF_IFD_0], EXIF_TAG_MODEL, info->model, sizeof(info->model));
out:
    exif_data_unref(ed);
    free(blk);
}

/* ---- geometry ------------------------------------------------------------ */

void image_rgb_release(struct image_rgb *im)
{
    free(im->px);
    im->px = NULL;
    im->w = im->h = 0;
}

void image_fit(unsigned w, unsigned h, unsigned max_side, unsigned *out_w, unsigned *out_h)
{
    unsigned longer = w > h ? w : h;
    if (max_side == 0 || longer <= max_side) {
        *out_w = w;
        *out_h = h;
        return;
    }
    /* The longer side becomes max_side exactly; the other is rounded. */
    uint64_t shorter = w > h ? h : w;
    unsigned s = (unsigned)((shorter * max_side * 2 + longer) / (2 * (uint64_t)longer));
    if (s < 1)
        s = 1;
    *out_w = w >= h ? max_side : s;
    *out_h = w >= h ? s : max_side;
}

/*
 * For each output index along one axis, which source indices it covers
 * and how much of each: first[j] and n[j] index into wt[], whose entries
 * for j sum to 1.
 */
struct axis {
    unsigned *first, *n, *off;
    float *wt;
};

static void axis_init(struct axis *a, unsigned in, unsigned out)
{
    double s = (double)in / out;
    unsigned span = s > 1 ? (unsigned)ceil(s) + 1 : 1;
    a->first = xmalloc(out * sizeof(unsigned));
    a->n = xmalloc(out * sizeof(unsigned));
    a->off = xmalloc(out * sizeof(unsigned));
    a->wt = xmalloc((size_t)out * span * sizeof(float));
    size_t k = 0;
    for (unsigned j = 0; j < out; j++) {
        a->off[j] = (unsigned)k;
        if (s <= 1) {
            /* Growing (a rounding pixel at most): nearest neighbour. */
            unsigned i = (unsigned)((j + 0.5) * s);
            a->first[j] = i < in ? i : in - 1;
            a->n[j] = 1;
            a->wt[k++] = 1;
            continue;
        }
        double x0 = j * s, x1 = (j + 1) * s;
        unsigned i0 = (unsigned)x0, i1 = (unsigned)ceil(x1);
        if (i1 > in)
            i1 = in;
        a->first[j] = i0;
        a->n[j] = 0;
        for (unsigned i = i0; i < i1 && a->n[j] < span; i++) {
            double lo = i > x0 ? i : x0, hi = i + 1 < x1 ? i + 1 : x1;
            if (hi <= lo)
                continue;
            a->wt[k++] = (float)((hi - lo) / s);
            a->n[j]++;
        }
    }
}

static void axis_release(struct axis *a)
{
    free(a->first);
    free(a->n);
    free(a->off);
    free(a->wt);
}

/* One source row resampled horizontally into out (w * 3 floats). */
static void hrow(const struct axis *ax, const unsigned char *src, unsigned w, float *out)
{
    for (unsigned j = 0; j < w; j++) {
        const unsigned char *p = src + (size_t)ax->first[j] * 3;
        const float *wt = ax->wt + ax->off[j];
        float r = 0, g = 0, b = 0;
        for (unsigned k = 0; k < ax->n[j]; k++, p += 3) {
            r += wt[k] * p[0];
            g += wt[k] * p[1];
            b += wt[k] * p[2];
        }
        out[3 * j] = r;
        out[3 * j + 1] = g;
        out[3 * j + 2] = b;
    }
}

static unsigned char clamp_px(float v)
{
    return v <= 0 ? 0 : v >= 255 ? 255 : (unsigned char)(v + 0.5f);
}

void image_resize(const struct image_rgb *in, unsigned w, unsigned h, struct image_rgb *out)
{
    ASSERT(in->w > 0 && in->h > 0 && w > 0 && h > 0);
    struct axis ax, ay;
    axis_init(&ax, in->w, w);
    axis_init(&ay, in->h, h);
    float *acc = xmalloc((size_t)w * 3 * sizeof(float));
    float *row = xmalloc((size_t)w * 3 * sizeof(float));
    unsigned char *px = xmalloc((size_t)w * h * 3);
    unsigned cached = UINT_MAX; /* the source row now in row[] */

    for (unsigned y = 0; y < h; y++) {
        const float *wt = ay.wt + ay.off[y];
        for (size_t i = 0; i < (size_t)w * 3; i++)
            acc[i] = 0;
        for (unsigned k = 0; k < ay.n[y]; k++) {
            unsigned sy = ay.first[y] + k;
            /* Neighbouring output rows share at most their boundary row. */
            if (sy != cached) {
                hrow(&ax, in->px + (size_t)sy * in->w * 3, w, row);
                cached = sy;
            }
            for (size_t i = 0; i < (size_t)w * 3; i++)
                acc[i] += wt[k] * row[i];
        }
        unsigned char *dst = px + (size_t)y * w * 3;
        for (size_t i = 0; i < (size_t)w * 3; i++)
            dst[i] = clamp_px(acc[i]);
    }
    free(acc);
    free(row);
    axis_release(&ax);
    axis_release(&ay);
    out->w = w;
    out->h = h;
    out->px = px;
}

void image_orient(struct image_rgb *im, int orientation)
{
    if (orientation < 2 || orientation > 8 || !im->px)
        return;
    unsigned w = im->w, h = im->h;
    bool swap = orientation >= 5;
    unsigned ow = swap ? h : w, oh = swap ? w : h;
    unsigned char *px = xmalloc((size_t)w * h * 3);
    for (unsigned y = 0; y < h; y++) {
        const unsigned char *src = im->px + (size_t)y * w * 3;
        for (unsigned x = 0; x < w; x++, src += 3) {
            /* Where the stored pixel (x, y) appears when shown upright. */
            unsigned dx, dy;
            switch (orientation) {
            case 2: dx = w - 1 - x; dy = y; break;         /* mirrored */
            case 3: dx = w - 1 - x; dy = h - 1 - y; break; /* upside down */
            case 4: dx = x; dy = h - 1 - y; break;         /* flipped */
            case 5: dx = y; dy = x; break;                 /* transposed */
            case 6: dx = h - 1 - y; dy = x; break;         /* turn 90 clockwise */
            case 7: dx = h - 1 - y; dy = w - 1 - x; break; /* transversed */
            default: dx = y; dy = w - 1 - x; break;        /* 8: turn 90 anticlockwise */
            }
            memcpy(px + ((size_t)dy * ow + dx) * 3, src, 3);
        }
    }
    free(im->px);
    im->px = px;
    im->w = ow;
    im->h = oh;
}

/* ---- JPEG encoder -------------------------------------------------------- */

/* libjpeg writes into a fixed scratch area that is appended to the
 * caller's buf whenever it fills. */
#define DEST_CHUNK (64u << 10)

struct buf_dest {
    struct jpeg_destination_mgr pub;
    struct buf *out;
    JOCTET chunk[DEST_CHUNK];
};

static void dest_init_cb(j_compress_ptr c)
{
    struct buf_dest *d = (struct buf_dest *)c->dest;
    d->pub.next_output_byte = d->chunk;
    d->pub.free_in_buffer = DEST_CHUNK;
}

static boolean dest_empty_cb(j_compress_ptr c)
{
    struct buf_dest *d = (struct buf_dest *)c->dest;
    buf_add(d->out, d->chunk, DEST_CHUNK); /* libjpeg filled all of it */
    dest_init_cb(c);
    return TRUE;
}

static void dest_term_cb(j_compress_ptr c)
{
    struct buf_dest *d = (struct buf_dest *)c->dest;
    buf_add(d->out, d->chunk, DEST_CHUNK - d->pub.free_in_buffer);
}

struct enc_state {
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    struct buf_dest dest;
    jmp_buf jb;
    bool created;
    char msg[JMSG_LENGTH_MAX];
};

static void enc_error_exit_cb(j_common_ptr c)
{
    struct enc_state *s = (struct enc_state *)c->client_data;
    (*c->err->format_message)(c, s->msg);
    longjmp(s->jb, 1);
}

static void enc_output_cb(j_common_ptr c)
{
}

static int enc_run(struct enc_state *s, const struct image_rgb *im, int quality)
{
    if (setjmp(s->jb))
        return -ENOMEM;
    s->ci.err = jpeg_std_error(&s->jerr);
    s->jerr.error_exit = enc_error_exit_cb;
    s->jerr.output_message = enc_output_cb;
    s->ci.client_data = s;
    jpeg_create_compress(&s->ci);
    s->created = true;
    s->dest.pub.init_destination = dest_init_cb;
    s->dest.pub.empty_output_buffer = dest_empty_cb;
    s->dest.pub.term_destination = dest_term_cb;
    s->ci.dest = &s->dest.pub;

    s->ci.image_width = im->w;
    s->ci.image_height = im->h;
    s->ci.input_components = 3;
    s->ci.in_color_space = JCS_RGB;
    jpeg_set_defaults(&s->ci);
    jpeg_set_quality(&s->ci, quality, TRUE);
    s->ci.optimize_coding = TRUE;
    jpeg_start_compress(&s->ci, TRUE);
    while (s->ci.next_scanline < im->h) {
        JSAMPROW row = im->px + (size_t)s->ci.next_scanline * im->w * 3;
        jpeg_write_scanlines(&s->ci, &row, 1);
    }
    jpeg_finish_compress(&s->ci);
    return 0;
}

int image_encode_jpeg(const struct image_rgb *im, int quality, struct buf *out, struct buf *err)
{
    if (!im->px || im->w == 0 || im->h == 0 || im->w > IMAGE_MAX_DIM || im->h > IMAGE_MAX_DIM ||
        quality < 1 || quality > 100) {
        buf_addf(err, "cannot encode a %ux%u picture at quality %d", im->w, im->h, quality);
        return -EINVAL;
    }
    struct enc_state *s = xcalloc(1, sizeof(*s));
    size_t start = out->len;
    s->dest.out = out;
    int rc = enc_run(s, im, quality);
    if (rc < 0) {
        buf_addf(err, "JPEG encoder: %s", s->msg);
        buf_setlen(out, start);
    }
    if (s->created)
        jpeg_destroy_compress(&s->ci);
    free(s);
    return rc;
}

/* ---- the pipeline -------------------------------------------------------- */

/* decode: image_decode_rgb() with the options resolved. */
static int decode(const void *data, size_t len, const struct image_opts *op,
                  struct image_rgb *out, struct image_info *info, struct buf *err)
{
    const struct image_opts o = *op;
    int rc;

    memset(info, 0, sizeof(*info));
    info->orientation = 1;
    out->px = NULL;
    out->w = out->h = 0;
    if (len == 0) {
        buf_addstr(err, "empty upload: no bytes");
        return -EINVAL;
    }
    if (len > o.max_bytes) {
        buf_addf(err, "upload is %zu bytes, more than the limit of %llu", len,
                 (unsigned long long)o.max_bytes);
        return -E2BIG;
    }

    struct image_dec d = {.data = data, .len = len, .max_pixels = o.max_pixels,
                          .want_side = o.max_side};
    switch (image_detect(data, len)) {
    case IMAGE_FMT_JPEG: rc = image__decode_jpeg(&d, err); break;
    case IMAGE_FMT_PNG: rc = image__decode_png(&d, err); break;
    case IMAGE_FMT_WEBP: rc = image__decode_webp(&d, err); break;
    case IMAGE_FMT_HEIF: rc = image__decode_heif(&d, err); break;
    default:
        describe_unknown(data, len, err);
        return -ENOTSUP;
    }
    if (rc < 0)
        return rc;

    memcpy(info->format, d.format, sizeof(info->format));
    info->src_w = d.src_w;
    info->src_h = d.src_h;
    if (d.exif)
        exif_read(d.exif, d.exif_len, info);
    if (d.oriented)
        info->orientation = 1;

    /* Sized from the full-resolution picture, so a JPEG decoded at 1/2
     * comes out exactly as large as one decoded whole. */
    unsigned tw, th;
    image_fit(d.src_w, d.src_h, o.max_side, &tw, &th);
    if (tw != d.rgb.w || th != d.rgb.h) {
        image_resize(&d.rgb, tw, th, out);
        image_rgb_release(&d.rgb);
    } else {
        *out = d.rgb;
        d.rgb.px = NULL;
    }
    image__dec_release(&d);
    image_orient(out, info->orientation);
    info->out_w = out->w;
    info->out_h = out->h;
    return 0;
}

int image_decode_rgb(const void *data, size_t len, const struct image_opts *o,
                     struct image_rgb *out, struct image_info *info, struct buf *err)
{
    struct image_opts r;
    int rc = resolve_opts(o, &r, err);
    if (rc < 0) {
        memset(info, 0, sizeof(*info));
        out->px = NULL;
        out->w = out->h = 0;
        return rc;
    }
    return decode(data, len, &r, out, info, err);
}

int image_prepare(const void *data, size_t len, const struct image_opts *o, struct buf *jpeg_out,
                  struct image_info *info, struct buf *err)
{
    struct image_opts r;
    struct image_rgb rgb;
    int rc = resolve_opts(o, &r, err);
    if (rc < 0)
        return rc;
    rc = decode(data, len, &r, &rgb, info, err);
    if (rc < 0)
        return rc;
    image_sha256_hex(data, len, info->sha256);
    rc = image_encode_jpeg(&rgb, r.jpeg_quality, jpeg_out, err);
    image_rgb_release(&rgb);
    return rc;
}

/* ---- small helpers ------------------------------------------------------- */

void image_data_url(const void *jpeg, size_t len, struct buf *out)
{
    /* In steps of 3 KiB, which encode to exactly 4 KiB with no padding. */
    char chunk[BASE64_ENCODE_RAW_LENGTH(3072)];
    const uint8_t *p = jpeg;
    buf_addstr(out, "data:image/jpeg;base64,");
    buf_grow(out, BASE64_ENCODE_RAW_LENGTH(len));
    while (len > 0) {
        size_t n = len < 3072 ? len : 3072;
        base64_encode_raw(chunk, n, p);
        buf_add(out, chunk, BASE64_ENCODE_RAW_LENGTH(n));
        p += n;
        len -= n;
    }
}

void image_sha256_hex(const void *data, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    struct sha256_ctx ctx;
    uint8_t dg[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    sha256_update(&ctx, len, data);
    sha256_digest(&ctx, sizeof(dg), dg);
    for (size_t i = 0; i < sizeof(dg); i++) {
        out[2 * i] = hex[dg[i] >> 4];
        out[2 * i + 1] = hex[dg[i] & 15];
    }
    out[64] = '\0';
}
