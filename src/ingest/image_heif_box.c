/* SPDX-License-Identifier: MIT */
/*
 * image_heif_box.c: the sizes libheif and libde265 will allocate for a
 * HEIF file, read before libheif decodes it: every grid and overlay
 * canvas, every HEVC picture.
 *
 * WHY
 * A derived HEIF image ('grid' of tiles, 'iovl' overlay; ISO/IEC
 * 23008-12 6.6.2) gets its canvas size from its own item data, not from
 * the 'ispe' property that libheif's handle reports. libheif 1.15 (Debian
 * bookworm) allocates that canvas, three planes of up to 16 bits, checking
 * only that each side stays under 32768, and its API does not expose the
 * size. A 508-byte file found by fuzz_image declared 64x64 and a grid of
 * 26742x25393: 2 GB allocated before any tile was decoded. So the decoder
 * reads each canvas here and holds it to the same limits as every other
 * picture (image__decode_heif()). The same goes one level down: libde265
 * (1.0.11 in bookworm) allocates the picture its sequence parameter set
 * declares, up to 65535 a side, whatever the tile's ispe says; so the
 * width and height of each SPS in an hvcC property are read too. (AVIF's
 * av1C need not carry the sequence header, so nothing is read here for
 * AV1: Debian's libheif reads the coded size from the stream itself and
 * holds it to the per-side limit that image__decode_heif() lowers towards
 * the declared size, which caps a lying AVIF at a 4096 x 4096 frame
 * (test_heif_grid's test_avif_frame_larger_than_declared). Not covered: an
 * AV1 frame header that overrides the size beyond its sequence header's
 * maximum, which dav1d 1.0 takes up to its own limit of 32768 a side.)
 *
 * This reads only the boxes that locate an item's data (meta, iinf/infe,
 * iloc, idat) and the first bytes of that data, and the hvcC properties
 * (iprp/ipco) up to each SPS's size. It never decodes anything; libheif
 * still parses the whole file afterwards, and a file this code cannot
 * follow is one libheif could not decode either (the same boxes, read the
 * same way).
 */
#include "ingest/image_int.h"

#include <errno.h>
#include <string.h>

/* More derived images than this in one file are refused: a photo has one
 * grid, maybe with a thumbnail, an alpha and a depth grid beside it. */
#define HEIF_MAX_DERIVED 64

/* A bounded reader: every get past the end sets bad and returns 0. */
struct rd {
    const unsigned char *p;
    size_t n, off;
    bool bad;
};

