/* SPDX-License-Identifier: MIT */
/*
 * store_typed.c: facts derived from the typed results of receipts, lab
 * reports and whiteboards.
 *
 * The typed JSON stays with the episode verbatim (episodes.extract_json):
 * it is the record, line items and all. What can be asked across episodes
 * is also written as entities and facts, with the document's date as
 * valid_from:
 *
 *   receipt     merchant --receipt_total--> "450.00" INR (num 450)
 *               merchant --sold--> item {price, qty, currency}
 *   lab_report  health_value "TSH" --measured--> "6.5" mIU/L (num 6.5)
 *               {reference_range, out_of_range, lab}
 *   whiteboard  task "Send the deck" --assigned_to--> person "Rajesh"
 *               task --due--> "2026-11-28"
 *
 * The shapes read are in docs/internals/store.md, "Typed results". Unknown
 * fields are ignored; a missing merchant, test name or item text skips that
 * fact and never fails the episode, because a half-read receipt is still
 * worth keeping.
 *
 * DESIGN
 * Runs inside store_episode_complete()'s transaction on its connection, so
 * the derived facts commit or roll back with the episode. Dates are read in
 * the store's zone (store_options.tz_min).
 */
#include "store/store.h"

#include <errno.h>

#include <jansson.h>

#include "lib/xalloc.h"
#include "store/store_int.h"
#include "text/timeparse.h"

static const char *str_field(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) && *json_string_value(v) ? json_string_value(v) : NULL;
}

/* A number given as a JSON number or a numeric string ("6.5"). */
static bool num_field(json_t *o, const char *k, double *out)
{
    json_t *v = json_object_get(o, k);
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return true;
    }
    if (json_is_string(v)) {
        char *end;
        const char *s = json_string_value(v);
        *out = strtod(s, &end);
        return end != s;
    }
    return false;
}

/* The document date, local midnight in the store's zone; else the capture
 * time. */
static int64_t date_field(struct store *st, json_t *o, const char *k, int64_t captured_at)
{
    const char *d = str_field(o, k);
    int64_t t;
    if (d && timeparse_point(d, captured_at, st->opts.tz_min, false, &t, NULL) == 0)
        return t;
    return captured_at;
}

/* Formats v as the value text: integers without decimals, money with two. */
static void fmt_num(char *out, size_t n, double v, bool money)
{
    if (money)
        snprintf(out, n, "%.2f", v);
    else
        snprintf(out, n, "%.10g", v);
}

/* Adds fact f with the attributes in a (an object, taken over; none when
 * it is empty) as its attrs_json. */
static int fact_add_attrs(struct store *st, struct conn *c, int64_t ep, int64_t captured,
                          struct store_fact *f, json_t *a, struct buf *err)
{
    char *attrs = json_object_size(a) ? json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    f->attrs_json = attrs;
    int rc = store__fact_add(st, c, ep, captured, f, err);
    free(attrs);
    json_decref(a);
    return rc;
}

static int receipt(struct store *st, struct conn *c, int64_t ep, int64_t captured, json_t *j,
                   struct buf *err)
{
    const char *merchant = str_field(j, "merchant");
    const char *currency = str_field(j, "currency");
    int64_t date = date_field(st, j, "date", captured);
    double total;
    int rc = 0;
    if (!merchant)
        return 0;
    if (num_field(j, "total", &total)) {
        char val[64], sentence[256];
        fmt_num(val, sizeof(val), total, true);
        snprintf(sentence, sizeof(sentence), "Paid %s%s%s at %s", val, currency ? " " : "",
                 currency ? currency : "", merchant);
        struct store_fact f = {
            .subject_type = "merchant", .subject = merchant, .predicate = "receipt_total",
            .value = val, .unit = currency, .has_num = true, .num = total, .fact = sentence,
            .valid_from = date, .valid_until = STORE_TIME_NONE,
        };
        rc = store__fact_add(st, c, ep, captured, &f, err);
    } else {
        struct store_mention m = {.type = "merchant", .name = merchant};
        rc = store__mention_add(st, c, ep, captured, &m, NULL, err);
    }
    json_t *items = json_object_get(j, "items");
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        const char *name = str_field(it, "name");
        double v;
        if (rc || !name)
            continue;
        json_t *a = json_object();
        if (num_field(it, "price", &v))
            json_object_set_new(a, "price", json_real(v));
        if (num_field(it, "qty", &v))
            json_object_set_new(a, "qty", json_real(v));
        if (currency)
            json_object_set_new(a, "currency", json_string(currency));
        char sentence[256];
        snprintf(sentence, sizeof(sentence), "%s sold %s", merchant, name);
        struct store_fact f = {
            .subject_type = "merchant", .subject = merchant, .predicate = "sold",
            .object_type = "item", .object = name, .fact = sentence,
            .valid_from = date, .valid_until = STORE_TIME_NONE,
        };
        rc = fact_add_attrs(st, c, ep, captured, &f, a, err);
    }
    return rc;
}

