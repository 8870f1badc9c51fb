/* Unit tests for extract and transcript: the value parsers (Indian money,
 * dates, ranges, units, due days), typed records from the model's
 * sub-object and from the OCR text of realistic Indian bills, lab reports,
 * whiteboards and screenshots, the merge of the two, the transcript
 * converter with relative dates, and an end-to-end check that the records
 * and facts land in a real store as entities and relations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "ingest/extract.h"
#include "ingest/transcript.h"
#include "ingest/vision.h"
#include "lib/buf.h"
#include "lib/xalloc.h"
#include "store/store.h"
#include "text/langid.h"
#include "text/timeparse.h"

#define MIN 60000LL
#define HOUR 3600000LL
#define DAY 86400000LL
#define IST 330
/* Wednesday 2026-11-25 15:30 IST */
#define NOW 1795600800000LL

static const struct extract_opts OPTS = {.now_ms = NOW, .tz_min = IST};

/* ms of a local IST time */
static int64_t ist(int y, unsigned m, unsigned d, int h, int mi)
{
    return timeparse_days_from_civil(y, m, d) * DAY + h * HOUR + mi * MIN - IST * MIN;
}

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("bad test JSON: %s (line %d col %d)", e.text, e.line, e.column);
    return j;
}

/* extract_typed on an answer given as JSON text (NULL = none). */
static json_t *typed(const char *answer, enum store_kind kind, const char *ocr)
{
    json_t *a = answer ? load(answer) : NULL, *out = NULL;
    struct buf err = BUF_INIT;
    assert_int_equal(extract_typed(a, kind, ocr, &OPTS, &out, &err), 0);
    json_decref(a);
    buf_release(&err);
    return out;
}

static const char *str(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    if (!json_is_string(v))
        fail_msg("'%s' is not a string", k);
    return json_string_value(v);
}

static double num(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    if (!json_is_number(v))
        fail_msg("'%s' is not a number", k);
    return json_number_value(v);
}

static const json_t *at(const json_t *o, const char *k, size_t i)
{
    const json_t *v = json_array_get(json_object_get(o, k), i);
    if (!v)
        fail_msg("no %s[%zu]", k, i);
    return v;
}

#define assert_num(o, k, v) assert_true(fabs(num((o), (k)) - (v)) < 1e-9)

/* ---- Value parsers -------------------------------------------------------- */

static void test_money(void **state)
{
    static const struct {
        const char *in;
        double amount;
        const char *cur;
    } ok[] = {
        {"₹1,250.00", 1250, "INR"},        {"₹ 1,250.00", 1250, "INR"},
        {"Rs. 1,25,000", 125000, "INR"},   {"Rs 1,25,000.50", 125000.5, "INR"},
        {"Rs.150", 150, "INR"},            {"RS.:150", 150, "INR"},
        {"Re. 1", 1, "INR"},               {"INR 150", 150, "INR"},
        {"INR150", 150, "INR"},            {"150/-", 150, "INR"},
        {"1,500/-", 1500, "INR"},          {"150 INR", 150, "INR"},
        {"12,34,56,789.00", 123456789, ""}, {"₹ -50.00", -50, "INR"},
        {"-₹50", -50, "INR"},              {"$1,250.50", 1250.5, "USD"},
        {"US$ 20", 20, "USD"},             {"1.250,50 €", 1250.5, "EUR"},
        {"€12,50", 12.5, "EUR"},           {"£7.99", 7.99, "GBP"},
        {"1,250", 1250, ""},               {"12,50", 12.5, ""},
        {"1.250.000", 1250000, ""},        {"150", 150, ""},
        {"0.50", 0.5, ""},                 {".75", 0.75, ""},
        {"Grand Total ₹ 1,250.00", 1250, "INR"}, /* the marked amount wins */
        {"Total (incl. 5% GST) Rs. 1,050", 1050, "INR"},
        {"  450  ", 450, ""},
    };
    struct extract_money m;
    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        if (extract_parse_money(ok[i].in, &m))
            fail_msg("'%s' did not parse", ok[i].in);
        if (fabs(m.amount - ok[i].amount) > 1e-9 || strcmp(m.currency, ok[i].cur))
            fail_msg("'%s': %f %s, want %f %s", ok[i].in, m.amount, m.currency, ok[i].amount,
                     ok[i].cur);
    }
    static const char *const bad[] = {"", "Rs.", "₹", "abc", "HbA1c", "N/A", "-", "2nd"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        if (extract_parse_money(bad[i], &m) != -EINVAL)
            fail_msg("'%s' parsed", bad[i]);
}

static void test_date(void **state)
{
    static const struct {
        const char *in;
        const char *iso;
    } ok[] = {
        {"20/11/2026", "2026-11-20"},         {"20-11-2026", "2026-11-20"},
        {"20.11.2026", "2026-11-20"},         {"20.11.26", "2026-11-20"},
        {"20/11/26", "2026-11-20"},           {"5/6/2026", "2026-06-05"}, /* day first */
        {"05/06/98", "1998-06-05"},           {"11/20/2026", "2026-11-20"}, /* US, unambiguous */
        {"2026-11-20", "2026-11-20"},         {"2026/11/20", "2026-11-20"},
        {"2026-11-20T10:00:00+05:30", "2026-11-20"},
        {"20-Nov-2026", "2026-11-20"},        {"20-NOV-26", "2026-11-20"},
        {"20 Nov 2026", "2026-11-20"},        {"20 November, 2026", "2026-11-20"},
        {"20th Nov 2026", "2026-11-20"},      {"1st Jan 2027", "2027-01-01"},
        {"Nov 20, 2026", "2026-11-20"},       {"November 20 2026", "2026-11-20"},
        {"Sept. 3, 2026", "2026-09-03"},      {"  20/11/2026 13:45", "2026-11-20"},
        {"29/02/2028", "2028-02-29"},         {"31-12-2026", "2026-12-31"},
    };
    struct extract_date d;
    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        if (extract_parse_date(ok[i].in, 2026, &d))
            fail_msg("'%s' did not parse", ok[i].in);
        if (strcmp(d.iso, ok[i].iso) || d.partial)
            fail_msg("'%s': %s, want %s", ok[i].in, d.iso, ok[i].iso);
    }
    /* Without a year: the reference year, marked partial. */
    assert_int_equal(extract_parse_date("28/11", 2026, &d), 0);
    assert_string_equal(d.iso, "2026-11-28");
    assert_true(d.partial);
    assert_int_equal(extract_parse_date("28 Nov", 2027, &d), 0);
    assert_string_equal(d.iso, "2027-11-28");
    assert_int_equal(extract_parse_date("Dec 5", 2026, &d), 0);
    assert_string_equal(d.iso, "2026-12-05");
    /* Two-digit years around the reference. */
    assert_int_equal(extract_parse_date("01/01/36", 2026, &d), 0);
    assert_int_equal(d.year, 2036);
    assert_int_equal(extract_parse_date("01/01/37", 2026, &d), 0);
    assert_int_equal(d.year, 1937);
    assert_int_equal(extract_parse_date("01/01/26", 0, &d), 0);
    assert_int_equal(d.year, 2026);

    static const char *const bad[] = {
        "", "31/02/2026", "29/02/2027", "32/01/2026", "13/13/2026", "00/10/2026", "20/11/202",
        "20/11/20261", "2026-13-01", "120/80", "6.5", "0.4-4.0", "13:45", "080-23456789",
        "Nov 2026", "Total", "20.11", "1,250.00",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        if (!extract_parse_date(bad[i], 2026, &d))
            fail_msg("'%s' parsed as %s", bad[i], d.iso);
}

static void test_find_date(void **state)
{
    struct extract_date d;
    assert_int_equal(extract_find_date("Bill No: 1043   Date: 20/11/2026 13:45", 2026, false,
                                       &d), 0);
    assert_string_equal(d.iso, "2026-11-20");
    assert_int_equal(extract_find_date("Collected on 10-Nov-2026 08:30", 2026, false, &d), 0);
    assert_string_equal(d.iso, "2026-11-10");
    /* Inside a number or word is no date: "A1/2/2026" nor a phone. */
    assert_int_equal(extract_find_date("Ph: 080-23456789, ref 12345/11/2026", 2026, false, &d),
                     -EINVAL);
    assert_int_equal(extract_find_date("send deck by 28/11", 2026, false, &d), -EINVAL);
    assert_int_equal(extract_find_date("send deck by 28/11", 2026, true, &d), 0);
    assert_string_equal(d.iso, "2026-11-28");
}

