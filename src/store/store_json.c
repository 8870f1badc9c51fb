/* SPDX-License-Identifier: MIT */
/*
 * store_json.c: the store's values as JSON, shared by the daemon's GET
 * /hermod/memories/search and episode answers (ingest/pipeline*.c), `hermod
 * search --json` (cli/store_cli.c) and the export (store_export.c).
 *
 * DESIGN: pure conversions of values the caller holds; no database access,
 * so any thread may call them. Each returns a new jansson reference.
 */
#include "store/store.h"

#include <jansson.h>

#include "lib/clock.h"

json_t *store_time_json(int64_t ms)
{
    char t[40];
    if (ms == STORE_TIME_NONE)
        return json_null();
    clock_fmt_rfc3339((uint64_t)ms, t, sizeof(t));
    return json_string(t);
}

json_t *store_hits_json(const char *text, const struct store_hits *h)
{
    json_t *o = json_object(), *res = json_array();
    json_object_set_new(o, "query", text ? json_string(text) : json_null());
    json_object_set_new(o, "words", json_string(h->words ? h->words : ""));
    json_object_set_new(o, "since", store_time_json(h->since));
    json_object_set_new(o, "until", store_time_json(h->until));
    for (size_t i = 0; i < h->n; i++) {
        const struct store_hit *x = &h->v[i];
        json_t *r = json_object(), *ents = json_array();
        json_object_set_new(r, "id", json_integer(x->id));
        json_object_set_new(r, "kind", json_string(store_kind_name(x->kind)));
        json_object_set_new(r, "source", x->source ? json_string(x->source) : json_null());
        json_object_set_new(r, "captured_at", store_time_json(x->captured_at));
        json_object_set_new(r, "captured_at_ms", json_integer(x->captured_at));
        json_object_set_new(r, "score", json_real(x->score));
        json_object_set_new(r, "relevance", json_real(x->relevance));
        json_object_set_new(r, "snippet", json_string(x->snippet));
        json_object_set_new(r, "description",
                            x->description ? json_string(x->description) : json_null());
        for (size_t k = 0; k < x->nentities; k++) {
            json_t *e = json_object();
            json_object_set_new(e, "name", json_string(x->entities[k].name));
            json_object_set_new(e, "type", json_string(x->entities[k].type));
            json_array_append_new(ents, e);
        }
        json_object_set_new(r, "entities", ents);
        json_array_append_new(res, r);
    }
    json_object_set_new(o, "results", res);
    return o;
}
