/*
 * Unit tests for src/image (preparation of uploaded pictures).
 *
 * Every fixture is made here, at test time: pixels are drawn in memory and
 * written with the libraries' own encoders (libjpeg, libpng, libwebp), and
 * the Debian tools add what those cannot: exiftool (libimage-exiftool-perl)
 * writes EXIF, heif-enc (libheif-examples) makes HEIC. A missing tool
 * fails the test that needs it, with the package to install.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>
#include <webp/encode.h>

#include "ingest/image.h"
#include "lib/buf.h"
#include "lib/xalloc.h"
#include "media_test.h"

/* ---- helpers ------------------------------------------------------------- */

struct pic {
    unsigned w, h, ch; /* ch: 3 (RGB) or 4 (RGBA) */
    unsigned char *px;
};

static struct pic pic_new(unsigned w, unsigned h, unsigned ch, const unsigned char *fill)
{
    struct pic p = {w, h, ch, xmalloc((size_t)w * h * ch)};
    for (size_t i = 0; i < (size_t)w * h; i++)
        memcpy(p.px + i * ch, fill, ch);
    return p;
}

static void pic_rect(struct pic *p, unsigned x0, unsigned y0, unsigned w, unsigned h,
                     const unsigned char *c)
{
    for (unsigned y = y0; y < y0 + h && y < p->h; y++)
        for (unsigned x = x0; x < x0 + w && x < p->w; x++)
            memcpy(p->px + ((size_t)y * p->w + x) * p->ch, c, p->ch);
}

static const unsigned char WHITE[4] = {255, 255, 255, 255}, RED[4] = {255, 0, 0, 255},
                           BLUE[4] = {0, 0, 255, 255}, GREEN[4] = {0, 200, 0, 255},
                           BLACK[4] = {0, 0, 0, 255};

static void enc_jpeg(struct buf *out, unsigned char *px, unsigned w, unsigned h, int comps,
                     J_COLOR_SPACE cs, int quality, bool progressive)
{
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    unsigned char *mem = NULL;
    unsigned long memlen = 0;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    jpeg_mem_dest(&ci, &mem, &memlen);
    ci.image_width = w;
    ci.image_height = h;
    ci.input_components = comps;
    ci.in_color_space = cs;
    jpeg_set_defaults(&ci);
    if (cs == JCS_CMYK)
        jpeg_set_colorspace(&ci, JCS_CMYK); /* also writes the Adobe marker */
    jpeg_set_quality(&ci, quality, TRUE);
    if (progressive)
        jpeg_simple_progression(&ci);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < h) {
        JSAMPROW row = px + (size_t)ci.next_scanline * w * comps;
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    buf_add(out, mem, memlen);
    free(mem);
}

static void png_write_cb(png_structp png, png_bytep d, size_t n)
{
    buf_add(png_get_io_ptr(png), d, n);
}

static void png_flush_cb(png_structp png)
{
}

/* Any PNG libpng can write. rows: packed rows of the given depth/type. */
static void enc_png(struct buf *out, unsigned w, unsigned h, int depth, int ctype, int interlace,
                    const unsigned char *data, const png_color *pal, int npal,
                    const unsigned char *trns, int ntrns)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_non_null(info);
    png_set_write_fn(png, out, png_write_cb, png_flush_cb);
    png_set_IHDR(png, info, w, h, depth, ctype, interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (pal)
        png_set_PLTE(png, info, pal, npal);
    if (trns)
        png_set_tRNS(png, info, trns, ntrns, NULL);
    png_write_info(png, info);
    int ch = ctype == PNG_COLOR_TYPE_RGB_ALPHA ? 4 : ctype == PNG_COLOR_TYPE_RGB ? 3
             : ctype == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
    size_t rowbytes = ((size_t)w * ch * depth + 7) / 8;
    int passes = png_set_interlace_handling(png);
    for (int p = 0; p < passes; p++)
        for (unsigned y = 0; y < h; y++)
            png_write_row(png, data + y * rowbytes);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
}

static void enc_png_pic(struct buf *out, const struct pic *p)
{
    enc_png(out, p->w, p->h, 8, p->ch == 4 ? PNG_COLOR_TYPE_RGB_ALPHA : PNG_COLOR_TYPE_RGB,
            PNG_INTERLACE_NONE, p->px, NULL, 0, NULL, 0);
}

static void enc_webp(struct buf *out, const struct pic *p, bool lossless)
{
    uint8_t *mem = NULL;
    size_t n;
    if (p->ch == 4)
        n = lossless ? WebPEncodeLosslessRGBA(p->px, (int)p->w, (int)p->h, (int)p->w * 4, &mem)
                     : WebPEncodeRGBA(p->px, (int)p->w, (int)p->h, (int)p->w * 4, 90, &mem);
    else
        n = lossless ? WebPEncodeLosslessRGB(p->px, (int)p->w, (int)p->h, (int)p->w * 3, &mem)
                     : WebPEncodeRGB(p->px, (int)p->w, (int)p->h, (int)p->w * 3, 90, &mem);
    assert_true(n > 0);
    buf_add(out, mem, n);
    WebPFree(mem);
}

static void px_at(const unsigned char *px, unsigned w, unsigned x, unsigned y, unsigned char c[3])
{
    memcpy(c, px + ((size_t)y * w + x) * 3, 3);
}

#define assert_px_near(px, w, x, y, col, tol)                                                  \
    do {                                                                                       \
        unsigned char c_[3];                                                                   \
        px_at((px), (w), (x), (y), c_);                                                        \
        for (int i_ = 0; i_ < 3; i_++)                                                         \
            if (abs((int)c_[i_] - (int)(col)[i_]) > (tol))                                     \
                fail_msg("pixel (%u,%u) is %d,%d,%d, expected %d,%d,%d", (unsigned)(x),        \
                         (unsigned)(y), c_[0], c_[1], c_[2], (col)[0], (col)[1], (col)[2]);    \
    } while (0)

/* Prepares in, checks success, decodes the output into *px. */
static void prepare_ok(const struct buf *in, const struct image_opts *o, struct image_info *info,
                       struct buf *out, unsigned char **px)
{
    struct buf err = BUF_INIT;
    buf_reset(out);
    int rc = image_prepare(in->data, in->len, o, out, info, &err);
    if (rc != 0)
        fail_msg("image_prepare: %d %s", rc, buf_cstr(&err));
    buf_release(&err);
    assert_no_metadata(out);
    unsigned w, h;
    *px = dec_jpeg(out, &w, &h);
    assert_int_equal(w, info->out_w);
    assert_int_equal(h, info->out_h);
}

