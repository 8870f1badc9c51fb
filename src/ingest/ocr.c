/* SPDX-License-Identifier: MIT */
/*
 * ocr.c: Tesseract through its C API (tesseract/capi.h), dlopen()ed on
 * first use; which pictures need it; and the merge of what it read into a
 * vision model's answer. See ocr.h.
 */
#include "ingest/ocr.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <leptonica/allheaders.h>
#include <tesseract/capi.h>
#include <tesseract/version.h>

#include "ingest/image.h"
#include "lib/clock.h"
#include "lib/xalloc.h"
#include "text/translit.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* The soname of the version whose header we were built against. */
static const char soname[] = "libtesseract.so." STR(TESSERACT_MAJOR_VERSION);

/* X(function) for every function hermod calls. */
#define OCR_FUNCS(X)                                                                          \
    X(TessBaseAPIDelete)                                                                      \
    X(TessBaseAPIEnd)                                                                         \
    X(TessBaseAPIInit3)                                                                       \
    X(TessBaseAPISetVariable)                                                                 \
    X(TessBaseAPISetPageSegMode)                                                              \
    X(TessBaseAPISetImage2)                                                                   \
    X(TessBaseAPISetSourceResolution)                                                         \
    X(TessBaseAPIRecognize)                                                                   \
    X(TessBaseAPIGetIterator)                                                                 \
    X(TessBaseAPIClear)                                                                       \
    X(TessResultIteratorDelete)                                                               \
    X(TessResultIteratorNext)                                                                 \
    X(TessResultIteratorGetPageIteratorConst)                                                 \
    X(TessResultIteratorGetUTF8Text)                                                          \
    X(TessResultIteratorConfidence)                                                           \
    X(TessPageIteratorIsAtBeginningOf)                                                        \
    X(TessPageIteratorBoundingBox)                                                            \
    X(TessDeleteText)

/* X(function) for every Leptonica function hermod calls (libtesseract's own
 * Leptonica, already loaded with it). */
#define LEPT_FUNCS(X)                                                                         \
    X(pixCreate)                                                                              \
    X(pixDestroy)                                                                             \
    X(pixGetData)                                                                             \
    X(pixGetWpl)                                                                              \
    X(pixDeskewGeneral)                                                                       \
    X(setMsgSeverity)

#define OCR_FIELD(fn) __typeof__(&fn) fn;
static struct {
    OCR_FUNCS(OCR_FIELD)
    LEPT_FUNCS(OCR_FIELD)
    /* Declared without a prototype in capi.h: typed here. */
    const char *(*TessVersion)(void);
    TessBaseAPI *(*TessBaseAPICreate)(void);
} T;
#undef OCR_FIELD

static void *lib, *lept;
static const char lept_soname[] = "liblept.so.5";
static bool lib_ok;
static char lib_error[512];
static char version[48];
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* Idle engines, each initialised for langs. */
#define CACHE_MAX 4
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cached {
    TessBaseAPI *api;
    char langs[32];
} cache[CACHE_MAX];
static size_t ncached;

static bool sym_in(void *h, const char *so, const char *name, void **slot)
{
    dlerror();
    *slot = dlsym(h, name);
    if (!*slot) {
        const char *e = dlerror();
        snprintf(lib_error, sizeof(lib_error), "%s has no %s: %s", so, name,
                 e ? e : "null symbol");
        return false;
    }
    return true;
}

