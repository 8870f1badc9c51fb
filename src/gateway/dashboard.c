/* SPDX-License-Identifier: MIT */
/*
 * dashboard.c: the web page, its events stream and the routing
 * playground. See dashboard.h.
 */
#include "gateway/dashboard.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/list.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "gateway/proxy.h"
#include "model/engine.h"
#include "net/http.h"
#include "route/router.h"
#include "sched/sched.h"

extern const char hermod_dashboard_html[];
extern const char hermod_dashboard_html_end[];

#define TICK_MS 1000
#define LOG_TAIL 2048

struct dashboard {
    uv_loop_t *loop;
    const struct config *cfg;
    struct sched *sched;
    const struct proxy *proxy;
    uv_timer_t *tick; /* freed in its close callback */
    struct list clients;
};

struct client {
    struct list link;
    struct dashboard *d; /* NULL once the dashboard is gone */
    struct http_req *req;
};

static json_t *bytes_or_null(uint64_t b)
{
    return b ? json_integer((json_int_t)b) : json_null();
}

static json_t *engine_state_json(struct sched_model *m, size_t i, uint64_t now)
{
    struct engine *e = sched_model_engine(m, i);
    struct sched_engine_info info;
    sched_engine_info(m, i, &info);
    enum engine_state st = engine_state(e);
    json_t *j = json_pack("{s:s,s:s,s:b,s:s,s:i,s:I,s:I}", "id", engine_id(e), "kind",
                          engine_kind_name(engine_config(e)->kind), "managed", engine_managed(e),
                          "state", engine_state_name(st), "in_flight", info.in_flight,
                          "requests", (json_int_t)info.requests, "failures",
                          (json_int_t)info.failures);
    json_object_set_new(j, "crashes", json_integer((json_int_t)info.crashes));
    json_object_set_new(j, "pid", engine_pid(e) ? json_integer(engine_pid(e)) : json_null());
    uint64_t since = engine_since(e);
    if (st == ENGINE_STARTING && since && now > since) {
        uint64_t el = now - since;
        json_object_set_new(j, "elapsed_ms", json_integer((json_int_t)el));
        /* Progress against the last start of this engine, when there was one. */
        uint64_t last = engine_start_ms(e);
        if (last)
            json_object_set_new(j, "progress", json_real(el >= last ? 0.99 : (double)el / last));
    }
    if (engine_last_error(e))
        json_object_set_new(j, "last_error", json_string(engine_last_error(e)));
    json_object_set_new(j, "memory",
                        json_pack("{s:o,s:o,s:o,s:I}", "estimate", bytes_or_null(info.estimate),
                                  "measured", bytes_or_null(info.measured), "declared",
                                  bytes_or_null(info.declared), "charge",
                                  (json_int_t)info.charge));
    if (engine_managed(e)) {
        struct buf log = BUF_INIT;
        engine_log_tail(e, &log, LOG_TAIL);
        json_object_set_new(j, "log", json_stringn(log.data ? log.data : "", log.len));
        buf_release(&log);
    }
    return j;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* The relay's recent requests, oldest first. */
static json_t *recent_json(const struct proxy *p)
{
    json_t *a = json_array();
    for (size_t i = 0; i < proxy_recent_count(p); i++) {
        const struct proxy_recent *e = proxy_recent_at(p, i);
        json_t *checks = json_array();
        for (size_t k = 0; k < e->nchecks; k++)
            json_array_append_new(checks,
                                  json_pack("{s:o,s:o,s:b,s:o}", "model",
                                            str_or_null(e->checks[k].model), "engine",
                                            str_or_null(e->checks[k].engine), "ok",
                                            e->checks[k].ok, "problems",
                                            str_or_null(e->checks[k].problems)));
        json_t *j = json_pack("{s:I,s:I,s:o,s:o,s:o,s:o,s:i,s:b,s:b,s:I,s:i,s:o}", "seq",
                              (json_int_t)e->seq, "time", (json_int_t)e->time_ms, "path",
                              str_or_null(e->path), "client_model", str_or_null(e->client_model),
                              "model", str_or_null(e->model), "engine", str_or_null(e->engine),
                              "status", e->status, "aborted", e->aborted, "stream", e->stream,
                              "ms", (json_int_t)e->ms, "attempts", (int)e->attempts, "checks",
                              checks);
        if (e->route) {
            json_object_set_new(j, "route", json_string(e->route));
            json_object_set_new(j, "rule", str_or_null(e->rule));
            json_object_set_new(j, "reason", str_or_null(e->reason));
        }
        if (e->passed_over)
            json_object_set_new(j, "passed_over", json_string(e->passed_over));
        if (e->refused)
            json_object_set_new(j, "refused", json_string(e->refused));
        if (e->tokens_in >= 0)
            json_object_set_new(j, "tokens_in", json_integer((json_int_t)e->tokens_in));
        if (e->tokens_out >= 0)
            json_object_set_new(j, "tokens_out", json_integer((json_int_t)e->tokens_out));
        json_array_append_new(a, j);
    }
    return a;
}

static json_t *state_json(struct dashboard *d)
{
    uint64_t now = clock_wall_ms();
    json_t *models = json_array();
    for (size_t i = 0; i < sched_model_count(d->sched); i++) {
        struct sched_model *m = sched_model_at(d->sched, i);
        struct buf why = BUF_INIT;
        const char *st = sched_model_state(m, &why);
        json_t *engines = json_array();
        bool failed = false;
        for (size_t k = 0; k < sched_model_engine_count(m); k++) {
            json_t *e = engine_state_json(m, k, now);
            failed |= json_object_get(e, "last_error") != NULL;
            json_array_append_new(engines, e);
        }
        /* What people call it: a stopped model is cold; unavailable after
         * an error is failed. */
        const char *shown = !strcmp(st, "stopped") ? "cold"
                            : !strcmp(st, "unavailable") && failed ? "failed"
                                                                   : st;
        json_t *mj = json_pack("{s:s,s:s,s:i,s:i,s:o}", "name", sched_model_config(m)->name,
                               "state", shown, "in_flight", sched_model_in_flight(m), "waiting",
                               sched_model_waiting(m), "engines", engines);
        if (why.len)
            json_object_set_new(mj, "reason", json_string(buf_cstr(&why)));
        buf_release(&why);
        json_array_append_new(models, mj);
    }
    struct sched_pool_info pools[16];
    size_t np = sched_pools(d->sched, pools, 16);
    json_t *jp = json_array();
    for (size_t p = 0; p < np; p++)
        json_array_append_new(jp, json_pack("{s:s,s:I,s:I,s:I,s:I,s:b}", "name", pools[p].name,
                                            "total", (json_int_t)pools[p].total, "reserved",
                                            (json_int_t)pools[p].reserved, "capacity",
                                            (json_int_t)pools[p].capacity, "used",
                                            (json_int_t)pools[p].used, "unified",
                                            pools[p].unified));
    json_t *jr = json_array();
    for (size_t r = 0; r < d->cfg->nreserved; r++)
        json_array_append_new(jr, json_pack("{s:s,s:I}", "name", d->cfg->reserved[r].name,
                                            "bytes", (json_int_t)d->cfg->reserved[r].bytes));
    json_t *routes = json_array();
    for (size_t r = 0; r < d->cfg->nroutes; r++)
        json_array_append_new(routes, json_string(d->cfg->routes[r].name));
    return json_pack("{s:I,s:o,s:o,s:o,s:o,s:o}", "time", (json_int_t)now, "models", models,
                     "pools", jp, "reserved", jr, "routes", routes, "recent",
                     recent_json(d->proxy));
}

/* The state as one SSE event, into b. */
static void state_event(struct dashboard *d, struct buf *b)
{
    json_t *st = state_json(d);
    char *s = json_dumps(st, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(st);
    buf_addf(b, "event: state\ndata: %s\n\n", s);
    free(s);
}

static void tick_cb(uv_timer_t *t)
{
    struct dashboard *d = t->data;
    if (list_empty(&d->clients)) {
        uv_timer_stop(t);
        return;
    }
    struct buf b = BUF_INIT;
    state_event(d, &b);
    struct list *pos;
    list_for_each(pos, &d->clients)
    {
        struct client *c = container_of(pos, struct client, link);
        /* A slow reader gets the next state, not a backlog. */
        if (http_stream_pending(c->req) <= HTTP_STREAM_HIGH_WATER)
            http_stream_write(c->req, b.data, b.len);
    }
    buf_release(&b);
}

static void client_close_cb(struct http_req *req, bool aborted, void *owner)
{
    struct client *c = owner;
    if (c->d)
        list_del(&c->link);
    free(c);
}

static void get_events(struct dashboard *d, struct http_req *req)
{
    struct client *c = xcalloc(1, sizeof(*c));
    c->d = d;
    c->req = req;
    list_add_tail(&d->clients, &c->link);
    http_req_set_owner(req, c, client_close_cb, NULL);
    http_req_add_header(req, "Cache-Control", "no-store");
    http_stream_begin(req, 200, "text/event-stream");
    struct buf b = BUF_INIT;
    state_event(d, &b);
    http_stream_write(req, b.data, b.len);
    buf_release(&b);
    if (!uv_is_active((uv_handle_t *)d->tick))
        uv_timer_start(d->tick, tick_cb, TICK_MS, TICK_MS);
}

static const char *model_state(const struct config_model *mc, void *arg)
{
    struct dashboard *d = arg;
    struct sched_model *m = sched_find_model(d->sched, mc->name);
    return m ? sched_model_state(m, NULL) : "unavailable";
}

static void get_route(struct dashboard *d, struct http_req *req)
{
    const char *text = http_req_query(req, "text");
    const char *name = http_req_query(req, "route");
    if (!text || !*text) {
        http_respond_error(req, 400, "invalid_request_error", "missing_text",
                           "say what to route: /hermod/route?text=...");
        return;
    }
    const struct config_route *rt =
        name ? config_find_route(d->cfg, name) : d->cfg->nroutes ? &d->cfg->routes[0] : NULL;
    if (name && !rt) {
        http_respond_error(req, 404, "invalid_request_error", "route_not_found",
                           "no route '%s'; GET /v1/models lists the routes", name);
        return;
    }
    struct route_request rq;
    router_features_text(text, strlen(text), &rq);
    json_t *out = json_pack("{s:s,s:b,s:b,s:I}", "language", langid_label_name(rq.lang.label),
                            "needs_kannada", rq.lang.needs_kannada, "uncertain",
                            rq.lang.uncertain, "est_tokens", (json_int_t)rq.est_tokens);
    if (!rt) {
        json_object_set_new(out, "why", json_string("the config defines no routes: each "
                                                    "request names its model"));
        router_request_release(&rq);
        http_respond_json(req, 200, out);
        json_decref(out);
        return;
    }
    struct route_decision dec;
    int rc = router_decide(d->cfg, rt, &rq, model_state, d, &dec);
    json_object_set_new(out, "route", json_string(rt->name));
    if (!rc) {
        json_t *cands = json_array();
        for (size_t i = 0; i < dec.ncands; i++)
            json_array_append_new(cands, json_string(dec.cands[i]->name));
        json_object_set_new(out, "rule", json_string(dec.rule->name));
        json_object_set_new(out, "model", json_string(dec.cands[0]->name));
        json_object_set_new(out, "candidates", cands);
        json_object_set_new(out, "escalation_from", json_integer((json_int_t)dec.nprimary));
    }
    json_object_set_new(out, "why", json_string(buf_cstr(&dec.why)));
    json_object_set_new(out, "skipped", json_string(buf_cstr(&dec.skipped)));
    route_decision_release(&dec);
    router_request_release(&rq);
    http_respond_json(req, rc ? 422 : 200, out);
    json_decref(out);
}

/* The page, with the current state in place of its marker (JSON with "/"
 * escaped, so no "</script>" can end the script early). */
static void get_page(struct dashboard *d, struct http_req *req)
{
    static const char marker[] = "/*HERMOD_STATE*/null";
    const char *html = hermod_dashboard_html;
    /* Start and end are one object, laid out by dashboard_html.S. */
    // cppcheck-suppress comparePointers
    size_t len = (size_t)(hermod_dashboard_html_end - hermod_dashboard_html);
    const char *at = memmem(html, len, marker, sizeof(marker) - 1);
    struct buf b = BUF_INIT;
    if (at) {
        json_t *st = state_json(d);
        char *s = json_dumps(st, JSON_COMPACT | JSON_ESCAPE_SLASH | JSON_REAL_PRECISION(10));
        json_decref(st);
        buf_add(&b, html, (size_t)(at - html));
        buf_addstr(&b, s);
        free(s);
        at += sizeof(marker) - 1;
        buf_add(&b, at, len - (size_t)(at - html));
    } else {
        buf_add(&b, html, len);
    }
    http_req_add_header(req, "Cache-Control", "no-cache");
    http_req_add_header(req, "Content-Security-Policy",
                        "default-src 'self'; script-src 'unsafe-inline'; "
                        "style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:");
    size_t n;
    char *body = buf_detach(&b, &n);
    http_respond(req, 200, "text/html; charset=utf-8", body, n);
}

bool dashboard_handle(struct dashboard *d, struct http_req *req, const char *method,
                      const char *path)
{
    bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    if (!get)
        return false;
    if (!strcmp(path, "/") || !strcmp(path, "/index.html")) {
        get_page(d, req);
        return true;
    }
    if (!strcmp(path, "/hermod/events")) {
        get_events(d, req);
        return true;
    }
    if (!strcmp(path, "/hermod/route")) {
        get_route(d, req);
        return true;
    }
    return false;
}

struct dashboard *dashboard_new(uv_loop_t *loop, const struct config *cfg, struct sched *sched,
                                const struct proxy *proxy)
{
    struct dashboard *d = xcalloc(1, sizeof(*d));
    d->proxy = proxy;
    d->loop = loop;
    d->cfg = cfg;
    d->sched = sched;
    list_init(&d->clients);
    d->tick = xcalloc(1, sizeof(*d->tick));
    uv_timer_init(loop, d->tick);
    d->tick->data = d;
    return d;
}

void dashboard_set_config(struct dashboard *d, const struct config *cfg)
{
    d->cfg = cfg;
}

static void tick_closed_cb(uv_handle_t *h)
{
    free(h);
}

void dashboard_free(struct dashboard *d)
{
    if (!d)
        return;
    while (!list_empty(&d->clients)) {
        struct client *c = container_of(d->clients.next, struct client, link);
        list_del(&c->link);
        c->d = NULL;
    }
    uv_close((uv_handle_t *)d->tick, tick_closed_cb);
    free(d);
}
