/*
 * Unit tests for HEIF grid and overlay images (ingest/image_decode.c,
 * image_heif_box.c): the layout of every iPhone photo, which heif-enc
 * (Debian's libheif 1.15) cannot write.
 *
 * So the test writes them itself: heif-enc makes four 64x64 single-image
 * HEICs of solid colours, and this file takes each one's hvcC property and
 * coded data and puts them together as the four tiles of a 'grid' (or an
 * 'iovl' overlay) whose canvas size it chooses. A true canvas must decode
 * with each colour in its quadrant; a canvas that differs from the
 * declared size, or one over the pixel limit, must be refused before
 * libheif allocates it (fuzz_image found a 508-byte file that made
 * libheif allocate 2 GB).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "ingest/image.h"
#include "lib/buf.h"
#include "lib/xalloc.h"
#include "media_test.h"

static const unsigned char COLOURS[4][3] = {
    {255, 0, 0}, {0, 0, 255}, {0, 200, 0}, {0, 0, 0}}; /* TL TR BL BR */

struct tile {
    struct buf hvcc; /* the whole hvcC box */
    struct buf data; /* the coded picture */
};
static struct tile tiles[4];

/* ---- reading heif-enc's output (independently of the module) ------------ */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The box of this type among the siblings p[0..n): its start (header
 * included) and whole length; fails the test when there is none. */
static const unsigned char *box(const unsigned char *p, size_t n, const char *type, size_t *len)
{
    size_t off = 0;
    while (off + 8 <= n) {
        size_t size = be32(p + off);
        assert_true(size >= 8 && size <= n - off); /* heif-enc writes 32-bit sizes */
        if (!memcmp(p + off + 4, type, 4)) {
            *len = size;
            return p + off;
        }
        off += size;
    }
    fail_msg("no '%s' box", type);
    return NULL;
}

static void take_tile(const struct buf *heic, struct tile *t)
{
    const unsigned char *p = (const unsigned char *)heic->data;
    size_t n, m, k;
    const unsigned char *meta = box(p, heic->len, "meta", &n);
    const unsigned char *iprp = box(meta + 12, n - 12, "iprp", &m);
    const unsigned char *ipco = box(iprp + 8, m - 8, "ipco", &k);
    const unsigned char *hvcc = box(ipco + 8, k - 8, "hvcC", &m);
    buf_add(&t->hvcc, hvcc, m);
    /* One image and nothing else: its coded data is the whole mdat. */
    const unsigned char *mdat = box(p, heic->len, "mdat", &n);
    buf_add(&t->data, mdat + 8, n - 8);
}

/* ---- writing a derived image -------------------------------------------- */

static void put8(struct buf *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    buf_add(b, &c, 1);
}
static void put16(struct buf *b, unsigned v)
{
    put8(b, v >> 8);
    put8(b, v);
}
static void put32(struct buf *b, uint32_t v)
{
    put16(b, v >> 16);
    put16(b, v & 0xffff);
}

/* Opens a box: returns where its size goes, filled in by end(). */
static size_t begin(struct buf *b, const char *type, int version, unsigned flags)
{
    size_t at = b->len;
    put32(b, 0);
    buf_add(b, type, 4);
    if (version >= 0) {
        put8(b, (unsigned)version);
        put8(b, flags >> 16);
        put16(b, flags & 0xffff);
    }
    return at;
}
static void end(struct buf *b, size_t at)
{
    size_t n = b->len - at;
    unsigned char *p = (unsigned char *)b->data + at;
    p[0] = (unsigned char)(n >> 24), p[1] = (unsigned char)(n >> 16);
    p[2] = (unsigned char)(n >> 8), p[3] = (unsigned char)n;
}

enum derived { GRID, OVERLAY };

struct spec {
    enum derived kind;
    uint32_t canvas_w, canvas_h; /* in the item's data */
    uint32_t ispe_w, ispe_h;     /* the property the handle reports */
    bool no_location;            /* leave the derived item out of iloc */
    bool short_data;             /* locate only its first 4 bytes */
    const struct buf *hvcc0;     /* instead of tile 1's hvcC property */
};

/* The derived image's data: grid (rows, columns, size) or overlay (fill
 * colour, size, each tile's offset). */
