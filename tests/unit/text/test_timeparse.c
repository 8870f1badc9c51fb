/* Unit tests for timeparse: time words in queries and --since/--until
 * arguments, against a fixed now (Wednesday 2026-11-25 15:30 IST). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/xalloc.h"
#include "text/timeparse.h"

#define IST 330
#define MIN 60000LL
#define HOUR 3600000LL
#define DAY 86400000LL
/* 2026-11-25T10:00:00Z = 15:30 IST, a Wednesday */
#define NOW 1795600800000LL

/* ms of a local IST time */
static int64_t ist(int y, unsigned m, unsigned d, int h, int mi)
{
    return timeparse_days_from_civil(y, m, d) * DAY + h * HOUR + mi * MIN - IST * MIN;
}

static void check_range(const char *text, int64_t want_since, int64_t want_until,
                        const char *want_rest)
{
    struct buf rest = BUF_INIT;
    int64_t s, u;
    int n = timeparse_extract(text, NOW, IST, &rest, &s, &u);
    if (s != want_since || u != want_until || strcmp(buf_cstr(&rest), want_rest))
        print_error("'%s': since %lld (want %lld) until %lld (want %lld) rest '%s' (want '%s')\n",
                    text, (long long)s, (long long)want_since, (long long)u,
                    (long long)want_until, buf_cstr(&rest), want_rest);
    assert_true(n > 0);
    assert_true(s == want_since);
    assert_true(u == want_until);
    assert_string_equal(buf_cstr(&rest), want_rest);
    buf_release(&rest);
}

static void test_civil(void **state)
{
    /* anchors computed independently (Python datetime) */
    assert_true(ist(2026, 11, 25, 0, 0) == 1795545000000LL);
    assert_true(ist(2026, 1, 1, 0, 0) == 1767205800000LL);
    assert_true(ist(2025, 1, 1, 0, 0) == 1735669800000LL);
    assert_true(timeparse_days_from_civil(1970, 1, 1) == 0);
    assert_true(timeparse_days_from_civil(2000, 3, 1) == 11017);
    assert_true(timeparse_days_from_civil(1969, 12, 31) == -1);
}

static void test_days(void **state)
{
    check_range("photos today", ist(2026, 11, 25, 0, 0), ist(2026, 11, 26, 0, 0), "photos");
    check_range("receipt from yesterday", ist(2026, 11, 24, 0, 0), ist(2026, 11, 25, 0, 0),
                "receipt from");
    check_range("Yesterday's dinner", ist(2026, 11, 24, 0, 0), ist(2026, 11, 25, 0, 0),
                "'s dinner");
    check_range("day before yesterday", ist(2026, 11, 23, 0, 0), ist(2026, 11, 24, 0, 0), "");
    check_range("3 days ago", ist(2026, 11, 22, 0, 0), ist(2026, 11, 23, 0, 0), "");
    check_range("two days ago lunch", ist(2026, 11, 23, 0, 0), ist(2026, 11, 24, 0, 0),
                "lunch");
    check_range("the bill on 2026-11-20", ist(2026, 11, 20, 0, 0), ist(2026, 11, 21, 0, 0),
                "the bill on");
}

static void test_parts_of_day(void **state)
{
    check_range("this morning", ist(2026, 11, 25, 5, 0), ist(2026, 11, 25, 12, 0), "");
    check_range("whiteboard this afternoon", ist(2026, 11, 25, 12, 0),
                ist(2026, 11, 25, 17, 0), "whiteboard");
    check_range("last night", ist(2026, 11, 24, 18, 0), ist(2026, 11, 25, 6, 0), "");
    check_range("ninne raatri", ist(2026, 11, 24, 18, 0), ist(2026, 11, 25, 6, 0), "");
    check_range("ivattu belagge", ist(2026, 11, 25, 5, 0), ist(2026, 11, 25, 12, 0), "");
}

static void test_weeks_months(void **state)
{
    /* Monday-to-Monday: this week began on Monday 2026-11-23 */
    check_range("the restaurant in that photo last week", ist(2026, 11, 16, 0, 0),
                ist(2026, 11, 23, 0, 0), "the restaurant in that photo");
    check_range("this week", ist(2026, 11, 23, 0, 0), ist(2026, 11, 30, 0, 0), "");
    check_range("last month", ist(2026, 10, 1, 0, 0), ist(2026, 11, 1, 0, 0), "");
    check_range("this month", ist(2026, 11, 1, 0, 0), ist(2026, 12, 1, 0, 0), "");
    check_range("last year", ist(2025, 1, 1, 0, 0), ist(2026, 1, 1, 0, 0), "");
    check_range("2 weeks ago", ist(2026, 11, 9, 0, 0), ist(2026, 11, 16, 0, 0), "");
    check_range("a month ago", ist(2026, 10, 1, 0, 0), ist(2026, 11, 1, 0, 0), "");
    check_range("last 3 days", NOW - 3 * DAY, TIMEPARSE_OPEN, "");
    check_range("in the past 2 weeks", NOW - 14 * DAY, TIMEPARSE_OPEN, "in the");
    check_range("past week", NOW - 7 * DAY, TIMEPARSE_OPEN, "");
    check_range("2 hours ago", NOW - 3 * HOUR, NOW - HOUR, "");
}