static uint64_t get(struct rd *r, unsigned bytes)
{
    if (r->bad || bytes > r->n - r->off) {
        r->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        v = v << 8 | r->p[r->off + i];
    r->off += bytes;
    return v;
}

/* One box: its type and body. Returns false at the end or on a box that
 * runs past its parent (a truncated file ends the walk, as in libheif). */
static bool next_box(struct rd *r, char type[4], struct rd *body)
{
    if (r->bad || r->n - r->off < 8)
        return false;
    size_t start = r->off;
    uint64_t size = get(r, 4);
    memcpy(type, r->p + r->off, 4);
    r->off += 4;
    if (size == 1)
        size = get(r, 8);
    else if (size == 0)
        size = r->n - start;
    size_t hdr = r->off - start;
    if (r->bad || size < hdr || size > r->n - start) {
        r->bad = true;
        return false;
    }
    *body = (struct rd){.p = r->p + r->off, .n = (size_t)size - hdr};
    r->off = start + (size_t)size;
    return true;
}

/* The boxes of meta this reads; p is NULL for one the file lacks. */
struct meta {
    struct rd iinf, iloc, idat;
};

/*
 * Reads up to want bytes of item id's data into out (iloc, 8.11.3 of
 * ISO/IEC 14496-12): construction method 0 (file offsets) or 1 (offsets
 * into idat). Returns the number of bytes read, or -1 when the item has
 * no location that can be followed.
 */
static int item_data(const struct rd *file, const struct meta *m, uint32_t id,
                     unsigned char *out, size_t want)
{
    struct rd r = m->iloc;
    unsigned version = (unsigned)get(&r, 1);
    get(&r, 3);
    unsigned sizes = (unsigned)get(&r, 1), more = (unsigned)get(&r, 1);
    unsigned off_size = sizes >> 4, len_size = sizes & 15, base_size = more >> 4;
    unsigned index_size = version == 1 || version == 2 ? more & 15 : 0;
    if (version > 2)
        return -1;
    uint64_t count = get(&r, version < 2 ? 2 : 4);
    for (uint64_t i = 0; i < count && !r.bad; i++) {
        uint32_t item = (uint32_t)get(&r, version < 2 ? 2 : 4);
        unsigned method = version == 1 || version == 2 ? (unsigned)get(&r, 2) & 15 : 0;
        get(&r, 2); /* data_reference_index */
        uint64_t base = get(&r, base_size);
        uint64_t extents = get(&r, 2);
        size_t got = 0;
        for (uint64_t e = 0; e < extents && !r.bad; e++) {
            get(&r, index_size);
            uint64_t off = base + get(&r, off_size);
            uint64_t len = get(&r, len_size);
            if (item != id || got == want)
                continue;
            const struct rd *src = method == 0 ? file : method == 1 ? &m->idat : NULL;
            if (!src || !src->p || off < base || off > src->n)
                return -1;
            uint64_t avail = src->n - off;
            if (len == 0 || len > avail) /* 0: to the end (14496-12) */
                len = avail;
            size_t take = len < want - got ? (size_t)len : want - got;
            memcpy(out + got, src->p + off, take);
            got += take;
        }
        if (item == id)
            return r.bad ? -1 : (int)got;
    }
    return -1;
}

/* The canvas of a grid (6.6.2.3.2) or overlay (6.6.2.2.2) from its data. */
static bool canvas_size(bool grid, const unsigned char *d, int n, uint32_t *w, uint32_t *h)
{
    struct rd r = {.p = d, .n = n < 0 ? 0 : (size_t)n};
    if (get(&r, 1) != 0) /* version */
        return false;
    unsigned field = get(&r, 1) & 1 ? 4 : 2;
    get(&r, grid ? 2 : 8); /* rows and columns - 1; or the fill colour */
    *w = (uint32_t)get(&r, field);
    *h = (uint32_t)get(&r, field);
    return !r.bad;
}

/* ---- HEVC: the size a tile's decoder will allocate ----------------------- */

/* Bits of an RBSP: the NAL unit's bytes without emulation prevention. */
struct bits {
    unsigned char b[256];
    size_t n, pos; /* pos in bits */
    bool bad;
};

static uint32_t u(struct bits *r, unsigned k)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < k; i++) {
        if (r->pos >= r->n * 8) {
            r->bad = true;
            return 0;
        }
        v = v << 1 | (r->b[r->pos / 8] >> (7 - r->pos % 8) & 1);
        r->pos++;
    }
    return v;
}

static uint32_t ue(struct bits *r)
{
    unsigned zeros = 0;
    while (!r->bad && u(r, 1) == 0)
        if (++zeros > 31) {
            r->bad = true;
            return 0;
        }
    return (uint32_t)((1ull << zeros) - 1 + u(r, zeros));
}

/*
 * pic_width/height_in_luma_samples of an HEVC sequence parameter set
 * (H.265 7.3.2.2.1, with profile_tier_level 7.3.3), nal[0..n) starting at
 * its NAL header. What libde265 allocates a picture of, up to 65535 a
 * side in Debian's 1.0.11 whatever the container says.
 */
static bool sps_size(const unsigned char *nal, size_t n, uint32_t *w, uint32_t *h)
{
    struct bits r = {.n = 0};
    unsigned zeros = 0;
    for (size_t i = 0; i < n && r.n < sizeof(r.b); i++) {
        if (zeros >= 2 && nal[i] == 3) { /* emulation prevention */
            zeros = 0;
            continue;
        }
        zeros = nal[i] == 0 ? zeros + 1 : 0;
        r.b[r.n++] = nal[i];
    }
    u(&r, 16);                     /* NAL unit header */
    u(&r, 4);                      /* sps_video_parameter_set_id */
    unsigned sub = u(&r, 3);       /* sps_max_sub_layers_minus1 */
    u(&r, 1);                      /* sps_temporal_id_nesting_flag */
    u(&r, 32), u(&r, 32), u(&r, 32); /* general profile, flags, level */
    bool prof[8], level[8];
    for (unsigned i = 0; i < sub; i++) {
        prof[i] = u(&r, 1);
        level[i] = u(&r, 1);
    }
    if (sub > 0)
        u(&r, 2 * (8 - sub)); /* reserved_zero_2bits */
    for (unsigned i = 0; i < sub; i++) {
        if (prof[i])
            u(&r, 32), u(&r, 32), u(&r, 24); /* 88 bits */
        if (level[i])
            u(&r, 8);
    }
    ue(&r); /* sps_seq_parameter_set_id */
    if (ue(&r) == 3) /* chroma_format_idc */
        u(&r, 1);    /* separate_colour_plane_flag */
    *w = ue(&r);
    *h = ue(&r);
    return !r.bad;
}