static int expect_fail(const void *data, size_t len, const struct image_opts *o)
{
    struct buf out = BUF_INIT, err = BUF_INIT;
    struct image_info info;
    int rc = image_prepare(data, len, o, &out, &info, &err);
    if (rc == 0)
        fail_msg("image_prepare accepted %zu bytes that it should refuse", len);
    assert_true(err.len > 0);
    assert_int_equal(out.len, 0);
    buf_release(&out);
    buf_release(&err);
    return rc;
}

/* ---- the orientation scene ----------------------------------------------- */

/* The picture as it should be seen: 48x32, white, a red square top left
 * and a blue one top right. */
#define VW 48
#define VH 32

static void scene_px(unsigned X, unsigned Y, unsigned char c[3])
{
    const unsigned char *col = WHITE;
    if (Y < 12 && X < 12)
        col = RED;
    else if (Y < 12 && X >= VW - 12)
        col = BLUE;
    memcpy(c, col, 3);
}

/*
 * The stored picture for an EXIF orientation, derived from the
 * specification's own wording of the tag: value -> (the side where row 0
 * of the stored picture is shown, the side where column 0 is shown).
 */
enum side { TOP, BOTTOM, LEFT, RIGHT };
static const enum side row0[9] = {0, TOP, TOP, BOTTOM, BOTTOM, LEFT, RIGHT, RIGHT, LEFT};
static const enum side col0[9] = {0, LEFT, RIGHT, RIGHT, LEFT, TOP, TOP, BOTTOM, BOTTOM};

static struct pic stored_for(int o)
{
    bool rows_horizontal = row0[o] == TOP || row0[o] == BOTTOM;
    unsigned sw = rows_horizontal ? VW : VH, sh = rows_horizontal ? VH : VW;
    struct pic p = pic_new(sw, sh, 3, WHITE);
    for (unsigned y = 0; y < sh; y++) {
        for (unsigned x = 0; x < sw; x++) {
            unsigned X = 0, Y = 0;
            switch (row0[o]) {
            case TOP: Y = y; break;
            case BOTTOM: Y = VH - 1 - y; break;
            case LEFT: X = y; break;
            case RIGHT: X = VW - 1 - y; break;
            }
            switch (col0[o]) {
            case LEFT: X = x; break;
            case RIGHT: X = VW - 1 - x; break;
            case TOP: Y = x; break;
            case BOTTOM: Y = VH - 1 - x; break;
            }
            scene_px(X, Y, p.px + ((size_t)y * sw + x) * 3);
        }
    }
    return p;
}

static void assert_upright(const unsigned char *px, const struct image_info *info)
{
    assert_int_equal(info->out_w, VW);
    assert_int_equal(info->out_h, VH);
    assert_px_near(px, VW, 5, 5, RED, 40);
    assert_px_near(px, VW, VW - 6, 5, BLUE, 40);
    assert_px_near(px, VW, 5, VH - 6, WHITE, 40);
    assert_px_near(px, VW, VW - 6, VH - 6, WHITE, 40);
}

/* ---- tests --------------------------------------------------------------- */

static void test_detect(void **state)
{
    assert_int_equal(image_detect("\xff\xd8\xff\xe0", 4), IMAGE_FMT_JPEG);
    assert_int_equal(image_detect("\x89PNG\r\n\x1a\n", 8), IMAGE_FMT_PNG);
    assert_int_equal(image_detect("RIFF\0\0\0\0WEBPVP8 ", 16), IMAGE_FMT_WEBP);
    assert_int_equal(image_detect("\0\0\0\x18" "ftypheic\0\0\0\0mif1heic", 24), IMAGE_FMT_HEIF);
    assert_int_equal(image_detect("\0\0\0\x18" "ftypisom\0\0\0\0isomavc1", 24), IMAGE_FMT_UNKNOWN);
    assert_int_equal(image_detect("RIFF\0\0\0\0WAVE", 12), IMAGE_FMT_UNKNOWN);
    assert_int_equal(image_detect("\xff\xd8", 2), IMAGE_FMT_UNKNOWN);

    struct buf out = BUF_INIT, err = BUF_INIT;
    struct image_info info;
    const char pdf[] = "%PDF-1.7\n%\xe2\xe3\n1 0 obj";
    assert_int_equal(image_prepare(pdf, sizeof(pdf) - 1, NULL, &out, &info, &err), -ENOTSUP);
    assert_string_equal(buf_cstr(&err),
                        "not an image: starts with 25 50 44 46 2d 31 2e 37 '%PDF-1.7'");
    buf_reset(&err);
    const char mp4[] = "\0\0\0\x18" "ftypisom\0\0\0\0isomavc1";
    assert_int_equal(image_prepare(mp4, sizeof(mp4) - 1, NULL, &out, &info, &err), -ENOTSUP);
    assert_non_null(strstr(buf_cstr(&err), "brand 'isom'"));
    buf_reset(&err);
    assert_int_equal(image_prepare("GIF89a\1\0\1\0", 10, NULL, &out, &info, &err), -ENOTSUP);
    assert_string_equal(buf_cstr(&err),
                        "unsupported image format GIF (JPEG, PNG, WebP and HEIC are read)");
    buf_reset(&err);
    assert_int_equal(image_prepare("\x01", 1, NULL, &out, &info, &err), -ENOTSUP);
    assert_string_equal(buf_cstr(&err), "not an image: starts with 01 '.'");
    assert_int_equal(out.len, 0);
    buf_release(&out);
    buf_release(&err);
}

static void test_limits(void **state)
{
    struct pic p = pic_new(64, 48, 3, RED);
    struct buf png = BUF_INIT;
    enc_png_pic(&png, &p);

    assert_int_equal(expect_fail("", 0, NULL), -EINVAL);
    struct image_opts o = {.max_bytes = png.len - 1};
    assert_int_equal(expect_fail(png.data, png.len, &o), -E2BIG);
    o = (struct image_opts){.max_pixels = 64 * 48 - 1};
    assert_int_equal(expect_fail(png.data, png.len, &o), -E2BIG);
    o = (struct image_opts){.jpeg_quality = 101};
    assert_int_equal(expect_fail(png.data, png.len, &o), -EINVAL);
    o = (struct image_opts){.max_side = IMAGE_MAX_DIM + 1};
    assert_int_equal(expect_fail(png.data, png.len, &o), -EINVAL);

    /* Exactly at the limits is fine. */
    o = (struct image_opts){.max_pixels = 64 * 48, .max_bytes = png.len};
    struct image_info info;
    struct buf out = BUF_INIT;
    unsigned char *px;
    prepare_ok(&png, &o, &info, &out, &px);
    free(px);
    buf_release(&out);
    buf_release(&png);
    free(p.px);
}

