/* SPDX-License-Identifier: MIT */
/*
 * extract.c: typed records from a vision answer (extract_typed), the lab
 * test and due-date rules that the model's fields and the OCR lines share,
 * and struct extract_graph.
 *
 * A record is built twice when needed: once from the model's typed
 * sub-object (its values are text as printed, parsed here), once from the
 * OCR text (extract_ocr.c). The model's record wins field by field; a
 * field it left null or empty is taken from the OCR record, with its
 * "_raw" companion. "source" tells which happened.
 *
 * DESIGN
 * No state; every call builds fresh jansson objects and the caller owns
 * the result. Values the model returns as JSON numbers (against the
 * schema, which asks for text) are accepted too, so a nearly valid answer
 * still yields a record.
 */
#include "ingest/extract.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "ingest/extract_int.h"
#include "lib/clock.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "text/translit.h"

/* ---- Reading the model's fields ------------------------------------------ */

/* Placeholders models write instead of null. */
static bool placeholder(const char *s)
{
    static const char *const words[] = {"null", "none", "n/a", "na", "-", "--", "unknown",
                                        "not visible", "not available", "nil", "?"};
    for (size_t i = 0; i < ARRAY_SIZE(words); i++)
        if (!strcasecmp(s, words[i]))
            return true;
    return false;
}

/*
 * The text of field k of o: a string (trimmed) or a number (formatted
 * into tmp). NULL when missing, null, empty or a placeholder. The result
 * points into o or tmp.
 */
static const char *field_text(const json_t *o, const char *k, char *tmp, size_t cap)
{
    const json_t *v = json_object_get(o, k);
    if (json_is_number(v)) {
        snprintf(tmp, cap, "%.10g", json_number_value(v));
        return tmp;
    }
    if (!json_is_string(v))
        return NULL;
    struct span s = extract__trim((struct span){json_string_value(v), json_string_length(v)});
    if (!s.len || s.len >= cap)
        return s.len ? json_string_value(v) : NULL;
    memcpy(tmp, s.p, s.len);
    tmp[s.len] = '\0';
    return placeholder(tmp) ? NULL : tmp;
}

json_t *extract__num_json(double v)
{
    if (fabs(v) < 1e15 && v == floor(v))
        return json_integer((json_int_t)v);
    return json_real(round(v * 10000) / 10000);
}

/* A name the store can key, trimmed of separators, or NULL. */
static json_t *name_json(const char *s)
{
    if (!s)
        return NULL;
    struct span t = extract__trim((struct span){s, strlen(s)});
    while (t.len && strchr(":-,;|", t.p[t.len - 1]))
        t.len--;
    t = extract__trim(t);
    char *c = xstrndup(t.p, t.len);
    json_t *j = extract_keyable(c) ? json_string(c) : NULL;
    free(c);
    return j;
}

static void set_or_null(json_t *o, const char *k, json_t *v)
{
    json_object_set_new(o, k, v ? v : json_null());
}

static const char *currency_code(const char *s)
{
    static const struct {
        const char *in, *code;
    } map[] = {
        {"\xe2\x82\xb9", "INR"}, {"rs", "INR"},  {"rs.", "INR"}, {"inr", "INR"},
        {"rupees", "INR"},       {"rupee", "INR"}, {"$", "USD"}, {"us$", "USD"},
        {"usd", "USD"},          {"\xe2\x82\xac", "EUR"}, {"eur", "EUR"}, {"euro", "EUR"},
        {"\xc2\xa3", "GBP"},     {"gbp", "GBP"},
    };
    if (!s)
        return NULL;
    for (size_t i = 0; i < ARRAY_SIZE(map); i++)
        if (!strcasecmp(s, map[i].in))
            return map[i].code;
    return NULL;
}

static void set_currency(json_t *r, const char *s)
{
    const char *c = currency_code(s);
    if (!c && s && strlen(s) == 3 && is_alpha(s[0]) && is_alpha(s[1]) && is_alpha(s[2])) {
        char up[4] = {(char)(s[0] & ~0x20), (char)(s[1] & ~0x20), (char)(s[2] & ~0x20), 0};
        json_object_set_new(r, "currency", json_string(up));
        return;
    }
    set_or_null(r, "currency", c ? json_string(c) : NULL);
}