static int lab_report(struct store *st, struct conn *c, int64_t ep, int64_t captured, json_t *j,
                      struct buf *err)
{
    const char *lab = str_field(j, "lab");
    int64_t date = date_field(st, j, "date", captured);
    int rc = 0;
    if (lab) {
        struct store_mention m = {.type = "organisation", .name = lab};
        rc = store__mention_add(st, c, ep, captured, &m, NULL, err);
    }
    json_t *tests = json_object_get(j, "tests"), *t;
    size_t i;
    json_array_foreach(tests, i, t) {
        const char *name = str_field(t, "test");
        const char *unit = str_field(t, "unit");
        const char *range = str_field(t, "reference_range");
        json_t *oor = json_object_get(t, "out_of_range");
        double v;
        char val[64], sentence[256];
        if (rc || !name)
            continue;
        bool has_num = num_field(t, "value", &v);
        if (has_num)
            fmt_num(val, sizeof(val), v, false);
        else if (str_field(t, "value"))
            snprintf(val, sizeof(val), "%s", str_field(t, "value"));
        else
            continue;
        json_t *a = json_object();
        if (range)
            json_object_set_new(a, "reference_range", json_string(range));
        if (json_is_boolean(oor))
            json_object_set(a, "out_of_range", oor);
        if (lab)
            json_object_set_new(a, "lab", json_string(lab));
        snprintf(sentence, sizeof(sentence), "%s %s%s%s%s%s%s", name, val, unit ? " " : "",
                 unit ? unit : "", range ? " (reference " : "", range ? range : "",
                 range ? ")" : "");
        struct store_fact f = {
            .subject_type = "health_value", .subject = name, .predicate = "measured",
            .value = val, .unit = unit, .has_num = has_num, .num = has_num ? v : 0,
            .fact = sentence, .valid_from = date, .valid_until = STORE_TIME_NONE,
        };
        rc = fact_add_attrs(st, c, ep, captured, &f, a, err);
    }
    return rc;
}

static int whiteboard(struct store *st, struct conn *c, int64_t ep, int64_t captured, json_t *j,
                      struct buf *err)
{
    json_t *items = json_object_get(j, "action_items"), *it;
    size_t i;
    int rc = 0;
    json_array_foreach(items, i, it) {
        const char *text = str_field(it, "text");
        const char *owner = str_field(it, "owner");
        const char *due = str_field(it, "due");
        if (rc || !text)
            continue;
        struct store_mention m = {.type = "task", .name = text};
        rc = store__mention_add(st, c, ep, captured, &m, NULL, err);
        if (!rc && owner) {
            struct store_fact f = {
                .subject_type = "task", .subject = text, .predicate = "assigned_to",
                .object_type = "person", .object = owner, .fact = text,
                .valid_from = captured, .valid_until = STORE_TIME_NONE,
            };
            rc = store__fact_add(st, c, ep, captured, &f, err);
        }
        if (!rc && due) {
            struct store_fact f = {
                .subject_type = "task", .subject = text, .predicate = "due", .value = due,
                .fact = text, .valid_from = captured, .valid_until = STORE_TIME_NONE,
            };
            rc = store__fact_add(st, c, ep, captured, &f, err);
        }
    }
    return rc;
}

int store__typed_add(struct store *st, struct conn *c, int64_t episode_id, enum store_kind k,
                     int64_t captured_at, const char *extract_json, struct buf *err)
{
    json_error_t jerr;
    json_t *j = json_loads(extract_json, 0, &jerr);
    int rc = 0;
    if (!json_is_object(j)) {
        if (err)
            buf_addf(err, "store: extract_json: %s", j ? "not an object" : jerr.text);
        json_decref(j);
        return -EINVAL;
    }
    /* The JSON's own "type" wins: a photo can be of a receipt. */
    const char *type = str_field(j, "type");
    enum store_kind tk = k;
    if (type)
        store_kind_parse(type, &tk);
    if (tk == STORE_KIND_RECEIPT)
        rc = receipt(st, c, episode_id, captured_at, j, err);
    else if (tk == STORE_KIND_LAB_REPORT)
        rc = lab_report(st, c, episode_id, captured_at, j, err);
    else if (tk == STORE_KIND_WHITEBOARD)
        rc = whiteboard(st, c, episode_id, captured_at, j, err);
    json_decref(j);
    return rc;
}