/* Each SPS in an hvcC property (ISO/IEC 14496-15 8.3.3.1). */
static int hvcc_sizes(struct rd *c, image_canvas_cb *cb, void *arg, struct buf *err)
{
    get(c, 22); /* up to numOfArrays */
    unsigned arrays = (unsigned)get(c, 1);
    for (unsigned a = 0; a < arrays && !c->bad; a++) {
        unsigned type = (unsigned)get(c, 1) & 0x3f;
        unsigned nalus = (unsigned)get(c, 2);
        for (unsigned k = 0; k < nalus && !c->bad; k++) {
            size_t len = (size_t)get(c, 2);
            if (c->bad || len > c->n - c->off) {
                c->bad = true;
                break;
            }
            const unsigned char *nal = c->p + c->off;
            c->off += len;
            if (type != 33) /* SPS_NUT */
                continue;
            uint32_t w, h;
            if (!sps_size(nal, len, &w, &h)) {
                buf_addstr(err, "corrupt HEIF: an HEVC sequence parameter set cannot be read");
                return -EBADMSG;
            }
            int rc = cb(arg, 0, w, h, err);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

/* Every hvcC property in iprp/ipco. A truncated property is libheif's to
 * refuse; only a size read in full counts. */
static int coded_sizes(struct rd iprp, image_canvas_cb *cb, void *arg, struct buf *err)
{
    char type[4];
    struct rd ipco, prop;
    while (next_box(&iprp, type, &ipco)) {
        if (memcmp(type, "ipco", 4))
            continue;
        while (next_box(&ipco, type, &prop)) {
            if (memcmp(type, "hvcC", 4))
                continue;
            int rc = hvcc_sizes(&prop, cb, arg, err);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

/* ---- derived images ------------------------------------------------------ */

int image__heif_canvases(const unsigned char *p, size_t n, image_canvas_cb *cb, void *arg,
                         struct buf *err)
{
    struct rd file = {.p = p, .n = n}, top = file, box;
    char type[4];
    struct meta m = {0};
    bool found = false;
    while (!found && next_box(&top, type, &box))
        found = !memcmp(type, "meta", 4);
    if (!found)
        return 0; /* libheif will say what is wrong */
    get(&box, 4); /* FullBox version and flags */
    struct rd child;
    while (next_box(&box, type, &child)) {
        if (!memcmp(type, "iinf", 4) && !m.iinf.p)
            m.iinf = child;
        else if (!memcmp(type, "iloc", 4) && !m.iloc.p)
            m.iloc = child;
        else if (!memcmp(type, "idat", 4) && !m.idat.p)
            m.idat = child;
        else if (!memcmp(type, "iprp", 4)) {
            int rc = coded_sizes(child, cb, arg, err);
            if (rc < 0)
                return rc;
        }
    }
    if (!m.iinf.p)
        return 0;

    struct rd r = m.iinf;
    unsigned version = (unsigned)get(&r, 1);
    get(&r, 3);
    get(&r, version == 0 ? 2 : 4); /* entry_count: the boxes that follow count */
    unsigned derived = 0;
    struct rd infe;
    while (next_box(&r, type, &infe)) {
        if (memcmp(type, "infe", 4))
            continue;
        unsigned v = (unsigned)get(&infe, 1);
        get(&infe, 3);
        if (v < 2)
            continue; /* no item_type before version 2 */
        uint32_t id = (uint32_t)get(&infe, v == 2 ? 2 : 4);
        get(&infe, 2); /* item_protection_index */
        if (infe.bad || infe.n - infe.off < 4)
            continue;
        const unsigned char *t = infe.p + infe.off;
        bool grid = !memcmp(t, "grid", 4);
        if (!grid && memcmp(t, "iovl", 4))
            continue;
        if (++derived > HEIF_MAX_DERIVED) {
            buf_addf(err, "corrupt HEIF: more than %d grid and overlay images", HEIF_MAX_DERIVED);
            return -EBADMSG;
        }
        unsigned char d[2 + 8 + 8];
        int got = m.iloc.p ? item_data(&file, &m, id, d, grid ? 12 : sizeof(d)) : -1;
        uint32_t w = 0, h = 0;
        if (got < 0 || !canvas_size(grid, d, got, &w, &h)) {
            buf_addf(err, "corrupt HEIF: the size of %s image %u cannot be read",
                     grid ? "grid" : "overlay", (unsigned)id);
            return -EBADMSG;
        }
        int rc = cb(arg, id, w, h, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}