static void test_range(void **state)
{
    static const struct {
        const char *in;
        bool has_low, has_high, low_incl, high_incl;
        double low, high;
    } ok[] = {
        {"0.4-4.0", true, true, true, true, 0.4, 4.0},
        {"0.4 - 4.0", true, true, true, true, 0.4, 4.0},
        {"0.4 – 4.0", true, true, true, true, 0.4, 4.0},
        {"0.4 to 4.0", true, true, true, true, 0.4, 4.0},
        {"(13.0 - 17.0) g/dL", true, true, true, true, 13, 17},
        {"Normal: 70-100", true, true, true, true, 70, 100},
        {"4,000 - 11,000", true, true, true, true, 4000, 11000},
        {"< 200", false, true, false, false, 0, 200},
        {"<200", false, true, false, false, 0, 200},
        {"<= 200", false, true, false, true, 0, 200},
        {"≤ 200", false, true, false, true, 0, 200},
        {"Up to 5.7", false, true, false, true, 0, 5.7},
        {"upto 5.7", false, true, false, true, 0, 5.7},
        {"Below 200", false, true, false, false, 0, 200},
        {"Less than 100", false, true, false, false, 0, 100},
        {">= 40", true, false, true, false, 40, 0},
        {"≥40", true, false, true, false, 40, 0},
        {"> 40", true, false, false, false, 40, 0},
        {"Above 60", true, false, false, false, 60, 0},
        {"More than 40", true, false, false, false, 40, 0},
        {"Non-diabetic: < 5.7 Pre-diabetic: 5.7 - 6.4", false, true, false, false, 0, 5.7},
        {"-2 to 2", true, true, true, true, -2, 2},
    };
    struct extract_range r;
    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        if (extract_parse_range(ok[i].in, &r))
            fail_msg("'%s' did not parse", ok[i].in);
        if (r.has_low != ok[i].has_low || r.has_high != ok[i].has_high ||
            (r.has_low && (r.low != ok[i].low || r.low_inclusive != ok[i].low_incl)) ||
            (r.has_high && (r.high != ok[i].high || r.high_inclusive != ok[i].high_incl)))
            fail_msg("'%s': [%d %g %d, %d %g %d]", ok[i].in, r.has_low, r.low, r.low_inclusive,
                     r.has_high, r.high, r.high_inclusive);
    }
    static const char *const bad[] = {"", "Negative", "5.7", "see note", "T3 ref", "4.0-0.4"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        if (!extract_parse_range(bad[i], &r))
            fail_msg("'%s' parsed", bad[i]);

    /* Boundaries: inclusive ends contain their bound, exclusive do not. */
    assert_int_equal(extract_parse_range("0.4-4.0", &r), 0);
    assert_true(extract_range_contains(&r, 4.0));
    assert_true(extract_range_contains(&r, 0.4));
    assert_false(extract_range_contains(&r, 4.01));
    assert_false(extract_range_contains(&r, 0.39));
    assert_int_equal(extract_parse_range("< 5.7", &r), 0);
    assert_false(extract_range_contains(&r, 5.7));
    assert_true(extract_range_contains(&r, 5.69));
    assert_int_equal(extract_parse_range("Up to 5.7", &r), 0);
    assert_true(extract_range_contains(&r, 5.7));
    assert_int_equal(extract_parse_range(">= 40", &r), 0);
    assert_true(extract_range_contains(&r, 40));
    assert_false(extract_range_contains(&r, 38));
    struct extract_range none = {0};
    assert_true(extract_range_contains(&none, -1e9));
}

static void test_measure_units(void **state)
{
    static const struct {
        const char *in;
        double v, v2;
        const char *unit;
        bool known;
        char flag;
    } ok[] = {
        {"6.5", 6.5, 0, "", false, 0},
        {"6.5 mIU/L", 6.5, 0, "mIU/L", true, 0},
        {"6.5 mU/L", 6.5, 0, "mIU/L", true, 0},
        {"2.5 uIU/ml", 2.5, 0, "µIU/mL", true, 0},
        {"2.5 μIU/mL", 2.5, 0, "µIU/mL", true, 0},
        {"6.1%", 6.1, 0, "%", true, 0},
        {"6.1 %", 6.1, 0, "%", true, 0},
        {"120/80 mmHg", 120, 80, "mmHg", true, 0},
        {"120/80 mm Hg", 120, 80, "mmHg", true, 0},
        {"120/80", 120, 80, "", false, 0},
        {"210 H mg/dL", 210, 0, "mg/dL", true, 'H'},
        {"210 mg/dl H", 210, 0, "mg/dL", true, 'H'},
        {"180 pg/mL L", 180, 0, "pg/mL", true, 'L'},
        {"6.5*", 6.5, 0, "", false, '*'},
        {"6.5H", 6.5, 0, "", false, 'H'},
        {"6.5 (H)", 6.5, 0, "", false, 'H'},
        {"6.5 ↑", 6.5, 0, "", false, 'H'},
        {"13.5 gm/dl", 13.5, 0, "g/dL", true, 0},
        {"7.2 x10^3/uL", 7.2, 0, "x10^3/µL", true, 0},
        {"7.2 x 10^3 /µL", 7.2, 0, "x10^3/µL", true, 0},
        {"7.2 10³/µL", 7.2, 0, "x10^3/µL", true, 0},
        {"4.8 x10^6/µL", 4.8, 0, "x10^6/µL", true, 0},
        {"1.5 lakhs/cumm", 1.5, 0, "lakh/µL", true, 0},
        {"7500 cells/cumm", 7500, 0, "/µL", true, 0},
        {"8.1 ug/dl", 8.1, 0, "µg/dL", true, 0},
        {"95 mmol/L", 95, 0, "mmol/L", true, 0},
        {"43 mmol/mol", 43, 0, "mmol/mol", true, 0},
        {"72 bpm", 72, 0, "bpm", true, 0},
        {"23.4 kg/m2", 23.4, 0, "kg/m²", true, 0},
        {"12 mm/hr", 12, 0, "mm/hr", true, 0},
        {"3.2 furlongs", 3.2, 0, "furlongs", false, 0},
    };
    struct extract_measure m;
    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        if (extract_parse_measure(ok[i].in, &m))
            fail_msg("'%s' did not parse", ok[i].in);
        if (m.value != ok[i].v || (ok[i].v2 != 0) != m.has_value2 ||
            (m.has_value2 && m.value2 != ok[i].v2) || strcmp(m.unit, ok[i].unit) ||
            m.unit_known != ok[i].known || m.flag != ok[i].flag)
            fail_msg("'%s': %g/%g [%s] %d %c", ok[i].in, m.value, m.value2, m.unit,
                     m.unit_known, m.flag ? m.flag : '-');
    }
    static const char *const bad[] = {"", "Negative", "< 0.5", "H", "mg/dL"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        if (!extract_parse_measure(bad[i], &m))
            fail_msg("'%s' parsed", bad[i]);

    char u[EXTRACT_UNIT_MAX];
    assert_true(extract_unit_canonical(" MG/DL ", u));
    assert_string_equal(u, "mg/dL");
    assert_true(extract_unit_canonical("10^3/uL", u));
    assert_string_equal(u, "x10^3/µL");
    assert_true(extract_unit_canonical("mm of Hg", u));
    assert_string_equal(u, "mmHg");
    assert_false(extract_unit_canonical(" Ratio ", u));
    assert_string_equal(u, "Ratio");
    /* A long unknown unit is cut to fit, not through a character. */
    assert_false(extract_unit_canonical("ಮಿಲಿಗ್ರಾಂ ಪ್ರತಿ ಡೆಸಿಲೀಟರ್", u));
    assert_true(strlen(u) < EXTRACT_UNIT_MAX);
    assert_true(strlen(u) % 3 == 0);
}

static void test_resolve_day(void **state)
{
    static const struct {
        const char *in;
        bool future;
        const char *iso;
    } ok[] = {
        {"today", true, "2026-11-25"},         {"EOD", true, "2026-11-25"},
        {"tomorrow", true, "2026-11-26"},      {"naale", false, "2026-11-26"},
        {"ನಾಳೆ", true, "2026-11-26"},          {"day after tomorrow", true, "2026-11-27"},
        {"naadidu", true, "2026-11-27"},       {"ninne", false, "2026-11-24"},
        {"ನಿನ್ನೆ", false, "2026-11-24"},         {"yesterday", false, "2026-11-24"},
        {"monne", false, "2026-11-23"},        {"day before yesterday", false, "2026-11-23"},
        {"Friday", true, "2026-11-27"},        {"Fri", true, "2026-11-27"},
        {"friday", false, "2026-11-20"},       {"Wednesday", true, "2026-11-25"},
        {"Wednesday", false, "2026-11-18"},    {"next Wednesday", true, "2026-12-02"},
        {"shukravaara", true, "2026-11-27"},   {"ಶುಕ್ರವಾರ", false, "2026-11-20"},
        {"kaLeda shukravaara", false, "2026-11-20"},
        {"EOW", true, "2026-11-27"},           {"end of the week", true, "2026-11-27"},
        {"next week", true, "2026-11-30"},     {"EOM", true, "2026-11-30"},
        {"28/11", true, "2026-11-28"},         {"5 Jan", true, "2027-01-05"},
        {"5 Jan", false, "2026-01-05"},        {"20/11", false, "2026-11-20"},
        {"2026-12-01", true, "2026-12-01"},    {"kaleda vaara", false, "2026-11-16"},
        {"3 days ago", false, "2026-11-22"},   {"mooru dina hinde", false, "2026-11-22"},
    };
    struct extract_date d;
    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        if (extract_resolve_day(ok[i].in, NOW, IST, ok[i].future, &d))
            fail_msg("'%s' did not resolve", ok[i].in);
        if (strcmp(d.iso, ok[i].iso))
            fail_msg("'%s' (future %d): %s, want %s", ok[i].in, ok[i].future, d.iso, ok[i].iso);
    }
    static const char *const bad[] = {"", "soon", "next sprint", "ASAP", "recently"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
        if (!extract_resolve_day(bad[i], NOW, IST, false, &d))
            fail_msg("'%s' resolved to %s", bad[i], d.iso);
    /* Local midnight matters: 23:00 IST on the 25th is already the 26th in
     * no zone but IST's own. */
    assert_int_equal(extract_resolve_day("tomorrow", ist(2026, 11, 25, 23, 30), IST, true, &d),
                     0);
    assert_string_equal(d.iso, "2026-11-26");
    assert_int_equal(extract_resolve_day("tomorrow", ist(2026, 11, 26, 0, 30), 0, true, &d), 0);
    assert_string_equal(d.iso, "2026-11-26"); /* 19:00 UTC on the 25th */
}

