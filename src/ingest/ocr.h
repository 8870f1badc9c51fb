/* SPDX-License-Identifier: MIT */
/*
 * ocr: Tesseract's reading of a picture, for the text a vision model
 * reads badly: Kannada script (Qwen3.5-35B-A3B scores 2-5/10 on Kannada
 * OCR, Nemotron Nano VL has no Kannada at all).
 *
 * The pipeline asks a VLM first. When its answer says or suggests that the
 * picture holds Kannada text (ocr_wanted()), the picture the model was
 * sent is read again by Tesseract with its Kannada and English models
 * ("kan+eng", Debian's tesseract-ocr-kan and -eng), and what Tesseract
 * read is merged into the answer's "text" array with where each entry came
 * from (ocr_merge()): {"source": "vlm"} on the model's entries,
 * {"source": "ocr", "confidence": 91} on Tesseract's, and an "ocr" object
 * at the top saying why it ran, what it read and how long it took. The
 * pipeline then reads the merged answer as it reads any answer, so the
 * OCR's Kannada lands in the episode's ocr_text (which the store indexes
 * in both scripts) and in the text the entity model is given.
 *
 * libtesseract is loaded with dlopen() on the first picture that needs
 * it, like medialib.c does for libav: linked normally it brings ~25 MB of
 * shared objects (libtesseract, leptonica, libarchive, libcurl, OpenMP)
 * into a gateway that may never read a sign. Only tesseract/capi.h (from
 * libtesseract-dev) is needed to build; the runtime package (libtesseract5)
 * and the language data at run time.
 *
 * DESIGN
 * Everything here runs on libuv's worker pool, never on the loop: a
 * recognition takes tens of milliseconds to seconds. Loading happens once
 * under pthread_once. A Tesseract engine (TessBaseAPI) is not thread-safe
 * and takes ~100 ms to initialise with two languages, so finished engines
 * wait in a small mutex-guarded cache for the next call; a call takes one
 * (or makes one) and owns it alone while it reads. ocr_shutdown() frees
 * the cache after the last call. A missing library or language file is an
 * error (-ENOTSUP) with the Debian package to install in err, and the
 * pipeline goes on with the VLM's text alone.
 */
#ifndef HERMOD_OCR_H
#define HERMOD_OCR_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "lib/buf.h"

/* The languages read by default: Tesseract's traineddata names. */
#define OCR_DEFAULT_LANGS "kan+eng"
/* Words of symbols alone (no letter) below this confidence (0..100) are
 * dropped, and so are lines whose words average below OCR_MIN_LINE_CONF:
 * a photo's textures read as low-confidence junk ("|| ~ ;"). A word with
 * a letter in a line that passes stays. Measured in bench/ocr.sh. */
#define OCR_MIN_WORD_CONF 30.0f
#define OCR_MIN_LINE_CONF 50.0f

struct ocr_opts {
    const char *langs; /* NULL: OCR_DEFAULT_LANGS */
    float min_word_conf, min_line_conf; /* < 0: the defaults above; 0 keeps everything */
};

/* One line of text as Tesseract read it. */
struct ocr_line {
    char *text;            /* UTF-8, the kept words joined by one space */
    float confidence;      /* the mean of its kept words', 0..100 */
    unsigned x, y, w, h;   /* its box in the picture, in pixels */
    bool kannada;          /* holds Kannada letters */
};

struct ocr_result {
    struct ocr_line *lines;
    size_t nlines;
    unsigned words, words_dropped; /* read, and dropped for low confidence */
    double ms;                     /* recognition, not counting the decode */
    double init_ms;                /* making an engine, 0 when a cached one was used */
    float skew;                    /* degrees the picture was turned to level its lines */
};

/*
 * Reads 8-bit grey pixels (w x h, rows of stride bytes, borrowed) into
 * *out, which it initialises first (release it in every case).
 * Returns 0 (perhaps with no lines), -ENOTSUP when libtesseract or a
 * language cannot be loaded, -EINVAL for an empty picture; err says why.
 */
int ocr_read_gray(const unsigned char *px, unsigned w, unsigned h, unsigned stride,
                  const struct ocr_opts *o, struct ocr_result *out, struct buf *err);

/*
 * The same for a picture file in memory (JPEG, PNG, WebP, HEIF: whatever
 * image_decode_rgb() reads, EXIF-oriented, at full size). Errors also as
 * image_decode_rgb()'s.
 */
int ocr_read_image(const void *data, size_t len, const struct ocr_opts *o,
                   struct ocr_result *out, struct buf *err);

/* Frees what out holds and empties it; an empty result is fine. */
void ocr_result_release(struct ocr_result *out);

/*
 * Joins lines of r, in place, that are pieces of one printed line: lines
 * next to each other in r that share a row, stand side by side and lie
 * within a line's height of each other (or come right to left, at any
 * gap), become one line ordered left to right, with no space where the
 * gap is under a quarter of the line's height. ocr_read_* call it on
 * Tesseract's lines before the line floor; exposed for tests.
 */
void ocr_merge_rows(struct ocr_result *r);

/* "tesseract 5.3.0" once loaded, else NULL. */
const char *ocr_version(void);
/* Whether libtesseract is loaded now (for tests: nothing loads it at start). */
bool ocr_loaded(void);
/* Frees the cached engines. Call only when no ocr_read_* can run. */
void ocr_shutdown(void);

/*
 * Whether a VLM's description (borrowed) calls for OCR, and why: a static
 * string such as "the model read Kannada text", or NULL when not. It does
 * when a text entry is Kannada (script Knda, language kn, or Kannada
 * letters), of an unknown language or script (und, empty, missing), or in
 * a script the model did not name as Latin; and when the scene, an object
 * or an attribute mentions Kannada, or a sign, board, banner, poster or
 * name plate while the text array is empty (a sign the model could not
 * read). Latin text in a known language does not: the VLM reads that well.
 */
const char *ocr_wanted(const json_t *answer);

/*
 * Merges r into answer's "text" array (answer is an object; "text" is made
 * an array when it is not one): every entry the model wrote gets "source":
 * "vlm"; every OCR line that the model's text does not already hold
 * (compared without spaces, case or punctuation) is appended as
 * {"content", "language": "kn"|"und", "script": "Knda"|"Latn", "source":
 * "ocr", "confidence"}; and "ocr" is set to {"engine", "languages",
 * "reason": why, "lines", "added", "confidence", "ms"}. Returns the number
 * of lines added.
 */
size_t ocr_merge(json_t *answer, const struct ocr_result *r, const char *langs, const char *why);

#endif