static void test_orientation_jpeg(void **state)
{
    need_tool("exiftool", "libimage-exiftool-perl");
    struct buf args = BUF_INIT, b = BUF_INIT, out = BUF_INIT;
    for (int o = 1; o <= 8; o++) {
        struct pic p = stored_for(o);
        buf_reset(&b);
        enc_jpeg(&b, p.px, p.w, p.h, 3, JCS_RGB, 95, false);
        char name[32];
        snprintf(name, sizeof(name), "orient%d.jpg", o);
        write_file(name, &b);
        buf_addf(&args, "-q\n-overwrite_original\n-Orientation#=%d\n%s\n-execute\n", o, name);
        free(p.px);
    }
    write_file("orient.args", &args);
    sh("exiftool -q -@ orient.args");

    for (int o = 1; o <= 8; o++) {
        char name[32];
        snprintf(name, sizeof(name), "orient%d.jpg", o);
        read_file(name, &b);
        struct image_info info;
        unsigned char *px;
        prepare_ok(&b, NULL, &info, &out, &px);
        assert_int_equal(info.orientation, o);
        assert_string_equal(info.format, "jpeg");
        assert_int_equal(info.src_w, o >= 5 ? VH : VW);
        assert_upright(px, &info);
        free(px);
    }
    buf_release(&args);
    buf_release(&b);
    buf_release(&out);
}

/* PNG keeps EXIF in eXIf, WebP in an EXIF chunk: the same orientation. */
static void test_orientation_png_webp(void **state)
{
    need_tool("exiftool", "libimage-exiftool-perl");
    struct buf b = BUF_INIT, out = BUF_INIT;
    struct pic p6 = stored_for(6), p3 = stored_for(3);
    enc_png_pic(&b, &p6);
    write_file("o6.png", &b);
    buf_reset(&b);
    enc_webp(&b, &p3, true);
    write_file("o3.webp", &b);
    sh("exiftool -q -overwrite_original -Orientation#=6 o6.png && "
       "exiftool -q -overwrite_original -Orientation#=3 o3.webp");

    struct image_info info;
    unsigned char *px;
    read_file("o6.png", &b);
    prepare_ok(&b, NULL, &info, &out, &px);
    assert_string_equal(info.format, "png");
    assert_int_equal(info.orientation, 6);
    assert_upright(px, &info);
    free(px);

    read_file("o3.webp", &b);
    prepare_ok(&b, NULL, &info, &out, &px);
    assert_string_equal(info.format, "webp");
    assert_int_equal(info.orientation, 3);
    assert_upright(px, &info);
    free(px);

    free(p6.px);
    free(p3.px);
    buf_release(&b);
    buf_release(&out);
}

/* The pure geometry helpers, on an image with a different colour per corner. */
static void test_orient_helper(void **state)
{
    /* 3x2: a b c / d e f, one byte per pixel in R. */
    static const unsigned char src[6] = {'a', 'b', 'c', 'd', 'e', 'f'};
    static const char *const want[9] = {
        NULL, "abc/def", "cba/fed", "fed/cba", "def/abc", "ad/be/cf", "da/eb/fc", "fc/eb/da",
        "cf/be/ad",
    };
    for (int o = 1; o <= 8; o++) {
        struct image_rgb im = {3, 2, xcalloc(6, 3)};
        for (int i = 0; i < 6; i++)
            im.px[3 * i] = src[i];
        image_orient(&im, o);
        char got[16];
        size_t n = 0;
        for (unsigned y = 0; y < im.h; y++) {
            if (y)
                got[n++] = '/';
            for (unsigned x = 0; x < im.w; x++)
                got[n++] = (char)im.px[3 * (y * im.w + x)];
        }
        got[n] = '\0';
        if (strcmp(got, want[o]) != 0)
            fail_msg("orientation %d: got %s, want %s", o, got, want[o]);
        image_rgb_release(&im);
    }
}

static void test_fit_and_resize(void **state)
{
    unsigned w, h;
    image_fit(4032, 3024, 1024, &w, &h);
    assert_int_equal(w, 1024);
    assert_int_equal(h, 768);
    image_fit(1170, 2532, 1024, &w, &h);
    assert_int_equal(w, 473);
    assert_int_equal(h, 1024);
    image_fit(300, 200, 100, &w, &h);
    assert_int_equal(w, 100);
    assert_int_equal(h, 67);
    image_fit(50, 40, 1024, &w, &h); /* never upscaled */
    assert_int_equal(w, 50);
    assert_int_equal(h, 40);
    image_fit(10000, 1, 100, &w, &h);
    assert_int_equal(w, 100);
    assert_int_equal(h, 1);

    /* A one-pixel checkerboard averages to grey; nearest neighbour would
     * give black or white. */
    struct image_rgb in = {64, 64, xmalloc(64 * 64 * 3)}, out;
    for (unsigned y = 0; y < 64; y++)
        for (unsigned x = 0; x < 64; x++)
            memset(in.px + (y * 64 + x) * 3, (x + y) % 2 ? 255 : 0, 3);
    image_resize(&in, 16, 16, &out);
    for (size_t i = 0; i < 16 * 16 * 3; i++)
        assert_in_range(out.px[i], 126, 129);
    image_rgb_release(&out);
    /* A non-integer factor: 64 -> 10, every output still mid grey. */
    image_resize(&in, 10, 10, &out);
    for (size_t i = 0; i < 10 * 10 * 3; i++)
        assert_in_range(out.px[i], 110, 145);
    image_rgb_release(&out);
    image_rgb_release(&in);
}