/* ---- Receipts ------------------------------------------------------------- */

static const char darshini_bill[] =
    "*** SRI RAGHAVENDRA DARSHINI ***\n"
    "#12, 4th Cross, Malleshwaram\n"
    "Bengaluru - 560003\n"
    "GSTIN: 29AABCS1234F1Z5\n"
    "Ph: 080-23456789\n"
    "TAX INVOICE\n"
    "Bill No: 1043   Date: 20/11/2026 13:45\n"
    "Table: 4    Steward: Manju\n"
    "--------------------------------\n"
    "Item            Qty  Rate   Amount\n"
    "Masala Dosa      2   60.00  120.00\n"
    "Idli Vada        3   45.00  135.00\n"
    "Filter Coffee    4   25.00  100.00\n"
    "Kesari Bath      1   50.00   50.00\n"
    "Paneer Butter Masala 2 220.00 440.00\n"
    "Butter Naan      6   55.00  330.00\n"
    "--------------------------------\n"
    "Total Qty: 18\n"
    "Sub Total                 1,175.00\n"
    "CGST @ 2.5%                  29.38\n"
    "SGST @ 2.5%                  29.38\n"
    "Round Off                    16.24\n"
    "Grand Total          ₹ 1,250.00\n"
    "Paid by UPI\n"
    "Thank you! Visit again\n";

static void test_receipt_ocr_darshini(void **state)
{
    json_t *r = typed(NULL, STORE_KIND_RECEIPT, darshini_bill);
    assert_non_null(r);
    assert_string_equal(str(r, "type"), "receipt");
    assert_string_equal(str(r, "source"), "ocr");
    assert_string_equal(str(r, "merchant"), "SRI RAGHAVENDRA DARSHINI");
    assert_string_equal(str(r, "date"), "2026-11-20");
    assert_string_equal(str(r, "date_raw"), "20/11/2026");
    assert_string_equal(str(r, "currency"), "INR");
    assert_num(r, "total", 1250);
    assert_string_equal(str(r, "total_raw"), "₹ 1,250.00");
    assert_string_equal(str(r, "gstin"), "29AABCS1234F1Z5");
    assert_int_equal(json_array_size(json_object_get(r, "items")), 6);
    const json_t *it = at(r, "items", 0);
    assert_string_equal(str(it, "name"), "Masala Dosa");
    assert_num(it, "qty", 2);
    assert_num(it, "price", 60);
    assert_num(it, "amount", 120);
    assert_string_equal(str(it, "raw"), "Masala Dosa      2   60.00  120.00");
    it = at(r, "items", 4);
    assert_string_equal(str(it, "name"), "Paneer Butter Masala");
    assert_num(it, "price", 220);
    assert_int_equal(json_array_size(json_object_get(r, "taxes")), 2);
    assert_string_equal(str(at(r, "taxes", 0), "name"), "CGST");
    assert_num(at(r, "taxes", 0), "rate", 2.5);
    assert_num(at(r, "taxes", 1), "amount", 29.38);
    /* Dumped for the store without float noise. */
    char *s = extract_dumps(r);
    assert_non_null(strstr(s, "\"amount\":29.38}"));
    assert_true(!strncmp(s, "{\"type\":\"receipt\",", 18));
    free(s);
    json_decref(r);
}

static void test_receipt_ocr_variants(void **state)
{
    /* MTR: a name with digits, "2 x" before the name, "1 x 40 = 40",
     * "Net Amount Rs. 285/-". */
    json_t *r = typed(NULL, STORE_KIND_RECEIPT,
                      "MTR 1924\nLalbagh Road, Bengaluru\nFSSAI No 11217334000123\n"
                      "Date: 20-Nov-2026      Time: 08:15\n2 x Rava Idli 150.00\n"
                      "Masala Dosa 95.00\nCoffee  1 x 40 = 40\nNet Amount Rs. 285/-\n");
    assert_string_equal(str(r, "merchant"), "MTR 1924");
    assert_string_equal(str(r, "date"), "2026-11-20");
    assert_num(r, "total", 285);
    assert_string_equal(str(r, "total_raw"), "Rs. 285/-");
    assert_int_equal(json_array_size(json_object_get(r, "items")), 3);
    assert_num(at(r, "items", 0), "qty", 2);
    assert_num(at(r, "items", 0), "price", 75);
    assert_true(json_is_null(json_object_get(at(r, "items", 1), "qty")));
    assert_num(at(r, "items", 1), "price", 95);
    assert_num(at(r, "items", 2), "qty", 1);
    assert_num(at(r, "items", 2), "price", 40);
    json_decref(r);

    /* The total printed under its label, lakh grouping, weights in names. */
    r = typed(NULL, STORE_KIND_RECEIPT,
              "Reliance SMART\nBill # 88231 Dt 2026-11-20\n"
              "Toor Dal 1kg        1  165.00  165.00\nAmul Butter 500g    2  275.00  550.00\n"
              "Total\n  Rs. 1,25,000.00\n");
    assert_string_equal(str(r, "merchant"), "Reliance SMART");
    assert_num(r, "total", 125000);
    assert_string_equal(str(at(r, "items", 0), "name"), "Toor Dal 1kg");
    assert_string_equal(str(at(r, "items", 1), "name"), "Amul Butter 500g");
    assert_num(at(r, "items", 1), "qty", 2);
    json_decref(r);

    /* Grand Total beats a later plain Total; Sub Total never counts. */
    r = typed(NULL, STORE_KIND_RECEIPT,
              "Hotel Nalapaka\nBill No 7 Date 01.12.26\nThali 1 180.00\nSub Total 180.00\n"
              "Grand Total 189.00\nTotal Savings 20.00\nTotal 189.00 Paid\n");
    assert_num(r, "total", 189);
    assert_string_equal(str(r, "date"), "2026-12-01");
    json_decref(r);
    r = typed(NULL, STORE_KIND_RECEIPT, "Cafe Coffee Day\nLatte 210.00\nSub Total 210.00\n");
    assert_true(json_is_null(json_object_get(r, "total")));
    assert_int_equal(json_array_size(json_object_get(r, "items")), 1);
    json_decref(r);

    /* A dollar receipt from a trip; no currency at all falls back to INR. */
    r = typed(NULL, STORE_KIND_RECEIPT, "Blue Bottle Coffee\nCappuccino 5.50\nTOTAL $5.50\n");
    assert_string_equal(str(r, "currency"), "USD");
    assert_num(r, "total", 5.5);
    json_decref(r);
    r = typed(NULL, STORE_KIND_RECEIPT, "Sagar Fast Food\nTotal 90\n");
    assert_string_equal(str(r, "currency"), "INR");
    json_decref(r);

    /* PIN codes and phone numbers are not items or totals. */
    r = typed(NULL, STORE_KIND_RECEIPT, "Vidyarthi Bhavan\nGandhi Bazaar 560004\n"
                                        "Ph 9845012345\nMasale Dose 2 140\nNet Payable 140/-\n");
    assert_int_equal(json_array_size(json_object_get(r, "items")), 1);
    assert_string_equal(str(at(r, "items", 0), "name"), "Masale Dose");
    assert_num(at(r, "items", 0), "qty", 2);
    assert_num(at(r, "items", 0), "price", 70);
    assert_num(r, "total", 140);
    json_decref(r);

    /* Nothing that looks like a bill: no record. */
    assert_null(typed(NULL, STORE_KIND_RECEIPT, "--------\n****\n"));
    assert_null(typed(NULL, STORE_KIND_RECEIPT, ""));
}