static void derived_data(struct buf *d, const struct spec *s)
{
    bool wide = s->canvas_w > 0xffff || s->canvas_h > 0xffff;
    put8(d, 0);
    put8(d, wide ? 1 : 0);
    if (s->kind == GRID) {
        put8(d, 1); /* rows - 1 */
        put8(d, 1); /* columns - 1 */
    } else {
        for (int i = 0; i < 4; i++)
            put16(d, 0xffff); /* white */
    }
    if (wide) {
        put32(d, s->canvas_w);
        put32(d, s->canvas_h);
    } else {
        put16(d, s->canvas_w);
        put16(d, s->canvas_h);
    }
    if (s->kind == OVERLAY)
        for (unsigned i = 0; i < 4; i++) {
            put16(d, i % 2 * 64); /* x, y: 16-bit signed */
            put16(d, i / 2 * 64);
        }
}

static void meta_box(struct buf *b, const struct spec *s, uint32_t mdat_data)
{
    struct buf d = BUF_INIT;
    derived_data(&d, s);
    size_t meta = begin(b, "meta", 0, 0);
    size_t at = begin(b, "hdlr", 0, 0);
    put32(b, 0);
    buf_add(b, "pict", 4);
    put32(b, 0), put32(b, 0), put32(b, 0);
    put8(b, 0);
    end(b, at);
    at = begin(b, "pitm", 0, 0);
    put16(b, 5);
    end(b, at);

    at = begin(b, "iinf", 0, 0);
    put16(b, 5);
    for (unsigned id = 1; id <= 5; id++) {
        size_t e = begin(b, "infe", 2, id < 5 ? 1 : 0); /* tiles hidden */
        put16(b, id);
        put16(b, 0);
        buf_add(b, id < 5 ? "hvc1" : s->kind == GRID ? "grid" : "iovl", 4);
        put8(b, 0);
        end(b, e);
    }
    end(b, at);

    at = begin(b, "iref", 0, 0);
    size_t r = begin(b, "dimg", -1, 0);
    put16(b, 5);
    put16(b, 4);
    for (unsigned id = 1; id <= 4; id++)
        put16(b, id);
    end(b, r);
    end(b, at);

    at = begin(b, "iprp", -1, 0);
    size_t co = begin(b, "ipco", -1, 0);
    for (int i = 0; i < 4; i++) {
        const struct buf *h = i == 0 && s->hvcc0 ? s->hvcc0 : &tiles[i].hvcc;
        buf_add(b, h->data, h->len); /* properties 1-4 */
    }
    size_t is = begin(b, "ispe", 0, 0);                     /* 5: a tile's */
    put32(b, 64), put32(b, 64);
    end(b, is);
    is = begin(b, "ispe", 0, 0); /* 6: the derived image's */
    put32(b, s->ispe_w), put32(b, s->ispe_h);
    end(b, is);
    end(b, co);
    size_t ma = begin(b, "ipma", 0, 0);
    put32(b, 5);
    for (unsigned id = 1; id <= 4; id++) {
        put16(b, id);
        put8(b, 2);
        put8(b, 0x80 | id); /* hvcC, essential */
        put8(b, 5);
    }
    put16(b, 5);
    put8(b, 1);
    put8(b, 6);
    end(b, ma);
    end(b, at);

    at = begin(b, "idat", -1, 0);
    buf_add(b, d.data, d.len);
    end(b, at);

    at = begin(b, "iloc", 1, 0);
    put8(b, 0x44); /* offset_size 4, length_size 4 */
    put8(b, 0x00); /* base_offset_size 0, index_size 0 */
    put16(b, s->no_location ? 4 : 5);
    uint32_t off = mdat_data;
    for (unsigned id = 1; id <= 4; id++) {
        put16(b, id);
        put16(b, 0); /* construction method 0: file offset */
        put16(b, 0);
        put16(b, 1);
        put32(b, off);
        put32(b, (uint32_t)tiles[id - 1].data.len);
        off += (uint32_t)tiles[id - 1].data.len;
    }
    if (!s->no_location) {
        put16(b, 5);
        put16(b, 1); /* construction method 1: in idat */
        put16(b, 0);
        put16(b, 1);
        put32(b, 0);
        put32(b, s->short_data ? 4 : (uint32_t)d.len);
    }
    end(b, at);
    end(b, meta);
    buf_release(&d);
}