static void test_downscale(void **state)
{
    struct buf b = BUF_INIT, out = BUF_INIT;
    struct image_info info;
    unsigned char *px;

    /* Left half red, right half blue: 300x200 -> 100x67. */
    struct pic p = pic_new(300, 200, 3, RED);
    pic_rect(&p, 150, 0, 150, 200, BLUE);
    enc_png_pic(&b, &p);
    struct image_opts o = {.max_side = 100};
    prepare_ok(&b, &o, &info, &out, &px);
    assert_int_equal(info.src_w, 300);
    assert_int_equal(info.src_h, 200);
    assert_int_equal(info.out_w, 100);
    assert_int_equal(info.out_h, 67);
    assert_px_near(px, 100, 10, 33, RED, 30);
    assert_px_near(px, 100, 90, 33, BLUE, 30);
    free(px);
    free(p.px);

    /* Portrait. */
    p = pic_new(200, 300, 3, GREEN);
    buf_reset(&b);
    enc_png_pic(&b, &p);
    prepare_ok(&b, &o, &info, &out, &px);
    assert_int_equal(info.out_w, 67);
    assert_int_equal(info.out_h, 100);
    free(px);
    free(p.px);

    /* Small: kept as it is with the default max_side. */
    p = pic_new(50, 40, 3, GREEN);
    buf_reset(&b);
    enc_png_pic(&b, &p);
    prepare_ok(&b, NULL, &info, &out, &px);
    assert_int_equal(info.out_w, 50);
    assert_int_equal(info.out_h, 40);
    free(px);
    free(p.px);

    /* A JPEG large enough for DCT scaling (1/4 here), then area averaging
     * the rest of the way: the size must come out as for a full decode. */
    p = pic_new(2000, 1000, 3, RED);
    pic_rect(&p, 1000, 0, 1000, 1000, BLUE);
    pic_rect(&p, 0, 500, 2000, 500, WHITE);
    buf_reset(&b);
    enc_jpeg(&b, p.px, p.w, p.h, 3, JCS_RGB, 90, false);
    o = (struct image_opts){.max_side = 300};
    prepare_ok(&b, &o, &info, &out, &px);
    assert_int_equal(info.src_w, 2000);
    assert_int_equal(info.out_w, 300);
    assert_int_equal(info.out_h, 150);
    assert_px_near(px, 300, 50, 30, RED, 30);
    assert_px_near(px, 300, 250, 30, BLUE, 30);
    assert_px_near(px, 300, 150, 120, WHITE, 30);
    free(px);
    free(p.px);

    /* The RGB helper with the full size. */
    struct image_rgb rgb;
    struct buf err = BUF_INIT;
    o = (struct image_opts){.max_side = IMAGE_MAX_DIM};
    assert_int_equal(image_decode_rgb(b.data, b.len, &o, &rgb, &info, &err), 0);
    assert_int_equal(rgb.w, 2000);
    assert_int_equal(rgb.h, 1000);
    assert_string_equal(info.sha256, "");
    image_rgb_release(&rgb);
    buf_release(&err);

    /* WebP scales while decoding; with alpha too (transparent = white). */
    static const unsigned char clear[4] = {0, 0, 0, 0};
    struct pic pa = pic_new(400, 300, 4, RED);
    pic_rect(&pa, 200, 0, 200, 300, BLUE);
    pic_rect(&pa, 0, 150, 400, 150, clear);
    for (int alpha = 0; alpha < 2; alpha++) {
        struct pic q = pic_new(400, 300, 3, RED);
        for (size_t i = 0; i < 400 * 300; i++)
            memcpy(q.px + 3 * i, pa.px + 4 * i, 3);
        buf_reset(&b);
        enc_webp(&b, alpha ? &pa : &q, true);
        o = (struct image_opts){.max_side = 100};
        prepare_ok(&b, &o, &info, &out, &px);
        assert_int_equal(info.src_w, 400);
        assert_int_equal(info.out_w, 100);
        assert_int_equal(info.out_h, 75);
        assert_px_near(px, 100, 10, 10, RED, 30);
        assert_px_near(px, 100, 90, 10, BLUE, 30);
        if (alpha)
            assert_px_near(px, 100, 50, 65, WHITE, 10);
        else
            assert_px_near(px, 100, 10, 65, BLACK, 10);
        free(px);
        free(q.px);
    }
    free(pa.px);
    buf_release(&b);
    buf_release(&out);
}

static void test_alpha_onto_white(void **state)
{
    struct buf b = BUF_INIT, out = BUF_INIT;
    struct image_info info;
    unsigned char *px;
    static const unsigned char clear_red[4] = {255, 0, 0, 0}, half_black[4] = {0, 0, 0, 128};
    static const unsigned char grey[3] = {127, 127, 127};

    /* Transparent red must come out white, not red. */
    struct pic p = pic_new(32, 32, 4, clear_red);
    pic_rect(&p, 16, 0, 16, 16, GREEN);
    pic_rect(&p, 16, 16, 16, 16, half_black);
    enc_png_pic(&b, &p);
    prepare_ok(&b, NULL, &info, &out, &px);
    assert_px_near(px, 32, 5, 5, WHITE, 8);
    assert_px_near(px, 32, 24, 5, GREEN, 20);
    assert_px_near(px, 32, 24, 24, grey, 10);
    free(px);

    /* The same through lossless WebP with alpha. */
    buf_reset(&b);
    enc_webp(&b, &p, true);
    prepare_ok(&b, NULL, &info, &out, &px);
    assert_string_equal(info.format, "webp");
    assert_px_near(px, 32, 5, 5, WHITE, 8);
    assert_px_near(px, 32, 24, 5, GREEN, 20);
    assert_px_near(px, 32, 24, 24, grey, 10);
    free(px);
    free(p.px);

    /* Grey + alpha PNG: transparent black on the left. */
    unsigned char ga[16 * 8 * 2];
    for (int i = 0; i < 16 * 8; i++) {
        ga[2 * i] = 0;
        ga[2 * i + 1] = (i % 16) < 8 ? 0 : 255;
    }
    buf_reset(&b);
    enc_png(&b, 16, 8, 8, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_INTERLACE_NONE, ga, NULL, 0, NULL, 0);
    prepare_ok(&b, NULL, &info, &out, &px);
    assert_px_near(px, 16, 2, 4, WHITE, 8);
    assert_px_near(px, 16, 13, 4, BLACK, 8);
    free(px);

    /* Palette with a transparent entry (tRNS). */
    static const png_color pal[3] = {{255, 0, 0}, {0, 0, 255}, {0, 200, 0}};
    static const unsigned char trns[1] = {0};
    unsigned char idx[16 * 8];
    for (int i = 0; i < 16 * 8; i++)
        idx[i] = (i % 16) < 8 ? 0 : 1;
    buf_reset(&b);
    enc_png(&b, 16, 8, 8, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE, idx, pal, 3, trns, 1);
    prepare_ok(&b, NULL, &info, &out, &px);
    assert_px_near(px, 16, 2, 4, WHITE, 8);
    assert_px_near(px, 16, 13, 4, BLUE, 30);
    free(px);
    buf_release(&b);
    buf_release(&out);
}