static void test_receipt_model(void **state)
{
    /* Values as printed, parsed here; raw text kept. */
    json_t *r = typed("{\"receipt\":{\"merchant\":\" Mylari Hotel \",\"date\":\"20/11/2026\","
                      "\"currency\":\"Rs\",\"total\":\"Rs. 1,25,000\",\"items\":["
                      "{\"name\":\"Masala Dosa\",\"qty\":\"2\",\"price\":\"₹60.00\","
                      "\"amount\":\"120.00\"},"
                      "{\"name\":\"Coffee\",\"qty\":\"3 nos\",\"price\":null,\"amount\":\"90\"},"
                      "{\"name\":\"Mysore Pak\",\"qty\":null,\"price\":\"150/-\",\"amount\":null},"
                      "{\"name\":\"  \",\"qty\":\"1\",\"price\":\"10\",\"amount\":\"10\"}]}}",
                      STORE_KIND_RECEIPT, NULL);
    assert_string_equal(str(r, "source"), "model");
    assert_string_equal(str(r, "merchant"), "Mylari Hotel");
    assert_string_equal(str(r, "date"), "2026-11-20");
    assert_string_equal(str(r, "date_raw"), "20/11/2026");
    assert_string_equal(str(r, "currency"), "INR");
    assert_num(r, "total", 125000);
    assert_string_equal(str(r, "total_raw"), "Rs. 1,25,000");
    assert_int_equal(json_array_size(json_object_get(r, "items")), 3); /* nameless dropped */
    const json_t *it = at(r, "items", 0);
    assert_num(it, "qty", 2);
    assert_num(it, "price", 60);
    assert_string_equal(str(it, "price_raw"), "₹60.00");
    it = at(r, "items", 1);
    assert_num(it, "qty", 3);
    assert_num(it, "price", 30); /* amount / qty */
    assert_string_equal(str(it, "qty_raw"), "3 nos");
    it = at(r, "items", 2);
    assert_true(json_is_null(json_object_get(it, "qty")));
    assert_num(it, "price", 150);
    json_decref(r);

    /* Nearly valid: numbers where text was asked for, placeholders, a
     * currency only in the total, an unknown date format. */
    r = typed("{\"receipt\":{\"merchant\":\"Namdhari's Fresh\",\"date\":\"last Tuesday\","
              "\"currency\":\"N/A\",\"total\":\"€ 12,50\",\"items\":[{\"name\":\"Apples\","
              "\"qty\":1.5,\"price\":120,\"amount\":180}]}}",
              STORE_KIND_RECEIPT, NULL);
    assert_true(json_is_null(json_object_get(r, "date")));
    assert_string_equal(str(r, "date_raw"), "last Tuesday");
    assert_string_equal(str(r, "currency"), "EUR");
    assert_num(r, "total", 12.5);
    assert_num(at(r, "items", 0), "qty", 1.5);
    assert_num(at(r, "items", 0), "amount", 180);
    json_decref(r);

    /* An all-null receipt from the model and no OCR: no record. */
    assert_null(typed("{\"receipt\":{\"merchant\":null,\"date\":null,\"currency\":\"INR\","
                      "\"total\":null,\"items\":[]}}",
                      STORE_KIND_RECEIPT, NULL));
}

static void test_receipt_merge(void **state)
{
    /* The model read the name and items but not the total: the OCR fills
     * it, with its raw text. */
    json_t *r = typed("{\"receipt\":{\"merchant\":\"Sri Raghavendra Darshini\",\"date\":null,"
                      "\"currency\":null,\"total\":null,\"items\":[{\"name\":\"Masala Dosa\","
                      "\"qty\":\"2\",\"price\":\"60\",\"amount\":\"120\"}]}}",
                      STORE_KIND_RECEIPT, darshini_bill);
    assert_string_equal(str(r, "source"), "model+ocr");
    assert_string_equal(str(r, "merchant"), "Sri Raghavendra Darshini");
    assert_num(r, "total", 1250);
    assert_string_equal(str(r, "total_raw"), "₹ 1,250.00");
    assert_string_equal(str(r, "date"), "2026-11-20");
    assert_int_equal(json_array_size(json_object_get(r, "items")), 1); /* the model's */
    assert_string_equal(str(r, "gstin"), "29AABCS1234F1Z5");
    json_decref(r);

    /* What the model gave is never overwritten. */
    r = typed("{\"receipt\":{\"merchant\":\"SRD\",\"date\":\"21/11/2026\",\"currency\":\"INR\","
              "\"total\":\"1,300.00\",\"items\":[]}}",
              STORE_KIND_RECEIPT, darshini_bill);
    assert_num(r, "total", 1300);
    assert_string_equal(str(r, "total_raw"), "1,300.00");
    assert_string_equal(str(r, "date"), "2026-11-21");
    assert_int_equal(json_array_size(json_object_get(r, "items")), 6); /* OCR's: none given */
    json_decref(r);

    /* No OCR argument: the answer's own text entries are read. */
    r = typed("{\"text\":[{\"content\":\"MTR 1924\"},{\"content\":\"Net Amount Rs. 285/-\"}],"
              "\"receipt\":null}",
              STORE_KIND_RECEIPT, NULL);
    assert_string_equal(str(r, "merchant"), "MTR 1924");
    assert_num(r, "total", 285);
    json_decref(r);
}

/* ---- Lab reports ---------------------------------------------------------- */

static const json_t *find_test(const json_t *r, const char *name)
{
    const json_t *t;
    size_t i;
    json_array_foreach(json_object_get(r, "tests"), i, t) {
        if (!strcmp(json_string_value(json_object_get(t, "test")), name))
            return t;
    }
    fail_msg("no test %s", name);
    return NULL;
}

static int oor(const json_t *t)
{
    const json_t *v = json_object_get(t, "out_of_range");
    return json_is_null(v) ? -1 : json_is_true(v);
}

static void test_lab_model(void **state)
{
    json_t *r = typed(
        "{\"lab_report\":{\"lab\":\"Anand Diagnostics\",\"date\":\"10-Nov-2026\",\"tests\":["
        "{\"test\":\"TSH\",\"value\":\"6.5\",\"unit\":\"mIU/L\",\"reference_range\":\"0.4-4.0\","
        "\"flag\":\"H\"},"
        "{\"test\":\"HbA1c\",\"value\":\"6.1\",\"unit\":\"%\",\"reference_range\":\"< 5.7\","
        "\"flag\":null},"
        "{\"test\":\"BP\",\"value\":\"120/80\",\"unit\":\"mmHg\",\"reference_range\":"
        "\"<120/80\",\"flag\":null},"
        "{\"test\":\"Free T4\",\"value\":\"1.1 ng/dL\",\"unit\":null,\"reference_range\":"
        "\"0.9 - 1.7\",\"flag\":null},"
        "{\"test\":\"Vitamin D\",\"value\":\"45\",\"unit\":\"ng/ml\",\"reference_range\":"
        "\"30-100\",\"flag\":\"L\"},"
        "{\"test\":\"Glucose (F)\",\"value\":\"99\",\"unit\":\"mg/dL\",\"reference_range\":"
        "\"70-100\",\"flag\":\"N\"},"
        "{\"test\":\"HBsAg\",\"value\":\"Non-Reactive\",\"unit\":null,\"reference_range\":"
        "\"Non Reactive\",\"flag\":null},"
        "{\"test\":\"HIV\",\"value\":\"Reactive\",\"unit\":null,\"reference_range\":"
        "\"Non-Reactive\",\"flag\":null},"
        "{\"test\":\"CRP\",\"value\":\"<0.5\",\"unit\":\"mg/L\",\"reference_range\":\"< 6\","
        "\"flag\":null},"
        "{\"test\":\"LDL\",\"value\":null,\"unit\":\"mg/dL\",\"reference_range\":null,"
        "\"flag\":null},"
        "{\"test\":\"\",\"value\":\"5\",\"unit\":null,\"reference_range\":null,\"flag\":null}]}}",
        STORE_KIND_LAB_REPORT, NULL);
    assert_string_equal(str(r, "lab"), "Anand Diagnostics");
    assert_string_equal(str(r, "date"), "2026-11-10");
    assert_int_equal(json_array_size(json_object_get(r, "tests")), 10);

    const json_t *t = find_test(r, "TSH");
    assert_num(t, "value", 6.5);
    assert_string_equal(str(t, "unit"), "mIU/L");
    assert_string_equal(str(t, "reference_range"), "0.4-4.0");
    assert_int_equal(oor(t), 1);
    assert_string_equal(str(t, "flag"), "H");
    assert_string_equal(str(t, "value_raw"), "6.5");
    assert_num(t, "range_low", 0.4);
    assert_num(t, "range_high", 4);

    t = find_test(r, "HbA1c"); /* no flag printed: computed */
    assert_int_equal(oor(t), 1);
    assert_true(json_is_null(json_object_get(t, "flag")));

    /* "BP 120/80" is two values, each against its half of the range. */
    t = find_test(r, "Systolic blood pressure");
    assert_num(t, "value", 120);
    assert_string_equal(str(t, "unit"), "mmHg");
    assert_string_equal(str(t, "reference_range"), "<120");
    assert_int_equal(oor(t), 1); /* 120 is not < 120 */
    assert_string_equal(str(t, "value_raw"), "120/80");
    t = find_test(r, "Diastolic blood pressure");
    assert_num(t, "value", 80);
    assert_string_equal(str(t, "reference_range"), "<80");
    assert_int_equal(oor(t), 1);

    t = find_test(r, "Free T4"); /* the unit inside the value */
    assert_num(t, "value", 1.1);
    assert_string_equal(str(t, "unit"), "ng/dL");
    assert_int_equal(oor(t), 0);
    t = find_test(r, "Vitamin D"); /* the printed flag wins over the range */
    assert_string_equal(str(t, "unit"), "ng/mL");
    assert_int_equal(oor(t), 1);
    t = find_test(r, "Glucose (F)");
    assert_int_equal(oor(t), 0);
    t = find_test(r, "HBsAg");
    assert_string_equal(str(t, "value"), "Non-Reactive");
    assert_int_equal(oor(t), 0);
    t = find_test(r, "HIV");
    assert_int_equal(oor(t), 1);
    t = find_test(r, "CRP"); /* below the detection limit: kept as text */
    assert_string_equal(str(t, "value"), "<0.5");
    assert_int_equal(oor(t), -1);
    json_decref(r);

    /* Systolic alone out of range; a plain "120/80" reference is a limit. */
    r = typed("{\"lab_report\":{\"lab\":null,\"date\":null,\"tests\":[{\"test\":\"Blood "
              "Pressure\",\"value\":\"130/78\",\"unit\":null,\"reference_range\":\"120/80\","
              "\"flag\":null}]}}",
              STORE_KIND_LAB_REPORT, NULL);
    assert_int_equal(oor(find_test(r, "Systolic blood pressure")), 1);
    assert_int_equal(oor(find_test(r, "Diastolic blood pressure")), 0);
    assert_string_equal(str(find_test(r, "Systolic blood pressure"), "unit"), "mmHg");
    json_decref(r);
}