static void set_date(json_t *r, const char *s, int ref)
{
    struct extract_date d;
    if (s && !extract_parse_date(s, ref, &d))
        json_object_set_new(r, "date", json_string(d.iso));
    else
        json_object_set_new(r, "date", json_null());
    if (s)
        json_object_set_new(r, "date_raw", json_string(s));
}

/* Money field k of o into r[k] (number) and r[k_raw]; returns whether it
 * parsed, and the currency it named in cur. */
static bool set_money(json_t *r, const json_t *o, const char *k, double *v, char cur[4])
{
    char tmp[128], rk[32];
    const char *s = field_text(o, k, tmp, sizeof(tmp));
    struct extract_money m;
    cur[0] = '\0';
    if (!s)
        return false;
    snprintf(rk, sizeof(rk), "%s_raw", k);
    json_object_set_new(r, rk, json_string(s));
    if (extract_parse_money(s, &m))
        return false;
    json_object_set_new(r, k, extract__num_json(m.amount));
    memcpy(cur, m.currency, 4);
    *v = m.amount;
    return true;
}

static json_t *receipt_model(const json_t *sub, const struct extract_opts *o)
{
    char tmp[256], cur[4];
    int ref = extract_year_of(o->now_ms, o->tz_min);
    json_t *r = json_object();
    set_or_null(r, "merchant", name_json(field_text(sub, "merchant", tmp, sizeof(tmp))));
    set_date(r, field_text(sub, "date", tmp, sizeof(tmp)), ref);
    set_currency(r, field_text(sub, "currency", tmp, sizeof(tmp)));
    double total;
    if (!set_money(r, sub, "total", &total, cur))
        json_object_set_new(r, "total", json_null());
    else if (cur[0] && json_is_null(json_object_get(r, "currency")))
        json_object_set_new(r, "currency", json_string(cur));

    json_t *items = json_array();
    const json_t *it;
    size_t i;
    json_array_foreach(json_object_get(sub, "items"), i, it) {
        if (!json_is_object(it))
            continue;
        json_t *name = name_json(field_text(it, "name", tmp, sizeof(tmp)));
        if (!name)
            continue;
        json_t *e = json_object();
        json_object_set_new(e, "name", name);
        double qty = NAN, price = NAN, amount = NAN, x;
        bool frac;
        const char *q = field_text(it, "qty", tmp, sizeof(tmp));
        if (q) {
            json_object_set_new(e, "qty_raw", json_string(q));
            if (extract__number_at(q, strlen(q), &x, &frac))
                qty = x;
        }
        if (set_money(e, it, "price", &x, cur))
            price = x;
        if (set_money(e, it, "amount", &x, cur))
            amount = x;
        if (isnan(price) && !isnan(amount))
            price = !isnan(qty) && qty > 0 ? amount / qty : amount;
        if (isnan(amount) && !isnan(price) && !isnan(qty))
            amount = price * qty;
        set_or_null(e, "qty", isnan(qty) ? NULL : extract__num_json(qty));
        set_or_null(e, "price", isnan(price) ? NULL : extract__num_json(round(price * 100) / 100));
        set_or_null(e, "amount", isnan(amount) ? NULL : extract__num_json(amount));
        json_array_append_new(items, e);
    }
    json_object_set_new(r, "items", items);
    return r;
}

static json_t *lab_model(const json_t *sub, const struct extract_opts *o)
{
    char tmp[256];
    int ref = extract_year_of(o->now_ms, o->tz_min);
    json_t *r = json_object(), *tests = json_array();
    set_or_null(r, "lab", name_json(field_text(sub, "lab", tmp, sizeof(tmp))));
    set_date(r, field_text(sub, "date", tmp, sizeof(tmp)), ref);
    const json_t *t;
    size_t i;
    json_array_foreach(json_object_get(sub, "tests"), i, t) {
        char a[128], b[128], c[64], d[128], e[16];
        if (!json_is_object(t))
            continue;
        extract__lab_test(tests, field_text(t, "test", a, sizeof(a)),
                          field_text(t, "value", b, sizeof(b)), field_text(t, "unit", c, sizeof(c)),
                          field_text(t, "reference_range", d, sizeof(d)),
                          field_text(t, "flag", e, sizeof(e)), NULL);
    }
    json_object_set_new(r, "tests", tests);
    return r;
}