static void write_derived(struct buf *out, const struct spec *s)
{
    struct buf ftyp = BUF_INIT, meta = BUF_INIT;
    size_t at = begin(&ftyp, "ftyp", -1, 0);
    buf_add(&ftyp, "heic", 4);
    put32(&ftyp, 0);
    buf_add(&ftyp, "mif1heic", 8);
    end(&ftyp, at);
    meta_box(&meta, s, 0); /* to learn its length; offsets do not change it */
    uint32_t mdat_data = (uint32_t)(ftyp.len + meta.len + 8);
    buf_reset(&meta);
    meta_box(&meta, s, mdat_data);

    buf_reset(out);
    buf_add(out, ftyp.data, ftyp.len);
    buf_add(out, meta.data, meta.len);
    size_t md = begin(out, "mdat", -1, 0);
    for (int i = 0; i < 4; i++)
        buf_add(out, tiles[i].data.data, tiles[i].data.len);
    end(out, md);
    assert_int_equal(out->len - md - 8 + mdat_data, out->len);
    buf_release(&ftyp);
    buf_release(&meta);
}

/* ---- an HEVC sequence parameter set that declares a size ----------------- */

struct bitw {
    struct buf *b;
    unsigned acc, n;
};

static void bit(struct bitw *w, unsigned v)
{
    w->acc = w->acc << 1 | (v & 1);
    if (++w->n == 8) {
        put8(w->b, w->acc);
        w->acc = w->n = 0;
    }
}
static void bits(struct bitw *w, uint64_t v, unsigned k)
{
    while (k--)
        bit(w, k < 64 ? (unsigned)(v >> k) & 1 : 0);
}
static void ue_bits(struct bitw *w, uint32_t v)
{
    unsigned k = 0;
    while ((v + 1) >> (k + 1))
        k++;
    bits(w, 0, k);
    bits(w, v + 1, k + 1);
}

/*
 * An hvcC property whose one SPS says w x h, with sub-layers (and their
 * profile and level) when sub > 0. The NAL unit gets emulation prevention
 * bytes as an encoder writes them: its run of zero flags needs several.
 * Only the fields up to the size are real; the rest is cut off.
 */
static void hvcc_with_sps(struct buf *out, uint32_t w, uint32_t h, unsigned sub)
{
    struct buf rbsp = BUF_INIT;
    struct bitw bw = {&rbsp};
    bits(&bw, 0x4201, 16); /* NAL header: SPS_NUT */
    bits(&bw, 0, 4);       /* sps_video_parameter_set_id */
    bits(&bw, sub, 3);
    bits(&bw, 1, 1);
    bits(&bw, 1, 8);        /* profile space, tier, Main */
    bits(&bw, 0, 32);       /* compatibility flags */
    bits(&bw, 0, 48);       /* constraint flags */
    bits(&bw, 93, 8);       /* level 3.1 */
    for (unsigned i = 0; i < sub; i++)
        bits(&bw, i % 2 ? 1 : 3, 2); /* profile present for even i, level for all */
    if (sub)
        bits(&bw, 0, 2 * (8 - sub));
    for (unsigned i = 0; i < sub; i++) {
        if (i % 2 == 0)
            bits(&bw, 0, 88);
        bits(&bw, 93, 8);
    }
    ue_bits(&bw, 0); /* sps_seq_parameter_set_id */
    ue_bits(&bw, 1); /* 4:2:0 */
    ue_bits(&bw, w);
    ue_bits(&bw, h);
    while (bw.n)
        bit(&bw, bw.n == 7 ? 1 : 0); /* then a stop bit's worth of padding */

    struct buf nal = BUF_INIT;
    unsigned zeros = 0, epb = 0;
    for (size_t i = 0; i < rbsp.len; i++) {
        unsigned char c = (unsigned char)rbsp.data[i];
        if (zeros >= 2 && c <= 3) {
            put8(&nal, 3);
            zeros = 0;
            epb++;
        }
        put8(&nal, c);
        zeros = c == 0 ? zeros + 1 : 0;
    }
    assert_true(epb >= 2);

    size_t at = begin(out, "hvcC", -1, 0);
    put8(out, 1);
    for (int i = 0; i < 21; i++) /* the rest of the record's header */
        put8(out, i == 20 ? 0x0f : 0);
    put8(out, 1);    /* numOfArrays */
    put8(out, 33);   /* SPS */
    put16(out, 1);
    put16(out, (unsigned)nal.len);
    buf_add(out, nal.data, nal.len);
    end(out, at);
    buf_release(&rbsp);
    buf_release(&nal);
}