static const char lab_text[] =
    "ANAND DIAGNOSTIC LABORATORY\n"
    "No. 14, Race Course Road, Bengaluru 560001\n"
    "Patient Name: Mr. Rajesh Kumar       Age/Sex: 45 Y / M\n"
    "Ref. By: Dr. S. Rao\n"
    "Sample Collected: 10/11/2026 08:30   Reported: 11/11/2026 14:00\n"
    "TEST NAME            RESULT   UNIT     BIO. REF. INTERVAL\n"
    "THYROID PROFILE\n"
    "T3, Total            1.2      ng/mL    0.8 - 2.0\n"
    "T4, Total            8.1      µg/dL    5.1 - 14.1\n"
    "TSH 6.5 mIU/L 0.4-4.0 H\n"
    "HbA1c 6.1 % < 5.7\n"
    "Haemoglobin          13.5     g/dL     13.0 - 17.0\n"
    "Total Cholesterol    210 H    mg/dL    < 200\n"
    "HDL Cholesterol      38       mg/dL    >= 40\n"
    "Vitamin B12          180      pg/mL    211 - 911     L\n"
    "25-OH Vitamin D      18.2     ng/mL    30-100\n"
    "WBC Count            7.2      x10^3/µL 4.0 - 11.0\n"
    "Platelet Count       1.5      lakhs/cumm 1.5 - 4.5\n"
    "Blood Pressure: 130/85 mmHg   < 120/80\n"
    "HBsAg                Negative   Negative\n"
    "Fasting Blood Sugar: 102 mg/dL 70-100\n"
    "Page 1 of 2\n";

static void test_lab_ocr(void **state)
{
    json_t *r = typed(NULL, STORE_KIND_LAB_REPORT, lab_text);
    assert_non_null(r);
    assert_string_equal(str(r, "source"), "ocr");
    assert_string_equal(str(r, "lab"), "ANAND DIAGNOSTIC LABORATORY");
    assert_string_equal(str(r, "date"), "2026-11-10"); /* collected, not reported */
    assert_int_equal(json_array_size(json_object_get(r, "tests")), 15);
    static const struct {
        const char *test;
        double value;
        const char *unit, *range;
        int oor;
    } want[] = {
        {"T3, Total", 1.2, "ng/mL", "0.8 - 2.0", 0},
        {"T4, Total", 8.1, "µg/dL", "5.1 - 14.1", 0},
        {"TSH", 6.5, "mIU/L", "0.4-4.0", 1},
        {"HbA1c", 6.1, "%", "< 5.7", 1},
        {"Haemoglobin", 13.5, "g/dL", "13.0 - 17.0", 0},
        {"Total Cholesterol", 210, "mg/dL", "< 200", 1},
        {"HDL Cholesterol", 38, "mg/dL", ">= 40", 1},
        {"Vitamin B12", 180, "pg/mL", "211 - 911", 1},
        {"25-OH Vitamin D", 18.2, "ng/mL", "30-100", 1},
        {"WBC Count", 7.2, "x10^3/µL", "4.0 - 11.0", 0},
        {"Platelet Count", 1.5, "lakh/µL", "1.5 - 4.5", 0},
        {"Systolic blood pressure", 130, "mmHg", "< 120", 1},
        {"Diastolic blood pressure", 85, "mmHg", "< 80", 1},
        {"Fasting Blood Sugar", 102, "mg/dL", "70-100", 1},
    };
    for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
        const json_t *t = find_test(r, want[i].test);
        if (fabs(num(t, "value") - want[i].value) > 1e-9 || strcmp(str(t, "unit"), want[i].unit) ||
            strcmp(str(t, "reference_range"), want[i].range) || oor(t) != want[i].oor)
            fail_msg("%s: %g %s [%s] %d", want[i].test, num(t, "value"), str(t, "unit"),
                     str(t, "reference_range"), oor(t));
        assert_non_null(json_object_get(t, "raw"));
    }
    assert_string_equal(str(find_test(r, "TSH"), "flag"), "H");
    assert_string_equal(str(find_test(r, "Total Cholesterol"), "flag"), "H");
    assert_string_equal(str(find_test(r, "Vitamin B12"), "flag"), "L");
    assert_string_equal(str(find_test(r, "HBsAg"), "value"), "Negative");
    assert_int_equal(oor(find_test(r, "HBsAg")), 0);
    json_decref(r);

    /* Only numbers with a unit or a range count: the seed's one-liner. */
    r = typed(NULL, STORE_KIND_LAB_REPORT, "TSH 6.5, BP 120/80\nAge 45 Years\nRoom 12 of 40");
    assert_non_null(r);
    assert_int_equal(json_array_size(json_object_get(r, "tests")), 2); /* BP only */
    assert_num(find_test(r, "Systolic blood pressure"), "value", 120);
    json_decref(r);
    assert_null(typed(NULL, STORE_KIND_LAB_REPORT, "Thank you for choosing us"));
}

/* ---- Whiteboards and screenshots ------------------------------------------ */

static void test_whiteboard(void **state)
{
    json_t *r = typed(NULL, STORE_KIND_WHITEBOARD,
                      "Sprint planning 25/11\n"
                      "Action items:\n"
                      "- Send the deck to client @Rajesh by Fri\n"
                      "- Book the hall for offsite (Priya)\n"
                      "* Fix login bug - Suresh - due 28/11\n"
                      "[ ] Update ಬಜೆಟ್ sheet by EOD\n"
                      "Kavya: call vendor tomorrow\n"
                      "TODO review PR #42\n"
                      "2. Pay advance to caterer (ರಾಜೇಶ್) by 3rd Dec\n"
                      "Architecture diagram -> API -> DB\n");
    assert_string_equal(str(r, "source"), "ocr");
    const json_t *items = json_object_get(r, "action_items");
    assert_int_equal(json_array_size(items), 7);
    static const struct {
        const char *text, *owner, *due;
    } want[] = {
        {"Send the deck to client", "Rajesh", "2026-11-27"},
        {"Book the hall for offsite", "Priya", NULL},
        {"Fix login bug", "Suresh", "2026-11-28"},
        {"Update ಬಜೆಟ್ sheet", NULL, "2026-11-25"},
        {"call vendor", "Kavya", "2026-11-26"},
        {"review PR #42", NULL, NULL},
        {"Pay advance to caterer", "ರಾಜೇಶ್", "2026-12-03"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
        const json_t *it = json_array_get(items, i), *o = json_object_get(it, "owner"),
                     *d = json_object_get(it, "due");
        if (strcmp(str(it, "text"), want[i].text) ||
            (want[i].owner ? !json_is_string(o) || strcmp(json_string_value(o), want[i].owner)
                           : !json_is_null(o)) ||
            (want[i].due ? !json_is_string(d) || strcmp(json_string_value(d), want[i].due)
                         : !json_is_null(d)))
            fail_msg("item %zu: %s / %s / %s", i, str(it, "text"),
                     json_is_string(o) ? json_string_value(o) : "null",
                     json_is_string(d) ? json_string_value(d) : "null");
    }
    assert_string_equal(str(json_array_get(items, 0), "due_raw"), "Fri");
    json_decref(r);

    /* From the model: due words resolved, unknown ones kept as written. */
    r = typed("{\"whiteboard\":{\"action_items\":["
              "{\"text\":\"Send the deck\",\"owner\":\"Rajesh\",\"due\":\"28/11\"},"
              "{\"text\":\"Book the hall\",\"owner\":null,\"due\":\"next sprint\"},"
              "{\"text\":\"Call Infosys\",\"owner\":\"-\",\"due\":\"naale\"},"
              "{\"text\":\"\",\"owner\":\"X\",\"due\":null}]}}",
              STORE_KIND_WHITEBOARD, NULL);
    items = json_object_get(r, "action_items");
    assert_int_equal(json_array_size(items), 3);
    assert_string_equal(str(json_array_get(items, 0), "due"), "2026-11-28");
    assert_string_equal(str(json_array_get(items, 0), "due_raw"), "28/11");
    assert_string_equal(str(json_array_get(items, 1), "due"), "next sprint");
    assert_true(json_is_null(json_object_get(json_array_get(items, 2), "owner")));
    assert_string_equal(str(json_array_get(items, 2), "due"), "2026-11-26");
    json_decref(r);
    assert_null(typed(NULL, STORE_KIND_WHITEBOARD, "Architecture\nAPI -> DB -> Cache\n"));
}

static void test_screenshot(void **state)
{
    json_t *r = typed(NULL, STORE_KIND_SCREENSHOT,
                      "10:42\nRajesh Kumar\nonline\nHey, dinner at Mylari tomorrow?\n"
                      "Sure! 8 pm?\nMessages and calls are end-to-end encrypted\n");
    assert_string_equal(str(r, "app"), "WhatsApp");
    assert_int_equal(json_array_size(json_object_get(r, "people")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "people"), 0)),
                        "Rajesh Kumar");
    json_decref(r);

    r = typed(NULL, STORE_KIND_SCREENSHOT,
              "Google Pay\nPaid to Ramesh Stores\n₹450\n20 Nov 2026, 8:15 pm\n"
              "UPI transaction ID 432198765432\nTo: ramesh.stores@okaxis\n");
    assert_string_equal(str(r, "app"), "Google Pay");
    /* The payee's UPI id keys as the payee: one person. */
    const json_t *people = json_object_get(r, "people");
    assert_int_equal(json_array_size(people), 1);
    assert_string_equal(json_string_value(json_array_get(people, 0)), "Ramesh Stores");
    json_decref(r);

    /* From the model, deduplicated across scripts; mentions for the store. */
    r = typed("{\"screenshot\":{\"app\":\"WhatsApp\",\"people\":[\"Rajesh\",\"ರಾಜೇಶ್\","
              "\"Kavya\",\"\",\"null\"],\"topics\":[\"dinner plans\",\"Mylari\"]}}",
              STORE_KIND_SCREENSHOT, NULL);
    assert_string_equal(str(r, "source"), "model");
    assert_int_equal(json_array_size(json_object_get(r, "people")), 2);
    struct extract_graph g;
    extract_graph_init(&g);
    assert_int_equal(extract_mentions(r, &g), 5);
    assert_int_equal(g.nmentions, 5);
    assert_string_equal(g.mentions[0].type, "app");
    assert_string_equal(g.mentions[0].name, "WhatsApp");
    assert_string_equal(g.mentions[1].type, "person");
    assert_string_equal(g.mentions[1].name, "Rajesh");
    assert_string_equal(g.mentions[4].type, "topic");
    assert_string_equal(g.mentions[4].name, "Mylari");
    /* Adding them again adds nothing. */
    assert_int_equal(extract_mentions(r, &g), 0);
    extract_graph_release(&g);
    json_decref(r);
}