static json_t *whiteboard_model(const json_t *sub, const struct extract_opts *o)
{
    json_t *r = json_object(), *items = json_array();
    const json_t *it;
    size_t i;
    json_array_foreach(json_object_get(sub, "action_items"), i, it) {
        char a[512], b[128], c[128];
        if (!json_is_object(it))
            continue;
        json_t *text = name_json(field_text(it, "text", a, sizeof(a)));
        if (!text)
            continue;
        json_t *e = json_object();
        json_object_set_new(e, "text", text);
        set_or_null(e, "owner", name_json(field_text(it, "owner", b, sizeof(b))));
        const char *due = field_text(it, "due", c, sizeof(c));
        if (due)
            extract__set_due(e, due, o);
        else
            json_object_set_new(e, "due", json_null());
        json_array_append_new(items, e);
    }
    json_object_set_new(r, "action_items", items);
    return r;
}

/* Appends the strings of array k of o to a new array, unique by key. */
static json_t *name_list(const json_t *o, const char *k)
{
    json_t *out = json_array();
    struct buf a = BUF_INIT, b = BUF_INIT;
    const json_t *v;
    size_t i;
    json_array_foreach(json_object_get(o, k), i, v) {
        json_t *n = json_is_string(v) && !placeholder(json_string_value(v))
                        ? name_json(json_string_value(v))
                        : NULL;
        if (!n)
            continue;
        buf_reset(&a);
        translit_key(json_string_value(n), strlen(json_string_value(n)), &a);
        bool dup = false;
        size_t j;
        json_t *w;
        json_array_foreach(out, j, w) {
            buf_reset(&b);
            translit_key(json_string_value(w), strlen(json_string_value(w)), &b);
            dup |= !strcmp(buf_cstr(&a), buf_cstr(&b));
        }
        if (dup)
            json_decref(n);
        else
            json_array_append_new(out, n);
    }
    buf_release(&a);
    buf_release(&b);
    return out;
}

static json_t *screenshot_model(const json_t *sub, const struct extract_opts *o)
{
    char tmp[128];
    json_t *r = json_object();
    set_or_null(r, "app", name_json(field_text(sub, "app", tmp, sizeof(tmp))));
    json_object_set_new(r, "people", name_list(sub, "people"));
    json_object_set_new(r, "topics", name_list(sub, "topics"));
    return r;
}

/* ---- Lab tests and due dates (shared with the OCR readers) ---------------- */

static bool is_bp(const char *name)
{
    size_t n = strlen(name);
    return extract_has_word(name, n, "bp") || extract_has_word(name, n, "b.p") ||
           extract__find_nocase(name, n, "blood pressure");
}

static bool is_normal_flag(const char *s)
{
    return !strcasecmp(s, "N") || !strcasecmp(s, "normal") || !strcasecmp(s, "within range") ||
           !strcasecmp(s, "ok");
}

/* Lowercase letters only: "Non-Reactive" -> "nonreactive". */
static void squash(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 1 < cap; s++)
        if (is_alpha(*s))
            out[o++] = lower(*s);
    out[o] = '\0';
}

/* Out of range for a qualitative result against a qualitative reference:
 * 1 yes, 0 no, -1 cannot tell. */
static int qualitative_oor(const char *value, const char *range)
{
    static const char *const neg[] = {"negative", "nonreactive", "nil", "absent", "notdetected"};
    char v[32], r[32];
    if (!range)
        return -1;
    squash(value, v, sizeof(v));
    squash(range, r, sizeof(r));
    if (!v[0] || !r[0])
        return -1;
    if (!strcmp(v, r))
        return 0;
    bool vn = false, rn = false;
    for (size_t i = 0; i < ARRAY_SIZE(neg); i++) {
        vn |= !strcmp(v, neg[i]);
        rn |= !strcmp(r, neg[i]);
    }
    if (rn && !vn)
        return 1;
    return vn && rn ? 0 : -1;
}