static void test_pixel_formats(void **state)
{
    struct buf b = BUF_INIT, out = BUF_INIT;
    struct image_info info;
    unsigned char *px;

    /* 16-bit RGB, interlaced: red left, blue right. */
    unsigned char rgb16[16 * 8 * 6];
    for (int i = 0; i < 16 * 8; i++) {
        bool left = (i % 16) < 8;
        unsigned char *q = rgb16 + 6 * i;
        q[0] = q[1] = left ? 0xff : 0;
        q[2] = q[3] = 0;
        q[4] = q[5] = left ? 0 : 0xff;
    }
    enc_png(&b, 16, 8, 16, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7, rgb16, NULL, 0, NULL, 0);
    prepare_ok(&b, NULL, &info, &out, &px);
    assert_px_near(px, 16, 2, 4, RED, 30);
    assert_px_near(px, 16, 13, 4, BLUE, 30);
    free(px);

    /* 1-bit grey: white left, black right. */
    unsigned char bits[2 * 8];
    for (int y = 0; y < 8; y++) {
        bits[2 * y] = 0xff;
        bits[2 * y + 1] = 0x00;
    }
    buf_reset(&b);
    enc_png(&b, 16, 8, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, bits, NULL, 0, NULL, 0);
    prepare_ok(&b, NULL, &info, &out, &px);
    assert_px_near(px, 16, 2, 4, WHITE, 8);
    assert_px_near(px, 16, 13, 4, BLACK, 8);
    free(px);

    /* Greyscale JPEG. */
    unsigned char g[32 * 16];
    for (int i = 0; i < 32 * 16; i++)
        g[i] = (i % 32) < 16 ? 0 : 255;
    buf_reset(&b);
    enc_jpeg(&b, g, 32, 16, 1, JCS_GRAYSCALE, 95, false);
    prepare_ok(&b, NULL, &info, &out, &px);
    assert_px_near(px, 32, 4, 8, BLACK, 10);
    assert_px_near(px, 32, 27, 8, WHITE, 10);
    free(px);

    /* CMYK JPEG the way Photoshop writes it (Adobe marker, inverted ink):
     * red on the left (M+Y), black on the right (K). */
    unsigned char cmyk[32 * 16 * 4];
    for (int i = 0; i < 32 * 16; i++) {
        bool left = (i % 32) < 16;
        unsigned char ink[4] = {0, left ? 255 : 0, left ? 255 : 0, left ? 0 : 255};
        for (int k = 0; k < 4; k++)
            cmyk[4 * i + k] = (unsigned char)(255 - ink[k]);
    }
    buf_reset(&b);
    enc_jpeg(&b, cmyk, 32, 16, 4, JCS_CMYK, 95, false);
    prepare_ok(&b, NULL, &info, &out, &px);
    assert_px_near(px, 32, 4, 8, RED, 30);
    assert_px_near(px, 32, 27, 8, BLACK, 30);
    free(px);

    /* Progressive JPEG and lossy WebP, plain RGB. */
    struct pic p = pic_new(40, 20, 3, BLUE);
    pic_rect(&p, 0, 0, 20, 20, RED);
    buf_reset(&b);
    enc_jpeg(&b, p.px, p.w, p.h, 3, JCS_RGB, 90, true);
    prepare_ok(&b, NULL, &info, &out, &px);
    assert_px_near(px, 40, 5, 10, RED, 30);
    assert_px_near(px, 40, 34, 10, BLUE, 30);
    free(px);
    buf_reset(&b);
    enc_webp(&b, &p, false);
    prepare_ok(&b, NULL, &info, &out, &px);
    assert_px_near(px, 40, 5, 10, RED, 40);
    assert_px_near(px, 40, 34, 10, BLUE, 40);
    free(px);
    free(p.px);
    buf_release(&b);
    buf_release(&out);
}

static void test_exif_facts(void **state)
{
    need_tool("exiftool", "libimage-exiftool-perl");
    struct buf b = BUF_INIT, out = BUF_INIT;
    struct pic p = pic_new(64, 48, 3, GREEN);
    enc_jpeg(&b, p.px, p.w, p.h, 3, JCS_RGB, 90, false);
    write_file("paris.jpg", &b);
    write_file("sydney.jpg", &b);
    buf_reset(&b);
    enc_png_pic(&b, &p);
    write_file("nyc.png", &b);
    sh("exiftool -q -overwrite_original -Make=Apple '-Model=iPhone 15 Pro' "
       "'-DateTimeOriginal=2023:07:14 18:30:05' -OffsetTimeOriginal=+02:00 "
       "-GPSLatitude=48.8584 -GPSLatitudeRef=N -GPSLongitude=2.2945 -GPSLongitudeRef=E "
       "paris.jpg && "
       "exiftool -q -overwrite_original -Make=Google -Model=Pixel "
       "'-DateTimeOriginal=2023:07:14 18:30:05' "
       "-GPSLatitude=33.8688 -GPSLatitudeRef=S -GPSLongitude=151.2093 -GPSLongitudeRef=E "
       "sydney.jpg && "
       "exiftool -q -overwrite_original '-DateTimeOriginal=2020:01:02 03:04:05' "
       "-OffsetTimeOriginal=-05:00 -GPSLatitude=40.7128 -GPSLatitudeRef=N "
       "-GPSLongitude=74.006 -GPSLongitudeRef=W nyc.png");

    struct image_info info;
    unsigned char *px;
    read_file("paris.jpg", &b);
    assert_non_null(memmem(b.data, b.len, "iPhone 15 Pro", 13));
    prepare_ok(&b, NULL, &info, &out, &px);
    free(px);
    assert_string_equal(info.make, "Apple");
    assert_string_equal(info.model, "iPhone 15 Pro");
    assert_true(info.has_time);
    assert_true(info.has_tz);
    assert_int_equal(info.tz_offset_min, 120);
    assert_int_equal(info.captured_unix, 1689352205); /* 16:30:05Z */
    assert_true(info.has_gps);
    assert_float_equal(info.lat, 48.8584, 1e-4);
    assert_float_equal(info.lon, 2.2945, 1e-4);
    assert_int_equal(info.orientation, 1);
    /* What hermod keeps is not in what the model gets. */
    assert_null(memmem(out.data, out.len, "Apple", 5));
    assert_null(memmem(out.data, out.len, "iPhone", 6));
    assert_null(memmem(out.data, out.len, "2023:07:14", 10));

    read_file("sydney.jpg", &b);
    prepare_ok(&b, NULL, &info, &out, &px);
    free(px);
    assert_string_equal(info.make, "Google");
    assert_true(info.has_time);
    assert_false(info.has_tz);
    assert_int_equal(info.captured_unix, 1689359405); /* wall clock read as UTC */
    assert_float_equal(info.lat, -33.8688, 1e-4);
    assert_float_equal(info.lon, 151.2093, 1e-4);

    read_file("nyc.png", &b);
    prepare_ok(&b, NULL, &info, &out, &px);
    free(px);
    assert_string_equal(info.make, "");
    assert_true(info.has_tz);
    assert_int_equal(info.tz_offset_min, -300);
    assert_int_equal(info.captured_unix, 1577952245); /* 2020-01-02 08:04:05Z */
    assert_float_equal(info.lat, 40.7128, 1e-4);
    assert_float_equal(info.lon, -74.006, 1e-4);

    /* No EXIF at all. */
    buf_reset(&b);
    enc_png_pic(&b, &p);
    prepare_ok(&b, NULL, &info, &out, &px);
    free(px);
    assert_false(info.has_time);
    assert_false(info.has_gps);
    assert_int_equal(info.orientation, 1);
    free(p.px);
    buf_release(&b);
    buf_release(&out);
}

