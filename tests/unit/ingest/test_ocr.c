/* Unit tests for ocr_merge_rows(): the pieces of one printed line that
 * Tesseract gives as lines of their own, in either order, become one line
 * read left to right; rows, columns and far cells stay apart. (Reading
 * pictures is tested end to end by tests/integ/016-ocr and measured by
 * bench/ocr.sh.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "ingest/ocr.h"
#include "lib/xalloc.h"

struct piece {
    const char *text;
    float conf;
    unsigned x, y, w, h;
};

static void make(struct ocr_result *r, const struct piece *p, size_t n)
{
    memset(r, 0, sizeof(*r));
    r->lines = xcalloc(n, sizeof(*r->lines));
    r->nlines = n;
    for (size_t i = 0; i < n; i++)
        r->lines[i] = (struct ocr_line){.text = xstrdup(p[i].text),
                                        .confidence = p[i].conf,
                                        .x = p[i].x,
                                        .y = p[i].y,
                                        .w = p[i].w,
                                        .h = p[i].h};
}

/* The Lohit Kannada picture of bench/README-ocr.md: one printed line that
 * Tesseract cut into four and gave right to left. */
static void test_right_to_left_pieces_join(void **state)
{
    (void)state;
    static const struct piece p[] = {
        {"ಕಟಿಸಲಾಯಿತು.", 90, 794, 40, 186, 27},
        {"ಪ್ರ", 93, 765, 40, 23, 26},
        {"ರಸನಾಳದ ಎಂದು", 94, 433, 40, 321, 39},
        {"ಸಾವಿನ ಕಾರಣ", 76, 41, 40, 249, 38},
    };
    struct ocr_result r;
    make(&r, p, 4);
    ocr_merge_rows(&r);
    assert_int_equal(r.nlines, 1);
    /* 143 px apart: a space; 11 of 26: a space; 6 of 26: one word */
    assert_string_equal(r.lines[0].text, "ಸಾವಿನ ಕಾರಣ ರಸನಾಳದ ಎಂದು ಪ್ರಕಟಿಸಲಾಯಿತು.");
    assert_int_equal(r.lines[0].x, 41);
    assert_int_equal(r.lines[0].y, 40);
    assert_int_equal(r.lines[0].w, 980 - 41);
    assert_int_equal(r.lines[0].h, 39);
    assert_true(r.lines[0].kannada);
    /* the mean of the pieces' confidences, weighted by their length */
    assert_true(r.lines[0].confidence > 76 && r.lines[0].confidence < 94);
    ocr_result_release(&r);
}

/* Left to right, a word's height apart or less: one line, with a space. */
static void test_near_pieces_in_order_join(void **state)
{
    (void)state;
    static const struct piece p[] = {
        {"Total", 90, 10, 100, 60, 20},
        {"Rs 120", 80, 85, 102, 70, 20},
        {"Thank you", 90, 10, 140, 120, 20},
    };
    struct ocr_result r;
    make(&r, p, 3);
    ocr_merge_rows(&r);
    assert_int_equal(r.nlines, 2);
    assert_string_equal(r.lines[0].text, "Total Rs 120");
    assert_int_equal(r.lines[0].w, 145);
    assert_int_equal(r.lines[0].h, 22);
    assert_false(r.lines[0].kannada);
    assert_string_equal(r.lines[1].text, "Thank you");
    ocr_result_release(&r);
}

/* Two rows of a tilted picture overlap in height, and in width too: they
 * stay two lines, in Tesseract's order. */
static void test_rows_that_overlap_stay_apart(void **state)
{
    (void)state;
    static const struct piece p[] = {
        {"ಆಕಾಶಕ್ಕೆ ಸಾಗುತ್ತಿರುವ ಕ್ಯಾಪ್ಸೂಲ್", 94, 51, 40, 1135, 45},
        {"ಕಾಣಿಸುತ್ತಿತ್ತು.", 95, 43, 62, 182, 77},
    };
    struct ocr_result r;
    make(&r, p, 2);
    ocr_merge_rows(&r);
    assert_int_equal(r.nlines, 2);
    assert_string_equal(r.lines[0].text, "ಆಕಾಶಕ್ಕೆ ಸಾಗುತ್ತಿರುವ ಕ್ಯಾಪ್ಸೂಲ್");
    assert_string_equal(r.lines[1].text, "ಕಾಣಿಸುತ್ತಿತ್ತು.");
    ocr_result_release(&r);
}

/* Columns and far cells in left-to-right order keep their lines, and so
 * does a line whose neighbour is on another row. */
static void test_columns_and_rows_stay_apart(void **state)
{
    (void)state;
    static const struct piece p[] = {
        {"Idli", 90, 10, 10, 40, 20},
        {"40.00", 90, 400, 10, 50, 20}, /* 350 px right: a price column */
        {"Vada", 90, 10, 40, 40, 20},   /* next row */
        {"ಮಸಾಲೆ ದೋಸೆ", 90, 10, 70, 90, 20},
        {"60.00", 90, 400, 70, 50, 20},
    };
    struct ocr_result r;
    make(&r, p, 5);
    ocr_merge_rows(&r);
    assert_int_equal(r.nlines, 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(r.lines[i].text, p[i].text);
    ocr_result_release(&r);
}

/* A far piece given right to left is still joined (any gap), and nothing
 * happens to an empty result or a single line. */
static void test_far_right_to_left_and_edges(void **state)
{
    (void)state;
    static const struct piece p[] = {
        {"world", 90, 500, 10, 60, 20},
        {"hello", 90, 10, 12, 60, 20},
    };
    struct ocr_result r;
    make(&r, p, 2);
    ocr_merge_rows(&r);
    assert_int_equal(r.nlines, 1);
    assert_string_equal(r.lines[0].text, "hello world");
    ocr_result_release(&r);

    make(&r, p, 1);
    ocr_merge_rows(&r);
    assert_int_equal(r.nlines, 1);
    assert_string_equal(r.lines[0].text, "world");
    ocr_result_release(&r);

    memset(&r, 0, sizeof(r));
    ocr_merge_rows(&r);
    assert_int_equal(r.nlines, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_right_to_left_pieces_join),
        cmocka_unit_test(test_near_pieces_in_order_join),
        cmocka_unit_test(test_rows_that_overlap_stay_apart),
        cmocka_unit_test(test_columns_and_rows_stay_apart),
        cmocka_unit_test(test_far_right_to_left_and_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