/* ---- fixtures ------------------------------------------------------------ */

static int setup(void **state)
{
    if (media_tmp_init("heif-grid") < 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    for (int i = 0; i < 4; i++) {
        buf_release(&tiles[i].hvcc);
        buf_release(&tiles[i].data);
    }
    return media_tmp_clean();
}

/* The four tiles, made once (first test that needs them). */
static void need_tiles(void)
{
    if (tiles[0].data.len)
        return;
    need_tool("heif-enc", "libheif-examples");
    for (int i = 0; i < 4; i++) {
        unsigned char px[64 * 64 * 3];
        for (size_t j = 0; j < 64 * 64; j++)
            memcpy(px + j * 3, COLOURS[i], 3);
        png_image im = {.version = PNG_IMAGE_VERSION, .width = 64, .height = 64,
                        .format = PNG_FORMAT_RGB};
        char *path = xasprintf("%s/t%d.png", media_tmpdir, i);
        assert_true(png_image_write_to_file(&im, path, 0, px, 0, NULL));
        free(path);
        sh("heif-enc -q 95 t%d.png -o t%d.heic >/dev/null", i, i);
        struct buf b = BUF_INIT;
        char name[24];
        snprintf(name, sizeof(name), "t%d.heic", i);
        read_file(name, &b);
        take_tile(&b, &tiles[i]);
        buf_release(&b);
    }
}

static void decode_ok(const struct buf *in, unsigned w, unsigned h, unsigned char **px)
{
    struct buf out = BUF_INIT, err = BUF_INIT;
    struct image_opts o;
    image_opts_init(&o);
    struct image_info info;
    int rc = image_prepare(in->data, in->len, &o, &out, &info, &err);
    if (rc != 0)
        fail_msg("image_prepare: %d %s", rc, buf_cstr(&err));
    assert_int_equal(info.src_w, w);
    assert_int_equal(info.src_h, h);
    assert_int_equal(info.out_w, w);
    unsigned ow, oh;
    *px = dec_jpeg(&out, &ow, &oh);
    assert_int_equal(ow, w);
    assert_int_equal(oh, h);
    buf_release(&out);
    buf_release(&err);
}

static void assert_quadrants(const unsigned char *px, unsigned w, unsigned h)
{
    const unsigned xy[4][2] = {{8, 8}, {w - 9, 8}, {8, h - 9}, {w - 9, h - 9}};
    for (int i = 0; i < 4; i++) {
        const unsigned char *c = px + ((size_t)xy[i][1] * w + xy[i][0]) * 3;
        for (int k = 0; k < 3; k++)
            if (abs((int)c[k] - (int)COLOURS[i][k]) > 40)
                fail_msg("pixel (%u,%u) is %d,%d,%d, expected %d,%d,%d", xy[i][0], xy[i][1],
                         c[0], c[1], c[2], COLOURS[i][0], COLOURS[i][1], COLOURS[i][2]);
    }
}

static int refused(const struct buf *in, const char *needle)
{
    struct buf out = BUF_INIT, err = BUF_INIT;
    struct image_opts o;
    image_opts_init(&o);
    struct image_info info;
    int rc = image_prepare(in->data, in->len, &o, &out, &info, &err);
    if (rc == 0)
        fail_msg("image_prepare accepted a file it should refuse");
    if (!strstr(buf_cstr(&err), needle))
        fail_msg("error %d '%s' does not say '%s'", rc, buf_cstr(&err), needle);
    assert_int_equal(out.len, 0);
    buf_release(&out);
    buf_release(&err);
    return rc;
}

/* ---- tests --------------------------------------------------------------- */

/* A 2x2 grid of 64x64 tiles, as a phone writes it (512x512 tiles there). */
static void test_grid_decodes(void **state)
{
    need_tiles();
    struct buf b = BUF_INIT;
    unsigned char *px;
    write_derived(&b, &(struct spec){GRID, 128, 128, 128, 128, false});
    write_file("grid.heic", &b);
    assert_int_equal(image_detect(b.data, b.len), IMAGE_FMT_HEIF);
    decode_ok(&b, 128, 128, &px);
    assert_quadrants(px, 128, 128);
    free(px);

    /* The canvas may end inside the last tiles: they are cropped. */
    write_derived(&b, &(struct spec){GRID, 100, 90, 100, 90, false});
    decode_ok(&b, 100, 90, &px);
    assert_quadrants(px, 100, 90);
    free(px);
    buf_release(&b);
}

static void test_overlay_decodes(void **state)
{
    need_tiles();
    struct buf b = BUF_INIT;
    unsigned char *px;
    write_derived(&b, &(struct spec){OVERLAY, 128, 128, 128, 128, false});
    decode_ok(&b, 128, 128, &px);
    assert_quadrants(px, 128, 128);
    free(px);
    buf_release(&b);
}

/* Each file its spec makes must be refused with rc and a message that
 * says this. */
struct refusal {
    struct spec spec;
    const char *says;
    int rc;
};

static void refuse_each(const struct refusal *r, size_t n)
{
    need_tiles();
    struct buf b = BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        write_derived(&b, &r[i].spec);
        assert_int_equal(refused(&b, r[i].says), r[i].rc);
    }
    buf_release(&b);
}