static void test_weekdays(void **state)
{
    /* the most recent such day before today (a Wednesday) */
    check_range("on monday", ist(2026, 11, 23, 0, 0), ist(2026, 11, 24, 0, 0), "");
    check_range("Tuesday", ist(2026, 11, 24, 0, 0), ist(2026, 11, 25, 0, 0), "");
    check_range("on wednesday", ist(2026, 11, 18, 0, 0), ist(2026, 11, 19, 0, 0), "");
    check_range("last friday dosa", ist(2026, 11, 20, 0, 0), ist(2026, 11, 21, 0, 0), "dosa");
    check_range("ಶುಕ್ರವಾರ", ist(2026, 11, 20, 0, 0), ist(2026, 11, 21, 0, 0), "");
    check_range("somavaaradandu", ist(2026, 11, 23, 0, 0), ist(2026, 11, 24, 0, 0), "");
    check_range("bhanuvara", ist(2026, 11, 22, 0, 0), ist(2026, 11, 23, 0, 0), "");
}

static void test_kanglish(void **state)
{
    check_range("ninne tagonda photo", ist(2026, 11, 24, 0, 0), ist(2026, 11, 25, 0, 0),
                "tagonda photo");
    check_range("monne", ist(2026, 11, 23, 0, 0), ist(2026, 11, 24, 0, 0), "");
    check_range("kaLeda vaara hotel", ist(2026, 11, 16, 0, 0), ist(2026, 11, 23, 0, 0),
                "hotel");
    check_range("kalede vara", ist(2026, 11, 16, 0, 0), ist(2026, 11, 23, 0, 0), "");
    check_range("ಕಳೆದ ವಾರ ಮೈಸೂರು", ist(2026, 11, 16, 0, 0), ist(2026, 11, 23, 0, 0),
                "ಮೈಸೂರು");
    check_range("ನಿನ್ನೆ", ist(2026, 11, 24, 0, 0), ist(2026, 11, 25, 0, 0), "");
    check_range("ಮೊನ್ನೆ", ist(2026, 11, 23, 0, 0), ist(2026, 11, 24, 0, 0), "");
    check_range("ivattu", ist(2026, 11, 25, 0, 0), ist(2026, 11, 26, 0, 0), "");
    check_range("3 dina hinde", ist(2026, 11, 22, 0, 0), ist(2026, 11, 23, 0, 0), "");
    check_range("ಎರಡು ದಿನಗಳ ಹಿಂದೆ", ist(2026, 11, 23, 0, 0), ist(2026, 11, 24, 0, 0), "");
    check_range("kaleda tingalu", ist(2026, 10, 1, 0, 0), ist(2026, 11, 1, 0, 0), "");
    check_range("ee vaara", ist(2026, 11, 23, 0, 0), ist(2026, 11, 30, 0, 0), "");
}

static void test_no_time_words(void **state)
{
    struct buf rest = BUF_INIT;
    int64_t s = 0, u = 0;
    /* "nine" is a number, not ninne; "indu" in Latin letters is a name */
    assert_int_equal(timeparse_extract("nine dosas with indu at weekday market", NOW, IST,
                                       &rest, &s, &u),
                     0);
    assert_true(s == TIMEPARSE_OPEN && u == TIMEPARSE_OPEN);
    assert_string_equal(buf_cstr(&rest), "nine dosas with indu at weekday market");
    buf_reset(&rest);
    assert_int_equal(timeparse_extract("", NOW, IST, &rest, &s, &u), 0);
    assert_string_equal(buf_cstr(&rest), "");
    /* but in Kannada script ಇಂದು is "today" */
    assert_int_equal(timeparse_extract("ಇಂದು", NOW, IST, NULL, &s, &u), 1);
    assert_true(s == ist(2026, 11, 25, 0, 0));
    buf_release(&rest);
}

static void test_intersection(void **state)
{
    int64_t s, u;
    /* two expressions narrow each other */
    assert_int_equal(timeparse_extract("last week on friday", NOW, IST, NULL, &s, &u), 2);
    assert_true(s == ist(2026, 11, 20, 0, 0));
    assert_true(u == ist(2026, 11, 21, 0, 0));
}