static void test_typed_edges(void **state)
{
    json_t *out = (json_t *)1;
    struct buf err = BUF_INIT;
    assert_int_equal(extract_typed(NULL, STORE_KIND__COUNT, NULL, NULL, &out, &err), -EINVAL);
    assert_null(out);
    assert_non_null(strstr(buf_cstr(&err), "no such kind"));
    /* Kinds without a record. */
    assert_null(typed(NULL, STORE_KIND_PHOTO, darshini_bill));
    assert_null(typed(NULL, STORE_KIND_MEAL, "Masala Dosa 60"));
    assert_null(typed(NULL, STORE_KIND_TRANSCRIPT, "ninne Rajesh"));
    /* Nothing to read. */
    assert_null(typed(NULL, STORE_KIND_RECEIPT, NULL));
    assert_null(typed("[]", STORE_KIND_RECEIPT, NULL));
    assert_null(typed("{\"receipt\":\"Mylari 150\"}", STORE_KIND_RECEIPT, NULL));
    /* NULL options: the wall clock and INR. */
    json_t *a = load("{\"receipt\":{\"merchant\":\"MTR\",\"total\":\"285\",\"items\":[]}}");
    assert_int_equal(extract_typed(a, STORE_KIND_RECEIPT, NULL, NULL, &out, NULL), 0);
    assert_string_equal(str(out, "merchant"), "MTR");
    json_decref(out);
    json_decref(a);
    assert_null(extract_dumps(NULL));
    buf_release(&err);
}

static void test_graph(void **state)
{
    struct extract_graph g;
    extract_graph_init(&g);
    assert_int_equal(extract_graph_mention(&g, "person", " Rajesh ", "Rajeshna"), 0);
    assert_string_equal(g.mentions[0].name, "Rajesh");
    assert_string_equal(g.mentions[0].surface, "Rajeshna");
    assert_int_equal(extract_graph_mention(&g, "person", "ರಾಜೇಶ್", NULL), 1);
    assert_int_equal(extract_graph_mention(&g, "place", "Rajesh", NULL), 0); /* another type */
    assert_int_equal(extract_graph_mention(&g, "person", "!!!", NULL), -EINVAL);
    assert_int_equal(extract_graph_mention(&g, "Person", "Kavya", NULL), -EINVAL);
    assert_int_equal(extract_graph_mention(&g, "person", NULL, NULL), -EINVAL);
    assert_int_equal(g.nmentions, 2);
    struct store_fact *f = extract_graph_fact(&g);
    assert_true(f->valid_from == STORE_TIME_NONE && f->valid_until == STORE_TIME_NONE);
    assert_null(f->subject);
    char tmp[] = "copied";
    const char *c = extract_graph_str(&g, tmp);
    tmp[0] = 'X';
    assert_string_equal(c, "copied");
    assert_null(extract_graph_str(&g, NULL));
    extract_graph_release(&g);
    assert_int_equal(g.nmentions, 0);
    extract_graph_release(&g); /* twice is fine */
}

/* ---- Transcripts ---------------------------------------------------------- */

static const char transcript_answer[] =
    "{\"entities\":["
    "{\"type\":\"person\",\"name\":\"Rajesh\",\"surface\":\"Rajeshna\"},"
    "{\"type\":\"person\",\"name\":\"ಕಾವ್ಯ\",\"surface\":\"ಕಾವ್ಯಳ\"},"
    "{\"type\":\"place\",\"name\":\"Mylari\",\"surface\":null},"
    "{\"type\":\"organization\",\"name\":\"Infosys\",\"surface\":null},"
    "{\"type\":\"health_value\",\"name\":\"sugar\",\"surface\":null},"
    "{\"type\":\"person\",\"name\":\"naanu\",\"surface\":null},"
    "{\"type\":\"person\",\"name\":\"\",\"surface\":null},"
    "{\"type\":\"??\",\"name\":\"x\",\"surface\":null}],"
    "\"relations\":["
    "{\"subject\":\"naanu\",\"subject_type\":\"person\",\"predicate\":\"met\","
    "\"object\":\"Rajesh\",\"object_type\":\"person\",\"value\":null,\"unit\":null,"
    "\"time_said\":\"ninne\",\"date\":\"2026-11-23\",\"fact\":\"I met Rajesh yesterday.\"},"
    "{\"subject\":\"ಕಾವ್ಯ\",\"subject_type\":\"person\",\"predicate\":\"Went To\","
    "\"object\":\"Mylari\",\"object_type\":null,\"value\":null,\"unit\":null,"
    "\"time_said\":\"kaLeda shukravaara\",\"date\":null,\"fact\":null},"
    "{\"subject\":\"Rajesh\",\"subject_type\":\"person\",\"predicate\":\"works_at\","
    "\"object\":\"Infosys\",\"object_type\":\"organisation\",\"value\":null,\"unit\":null,"
    "\"time_said\":null,\"date\":null,\"fact\":\"Rajesh works at Infosys.\"},"
    "{\"subject\":\"sugar\",\"subject_type\":\"health_value\",\"predicate\":\"measured\","
    "\"object\":null,\"object_type\":null,\"value\":\"140 mg/dl\",\"unit\":null,"
    "\"time_said\":\"ivattu belagge\",\"date\":null,\"fact\":\"Fasting sugar was 140.\"},"
    "{\"subject\":\"me\",\"subject_type\":\"person\",\"predicate\":\"plans_to_visit\","
    "\"object\":\"Mysuru\",\"object_type\":\"place\",\"value\":\"with family\",\"unit\":null,"
    "\"time_said\":\"mundina shanivaara\",\"date\":null,\"fact\":\"Going to Mysuru.\"},"
    "{\"subject\":\"Rajesh\",\"subject_type\":\"person\",\"predicate\":\"celebrated\","
    "\"object\":\"Deepavali\",\"object_type\":\"event\",\"value\":null,\"unit\":null,"
    "\"time_said\":\"habbada dina\",\"date\":\"2026-11-08\",\"fact\":null},"
    "{\"subject\":\"Rajesh\",\"subject_type\":\"person\",\"predicate\":\"is_happy\","
    "\"object\":null,\"object_type\":null,\"value\":null,\"unit\":null,\"time_said\":null,"
    "\"date\":null,\"fact\":\"Rajesh is happy.\"},"
    "{\"subject\":\"\",\"subject_type\":\"person\",\"predicate\":\"met\",\"object\":\"x\","
    "\"object_type\":null,\"value\":null,\"unit\":null,\"time_said\":null,\"date\":null,"
    "\"fact\":null},"
    "7]}";

static const struct store_fact *find_fact(const struct extract_graph *g, const char *pred)
{
    for (size_t i = 0; i < g->nfacts; i++)
        if (!strcmp(g->facts[i].predicate, pred))
            return &g->facts[i];
    fail_msg("no fact %s", pred);
    return NULL;
}