/* One entry of tests. */
static void add_test(json_t *tests, const char *name, double value, const char *value_text,
                     bool numeric, const char *unit, const char *range, char flag,
                     const char *flag_raw, const char *value_raw, const char *raw_line)
{
    json_t *e = json_object();
    json_object_set_new(e, "test", json_string(name));
    json_object_set_new(e, "value", numeric ? extract__num_json(value) : json_string(value_text));
    set_or_null(e, "unit", unit && *unit ? json_string(unit) : NULL);
    set_or_null(e, "reference_range", range && *range ? json_string(range) : NULL);

    struct extract_range r;
    bool has_range = range && *range && !extract_parse_range(range, &r);
    if (has_range && !r.has_low && !r.has_high)
        has_range = false;
    if (!has_range && numeric && range && *range) {
        /* A bare limit, as in a blood pressure reference "120/80". */
        struct extract_measure m;
        if (!extract_parse_measure(range, &m) && !m.has_value2) {
            memset(&r, 0, sizeof(r));
            r.has_high = r.high_inclusive = has_range = true;
            r.high = m.value;
        }
    }
    json_t *oor = NULL;
    if (flag == 'H' || flag == 'L' || flag == '*') {
        oor = json_true();
    } else if (flag == 'N') {
        oor = json_false();
    } else if (numeric && has_range) {
        oor = json_boolean(!extract_range_contains(&r, value));
    } else if (!numeric) {
        int q = qualitative_oor(value_text, range);
        if (q >= 0)
            oor = json_boolean(q);
    }
    set_or_null(e, "out_of_range", oor);
    set_or_null(e, "flag", flag_raw && *flag_raw ? json_string(flag_raw) : NULL);
    json_object_set_new(e, "value_raw", json_string(value_raw));
    if (has_range && r.has_low)
        json_object_set_new(e, "range_low", extract__num_json(r.low));
    if (has_range && r.has_high)
        json_object_set_new(e, "range_high", extract__num_json(r.high));
    if (raw_line)
        json_object_set_new(e, "raw", json_string(raw_line));
    json_array_append_new(tests, e);
}

size_t extract__lab_test(json_t *tests, const char *name, const char *value, const char *unit,
                         const char *range, const char *flag, const char *raw_line)
{
    json_t *nm = name_json(name);
    if (!nm || !value || !*value) {
        json_decref(nm);
        return 0;
    }
    char *tname = xstrdup(json_string_value(nm));
    json_decref(nm);
    struct extract_measure m;
    bool numeric = !extract_parse_measure(value, &m);
    char u[EXTRACT_UNIT_MAX] = "";
    if (unit && *unit)
        extract_unit_canonical(unit, u);
    else if (numeric)
        memcpy(u, m.unit, sizeof(u));

    char fl = 0, fbuf[2] = {0, 0};
    const char *flag_raw = NULL;
    if (flag && *flag) {
        flag_raw = flag;
        if (!extract__flag_word(flag, strlen(flag), &fl) && is_normal_flag(flag))
            fl = 'N';
    } else if (numeric && m.flag) {
        fl = fbuf[0] = m.flag;
        flag_raw = fbuf;
    }

    size_t added = 1;
    if (numeric && m.has_value2 && is_bp(tname)) {
        /* "120/80": systolic and diastolic; a range "<120/80" splits too,
         * the comparison before the first number going to both halves. */
        char r1[64] = "", r2[64] = "";
        if (range && *range) {
            const char *slash = strchr(range, '/');
            size_t pre = strcspn(range, "0123456789");
            if (slash && pre < (size_t)(slash - range)) {
                snprintf(r1, sizeof(r1), "%.*s", (int)(slash - range), range);
                snprintf(r2, sizeof(r2), "%.*s%s", (int)pre, range, slash + 1);
            } else {
                snprintf(r1, sizeof(r1), "%s", range);
            }
        }
        const char *bu = u[0] ? u : "mmHg";
        add_test(tests, "Systolic blood pressure", m.value, value, true, bu, r1, fl, flag_raw,
                 value, raw_line);
        add_test(tests, "Diastolic blood pressure", m.value2, value, true, bu, r2, fl, flag_raw,
                 value, raw_line);
        added = 2;
    } else {
        struct span v = extract__trim((struct span){value, strlen(value)});
        char *vt = xstrndup(v.p, v.len);
        add_test(tests, tname, m.value, vt, numeric, u, range, fl, flag_raw, value, raw_line);
        free(vt);
    }
    free(tname);
    return added;
}