static void load(void)
{
    /*
     * Tesseract's LSTM runs OpenMP teams inside one recognition; on the
     * worker pool, several recognitions at once each spawning a team
     * oversubscribe the cores, and libgomp's threads spin-wait between
     * teams (bench/ocr.sh on 2 busy cores: 200-300 ms a picture with
     * teams, 60 without). One thread per recognition: libgomp reads
     * OMP_THREAD_LIMIT once, when it is loaded, which is by the dlopen
     * below; then the variable goes again, so that engines started later
     * (llama-server's OpenMP) do not inherit it. An operator's own setting
     * is left alone.
     */
    bool limit = !getenv("OMP_THREAD_LIMIT");
    if (limit)
        setenv("OMP_THREAD_LIMIT", "1", 1);
    /* RTLD_LOCAL: its symbols (and leptonica's) stay out of ours. */
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (limit)
        unsetenv("OMP_THREAD_LIMIT");
    if (!h) {
        snprintf(lib_error, sizeof(lib_error), "%s", dlerror());
        return;
    }
    lib = h;
    /* Its Leptonica, loaded with it: another reference, not another copy. */
    lept = dlopen(lept_soname, RTLD_NOW | RTLD_LOCAL);
    if (!lept) {
        snprintf(lib_error, sizeof(lib_error), "%s", dlerror());
        return;
    }
    /* Object and function pointers are interchangeable wherever hermod
     * runs (POSIX requires it of dlsym). */
#define OCR_SYM(fn)                                                                           \
    if (!sym_in(lib, soname, #fn, (void **)(void *)&T.fn))                                    \
        return;
#define LEPT_SYM(fn)                                                                          \
    if (!sym_in(lept, lept_soname, #fn, (void **)(void *)&T.fn))                              \
        return;
    OCR_FUNCS(OCR_SYM)
    OCR_SYM(TessVersion)
    OCR_SYM(TessBaseAPICreate)
    LEPT_FUNCS(LEPT_SYM)
#undef OCR_SYM
#undef LEPT_SYM
    /* Leptonica's warnings go to stderr, which is hermod's log. */
    T.setMsgSeverity(L_SEVERITY_NONE);
    snprintf(version, sizeof(version), "tesseract %s", T.TessVersion());
    __atomic_store_n(&lib_ok, true, __ATOMIC_RELEASE);
}

static bool loaded(struct buf *err)
{
    pthread_once(&once, load);
    if (!lib_ok && err)
        buf_addf(err, "OCR needs libtesseract (Debian: libtesseract5, tesseract-ocr-kan, "
                      "tesseract-ocr-eng): %s", lib_error);
    return lib_ok;
}

bool ocr_loaded(void)
{
    return __atomic_load_n(&lib_ok, __ATOMIC_ACQUIRE);
}

const char *ocr_version(void)
{
    return ocr_loaded() ? version : NULL;
}

/* An engine for langs: a cached one, else a new one (init_ms set). */
static TessBaseAPI *engine_get(const char *langs, double *init_ms, struct buf *err)
{
    TessBaseAPI *api = NULL;
    pthread_mutex_lock(&cache_lock);
    for (size_t i = ncached; i-- > 0;)
        if (!strcmp(cache[i].langs, langs)) {
            api = cache[i].api;
            cache[i] = cache[--ncached];
            break;
        }
    pthread_mutex_unlock(&cache_lock);
    if (api)
        return api;
    uint64_t t0 = clock_mono_ns();
    api = T.TessBaseAPICreate();
    /* NULL datapath: the compiled-in one, or TESSDATA_PREFIX. */
    if (!api || T.TessBaseAPIInit3(api, NULL, langs)) {
        buf_addf(err, "tesseract cannot load the languages '%s' (Debian: tesseract-ocr-kan, "
                      "tesseract-ocr-eng)", langs);
        if (api)
            T.TessBaseAPIDelete(api);
        return NULL;
    }
    /* Quiet: Tesseract writes its warnings ("Estimating resolution") to
     * stderr, which is hermod's log. */
    T.TessBaseAPISetVariable(api, "debug_file", "/dev/null");
    *init_ms = (double)(clock_mono_ns() - t0) / 1e6;
    return api;
}

static void engine_put(TessBaseAPI *api, const char *langs)
{
    T.TessBaseAPIClear(api);
    pthread_mutex_lock(&cache_lock);
    if (ncached < CACHE_MAX && strlen(langs) < sizeof(cache[0].langs)) {
        cache[ncached].api = api;
        snprintf(cache[ncached].langs, sizeof(cache[0].langs), "%s", langs);
        ncached++;
        api = NULL;
    }
    pthread_mutex_unlock(&cache_lock);
    if (api) {
        T.TessBaseAPIEnd(api);
        T.TessBaseAPIDelete(api);
    }
}

void ocr_shutdown(void)
{
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < ncached; i++) {
        T.TessBaseAPIEnd(cache[i].api);
        T.TessBaseAPIDelete(cache[i].api);
    }
    ncached = 0;
    pthread_mutex_unlock(&cache_lock);
}

void ocr_result_release(struct ocr_result *out)
{
    for (size_t i = 0; out->lines && i < out->nlines; i++)
        free(out->lines[i].text);
    free(out->lines);
    memset(out, 0, sizeof(*out));
}

/* Whether s has a letter: ASCII, or any non-ASCII character (Kannada). */
static bool has_letter(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x80 || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
            return true;
    }
    return false;
}

struct line_acc {
    struct buf text;
    double conf_sum;
    unsigned nwords;
    int x0, y0, x1, y1;
};

/* The line read so far into out, when it has a letter; the line floor
 * comes after ocr_merge_rows(), so that a weak piece of a line still joins it. */
static void line_flush(struct line_acc *a, struct ocr_result *out, size_t *cap)
{
    if (a->nwords && has_letter(buf_cstr(&a->text))) {
        if (out->nlines == *cap) {
            *cap = *cap ? *cap * 2 : 8;
            out->lines = xrealloc(out->lines, *cap * sizeof(*out->lines));
        }
        struct ocr_line *l = &out->lines[out->nlines++];
        l->text = buf_detach(&a->text, NULL);
        l->confidence = (float)(a->conf_sum / a->nwords);
        l->x = (unsigned)a->x0;
        l->y = (unsigned)a->y0;
        l->w = (unsigned)(a->x1 - a->x0);
        l->h = (unsigned)(a->y1 - a->y0);
        l->kannada = translit_has_kannada(l->text, strlen(l->text));
    }
    buf_reset(&a->text);
    a->conf_sum = 0;
    a->nwords = 0;
}

/* An 8-bit Leptonica picture of px (Leptonica keeps 4 pixels a 32-bit
 * word, the first in the high byte). */
static PIX *to_pix(const unsigned char *px, unsigned w, unsigned h, unsigned stride)
{
    PIX *pix = T.pixCreate((l_int32)w, (l_int32)h, 8);
    if (!pix)
        return NULL;
    l_uint32 *data = T.pixGetData(pix);
    size_t wpl = (size_t)T.pixGetWpl(pix);
    for (unsigned y = 0; y < h; y++) {
        l_uint32 *row = data + y * wpl;
        const unsigned char *s = px + (size_t)y * stride;
        unsigned x = 0;
        for (; x + 4 <= w; x += 4)
            row[x / 4] = (l_uint32)s[x] << 24 | (l_uint32)s[x + 1] << 16 |
                         (l_uint32)s[x + 2] << 8 | s[x + 3];
        if (x < w) {
            l_uint32 v = 0;
            for (unsigned k = 0; k < 4; k++)
                v = v << 8 | (x + k < w ? s[x + k] : 255u);
            row[x / 4] = v;
        }
    }
    return pix;
}

/* Otsu's threshold of px: the grey level that best splits ink from
 * paper (a dark or washed-out photo has neither at 128). */
static int otsu(const unsigned char *px, unsigned w, unsigned h, unsigned stride)
{
    uint64_t hist[256] = {0}, n = (uint64_t)w * h, sum = 0;
    for (unsigned y = 0; y < h; y++)
        for (unsigned x = 0; x < w; x++)
            hist[px[(size_t)y * stride + x]]++;
    for (unsigned i = 0; i < 256; i++)
        sum += i * hist[i];
    uint64_t wb = 0, sb = 0;
    double best = -1;
    int t = 128;
    for (unsigned i = 0; i < 255; i++) {
        wb += hist[i];
        sb += i * hist[i];
        if (!wb || wb == n)
            continue;
        double mb = (double)sb / (double)wb, mf = (double)(sum - sb) / (double)(n - wb);
        double between = (double)wb * (double)(n - wb) * (mb - mf) * (mb - mf);
        if (between > best) {
            best = between;
            t = (int)i + 1;
        }
    }
    return t;
}

/*
 * pix turned level when its text lines lean (a hand-held photo of a page
 * or a sign): Tesseract finds the lines of a leaning page, but its line
 * recogniser loses the words at their ends. Leptonica's projection-profile
 * search (+-7 degrees) on the picture thresholded at Otsu's level; NULL
 * when it finds no confident angle or the angle is too small to matter.
 */
static PIX *deskew(PIX *pix, const unsigned char *px, unsigned w, unsigned h,
                   unsigned stride, float *angle_out)
{
    l_float32 angle = 0, conf = 0;
    PIX *d = T.pixDeskewGeneral(pix, 0, 0.0f, 0.0f, 0, otsu(px, w, h, stride), &angle, &conf);
    *angle_out = 0;
    if (!d)
        return NULL;
    if (d == pix) { /* a clone: no turn */
        T.pixDestroy(&d);
        return NULL;
    }
    *angle_out = angle;
    return d;
}

/* Appends word to line, each Kannada digit zero that follows a Kannada
 * letter or sign made an anusvara: the two are one glyph (a small circle)
 * in most Kannada fonts, and Tesseract reads either for either, but a digit
 * cannot end a syllable ("ಕಾ೦ಡ" is "ಕಾಂಡ"; "೧೦" stays). */
static void add_word(struct buf *line, const char *word)
{
    static const char zero[] = "\xe0\xb3\xa6"; /* U+0CE6 */
    const char *p = word, *z;
    while ((z = strstr(p, zero))) {
        buf_add(line, p, (size_t)(z - p));
        bool after_letter = false;
        if (z - word >= 3) {
            const unsigned char *q = (const unsigned char *)z - 3;
            unsigned cp = (unsigned)(q[0] & 0x0f) << 12 | (unsigned)(q[1] & 0x3f) << 6 |
                          (q[2] & 0x3f);
            after_letter = q[0] == 0xe0 && cp >= 0x0c80 && cp <= 0x0cdf;
        }
        buf_addstr(line, after_letter ? "\xe0\xb2\x82" /* U+0C82 */ : zero);
        p = z + 3;
    }
    buf_addstr(line, p);
}

/* Whether boxes a and b are pieces of one row: their heights overlap by
 * at least half the shorter one's, and they stand side by side (two rows
 * of a tilted picture overlap in height, and in width too). */
static bool same_row(const struct ocr_line *a, const struct ocr_line *b)
{
    unsigned top = a->y > b->y ? a->y : b->y;
    unsigned bot = a->y + a->h < b->y + b->h ? a->y + a->h : b->y + b->h;
    unsigned h = a->h < b->h ? a->h : b->h;
    unsigned left = a->x > b->x ? a->x : b->x;
    unsigned right = a->x + a->w < b->x + b->w ? a->x + a->w : b->x + b->w;
    return bot > top && 2 * (bot - top) >= h && (right <= left || 4 * (right - left) <= h);
}

/*
 * Pieces of one printed line that Tesseract gave as lines of their own,
 * joined back into one, left to right. Its layout analysis now and then
 * cuts a Kannada line into blocks (at a wide conjunct, a gap in a word)
 * and puts them out in right-to-left order (bench/README-ocr.md: one
 * Lohit Kannada picture read "ಕಟಿಸಲಾಯಿತು. ಪ್ರ ..." for "...ಪ್ರಕಟಿಸಲಾಯಿತು.").
 * A gap under a quarter of the height is inside a word. Columns, a
 * receipt's prices, a table's cells stay lines of their own: they lie
 * further apart, in left-to-right order.
 */
void ocr_merge_rows(struct ocr_result *r)
{
    size_t w = 0;
    for (size_t i = 0; i < r->nlines;) {
        size_t j = i + 1;
        unsigned x0 = r->lines[i].x, x1 = r->lines[i].x + r->lines[i].w;
        for (; j < r->nlines; j++) {
            const struct ocr_line *l = &r->lines[j];
            unsigned h = l->h < r->lines[j - 1].h ? l->h : r->lines[j - 1].h;
            /* Left of what came before it: Tesseract's right-to-left
             * order, never meant for these scripts; joined at any gap. */
            bool back = l->x + l->w <= x0 + h / 4;
            unsigned gap = l->x >= x1 ? l->x - x1 : x0 >= l->x + l->w ? x0 - (l->x + l->w) : 0;
            if (!same_row(&r->lines[j - 1], l) || (gap > h && !back))
                break;
            x0 = l->x < x0 ? l->x : x0;
            x1 = l->x + l->w > x1 ? l->x + l->w : x1;
        }
        if (j - i > 1) {
            /* Lines i..j-1 are one: order them by x and join them. */
            struct ocr_line *g = &r->lines[i];
            size_t n = j - i;
            for (size_t a = 1; a < n; a++)
                for (size_t b = a; b > 0 && g[b].x < g[b - 1].x; b--) {
                    struct ocr_line t = g[b];
                    g[b] = g[b - 1];
                    g[b - 1] = t;
                }
            struct buf text = BUF_INIT;
            double conf = 0, weight = 0;
            unsigned y0 = g[0].y, y1 = g[0].y + g[0].h;
            for (size_t k = 0; k < n; k++) {
                if (k) {
                    unsigned end = g[k - 1].x + g[k - 1].w;
                    unsigned h = g[k].h < g[k - 1].h ? g[k].h : g[k - 1].h;
                    if (g[k].x > end && 4 * (g[k].x - end) >= h)
                        buf_addch(&text, ' ');
                }
                size_t len = strlen(g[k].text);
                buf_add(&text, g[k].text, len);
                conf += g[k].confidence * (double)len;
                weight += (double)len;
                y0 = g[k].y < y0 ? g[k].y : y0;
                y1 = g[k].y + g[k].h > y1 ? g[k].y + g[k].h : y1;
                free(g[k].text);
            }
            struct ocr_line m = {
                .text = buf_detach(&text, NULL),
                .confidence = weight > 0 ? (float)(conf / weight) : 0,
                .x = x0, .y = y0, .w = x1 - x0, .h = y1 - y0,
            };
            m.kannada = translit_has_kannada(m.text, strlen(m.text));
            r->lines[w++] = m;
        } else {
            r->lines[w++] = r->lines[i];
        }
        i = j;
    }
    r->nlines = w;
}

/* One recognition of the picture set in api into *out; *score is the
 * confidence-weighted count of the characters kept, to compare passes. */
static int recognize(TessBaseAPI *api, const struct ocr_opts *o, struct ocr_result *out,
                     double *score, struct buf *err)
{
    *score = 0;
    if (T.TessBaseAPIRecognize(api, NULL)) {
        buf_addstr(err, "OCR: tesseract could not read the picture");
        return -EPROTO;
    }
    TessResultIterator *ri = T.TessBaseAPIGetIterator(api);
    struct line_acc a = {.text = BUF_INIT};
    size_t cap = 0;
    if (ri) {
        const TessPageIterator *pi = T.TessResultIteratorGetPageIteratorConst(ri);
        do {
            if (T.TessPageIteratorIsAtBeginningOf(pi, RIL_TEXTLINE))
                line_flush(&a, out, &cap);
            char *word = T.TessResultIteratorGetUTF8Text(ri, RIL_WORD);
            if (!word)
                continue;
            float conf = T.TessResultIteratorConfidence(ri, RIL_WORD);
            int x0, y0, x1, y1;
            out->words++;
            /* A word with a letter stays whatever its confidence: in a
             * line that passes the line floor it is a real word read
             * imperfectly (dropping it loses all of it; bench/ocr.sh, the
             * photographed screens: 8.5% CER with a floor of 10, 4.1%
             * without). Textures read as symbols ("|| ~ ;") go. */
            if ((conf < o->min_word_conf && !has_letter(word)) || !*word ||
                !T.TessPageIteratorBoundingBox(pi, RIL_WORD, &x0, &y0, &x1, &y1)) {
                out->words_dropped++;
                T.TessDeleteText(word);
                continue;
            }
            if (!a.nwords) {
                a.x0 = x0, a.y0 = y0, a.x1 = x1, a.y1 = y1;
            } else {
                a.x0 = x0 < a.x0 ? x0 : a.x0;
                a.y0 = y0 < a.y0 ? y0 : a.y0;
                a.x1 = x1 > a.x1 ? x1 : a.x1;
                a.y1 = y1 > a.y1 ? y1 : a.y1;
                buf_addch(&a.text, ' ');
            }
            add_word(&a.text, word);
            a.conf_sum += conf;
            a.nwords++;
            *score += conf / 100.0 * (double)strlen(word);
            T.TessDeleteText(word);
        } while (T.TessResultIteratorNext(ri, RIL_WORD));
        line_flush(&a, out, &cap);
        T.TessResultIteratorDelete(ri);
        ocr_merge_rows(out);
        size_t w = 0;
        for (size_t i = 0; i < out->nlines; i++) {
            if (out->lines[i].confidence >= o->min_line_conf)
                out->lines[w++] = out->lines[i];
            else
                free(out->lines[i].text);
        }
        out->nlines = w;
    }
    buf_release(&a.text);
    return 0;
}

int ocr_read_gray(const unsigned char *px, unsigned w, unsigned h, unsigned stride,
                  const struct ocr_opts *opts, struct ocr_result *out, struct buf *err)
{
    struct ocr_opts o = {OCR_DEFAULT_LANGS, OCR_MIN_WORD_CONF, OCR_MIN_LINE_CONF};
    memset(out, 0, sizeof(*out));
    if (opts) {
        if (opts->langs)
            o.langs = opts->langs;
        if (opts->min_word_conf >= 0)
            o.min_word_conf = opts->min_word_conf;
        if (opts->min_line_conf >= 0)
            o.min_line_conf = opts->min_line_conf;
    }
    if (!w || !h || !px || stride < w || w > IMAGE_MAX_DIM || h > IMAGE_MAX_DIM) {
        buf_addf(err, "OCR: a %ux%u picture cannot be read", w, h);
        return -EINVAL;
    }
    if (!loaded(err))
        return -ENOTSUP;
    TessBaseAPI *api = engine_get(o.langs, &out->init_ms, err);
    if (!api)
        return -ENOTSUP;
    uint64_t t0 = clock_mono_ns();
    double init_ms = out->init_ms;
    int rc = 0;
    float skew = 0;
    PIX *pix = to_pix(px, w, h, stride);
    if (!pix) {
        buf_addf(err, "OCR: no memory for a %ux%u picture", w, h);
        rc = -ENOMEM;
        goto out;
    }
    PIX *level = deskew(pix, px, w, h, stride, &skew);
    if (level) {
        T.pixDestroy(&pix);
        pix = level;
    }
    /* Automatic page segmentation without orientation detection: a photo
     * is upright by now (EXIF applied), and OSD costs a second pass. */
    T.TessBaseAPISetPageSegMode(api, PSM_AUTO);
    /*
     * Two readings, one per thresholding, and the one with more
     * confidence-weighted characters kept wins. Tesseract's global Otsu
     * reads clean and evenly lit text best; Sauvola's local threshold
     * reads what Otsu cannot (moire and vignetting of a photographed
     * screen, uneven light, blur), and on clean text now and then loses a
     * word or a whole block that Otsu keeps. Neither alone reaches the
     * targets; together they do (bench/README-ocr.md).
     */
    static const char *const methods[] = {"0", "2"}; /* Otsu, Sauvola */
    double best = -1;
    for (size_t m = 0; m < ARRAY_SIZE(methods); m++) {
        struct ocr_result r = {0};
        double score;
        T.TessBaseAPISetVariable(api, "thresholding_method", methods[m]);
        /* Again for each pass: a new image drops the last pass's layout. */
        T.TessBaseAPISetImage2(api, pix);
        /* A phone picture has no meaningful DPI; 300 stops Tesseract
         * guessing (and saying so on stderr) and matches what its models
         * were trained at. */
        T.TessBaseAPISetSourceResolution(api, 300);
        struct buf scratch = BUF_INIT;
        rc = recognize(api, &o, &r, &score, m ? &scratch : err);
        buf_release(&scratch);
        if (rc) {
            ocr_result_release(&r);
            if (m) /* the first reading stands */
                rc = 0;
            break;
        }
        if (score > best) {
            ocr_result_release(out);
            *out = r;
            best = score;
        } else {
            ocr_result_release(&r);
        }
    }
out:
    out->init_ms = init_ms;
    out->skew = skew;
    out->ms = (double)(clock_mono_ns() - t0) / 1e6;
    engine_put(api, o.langs);
    if (pix)
        T.pixDestroy(&pix);
    return rc;
}

int ocr_read_image(const void *data, size_t len, const struct ocr_opts *o,
                   struct ocr_result *out, struct buf *err)
{
    struct image_opts io = {.max_side = IMAGE_MAX_DIM};
    struct image_rgb rgb = {0};
    struct image_info info;
    memset(out, 0, sizeof(*out));
    int rc = image_decode_rgb(data, len, &io, &rgb, &info, err);
    if (rc)
        return rc;
    /* Grey (Rec. 601 luma): Tesseract thresholds a grey picture anyway,
     * and a third of the bytes is a third of its first pass. */
    size_t n = (size_t)rgb.w * rgb.h;
    unsigned char *grey = xmalloc(n);
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = rgb.px + i * 3;
        grey[i] = (unsigned char)((299u * p[0] + 587u * p[1] + 114u * p[2] + 500u) / 1000u);
    }
    rc = ocr_read_gray(grey, rgb.w, rgb.h, rgb.w, o, out, err);
    free(grey);
    image_rgb_release(&rgb);
    return rc;
}

/* ---- which pictures ------------------------------------------------------------------ */

static bool mentions(const char *s, const char *const *words, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcasestr(s, words[i]))
            return true;
    return false;
}

