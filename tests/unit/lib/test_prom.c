/* Unit tests for src/lib/prom: families, series and the Prometheus text format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/prom.h"

static char *written(const struct prom_family *f)
{
    struct buf b = BUF_INIT;
    prom_family_write(f, &b);
    return buf_detach(&b, NULL);
}

static void test_counter_labels_and_help(void **state)
{
    struct prom_family *f =
        prom_family_new(PROM_COUNTER, "x_total", "Things.\nTwo lines \\ here", "model,status",
                        NULL, 0);
    char *empty = written(f);
    assert_string_equal(empty, "# HELP x_total Things.\\nTwo lines \\\\ here\n"
                               "# TYPE x_total counter\n");
    free(empty);
    prom_add(f, (const char *[]){"m", "200"}, 1);
    prom_add(f, (const char *[]){"m", "200"}, 2);
    prom_add(f, (const char *[]){"a\"b\\c\nd", "500"}, 1.5);
    char *s = written(f);
    assert_string_equal(s, "# HELP x_total Things.\\nTwo lines \\\\ here\n"
                           "# TYPE x_total counter\n"
                           "x_total{model=\"m\",status=\"200\"} 3\n"
                           "x_total{model=\"a\\\"b\\\\c\\nd\",status=\"500\"} 1.5\n");
    assert_true(prom_value(f, (const char *[]){"m", "200"}) == 3);
    assert_true(prom_value(f, (const char *[]){"m", "404"}) == 0);
    free(s);
    prom_family_free(f);
    prom_family_free(NULL);
}

static void test_histogram_buckets(void **state)
{
    static const double bounds[] = {0.1, 1, 10};
    struct prom_family *f =
        prom_family_new(PROM_HISTOGRAM, "d_seconds", "Durations.", "model", bounds, 3);
    const char *m[] = {"m"};
    prom_observe(f, m, 0.05);
    prom_observe(f, m, 0.1); /* le is inclusive */
    prom_observe(f, m, 5);
    prom_observe(f, m, 100);
    char *s = written(f);
    assert_string_equal(s, "# HELP d_seconds Durations.\n"
                           "# TYPE d_seconds histogram\n"
                           "d_seconds_bucket{model=\"m\",le=\"0.1\"} 2\n"
                           "d_seconds_bucket{model=\"m\",le=\"1\"} 2\n"
                           "d_seconds_bucket{model=\"m\",le=\"10\"} 3\n"
                           "d_seconds_bucket{model=\"m\",le=\"+Inf\"} 4\n"
                           "d_seconds_sum{model=\"m\"} 105.15\n"
                           "d_seconds_count{model=\"m\"} 4\n");
    assert_true(prom_value(f, m) == 4);
    free(s);
    prom_family_free(f);
}

static void test_gauge_reset_and_unlabelled(void **state)
{
    struct prom_family *f = prom_family_new(PROM_GAUGE, "g", "A gauge.", "", NULL, 0);
    prom_set(f, NULL, 7);
    prom_set(f, NULL, -2);
    char *s = written(f);
    assert_string_equal(s, "# HELP g A gauge.\n# TYPE g gauge\ng -2\n");
    free(s);
    prom_family_reset(f);
    s = written(f);
    assert_string_equal(s, "# HELP g A gauge.\n# TYPE g gauge\n");
    free(s);
    prom_family_free(f);

    struct buf b = BUF_INIT;
    prom_write_single(&b, PROM_COUNTER, "n_total", "N.", 12345678901.0);
    assert_string_equal(buf_cstr(&b), "# HELP n_total N.\n# TYPE n_total counter\n"
                                      "n_total 12345678901\n");
    buf_release(&b);
}

static void test_series_limit(void **state)
{
    struct prom_family *f = prom_family_new(PROM_COUNTER, "c_total", "C.", "k", NULL, 0);
    char v[32];
    for (int i = 0; i < PROM_MAX_SERIES + 10; i++) {
        snprintf(v, sizeof(v), "%d", i);
        prom_add(f, (const char *[]){v}, 1);
    }
    assert_int_equal(prom_family_dropped(f), 10);
    /* an existing series still counts */
    prom_add(f, (const char *[]){"0"}, 1);
    assert_true(prom_value(f, (const char *[]){"0"}) == 2);
    prom_family_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_labels_and_help),
        cmocka_unit_test(test_histogram_buckets),
        cmocka_unit_test(test_gauge_reset_and_unlabelled),
        cmocka_unit_test(test_series_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