void extract__set_due(json_t *item, const char *due, const struct extract_opts *o)
{
    struct span s = extract__trim((struct span){due, strlen(due)});
    struct extract_date d;
    if (!s.len) {
        json_object_set_new(item, "due", json_null());
        return;
    }
    char *t = xstrndup(s.p, s.len);
    if (!extract_resolve_day(t, o->now_ms, o->tz_min, true, &d))
        json_object_set_new(item, "due", json_string(d.iso));
    else
        json_object_set_new(item, "due", json_string(t));
    json_object_set_new(item, "due_raw", json_string(t));
    free(t);
}

/* ---- extract_typed -------------------------------------------------------- */

static bool value_empty(const json_t *v)
{
    return !v || json_is_null(v) || (json_is_array(v) && !json_array_size(v)) ||
           (json_is_string(v) && !json_string_length(v));
}

/* Whether a record holds nothing worth storing: only nulls, empty arrays,
 * raw texts and the default currency. */
static bool record_empty(const json_t *r)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)(uintptr_t)r, k, v) {
        if (!strcmp(k, "currency") || str_ends_with(k, "_raw"))
            continue;
        if (!value_empty(v))
            return false;
    }
    return true;
}

/* Fills the empty fields of m from ocr; returns whether any was taken. */
static bool merge(json_t *m, const json_t *ocr)
{
    const char *k;
    const json_t *v;
    bool took = false;
    char raw[64];
    json_object_foreach((json_t *)(uintptr_t)ocr, k, v) {
        if (str_ends_with(k, "_raw") || value_empty(v))
            continue;
        const json_t *mine = json_object_get(m, k);
        if (!value_empty(mine))
            continue;
        json_object_set(m, k, (json_t *)(uintptr_t)v);
        snprintf(raw, sizeof(raw), "%s_raw", k);
        const json_t *rv = json_object_get(ocr, raw);
        if (rv)
            json_object_set(m, raw, (json_t *)(uintptr_t)rv);
        if (strcmp(k, "currency"))
            took = true;
    }
    return took;
}

static void join_text(const json_t *answer, struct buf *out)
{
    const json_t *t;
    size_t i;
    json_array_foreach(json_object_get(answer, "text"), i, t) {
        const json_t *c = json_is_object(t) ? json_object_get(t, "content") : t;
        if (!json_is_string(c) || !json_string_length(c))
            continue;
        if (out->len)
            buf_addch(out, '\n');
        buf_add(out, json_string_value(c), json_string_length(c));
    }
}

int extract_typed(const json_t *answer, enum store_kind kind, const char *ocr_text,
                  const struct extract_opts *opts, json_t **out, struct buf *err)
{
    static const struct {
        enum store_kind kind;
        const char *name;
        json_t *(*model)(const json_t *, const struct extract_opts *);
        json_t *(*ocr)(const char *, const struct extract_opts *);
    } kinds[] = {
        {STORE_KIND_RECEIPT, "receipt", receipt_model, extract__ocr_receipt},
        {STORE_KIND_LAB_REPORT, "lab_report", lab_model, extract__ocr_lab},
        {STORE_KIND_WHITEBOARD, "whiteboard", whiteboard_model, extract__ocr_whiteboard},
        {STORE_KIND_SCREENSHOT, "screenshot", screenshot_model, extract__ocr_screenshot},
    };
    *out = NULL;
    if ((unsigned)kind >= STORE_KIND__COUNT) {
        if (err)
            buf_addf(err, "extract: no such kind %d", (int)kind);
        return -EINVAL;
    }
    size_t ki = ARRAY_SIZE(kinds);
    for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
        if (kinds[i].kind == kind)
            ki = i;
    if (ki == ARRAY_SIZE(kinds))
        return 0;

    struct extract_opts o = opts ? *opts : (struct extract_opts){0};
    if (!o.now_ms)
        o.now_ms = (int64_t)clock_wall_ms();
    if (!o.default_currency)
        o.default_currency = "INR";

    const json_t *sub = json_is_object(answer) ? json_object_get(answer, kinds[ki].name) : NULL;
    json_t *m = json_is_object(sub) ? kinds[ki].model(sub, &o) : NULL;
    struct buf joined = BUF_INIT;
    if (!ocr_text && json_is_object(answer)) {
        join_text(answer, &joined);
        ocr_text = buf_cstr(&joined);
    }
    json_t *oc = ocr_text && *ocr_text ? kinds[ki].ocr(ocr_text, &o) : NULL;
    buf_release(&joined);

    json_t *r;
    const char *source;
    if (m && !record_empty(m)) {
        r = m;
        source = oc && merge(r, oc) ? "model+ocr" : "model";
    } else {
        json_decref(m);
        r = json_incref(oc);
        source = "ocr";
    }
    json_decref(oc);
    if (!r || record_empty(r)) {
        json_decref(r);
        return 0;
    }
    /* "type" first, for people reading the stored JSON. */
    json_t *fin = json_object();
    json_object_set_new(fin, "type", json_string(kinds[ki].name));
    json_object_update(fin, r);
    json_object_set_new(fin, "source", json_string(source));
    json_decref(r);
    *out = fin;
    return 0;
}