static void test_other_zone(void **state)
{
    int64_t s, u;
    /* at 10:00 UTC it is still Wednesday in New York (-05:00) */
    assert_int_equal(timeparse_extract("yesterday", NOW, -300, NULL, &s, &u), 1);
    assert_true(s == timeparse_days_from_civil(2026, 11, 24) * DAY + 300 * MIN);
    /* and already Thursday in Tonga (+13:00) at 11:00 UTC */
    assert_int_equal(timeparse_extract("today", NOW + HOUR, 780, NULL, &s, &u), 1);
    assert_true(s == timeparse_days_from_civil(2026, 11, 26) * DAY - 780 * MIN);
}

static void check_point(const char *arg, bool end, int64_t want)
{
    int64_t v = 0;
    struct buf err = BUF_INIT;
    int rc = timeparse_point(arg, NOW, IST, end, &v, &err);
    if (rc || v != want)
        print_error("point '%s': rc %d %s got %lld want %lld\n", arg, rc, buf_cstr(&err),
                    (long long)v, (long long)want);
    assert_int_equal(rc, 0);
    assert_true(v == want);
    buf_release(&err);
}

static void test_point(void **state)
{
    check_point("2026-11-20", false, ist(2026, 11, 20, 0, 0));
    check_point("2026-11-20", true, ist(2026, 11, 21, 0, 0));
    check_point("2026-11-20T10:00:00+05:30", false, ist(2026, 11, 20, 10, 0));
    check_point("2026-11-20T10:00:00Z", false, ist(2026, 11, 20, 15, 30));
    check_point("2026-11-20 10:00", false, ist(2026, 11, 20, 10, 0));
    check_point("2026-11-20T04:30:00.250-0000", false, ist(2026, 11, 20, 10, 0) + 250);
    check_point("7d", false, NOW - 7 * DAY);
    check_point("12h", false, NOW - 12 * HOUR);
    check_point("2w", false, NOW - 14 * DAY);
    check_point("30m", false, NOW - 30 * MIN);
    check_point("now", false, NOW);
    check_point("yesterday", false, ist(2026, 11, 24, 0, 0));
    check_point("yesterday", true, ist(2026, 11, 25, 0, 0));
    check_point(" last week ", false, ist(2026, 11, 16, 0, 0));
    check_point("last 3 days", true, NOW);

    int64_t v;
    struct buf err = BUF_INIT;
    assert_int_equal(timeparse_point("tomorrowish", NOW, IST, false, &v, &err), -EINVAL);
    assert_non_null(strstr(buf_cstr(&err), "tomorrowish"));
    assert_int_equal(timeparse_point("2026-02-30", NOW, IST, false, &v, NULL), -EINVAL);
    assert_int_equal(timeparse_point("12", NOW, IST, false, &v, NULL), -EINVAL);
    assert_int_equal(timeparse_point("2026-11-20T25:00", NOW, IST, false, &v, NULL), -EINVAL);
    assert_int_equal(timeparse_point("yesterday dosa", NOW, IST, false, &v, NULL), -EINVAL);
    assert_int_equal(timeparse_point("", NOW, IST, false, &v, NULL), -EINVAL);
    buf_release(&err);
}

static void test_tz_parse(void **state)
{
    int m;
    assert_int_equal(timeparse_tz_parse("+05:30", &m), 0);
    assert_int_equal(m, 330);
    assert_int_equal(timeparse_tz_parse("-0800", &m), 0);
    assert_int_equal(m, -480);
    assert_int_equal(timeparse_tz_parse("+09", &m), 0);
    assert_int_equal(m, 540);
    assert_int_equal(timeparse_tz_parse("UTC", &m), 0);
    assert_int_equal(m, 0);
    assert_int_equal(timeparse_tz_parse("IST", &m), 0);
    assert_int_equal(m, 330);
    assert_int_equal(timeparse_tz_parse("+5:30", &m), -EINVAL);
    assert_int_equal(timeparse_tz_parse("+25:00", &m), -EINVAL);
    assert_int_equal(timeparse_tz_parse("India", &m), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_civil),          cmocka_unit_test(test_days),
        cmocka_unit_test(test_parts_of_day),   cmocka_unit_test(test_weeks_months),
        cmocka_unit_test(test_weekdays),       cmocka_unit_test(test_kanglish),
        cmocka_unit_test(test_no_time_words),  cmocka_unit_test(test_intersection),
        cmocka_unit_test(test_other_zone),     cmocka_unit_test(test_point),
        cmocka_unit_test(test_tz_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