static void test_transcript_convert(void **state)
{
    json_t *a = load(transcript_answer);
    struct extract_graph g;
    struct buf err = BUF_INIT;
    extract_graph_init(&g);
    assert_int_equal(transcript_convert(a, NOW, IST, &g, &err), 6);
    /* Entities: the speaker is "me"; Kannada names as written; the bad two
     * skipped with notes. */
    assert_int_equal(g.nmentions, 6);
    assert_string_equal(g.mentions[1].name, "ಕಾವ್ಯ");
    assert_string_equal(g.mentions[1].surface, "ಕಾವ್ಯಳ");
    assert_string_equal(g.mentions[3].type, "organisation");
    assert_string_equal(g.mentions[5].name, TRANSCRIPT_SPEAKER);
    assert_non_null(strstr(buf_cstr(&err), "entity 6"));
    assert_non_null(strstr(buf_cstr(&err), "relation 6 (Rajesh is_happy): no object or value"));
    assert_non_null(strstr(buf_cstr(&err), "relation 7: no subject"));

    /* "ninne" from Wednesday the 25th is the 24th: the words beat the
     * model's arithmetic, which is kept beside. */
    const struct store_fact *f = find_fact(&g, "met");
    assert_string_equal(f->subject, TRANSCRIPT_SPEAKER);
    assert_string_equal(f->subject_type, "person");
    assert_string_equal(f->object, "Rajesh");
    assert_null(f->value);
    assert_true(f->valid_from == ist(2026, 11, 24, 0, 0));
    assert_true(f->valid_until == STORE_TIME_NONE);
    assert_string_equal(f->fact, "I met Rajesh yesterday.");
    assert_string_equal(f->attrs_json, "{\"date\":\"2026-11-24\",\"date_source\":\"words\","
                                       "\"model_date\":\"2026-11-23\",\"time_said\":\"ninne\"}");
    assert_false(f->ends_previous);

    f = find_fact(&g, "went_to");
    assert_string_equal(f->subject, "ಕಾವ್ಯ");
    assert_string_equal(f->object_type, "place"); /* from the entity list */
    assert_true(f->valid_from == ist(2026, 11, 20, 0, 0)); /* last Friday */
    assert_string_equal(f->fact, "ಕಾವ್ಯ went_to Mylari");

    f = find_fact(&g, "works_at");
    assert_true(f->valid_from == STORE_TIME_NONE);
    assert_null(f->attrs_json);
    assert_true(f->ends_previous);

    f = find_fact(&g, "measured");
    assert_null(f->object);
    assert_string_equal(f->value, "140");
    assert_string_equal(f->unit, "mg/dL");
    assert_true(f->has_num && f->num == 140);
    assert_true(f->valid_from == ist(2026, 11, 25, 0, 0));

    f = find_fact(&g, "plans_to_visit"); /* "next Saturday"; the value moves to attrs */
    assert_string_equal(f->object, "Mysuru");
    assert_null(f->value);
    assert_true(f->valid_from == ist(2026, 11, 28, 0, 0));
    assert_non_null(strstr(f->attrs_json, "\"value\":\"with family\""));

    f = find_fact(&g, "celebrated"); /* words unknown to us: the model's date */
    assert_true(f->valid_from == ist(2026, 11, 8, 0, 0));
    assert_non_null(strstr(f->attrs_json, "\"date_source\":\"model\""));

    extract_graph_release(&g);
    assert_int_equal(transcript_convert(NULL, NOW, IST, &g, NULL), -EINVAL);
    json_t *empty = json_object();
    assert_int_equal(transcript_convert(empty, NOW, IST, &g, NULL), 0);
    json_decref(empty);
    json_decref(a);
    buf_release(&err);
}

static void test_transcript_prompt(void **state)
{
    struct buf p = BUF_INIT;
    transcript_prompt("naanu ninne Rajesh na Mylari alli meet maadide", NOW, IST, &p);
    const char *s = buf_cstr(&p);
    assert_non_null(strstr(s, "Recorded on Wednesday 2026-11-25 at 15:30 (UTC+05:30)."));
    assert_non_null(strstr(s, "<<<\nnaanu ninne Rajesh na Mylari alli meet maadide\n>>>"));
    assert_non_null(strstr(s, "never translate or transliterate"));
    assert_non_null(strstr(s, "ninne = yesterday"));
    buf_reset(&p);
    transcript_prompt(NULL, 0, -480, &p);
    assert_non_null(strstr(buf_cstr(&p), "Recorded on Wednesday 1969-12-31 at 16:00 (UTC-08:00)."));
    assert_null(strstr(buf_cstr(&p), "<<<"));
    /* English: the same instruction without Kannada in it */
    buf_reset(&p);
    transcript_prompt("Met Rajesh at the office today about the budget review.", NOW, IST, &p);
    s = buf_cstr(&p);
    assert_non_null(strstr(s, "never translate or transliterate"));
    assert_null(strstr(s, "ninne"));
    assert_null(strstr(s, "ರಾಜೇಶ್"));
    struct langid_result lr;
    langid_classify(s, strlen(s), &lr);
    assert_false(lr.needs_kannada);
    buf_release(&p);
}

/* ---- Robustness ------------------------------------------------------------ */

static uint32_t rng = 2463534242u;
static uint32_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* OCR-like noise: words of bills and reports, numbers, dates, Kannada,
 * stray punctuation and, now and then, bytes that are not UTF-8. */
static void noise(struct buf *b, size_t words)
{
    static const char *const vocab[] = {
        "Total", "Grand", "Sub", "CGST", "@", "2.5%", "₹", "Rs.", "1,250.00", "1,25,000", "150/-",
        "x", "=", "2", "60.00", "Qty", "Rate", "Amount", "Item", "Date:", "20/11/2026", "Nov",
        "20,", "2026", "TSH", "6.5", "mIU/L", "0.4-4.0", "H", "L", "*", "<", "5.7", "Up", "to",
        "120/80", "mmHg", "-", "@Rajesh", "by", "Fri", "(Priya)", "[ ]", "TODO", "Paid", "to",
        "online", "GSTIN", "29AABCS1234F1Z5", "ಕನ್ನಡ", "ನಾಳೆ", ":", "\n", "\n", "\n", "Negative",
        "x10^3/µL", "€", "$", "--", "((", "))", "0", "-0.00", "99999999999999999999", "1.2.3.4",
    };
    for (size_t i = 0; i < words; i++) {
        uint32_t r = next_rand();
        if (r % 41 == 0) {
            char bad[3] = {(char)(0x80 | (r >> 8 & 0x3f)), (char)(0xc0 | (r >> 16 & 0x1f)), 0};
            buf_addstr(b, bad);
        } else {
            buf_addstr(b, vocab[r % ARRAY_SIZE(vocab)]);
        }
        buf_addch(b, r % 3 ? ' ' : '\t');
    }
}

static void test_robustness(void **state)
{
    static const enum store_kind kinds[] = {STORE_KIND_RECEIPT, STORE_KIND_LAB_REPORT,
                                            STORE_KIND_WHITEBOARD, STORE_KIND_SCREENSHOT};
    struct buf b = BUF_INIT;
    for (int i = 0; i < 300; i++) {
        buf_reset(&b);
        noise(&b, next_rand() % 120);
        for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
            json_t *out;
            assert_int_equal(extract_typed(NULL, kinds[k], buf_cstr(&b), &OPTS, &out, NULL), 0);
            if (out) {
                char *s = extract_dumps(out);
                json_t *back = json_loads(s, 0, NULL); /* always valid JSON */
                assert_non_null(back);
                json_decref(back);
                free(s);
            }
            json_decref(out);
        }
        /* The parsers on the same noise, cut at random places. */
        const char *p = buf_cstr(&b) + (b.len ? next_rand() % b.len : 0);
        struct extract_money m;
        struct extract_date d;
        struct extract_range r;
        struct extract_measure me;
        extract_parse_money(p, &m);
        extract_parse_date(p, 2026, &d);
        extract_find_date(p, 2026, true, &d);
        extract_parse_range(p, &r);
        extract_parse_measure(p, &me);
        extract_resolve_day(p, NOW, IST, next_rand() & 1, &d);
    }
    /* Model answers with every typed value of the wrong type. */
    static const char *const answers[] = {
        "{\"receipt\":{\"merchant\":7,\"date\":[],\"currency\":{},\"total\":true,"
        "\"items\":[1,\"x\",{\"name\":5},{\"name\":\"Dosa\",\"qty\":{},\"price\":[],"
        "\"amount\":\"abc\"}]}}",
        "{\"lab_report\":{\"lab\":[],\"date\":5,\"tests\":[null,{\"test\":\"TSH\",\"value\":6.5,"
        "\"unit\":7,\"reference_range\":false,\"flag\":1}]}}",
        "{\"whiteboard\":{\"action_items\":{\"text\":\"x\"}}}",
        "{\"screenshot\":{\"app\":[],\"people\":\"Rajesh\",\"topics\":[1,null,\"\"]}}",
    };
    for (size_t i = 0; i < ARRAY_SIZE(answers); i++) {
        json_t *out = typed(answers[i], kinds[i], NULL);
        json_decref(out);
    }
    json_t *out = typed(answers[1], STORE_KIND_LAB_REPORT, NULL);
    assert_num(find_test(out, "TSH"), "value", 6.5); /* a number where text was asked */
    json_decref(out);
    buf_release(&b);
}