char *extract_dumps(const json_t *record)
{
    if (!record)
        return NULL;
    char *s = json_dumps(record, JSON_COMPACT | JSON_REAL_PRECISION(12));
    if (!s)
        BUG("extract: cannot dump a record");
    return s;
}

/* ---- struct extract_graph ------------------------------------------------- */

void extract_graph_init(struct extract_graph *g)
{
    memset(g, 0, sizeof(*g));
}

void extract_graph_release(struct extract_graph *g)
{
    for (size_t i = 0; i < g->nstrs; i++)
        free(g->strs[i]);
    free(g->strs);
    free(g->mentions);
    free(g->facts);
    extract_graph_init(g);
}

const char *extract_graph_str(struct extract_graph *g, const char *s)
{
    if (!s)
        return NULL;
    ALLOC_GROW(g->strs, g->nstrs + 1, g->strs_cap);
    char *c = xstrdup(s);
    g->strs[g->nstrs++] = c;
    return c;
}

static bool valid_type(const char *t)
{
    if (!t || !*t)
        return false;
    for (; *t; t++)
        if (!((*t >= 'a' && *t <= 'z') || *t == '_'))
            return false;
    return true;
}

int extract_graph_mention(struct extract_graph *g, const char *type, const char *name,
                          const char *surface)
{
    if (!valid_type(type) || !name)
        return -EINVAL;
    struct span t = extract__trim((struct span){name, strlen(name)});
    char *n = xstrndup(t.p, t.len);
    struct buf k = BUF_INIT, k2 = BUF_INIT;
    int rc = 0;
    translit_key(n, strlen(n), &k);
    if (!k.len) {
        rc = -EINVAL;
        goto out;
    }
    for (size_t i = 0; i < g->nmentions && !rc; i++) {
        if (strcmp(g->mentions[i].type, type))
            continue;
        buf_reset(&k2);
        translit_key(g->mentions[i].name, strlen(g->mentions[i].name), &k2);
        if (!strcmp(buf_cstr(&k), buf_cstr(&k2)))
            rc = 1;
    }
    if (!rc) {
        ALLOC_GROW(g->mentions, g->nmentions + 1, g->mentions_cap);
        struct store_mention *m = &g->mentions[g->nmentions++];
        m->type = extract_graph_str(g, type);
        m->name = extract_graph_str(g, n);
        m->surface = surface && strcmp(surface, n) ? extract_graph_str(g, surface) : NULL;
    }
out:
    buf_release(&k);
    buf_release(&k2);
    free(n);
    return rc;
}

struct store_fact *extract_graph_fact(struct extract_graph *g)
{
    ALLOC_GROW(g->facts, g->nfacts + 1, g->facts_cap);
    struct store_fact *f = &g->facts[g->nfacts++];
    memset(f, 0, sizeof(*f));
    f->valid_from = f->valid_until = STORE_TIME_NONE;
    return f;
}

size_t extract_mentions(const json_t *record, struct extract_graph *g)
{
    const char *type = json_string_value(json_object_get(record, "type"));
    size_t n = 0;
    if (!type || strcmp(type, "screenshot"))
        return 0;
    const json_t *app = json_object_get(record, "app"), *v;
    if (json_is_string(app))
        n += extract_graph_mention(g, "app", json_string_value(app), NULL) == 0;
    static const struct {
        const char *field, *type;
    } lists[] = {{"people", "person"}, {"topics", "topic"}};
    for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
        size_t i;
        json_array_foreach(json_object_get(record, lists[l].field), i, v) {
            if (json_is_string(v))
                n += extract_graph_mention(g, lists[l].type, json_string_value(v), NULL) == 0;
        }
    }
    return n;
}