/*
 * The file fuzz_image found: a grid that says 64x64 in its ispe and
 * 26742x25393 in its data. libheif 1.15 allocated the canvas, 2 GB, before
 * anything failed; now the data's size is held to the pixel limit first.
 */
static void test_canvas_over_limit(void **state)
{
    static const struct refusal r[] = {
        {{GRID, 26742, 25393, 128, 128, false}, "26742x25393", -E2BIG},
        {{OVERLAY, 30000, 30000, 128, 128, false}, "30000x30000", -E2BIG},
        /* 32-bit sizes, beyond libheif's own 32768 a side. */
        {{GRID, 100000, 70000, 128, 128, false}, "100000x70000", -E2BIG},
    };
    refuse_each(r, ARRAY_SIZE(r));
}

/* Within the limit but not the size the image declares: a file libheif
 * would decode to a size nothing else agrees with. */
static void test_canvas_not_declared_size(void **state)
{
    static const struct refusal r[] = {
        {{GRID, 120, 120, 128, 128, false},
         "canvas is 120x120, but the image says it is 128x128",
         -EBADMSG},
        {{OVERLAY, 1000, 1000, 128, 128, false}, "canvas is 1000x1000", -EBADMSG},
    };
    refuse_each(r, ARRAY_SIZE(r));
}

static void test_canvas_unreadable(void **state)
{
    static const struct refusal r[] = {
        {{GRID, 128, 128, 128, 128, true, false}, "corrupt HEIF", -EBADMSG},
        {{GRID, 128, 128, 128, 128, false, true}, "the size of grid image 5 cannot be read",
         -EBADMSG},
        {{OVERLAY, 128, 128, 128, 128, false, true}, "the size of overlay image 5 cannot be read",
         -EBADMSG},
    };
    refuse_each(r, ARRAY_SIZE(r));
    struct buf b = BUF_INIT;
    /* Cut anywhere before the coded data: every prefix is refused. */
    write_derived(&b, &(struct spec){GRID, 128, 128, 128, 128, false});
    struct buf err = BUF_INIT, out = BUF_INIT;
    struct image_opts o;
    image_opts_init(&o);
    struct image_info info;
    const char *mdat = memmem(b.data, b.len, "mdat", 4);
    assert_non_null(mdat);
    for (size_t n = 0; n < (size_t)(mdat - b.data); n++) {
        buf_reset(&err);
        buf_reset(&out);
        if (image_prepare(b.data, n, &o, &out, &info, &err) == 0)
            fail_msg("a prefix of %zu of %zu bytes decoded", n, b.len);
        assert_true(err.len > 0);
    }
    buf_release(&err);
    buf_release(&out);
    buf_release(&b);
}

/*
 * A tile whose HEVC parameter set declares a picture far larger than its
 * ispe: libde265 (Debian's 1.0.11) allocates what the SPS says, up to
 * 65535 a side (6 GB), so the SPS is read and held to the limit before
 * libheif decodes.
 */