static void test_heic(void **state)
{
    need_tool("heif-enc", "libheif-examples");
    need_tool("exiftool", "libimage-exiftool-perl");
    struct buf b = BUF_INIT, out = BUF_INIT;
    struct image_info info;
    unsigned char *px;

    /* Plain HEIC from a PNG of the upright scene. */
    struct pic p = stored_for(1);
    enc_png_pic(&b, &p);
    write_file("scene.png", &b);
    free(p.px);
    /* With EXIF (and an orientation that HEIF readers must ignore). */
    p = pic_new(64, 48, 3, GREEN);
    pic_rect(&p, 0, 0, 16, 16, RED);
    buf_reset(&b);
    enc_jpeg(&b, p.px, p.w, p.h, 3, JCS_RGB, 95, false);
    write_file("cam.jpg", &b);
    free(p.px);
    /* With alpha. */
    static const unsigned char clear[4] = {0, 0, 0, 0};
    p = pic_new(64, 48, 4, clear);
    pic_rect(&p, 32, 0, 32, 48, BLUE);
    buf_reset(&b);
    enc_png_pic(&b, &p);
    write_file("alpha.png", &b);
    free(p.px);
    sh("exiftool -q -overwrite_original -Make=Apple -Model='iPhone 12' -Orientation#=6 "
       "'-DateTimeOriginal=2023:07:14 18:30:05' -OffsetTimeOriginal=+02:00 "
       "-GPSLatitude=48.8584 -GPSLatitudeRef=N -GPSLongitude=2.2945 -GPSLongitudeRef=E cam.jpg"
       " && heif-enc -q 90 scene.png -o scene.heic >/dev/null"
       " && heif-enc -q 90 cam.jpg -o cam.heic >/dev/null"
       " && heif-enc -q 90 alpha.png -o alpha.heic >/dev/null");

    read_file("scene.heic", &b);
    assert_int_equal(image_detect(b.data, b.len), IMAGE_FMT_HEIF);
    prepare_ok(&b, NULL, &info, &out, &px);
    assert_string_equal(info.format, "heic");
    assert_upright(px, &info);
    free(px);

    read_file("cam.heic", &b);
    prepare_ok(&b, NULL, &info, &out, &px);
    assert_int_equal(info.src_w, 64);
    assert_int_equal(info.out_w, 64); /* EXIF orientation 6 not applied */
    assert_int_equal(info.orientation, 1);
    assert_px_near(px, 64, 4, 4, RED, 40);
    assert_string_equal(info.make, "Apple");
    assert_string_equal(info.model, "iPhone 12");
    assert_int_equal(info.captured_unix, 1689352205);
    assert_true(info.has_gps);
    assert_float_equal(info.lat, 48.8584, 1e-4);
    assert_null(memmem(out.data, out.len, "Apple", 5));
    free(px);

    read_file("alpha.heic", &b);
    prepare_ok(&b, NULL, &info, &out, &px);
    assert_px_near(px, 64, 8, 24, WHITE, 20);
    assert_px_near(px, 64, 56, 24, BLUE, 40);
    free(px);
    buf_release(&b);
    buf_release(&out);
}

static void test_hash_and_determinism(void **state)
{
    char hex[65];
    image_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    image_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

    struct pic p = pic_new(40, 30, 3, BLUE);
    pic_rect(&p, 5, 5, 10, 10, RED);
    struct buf b = BUF_INIT, o1 = BUF_INIT, o2 = BUF_INIT, err = BUF_INIT;
    enc_png_pic(&b, &p);
    struct image_info i1, i2;
    assert_int_equal(image_prepare(b.data, b.len, NULL, &o1, &i1, &err), 0);
    assert_int_equal(image_prepare(b.data, b.len, NULL, &o2, &i2, &err), 0);
    image_sha256_hex(b.data, b.len, hex);
    assert_string_equal(i1.sha256, hex);
    assert_string_equal(i1.sha256, i2.sha256);
    assert_int_equal(o1.len, o2.len);
    assert_memory_equal(o1.data, o2.data, o1.len);
    /* One byte more (after IEND) is another upload. */
    buf_addch(&b, 0);
    buf_reset(&o2);
    assert_int_equal(image_prepare(b.data, b.len, NULL, &o2, &i2, &err), 0);
    assert_string_not_equal(i1.sha256, i2.sha256);
    /* Appends to what the buf holds. */
    assert_int_equal(image_prepare(b.data, b.len, NULL, &o2, &i2, &err), 0);
    assert_int_equal(o2.len, 2 * o1.len);
    free(p.px);
    buf_release(&b);
    buf_release(&o1);
    buf_release(&o2);
    buf_release(&err);
}