static const char *const kannada_words[] = {"kannada"};
static const char *const sign_words[] = {"sign", "board", "banner", "poster", "name plate",
                                         "nameplate", "hoarding", "placard", "shopfront",
                                         "storefront", "shop front", "store front", "menu"};

const char *ocr_wanted(const json_t *answer)
{
    const json_t *texts = json_object_get(answer, "text"), *t, *o, *x;
    size_t i, k;
    if (json_is_string(texts)) {
        if (translit_has_kannada(json_string_value(texts), json_string_length(texts)))
            return "the model read Kannada text";
        return "the model's text has no language or script";
    }
    json_array_foreach(texts, i, t) {
        const json_t *c = json_is_object(t) ? json_object_get(t, "content") : t;
        const char *s = json_string_value(c);
        if (!s || !*s)
            continue;
        const char *lang = json_string_value(json_object_get(t, "language"));
        const char *script = json_string_value(json_object_get(t, "script"));
        if (translit_has_kannada(s, json_string_length(c)) || (lang && !strcasecmp(lang, "kn")) ||
            (script && !strcasecmp(script, "Knda")))
            return "the model read Kannada text";
        if (!lang || !*lang || !strcasecmp(lang, "und") || !script || !*script ||
            !strcasecmp(script, "Zyyy") || !strcasecmp(script, "Zzzz"))
            return "the model could not say which language or script a text is in";
        if (strcasecmp(script, "Latn"))
            return "the model read text in a script other than Latin";
    }
    const char *scene = json_string_value(json_object_get(answer, "scene"));
    bool said_kannada = mentions(scene, kannada_words, ARRAY_SIZE(kannada_words));
    bool said_sign = mentions(scene, sign_words, ARRAY_SIZE(sign_words));
    json_array_foreach(json_object_get(answer, "objects"), i, o) {
        const char *name = json_string_value(json_is_object(o) ? json_object_get(o, "name") : o);
        said_kannada |= mentions(name, kannada_words, ARRAY_SIZE(kannada_words));
        said_sign |= mentions(name, sign_words, ARRAY_SIZE(sign_words));
        json_array_foreach(json_object_get(o, "attributes"), k, x)
            said_kannada |= mentions(json_string_value(x), kannada_words,
                                     ARRAY_SIZE(kannada_words));
    }
    if (said_kannada)
        return "the description mentions Kannada";
    if (said_sign && json_array_size(texts) == 0)
        return "the model saw a sign but read no text on it";
    return NULL;
}