/* ---- End to end: records and facts in a real store ------------------------ */

static int64_t test_clock(void)
{
    return NOW;
}

static void rm_rf(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char *p = xasprintf("%s/%s", path, e->d_name);
            rm_rf(p);
            free(p);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int64_t episode(struct store *st, const char *hash, enum store_kind kind,
                       const struct store_result *r)
{
    struct store_episode_new e = {.content_hash = hash, .kind = kind,
                                  .captured_at = NOW, .ingested_at = STORE_TIME_NONE};
    struct buf err = BUF_INIT;
    int64_t id;
    assert_int_equal(store_episode_add(st, &e, &id, NULL, &err), 0);
    if (store_episode_complete(st, id, r, &err))
        fail_msg("complete %s: %s", hash, buf_cstr(&err));
    buf_release(&err);
    return id;
}

static struct store_relation *relations(struct store *st, const char *name, const char *type,
                                        const char *pred, size_t *n)
{
    int64_t id;
    if (store_entity_find(st, name, type, &id, NULL))
        fail_msg("no %s %s", type, name);
    struct store_relq q = {.subject_id = id, .predicate = pred, .world_at = STORE_TIME_NONE,
                           .known_at = STORE_TIME_NONE};
    struct store_relation *v;
    assert_int_equal(store_relations(st, &q, &v, n, NULL), 0);
    return v;
}

static void test_end_to_end_store(void **state)
{
    char dir[] = "/tmp/hermod-extract-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = xasprintf("%s/memory.db", dir);
    struct store_options o = {.now_ms = test_clock, .tz_min = IST, .tz_set = true};
    struct store *st;
    struct buf err = BUF_INIT;
    assert_int_equal(store_open_opts(path, &o, &st, &err), 0);

    /* A photo of the darshini bill: the model labelled it a photo and
     * left the receipt empty; the kind comes from normalising, the record
     * from OCR. */
    struct vision_desc d;
    json_t *a = load("{\"scene\":\"A restaurant bill.\",\"objects\":[],\"text\":[],"
                     "\"actions\":[],\"people_count\":0,\"kind\":\"receipt\",\"receipt\":null,"
                     "\"lab_report\":null,\"screenshot\":null,\"whiteboard\":null}");
    assert_int_equal(vision_normalize(a, &d, NULL), 0);
    json_t *rec;
    assert_int_equal(extract_typed(a, d.kind, darshini_bill, &OPTS, &rec, NULL), 0);
    char *ej = extract_dumps(rec);
    struct store_result r = {.description = d.description, .ocr_text = darshini_bill,
                             .extract_json = ej};
    int64_t bill = episode(st, "bill", STORE_KIND_PHOTO, &r);
    free(ej);
    json_decref(rec);
    vision_desc_release(&d);
    json_decref(a);

    size_t n;
    struct store_relation *v = relations(st, "Sri Raghavendra Darshini", "merchant",
                                         "receipt_total", &n);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].value, "1250.00");
    assert_string_equal(v[0].unit, "INR");
    assert_true(v[0].has_num && v[0].num == 1250);
    assert_true(v[0].valid_from == ist(2026, 11, 20, 0, 0));
    assert_true(v[0].episodes[0] == bill);
    store_relations_free(v, n);
    v = relations(st, "Sri Raghavendra Darshini", "merchant", "sold", &n);
    assert_int_equal(n, 6);
    assert_non_null(strstr(v[0].attrs_json, "\"price\""));
    store_relations_free(v, n);

    /* The lab report, from OCR: TSH flagged, BP as two values. */
    assert_int_equal(extract_typed(NULL, STORE_KIND_LAB_REPORT, lab_text, &OPTS, &rec, NULL), 0);
    ej = extract_dumps(rec);
    struct store_result lr = {.description = "Lab report", .ocr_text = lab_text,
                              .extract_json = ej};
    episode(st, "lab", STORE_KIND_LAB_REPORT, &lr);
    free(ej);
    json_decref(rec);
    v = relations(st, "TSH", "health_value", "measured", &n);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].value, "6.5");
    assert_string_equal(v[0].unit, "mIU/L");
    assert_non_null(strstr(v[0].attrs_json, "\"out_of_range\":true"));
    assert_non_null(strstr(v[0].attrs_json, "\"reference_range\":\"0.4-4.0\""));
    assert_true(v[0].valid_from == ist(2026, 11, 10, 0, 0));
    store_relations_free(v, n);
    v = relations(st, "Diastolic blood pressure", "health_value", "measured", &n);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].value, "85");
    assert_string_equal(v[0].unit, "mmHg");
    store_relations_free(v, n);

    /* A whiteboard from the model: owner and due date as facts. */
    a = load("{\"whiteboard\":{\"action_items\":[{\"text\":\"Send the deck\","
             "\"owner\":\"ರಾಜೇಶ್\",\"due\":\"Friday\"}]}}");
    assert_int_equal(extract_typed(a, STORE_KIND_WHITEBOARD, NULL, &OPTS, &rec, NULL), 0);
    ej = extract_dumps(rec);
    struct store_result wr = {.description = "Whiteboard", .extract_json = ej};
    episode(st, "board", STORE_KIND_WHITEBOARD, &wr);
    free(ej);
    json_decref(rec);
    json_decref(a);
    v = relations(st, "Send the deck", "task", "due", &n);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].value, "2026-11-27");
    store_relations_free(v, n);
    v = relations(st, "Send the deck", "task", "assigned_to", &n);
    assert_int_equal(n, 1);
    int64_t raj;
    assert_int_equal(store_entity_find(st, "Rajesh", "person", &raj, NULL), 0);
    assert_true(v[0].object_id == raj); /* written in Kannada, found in Latin */
    store_relations_free(v, n);

    /* A screenshot: its mentions; a transcript: its facts. */
    const char *shot = "Google Pay\nPaid to Ramesh Stores\n₹450\n";
    assert_int_equal(extract_typed(NULL, STORE_KIND_SCREENSHOT, shot, &OPTS, &rec, NULL), 0);
    struct extract_graph g;
    extract_graph_init(&g);
    extract_mentions(rec, &g);
    ej = extract_dumps(rec);
    struct store_result sr = {.description = "Payment screenshot", .extract_json = ej,
                              .mentions = g.mentions, .nmentions = g.nmentions};
    episode(st, "shot", STORE_KIND_SCREENSHOT, &sr);
    free(ej);
    json_decref(rec);
    extract_graph_release(&g);
    int64_t id;
    assert_int_equal(store_entity_find(st, "Ramesh Stores", "person", &id, NULL), 0);
    assert_int_equal(store_entity_find(st, "Google Pay", "app", &id, NULL), 0);

    a = load(transcript_answer);
    assert_int_equal(transcript_convert(a, NOW, IST, &g, NULL), 6);
    struct store_result tr = {.transcript = "naanu ninne Rajeshna meet maadide ...",
                              .mentions = g.mentions, .nmentions = g.nmentions,
                              .facts = g.facts, .nfacts = g.nfacts};
    int64_t talk = episode(st, "talk", STORE_KIND_TRANSCRIPT, &tr);
    extract_graph_release(&g);
    json_decref(a);
    v = relations(st, TRANSCRIPT_SPEAKER, "person", "met", &n);
    assert_int_equal(n, 1);
    assert_true(v[0].object_id == raj);
    assert_true(v[0].valid_from == ist(2026, 11, 24, 0, 0));
    assert_true(v[0].episodes[0] == talk);
    store_relations_free(v, n);
    v = relations(st, "Kavya", "person", "went_to", &n); /* ಕಾವ್ಯ, found in Latin */
    assert_int_equal(n, 1);
    store_relations_free(v, n);
    v = relations(st, "sugar", "health_value", "measured", &n);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].unit, "mg/dL");
    store_relations_free(v, n);

    /* And the bill is found by its dish. */
    struct store_hits h;
    struct store_query q = {.text = "paneer", .since = STORE_TIME_NONE,
                            .until = STORE_TIME_NONE, .now = NOW};
    assert_int_equal(store_search(st, &q, &h, NULL), 0);
    assert_int_equal(h.n, 1);
    assert_true(h.v[0].id == bill);
    store_hits_release(&h);

    store_close(st);
    buf_release(&err);
    rm_rf(dir);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_money),
        cmocka_unit_test(test_date),
        cmocka_unit_test(test_find_date),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_measure_units),
        cmocka_unit_test(test_resolve_day),
        cmocka_unit_test(test_receipt_ocr_darshini),
        cmocka_unit_test(test_receipt_ocr_variants),
        cmocka_unit_test(test_receipt_model),
        cmocka_unit_test(test_receipt_merge),
        cmocka_unit_test(test_lab_model),
        cmocka_unit_test(test_lab_ocr),
        cmocka_unit_test(test_whiteboard),
        cmocka_unit_test(test_screenshot),
        cmocka_unit_test(test_typed_edges),
        cmocka_unit_test(test_graph),
        cmocka_unit_test(test_transcript_convert),
        cmocka_unit_test(test_transcript_prompt),
        cmocka_unit_test(test_robustness),
        cmocka_unit_test(test_end_to_end_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