static void test_data_url(void **state)
{
    struct buf u = BUF_INIT;
    image_data_url("abc", 3, &u);
    assert_string_equal(buf_cstr(&u), "data:image/jpeg;base64,YWJj");
    buf_reset(&u);
    image_data_url("", 0, &u);
    assert_string_equal(buf_cstr(&u), "data:image/jpeg;base64,");
    buf_reset(&u);
    image_data_url("ab", 2, &u);
    assert_string_equal(buf_cstr(&u), "data:image/jpeg;base64,YWI=");
    /* Across the encoder's 3 KiB steps. */
    unsigned char big[7000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (unsigned char)(i * 7);
    buf_reset(&u);
    image_data_url(big, sizeof(big), &u);
    assert_int_equal(u.len, 23 + (sizeof(big) + 2) / 3 * 4);
    assert_memory_equal(u.data + u.len - 2, "==", 2); /* 7000 = 3 * 2333 + 1 */
    assert_null(memchr(u.data + 23, '=', u.len - 23 - 2));
    buf_release(&u);
}

/* Every cut of a valid file is refused cleanly. */
static void check_truncations(const struct buf *b, const char *what)
{
    size_t step = b->len / 60 + 1;
    for (size_t n = 1; n < b->len; n += (n + 24 >= b->len) ? 1 : step) {
        struct buf out = BUF_INIT, err = BUF_INIT;
        struct image_info info;
        int rc = image_prepare(b->data, n, NULL, &out, &info, &err);
        if (rc == 0)
            fail_msg("%s cut to %zu of %zu bytes was accepted", what, n, b->len);
        assert_true(err.len > 0);
        buf_release(&out);
        buf_release(&err);
    }
}

static void test_truncated(void **state)
{
    need_tool("heif-enc", "libheif-examples");
    struct pic p = pic_new(64, 48, 3, GREEN);
    pic_rect(&p, 10, 10, 30, 20, RED);
    struct buf b = BUF_INIT;
    enc_jpeg(&b, p.px, p.w, p.h, 3, JCS_RGB, 90, false);
    check_truncations(&b, "baseline JPEG");
    buf_reset(&b);
    enc_jpeg(&b, p.px, p.w, p.h, 3, JCS_RGB, 90, true);
    check_truncations(&b, "progressive JPEG");
    buf_reset(&b);
    enc_png_pic(&b, &p);
    write_file("trunc.png", &b);
    check_truncations(&b, "PNG");
    buf_reset(&b);
    enc_png(&b, p.w, p.h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7, p.px, NULL, 0, NULL, 0);
    check_truncations(&b, "interlaced PNG");
    buf_reset(&b);
    enc_webp(&b, &p, false);
    check_truncations(&b, "lossy WebP");
    buf_reset(&b);
    enc_webp(&b, &p, true);
    check_truncations(&b, "lossless WebP");
    sh("heif-enc -q 80 trunc.png -o trunc.heic >/dev/null");
    read_file("trunc.heic", &b);
    check_truncations(&b, "HEIC");
    free(p.px);
    buf_release(&b);
}

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0xedb88320u : c >> 1;
    }
    return c ^ 0xffffffffu;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Headers that claim huge pictures are refused before any decoding. */
static void test_bombs(void **state)
{
    need_tool("heif-enc", "libheif-examples");
    struct pic p = pic_new(64, 48, 3, GREEN);
    struct buf b = BUF_INIT, err = BUF_INIT, out = BUF_INIT;
    struct image_info info;
    double t0 = now_s();

    /* PNG: IHDR says 100000 x 100000 (10 gigapixels), CRC fixed up. */
    enc_png_pic(&b, &p);
    unsigned char *q = (unsigned char *)b.data;
    assert_memory_equal(q + 12, "IHDR", 4);
    put_be32(q + 16, 100000);
    put_be32(q + 20, 100000);
    put_be32(q + 29, crc32_of(q + 12, 17));
    assert_int_equal(image_prepare(b.data, b.len, NULL, &out, &info, &err), -E2BIG);
    assert_non_null(strstr(buf_cstr(&err), "100000x100000"));

    /* PNG within the side limit but over the pixel limit: 20000 x 20000. */
    put_be32(q + 16, 20000);
    put_be32(q + 20, 20000);
    put_be32(q + 29, crc32_of(q + 12, 17));
    assert_int_equal(expect_fail(b.data, b.len, NULL), -E2BIG);

    /* JPEG: SOF0 says 60000 x 60000. */
    buf_reset(&b);
    enc_jpeg(&b, p.px, p.w, p.h, 3, JCS_RGB, 90, false);
    q = (unsigned char *)b.data;
    size_t i = 2;
    while (i + 9 < b.len && !(q[i] == 0xff && q[i + 1] == 0xc0))
        i += 2 + ((size_t)q[i + 2] << 8 | q[i + 3]);
    assert_true(i + 9 < b.len);
    q[i + 5] = q[i + 7] = 60000 >> 8;
    q[i + 6] = q[i + 8] = 60000 & 0xff;
    assert_int_equal(expect_fail(b.data, b.len, NULL), -E2BIG);

    /* WebP: 16383 x 16383 (268 MP), claimed consistently by the VP8X
     * canvas (an alpha WebP has one) and the VP8 frame header. */
    static const unsigned char half[4] = {0, 0, 0, 128};
    struct pic pa = pic_new(64, 48, 4, half);
    buf_reset(&b);
    enc_webp(&b, &pa, false);
    q = (unsigned char *)b.data;
    assert_memory_equal(q + 12, "VP8X", 4);
    q[24] = q[27] = 0xfe; /* canvas width-1 and height-1, 24 bits each */
    q[25] = q[28] = 0x3f;
    q[26] = q[29] = 0x00;
    q = memmem(b.data, b.len, "\x9d\x01\x2a", 3); /* VP8 start code */
    assert_non_null(q);
    q[3] = q[5] = 0xff; /* 14-bit sizes, no upscaling bits */
    q[4] = q[6] = 0x3f;
    assert_int_equal(expect_fail(b.data, b.len, NULL), -E2BIG);
    free(pa.px);

    /* HEIC: the ispe property says 60000 x 60000. */
    buf_reset(&b);
    enc_png_pic(&b, &p);
    write_file("bomb.png", &b);
    sh("heif-enc -q 50 bomb.png -o bomb.heic >/dev/null");
    read_file("bomb.heic", &b);
    q = memmem(b.data, b.len, "ispe", 4);
    assert_non_null(q);
    put_be32(q + 8, 60000);
    put_be32(q + 12, 60000);
    assert_int_equal(expect_fail(b.data, b.len, NULL), -E2BIG);

    /* None of it took decoding time (generous: ASan, a shared machine). */
    assert_true(now_s() - t0 < 10);
    free(p.px);
    buf_release(&b);
    buf_release(&err);
    buf_release(&out);
}