/* ---- the merge ----------------------------------------------------------------------- */

/* s without spaces, punctuation or case: ASCII letters and digits lowered,
 * every non-ASCII byte kept (Kannada letters and signs). */
static void squeeze(const char *s, struct buf *out)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))
            buf_addch(out, (char)c);
        else if (c >= 'A' && c <= 'Z')
            buf_addch(out, (char)(c + 32));
    }
}

size_t ocr_merge(json_t *answer, const struct ocr_result *r, const char *langs, const char *why)
{
    json_t *texts = json_object_get(answer, "text"), *t;
    size_t i, added = 0;
    struct buf have = BUF_INIT, line = BUF_INIT;
    if (!json_is_array(texts)) {
        json_t *a = json_array();
        if (json_is_string(texts) && json_string_length(texts)) {
            json_t *e = json_object();
            json_object_set(e, "content", texts);
            json_array_append_new(a, e);
        }
        json_object_set_new(answer, "text", a);
        texts = a;
    }
    json_array_foreach(texts, i, t) {
        if (!json_is_object(t))
            continue;
        json_object_set_new(t, "source", json_string("vlm"));
        const char *s = json_string_value(json_object_get(t, "content"));
        if (s) {
            squeeze(s, &have);
            buf_addch(&have, '\n');
        }
    }
    double conf = 0;
    for (size_t k = 0; k < r->nlines; k++) {
        const struct ocr_line *l = &r->lines[k];
        conf += l->confidence;
        buf_reset(&line);
        squeeze(l->text, &line);
        if (!line.len || (have.len && strstr(buf_cstr(&have), buf_cstr(&line))))
            continue;
        json_t *e = json_object();
        json_object_set_new(e, "content", json_string(l->text));
        json_object_set_new(e, "language", json_string(l->kannada ? "kn" : "und"));
        json_object_set_new(e, "script", json_string(l->kannada ? "Knda" : "Latn"));
        json_object_set_new(e, "source", json_string("ocr"));
        json_object_set_new(e, "confidence", json_integer((json_int_t)(l->confidence + 0.5f)));
        json_array_append_new(texts, e);
        added++;
    }
    json_t *o = json_object();
    json_object_set_new(o, "engine", json_string(ocr_version() ? ocr_version() : "tesseract"));
    json_object_set_new(o, "languages", json_string(langs ? langs : OCR_DEFAULT_LANGS));
    json_object_set_new(o, "reason", json_string(why ? why : "asked"));
    json_object_set_new(o, "lines", json_integer((json_int_t)r->nlines));
    json_object_set_new(o, "added", json_integer((json_int_t)added));
    json_object_set_new(o, "confidence",
                        json_integer(r->nlines ? (json_int_t)(conf / r->nlines + 0.5) : 0));
    json_object_set_new(o, "ms", json_integer((json_int_t)(r->ms + r->init_ms + 0.5)));
    json_object_set_new(answer, "ocr", o);
    buf_release(&have);
    buf_release(&line);
    return added;
}