static void test_tile_sps_over_limit(void **state)
{
    need_tiles();
    struct buf b = BUF_INIT, h = BUF_INIT;
    hvcc_with_sps(&h, 65535, 65535, 0);
    write_derived(&b, &(struct spec){GRID, 128, 128, 128, 128, false, false, &h});
    assert_int_equal(refused(&b, "65535x65535 pixels"), -E2BIG);
    assert_int_equal(refused(&b, "the size its HEVC stream declares"), -E2BIG);
    /* With sub-layers, which move the size further into the SPS. */
    buf_reset(&h);
    hvcc_with_sps(&h, 30000, 4000, 5);
    write_derived(&b, &(struct spec){GRID, 128, 128, 128, 128, false, false, &h});
    assert_int_equal(refused(&b, "30000x4000 pixels"), -E2BIG);
    /* An SPS cut before its size. */
    buf_reset(&h);
    hvcc_with_sps(&h, 64, 64, 0);
    /* The NAL unit's length (box header, 22 bytes of record, numOfArrays,
     * the array's type and count): now its header and 4 bytes. */
    unsigned char *len = (unsigned char *)h.data + 8 + 22 + 1 + 1 + 2;
    assert_int_equal(len[0] << 8 | len[1], h.len - 8 - 22 - 1 - 1 - 2 - 2);
    len[0] = 0, len[1] = 6;
    write_derived(&b, &(struct spec){GRID, 128, 128, 128, 128, false, false, &h});
    assert_int_equal(refused(&b, "sequence parameter set cannot be read"), -EBADMSG);
    buf_release(&h);
    buf_release(&b);
}

/*
 * AVIF: dav1d allocates the frame the AV1 sequence header declares, not
 * the ispe. A 4160x64 AVIF made by heif-enc (aom) decodes; the same file
 * with its ispe made to say 64x64 is refused before anything is decoded:
 * libheif (Debian's) reads the coded size from the sequence header and
 * holds it to the per-side limit that image__decode_heif() lowers to the
 * declared size, never below 4096 (so a lying AVIF costs at most a
 * 4096x4096 frame before it is refused: the floor that padded HEVC tiles
 * need). An 8192x8192 frame behind a 64x64 ispe, measured by hand the
 * same way: refused at 6 MB peak RSS; decoded as declared, 436 MB.
 */
static void test_avif_frame_larger_than_declared(void **state)
{
    need_tool("heif-enc", "libheif-examples");
    enum { W = 4160, H = 64 };
    unsigned char *px = xmalloc((size_t)W * H * 3);
    for (size_t j = 0; j < (size_t)W * H; j++)
        memcpy(px + j * 3, COLOURS[j % W < W / 2 ? 0 : 1], 3);
    png_image im = {.version = PNG_IMAGE_VERSION, .width = W, .height = H,
                    .format = PNG_FORMAT_RGB};
    char *path = xasprintf("%s/wide.png", media_tmpdir);
    assert_true(png_image_write_to_file(&im, path, 0, px, 0, NULL));
    free(path);
    free(px);
    sh("heif-enc -A wide.png -o wide.avif >/dev/null");
    struct buf b = BUF_INIT, out = BUF_INIT, err = BUF_INIT;
    read_file("wide.avif", &b);
    struct image_opts o;
    image_opts_init(&o);
    struct image_info info;
    int rc = image_prepare(b.data, b.len, &o, &out, &info, &err);
    if (rc != 0)
        fail_msg("image_prepare: %d %s", rc, buf_cstr(&err));
    assert_string_equal(info.format, "avif");
    assert_int_equal(info.src_w, W);
    assert_int_equal(info.src_h, H);

    /* The one ispe (in meta/iprp/ipco): size 20, type, FullBox header,
     * width, height. */
    unsigned char *ispe = memmem(b.data, b.len, "ispe", 4);
    assert_non_null(ispe);
    assert_int_equal(be32(ispe - 4), 20);
    assert_int_equal(be32(ispe + 8), W);
    assert_int_equal(be32(ispe + 12), H);
    ispe[8 + 2] = 0, ispe[8 + 3] = 64; /* width 64: 0x00000040 */
    assert_int_equal(be32(ispe + 8), 64);
    assert_int_equal(refused(&b, "Coded image size 4160x64 exceeds"), -E2BIG);
    assert_int_equal(refused(&b, "4097x4097"), -E2BIG);
    buf_release(&b);
    buf_release(&out);
    buf_release(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid_decodes),
        cmocka_unit_test(test_overlay_decodes),
        cmocka_unit_test(test_canvas_over_limit),
        cmocka_unit_test(test_canvas_not_declared_size),
        cmocka_unit_test(test_canvas_unreadable),
        cmocka_unit_test(test_tile_sps_over_limit),
        cmocka_unit_test(test_avif_frame_larger_than_declared),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