/* Random bytes, and valid files with random damage: refused or decoded,
 * never a crash (the ASan build is where this test earns its keep). */
static void test_fuzz_lite(void **state)
{
    need_tool("heif-enc", "libheif-examples");
    unsigned seed = 12345;
    struct buf files[5];
    struct pic p = pic_new(48, 32, 3, BLUE);
    pic_rect(&p, 8, 8, 20, 12, RED);
    for (size_t i = 0; i < ARRAY_SIZE(files); i++)
        buf_init(&files[i]);
    enc_jpeg(&files[0], p.px, p.w, p.h, 3, JCS_RGB, 80, false);
    enc_jpeg(&files[1], p.px, p.w, p.h, 3, JCS_RGB, 80, true);
    enc_png_pic(&files[2], &p);
    enc_webp(&files[3], &p, false);
    write_file("fuzz.png", &files[2]);
    sh("heif-enc -q 50 fuzz.png -o fuzz.heic >/dev/null");
    read_file("fuzz.heic", &files[4]);

    static const struct {
        const char *m;
        size_t n;
    } magic[] = {
        {"\xff\xd8\xff", 3},
        {"\x89PNG\r\n\x1a\n", 8},
        {"RIFF\x40\0\0\0WEBPVP8 ", 16},
        {"\0\0\0\x18" "ftypheic\0\0\0\0mif1heic", 24},
        {"", 0},
    };
    unsigned char junk[512];
    for (int round = 0; round < 200; round++) {
        size_t ml = magic[round % ARRAY_SIZE(magic)].n;
        size_t n = ml + (size_t)(rand_r(&seed) % (sizeof(junk) - ml));
        memcpy(junk, magic[round % ARRAY_SIZE(magic)].m, ml);
        for (size_t i = ml; i < n; i++)
            junk[i] = (unsigned char)rand_r(&seed);
        struct buf out = BUF_INIT, err = BUF_INIT;
        struct image_info info;
        if (image_prepare(junk, n, NULL, &out, &info, &err) < 0)
            assert_true(err.len > 0);
        buf_release(&out);
        buf_release(&err);
    }
    for (size_t f = 0; f < ARRAY_SIZE(files); f++) {
        for (int round = 0; round < 60; round++) {
            struct buf m = BUF_INIT, out = BUF_INIT, err = BUF_INIT;
            buf_add(&m, files[f].data, files[f].len);
            int flips = 1 + rand_r(&seed) % 8;
            for (int k = 0; k < flips; k++) {
                size_t at = 2 + (size_t)rand_r(&seed) % (m.len - 2);
                m.data[at] = (char)(m.data[at] ^ (1 << (rand_r(&seed) % 8)));
            }
            struct image_info info;
            int rc = image_prepare(m.data, m.len, NULL, &out, &info, &err);
            if (rc == 0)
                assert_true(info.out_w > 0 && info.out_w <= 1024 && out.len > 0);
            else
                assert_true(err.len > 0);
            buf_release(&m);
            buf_release(&out);
            buf_release(&err);
        }
        buf_release(&files[f]);
    }
    free(p.px);
}

/* Calls on several threads at once give what one thread gives. */
struct thr {
    const struct buf *in, *want;
    size_t n;
    int bad;
};

static void *thr_main(void *arg)
{
    struct thr *t = arg;
    for (int round = 0; round < 6; round++) {
        for (size_t i = 0; i < t->n; i++) {
            struct buf out = BUF_INIT, err = BUF_INIT;
            struct image_info info;
            size_t k = (i + round) % t->n;
            if (image_prepare(t->in[k].data, t->in[k].len, NULL, &out, &info, &err) != 0 ||
                out.len != t->want[k].len || memcmp(out.data, t->want[k].data, out.len) != 0)
                t->bad++;
            buf_release(&out);
            buf_release(&err);
        }
    }
    return NULL;
}

static void test_threads(void **state)
{
    need_tool("heif-enc", "libheif-examples");
    struct buf in[4], want[4];
    for (size_t i = 0; i < 4; i++) {
        buf_init(&in[i]);
        buf_init(&want[i]);
    }
    static const unsigned char half[4] = {0, 0, 255, 128};
    struct pic p = pic_new(200, 150, 4, half);
    pic_rect(&p, 20, 20, 60, 40, RED);
    enc_png_pic(&in[0], &p);
    enc_webp(&in[1], &p, false);
    struct pic q = pic_new(200, 150, 3, GREEN);
    pic_rect(&q, 20, 20, 60, 40, RED);
    enc_jpeg(&in[2], q.px, q.w, q.h, 3, JCS_RGB, 90, true);
    write_file("thr.png", &in[0]);
    sh("heif-enc -q 60 thr.png -o thr.heic >/dev/null");
    read_file("thr.heic", &in[3]);
    for (size_t i = 0; i < 4; i++) {
        struct image_info info;
        struct buf err = BUF_INIT;
        assert_int_equal(image_prepare(in[i].data, in[i].len, NULL, &want[i], &info, &err), 0);
        buf_release(&err);
    }
    pthread_t tid[4];
    struct thr t[4];
    for (int k = 0; k < 4; k++) {
        t[k] = (struct thr){in, want, 4, 0};
        assert_int_equal(pthread_create(&tid[k], NULL, thr_main, &t[k]), 0);
    }
    for (int k = 0; k < 4; k++) {
        pthread_join(tid[k], NULL);
        assert_int_equal(t[k].bad, 0);
    }
    for (size_t i = 0; i < 4; i++) {
        buf_release(&in[i]);
        buf_release(&want[i]);
    }
    free(p.px);
    free(q.px);
}

/* ---- set-up -------------------------------------------------------------- */

static int setup(void **state)
{
    return media_tmp_init("image");
}

static int teardown(void **state)
{
    return media_tmp_clean();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detect),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_orient_helper),
        cmocka_unit_test(test_orientation_jpeg),
        cmocka_unit_test(test_orientation_png_webp),
        cmocka_unit_test(test_fit_and_resize),
        cmocka_unit_test(test_downscale),
        cmocka_unit_test(test_alpha_onto_white),
        cmocka_unit_test(test_pixel_formats),
        cmocka_unit_test(test_exif_facts),
        cmocka_unit_test(test_heic),
        cmocka_unit_test(test_hash_and_determinism),
        cmocka_unit_test(test_data_url),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bombs),
        cmocka_unit_test(test_fuzz_lite),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
