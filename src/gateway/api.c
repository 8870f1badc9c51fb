/* SPDX-License-Identifier: MIT */
/*
 * api.c: request dispatch and the endpoints that hermod answers itself.
 * See api.h.
 *
 * Everything answered here is built from public getters of the scheduler,
 * the engines and the relay; nothing reads another module's internals.
 */
#include "gateway/api.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "gateway/auth.h"
#include "gateway/ollama.h"
#include "gateway/dashboard.h"
#include "gateway/proxy.h"
#include "ingest/pipeline.h"
#include "lib/clock.h"
#include "lib/prom.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "model/engine.h"
#include "net/http.h"
#include "net/upstream.h"
#include "sched/sched.h"

struct api {
    struct pipeline *pipeline;
    uv_loop_t *loop;
    const struct config *cfg;
    struct sched *sched;
    struct proxy *proxy;
    struct upstream *up;
    struct auth *auth;
    struct ollama *ollama;        /* Ollama's API on the same port */
    uint64_t started_wall_ms;
    uint64_t requests;
    struct dashboard *dash; /* GET /, /hermod/events, /hermod/route */
};

/* Answers with j, which it takes. */
static void respond_json(struct http_req *req, int status, json_t *j)
{
    http_respond_json(req, status, j);
    json_decref(j);
}

static json_t *time_json(uint64_t wall_ms)
{
    char ts[40];
    if (!wall_ms)
        return json_null();
    clock_fmt_rfc3339(wall_ms, ts, sizeof(ts));
    return json_string(ts);
}

/* ---- /v1/models ---------------------------------------------------------------- */

static json_t *model_entry(struct api *a, struct sched_model *m, const char *id,
                           const char *alias_of)
{
    const struct config_model *mc = sched_model_config(m);
    struct buf why = BUF_INIT;
    const char *state = sched_model_state(m, &why);
    json_t *h = json_pack("{s:s}", "state", state);
    if (alias_of)
        json_object_set_new(h, "alias_of", json_string(alias_of));
    else if (mc->aliases[0]) {
        json_t *al = json_array();
        for (size_t i = 0; mc->aliases[i]; i++)
            json_array_append_new(al, json_string(mc->aliases[i]));
        json_object_set_new(h, "aliases", al);
    }
    if (why.len)
        json_object_set_new(h, "reason", json_string(buf_cstr(&why)));
    json_t *engines = json_array();
    for (size_t i = 0; i < sched_model_engine_count(m); i++) {
        struct engine *e = sched_model_engine(m, i);
        json_array_append_new(engines,
                              json_pack("{s:s,s:s,s:s}", "id", engine_id(e), "kind",
                                        engine_kind_name(engine_config(e)->kind), "state",
                                        engine_state_name(engine_state(e))));
    }
    json_object_set_new(h, "engines", engines);
    buf_release(&why);
    return json_pack("{s:s,s:s,s:I,s:s,s:o}", "id", id, "object", "model", "created",
                     (json_int_t)(a->started_wall_ms / 1000), "owned_by", "hermod", "hermod", h);
}

static void get_models(struct api *a, struct http_req *req, const char *one)
{
    json_t *data = json_array();
    for (size_t i = 0; i < sched_model_count(a->sched); i++) {
        struct sched_model *m = sched_model_at(a->sched, i);
        const struct config_model *mc = sched_model_config(m);
        if (!auth_allows(a->cfg, req, mc->name))
            continue; /* outside the key's models: as if it did not exist */
        if (one) {
            if (!strcmp(one, mc->name)) {
                json_decref(data);
                respond_json(req, 200, model_entry(a, m, mc->name, NULL));
                return;
            }
            for (size_t k = 0; mc->aliases[k]; k++)
                if (!strcmp(one, mc->aliases[k])) {
                    json_decref(data);
                    respond_json(req, 200, model_entry(a, m, one, mc->name));
                    return;
                }
            continue;
        }
        json_array_append_new(data, model_entry(a, m, mc->name, NULL));
        for (size_t k = 0; mc->aliases[k]; k++)
            json_array_append_new(data, model_entry(a, m, mc->aliases[k], mc->name));
    }
    /* Routes are models to clients: "auto" picks one by language, image, task. */
    for (size_t i = 0; i < a->cfg->nroutes; i++) {
        const struct config_route *rt = &a->cfg->routes[i];
        if (!auth_allows(a->cfg, req, rt->name))
            continue;
        for (ssize_t k = -1; k < 0 || rt->aliases[k]; k++) {
            const char *id = k < 0 ? rt->name : rt->aliases[k];
            if (one && strcmp(one, id))
                continue;
            json_t *rules = json_array();
            for (size_t r = 0; r < rt->nrules; r++)
                json_array_append_new(rules, json_string(rt->rules[r].name));
            json_t *h = json_pack("{s:s,s:b,s:o}", "state", "route", "route", 1, "rules", rules);
            if (k >= 0)
                json_object_set_new(h, "alias_of", json_string(rt->name));
            json_t *e = json_pack("{s:s,s:s,s:I,s:s,s:o}", "id", id, "object", "model", "created",
                                  (json_int_t)(a->started_wall_ms / 1000), "owned_by", "hermod",
                                  "hermod", h);
            if (one) {
                json_decref(data);
                respond_json(req, 200, e);
                return;
            }
            json_array_append_new(data, e);
        }
    }
    if (one) {
        json_decref(data);
        http_respond_error(req, 404, "invalid_request_error", "model_not_found",
                           "the model '%s' does not exist", one);
        return;
    }
    respond_json(req, 200, json_pack("{s:s,s:o}", "object", "list", "data", data));
}

/* ---- /hermod/ ------------------------------------------------------------------- */

static json_t *bytes_or_null(uint64_t b)
{
    return b ? json_integer((json_int_t)b) : json_null();
}

static json_t *memory_json(const struct sched_engine_info *info)
{
    return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:I,s:b,s:b}", "declared",
                     bytes_or_null(info->declared), "estimate", bytes_or_null(info->estimate),
                     "reported", bytes_or_null(info->reported), "measured",
                     bytes_or_null(info->measured), "measured_peak",
                     bytes_or_null(info->measured_peak), "steady", bytes_or_null(info->steady),
                     "charge", (json_int_t)info->charge, "queued_for_load",
                     info->queued_for_load, "draining", info->draining);
}

static json_t *engine_json(struct sched_model *m, size_t i)
{
    struct engine *e = sched_model_engine(m, i);
    struct sched_engine_info info;
    sched_engine_info(m, i, &info);
    json_t *j = json_pack("{s:s,s:s,s:s,s:b,s:s,s:o,s:i}", "id", engine_id(e), "model",
                          sched_model_config(m)->name, "kind",
                          engine_kind_name(engine_config(e)->kind), "managed",
                          engine_managed(e), "state", engine_state_name(engine_state(e)),
                          "since", time_json(engine_since(e)), "in_flight", info.in_flight);
    json_object_set_new(j, "pid", engine_pid(e) ? json_integer(engine_pid(e)) : json_null());
    json_object_set_new(j, "port", engine_port(e) ? json_integer(engine_port(e)) : json_null());
    json_object_set_new(j, "url", json_string(engine_base_url(e)));
    json_object_set_new(j, "upstream_model", json_string(engine_upstream_model(e)));
    json_object_set_new(j, "requests", json_integer((json_int_t)info.requests));
    json_object_set_new(j, "failures", json_integer((json_int_t)info.failures));
    json_object_set_new(j, "crashes", json_integer((json_int_t)info.crashes));
    json_object_set_new(j, "last_used", time_json(info.last_used_wall_ms));
    if (engine_start_ms(e))
        json_object_set_new(j, "start_ms", json_integer((json_int_t)engine_start_ms(e)));
    if (info.cooldown_left_ms) {
        json_object_set_new(j, "cooldown_s", json_real(info.cooldown_left_ms / 1000.0));
        json_object_set_new(j, "cooldown_reason", json_string(info.cooldown_reason));
    }
    if (engine_last_error(e))
        json_object_set_new(j, "last_error", json_string(engine_last_error(e)));
    json_object_set_new(j, "memory", memory_json(&info));
    return j;
}

static void get_running(struct api *a, struct http_req *req)
{
    const char *all = http_req_query(req, "all");
    bool every = all && strcmp(all, "0") && strcmp(all, "false");
    json_t *engines = json_array(), *models = json_array();
    for (size_t i = 0; i < sched_model_count(a->sched); i++) {
        struct sched_model *m = sched_model_at(a->sched, i);
        for (size_t k = 0; k < sched_model_engine_count(m); k++) {
            enum engine_state st = engine_state(sched_model_engine(m, k));
            if (every || st == ENGINE_STARTING || st == ENGINE_READY || st == ENGINE_STOPPING)
                json_array_append_new(engines, engine_json(m, k));
        }
        json_array_append_new(models,
                              json_pack("{s:s,s:s,s:i,s:i}", "name",
                                        sched_model_config(m)->name, "state",
                                        sched_model_state(m, NULL), "in_flight",
                                        sched_model_in_flight(m), "waiting",
                                        sched_model_waiting(m)));
    }
    respond_json(req, 200, json_pack("{s:o,s:o}", "engines", engines, "models", models));
}

static void get_budget(struct api *a, struct http_req *req)
{
    struct sched_pool_info pools[16];
    size_t np = sched_pools(a->sched, pools, 16);
    json_t *jp = json_array(), *je = json_array(), *jr = json_array();
    for (size_t p = 0; p < np; p++)
        json_array_append_new(
            jp, json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:b,s:f}", "name", pools[p].name, "total",
                          (json_int_t)pools[p].total, "reserved", (json_int_t)pools[p].reserved,
                          "capacity", (json_int_t)pools[p].capacity, "used",
                          (json_int_t)pools[p].used, "free",
                          (json_int_t)(pools[p].capacity > pools[p].used
                                           ? pools[p].capacity - pools[p].used
                                           : 0),
                          "unified", pools[p].unified, "load_factor", pools[p].load_factor));
    for (size_t i = 0; i < sched_model_count(a->sched); i++) {
        struct sched_model *m = sched_model_at(a->sched, i);
        for (size_t k = 0; k < sched_model_engine_count(m); k++) {
            struct engine *e = sched_model_engine(m, k);
            struct sched_engine_info info;
            sched_engine_info(m, k, &info);
            json_t *j = memory_json(&info);
            json_object_set_new(j, "id", json_string(engine_id(e)));
            json_object_set_new(j, "state", json_string(engine_state_name(engine_state(e))));
            json_object_set_new(j, "pool", info.pool >= 0 && (size_t)info.pool < np
                                               ? json_string(pools[info.pool].name)
                                               : json_null());
            json_object_set_new(j, "in_flight", json_integer(info.in_flight));
            json_object_set_new(j, "estimate_from", info.estimate_from
                                                        ? json_string(info.estimate_from)
                                                        : json_null());
            json_array_append_new(je, j);
        }
    }
    for (size_t r = 0; r < a->cfg->nreserved; r++)
        json_array_append_new(jr, json_pack("{s:s,s:I}", "name", a->cfg->reserved[r].name,
                                            "bytes", (json_int_t)a->cfg->reserved[r].bytes));
    respond_json(req, 200, json_pack("{s:o,s:o,s:o}", "pools", jp, "reserved", jr, "engines", je));
}

static void post_unload(struct api *a, struct http_req *req)
{
    const char *name = http_req_query(req, "model");
    json_t *body = NULL;
    size_t len;
    const char *text = http_req_body(req, &len);
    if (len) {
        json_error_t jerr;
        body = json_loadb(text, len, 0, &jerr);
        if (!body || !json_is_object(body)) {
            json_decref(body);
            http_respond_error(req, 400, "invalid_request_error", "invalid_json",
                               "the body must be a JSON object like {\"model\": \"name\"} or "
                               "{\"model\": \"all\"}");
            return;
        }
        if (!name)
            name = json_string_value(json_object_get(body, "model"));
    }
    if (!name) {
        json_decref(body);
        http_respond_error(req, 400, "invalid_request_error", "missing_model",
                           "say which model to unload: {\"model\": \"name\"} or "
                           "{\"model\": \"all\"}");
        return;
    }
    struct sched_model *m = NULL;
    if (strcmp(name, "all") && strcmp(name, "*")) {
        m = sched_find_model(a->sched, name);
        if (!m) {
            http_respond_error(req, 404, "invalid_request_error", "model_not_found",
                               "the model '%s' does not exist", name);
            json_decref(body);
            return;
        }
    }
    unsigned n = sched_unload(a->sched, m);
    log_info("unload model=%s engines=%u", m ? sched_model_config(m)->name : "all", n);
    respond_json(req, 200, json_pack("{s:s,s:i}", "model",
                                     m ? sched_model_config(m)->name : "all", "stopping", n));
    json_decref(body);
}

static void get_logs(struct api *a, struct http_req *req)
{
    const char *id = http_req_query(req, "engine");
    const char *model = http_req_query(req, "model");
    const char *bytes = http_req_query(req, "bytes");
    uint64_t max = 16384;
    if (bytes && str_parse_uint(bytes, 1, 1u << 30, &max)) {
        http_respond_error(req, 400, "invalid_request_error", "invalid_bytes",
                           "'bytes' must be a positive number");
        return;
    }
    struct engine *found = NULL;
    struct buf ids = BUF_INIT;
    for (size_t i = 0; i < sched_model_count(a->sched) && !found; i++) {
        struct sched_model *m = sched_model_at(a->sched, i);
        for (size_t k = 0; k < sched_model_engine_count(m) && !found; k++) {
            struct engine *e = sched_model_engine(m, k);
            if (engine_managed(e))
                buf_addf(&ids, "%s%s", ids.len ? ", " : "", engine_id(e));
            if ((id && !strcmp(id, engine_id(e))) ||
                (!id && model && engine_managed(e) &&
                 sched_find_model(a->sched, model) == m))
                found = e;
        }
    }
    if (!found) {
        if (!id && !model)
            http_respond_error(req, 400, "invalid_request_error", "missing_engine",
                               "say which engine: /hermod/logs?engine=ID (managed engines: %s)",
                               buf_cstr(&ids));
        else
            http_respond_error(req, 404, "invalid_request_error", "engine_not_found",
                               "no engine '%s'; managed engines: %s", id ? id : model,
                               buf_cstr(&ids));
        buf_release(&ids);
        return;
    }
    buf_release(&ids);
    struct buf out = BUF_INIT;
    engine_log_tail(found, &out, max);
    size_t len;
    char *body = buf_detach(&out, &len);
    http_req_add_header(req, "X-Hermod-Engine", engine_id(found));
    http_respond(req, 200, "text/plain; charset=utf-8", body, len);
}

static void get_health(struct api *a, struct http_req *req)
{
    unsigned ready = 0;
    for (size_t i = 0; i < sched_model_count(a->sched); i++)
        if (!strcmp(sched_model_state(sched_model_at(a->sched, i), NULL), "ready"))
            ready++;
    respond_json(req, 200,
                 json_pack("{s:s,s:i,s:i,s:I}", "status", "ok", "models",
                           (int)sched_model_count(a->sched), "models_ready", ready,
                           "uptime_s",
                           (json_int_t)((clock_wall_ms() - a->started_wall_ms) / 1000)));
}

/* Prometheus text: each module writes its own families (lib/prom.h);
 * the api adds its own count and the upstream client's. */
static void get_metrics(struct api *a, struct http_req *req)
{
    struct buf b = BUF_INIT;
    struct upstream_stats us;
    upstream_get_stats(a->up, &us);
    prom_write_single(&b, PROM_COUNTER, "hermod_http_requests_total",
                      "HTTP requests received, every endpoint.", (double)a->requests);
    prom_write_single(&b, PROM_COUNTER, "hermod_upstream_requests_total",
                      "Requests hermod sent to engines (relayed, ingest, unload); health checks "
                      "are counted apart.",
                      (double)us.requests);
    prom_write_single(&b, PROM_COUNTER, "hermod_upstream_failures_total",
                      "Requests to engines that ended without a whole answer (refused, reset, "
                      "timed out); health checks are counted apart.",
                      (double)us.failures);
    prom_write_single(&b, PROM_COUNTER, "hermod_health_checks_total",
                      "Health and readiness checks sent to engines.", (double)us.probes);
    prom_write_single(&b, PROM_COUNTER, "hermod_health_check_failures_total",
                      "Health and readiness checks that got no answer (an engine starting or "
                      "down).",
                      (double)us.probe_failures);
    proxy_metrics(a->proxy, &b);
    sched_metrics(a->sched, &b);
    if (a->pipeline)
        pipeline_metrics(a->pipeline, &b);
    size_t len;
    char *body = buf_detach(&b, &len);
    http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", body, len);
}

/* ---- dispatch ------------------------------------------------------------------- */

struct route {
    const char *method;
    const char *path;
    void (*fn)(struct api *a, struct http_req *req, const char *path);
};

static void r_relay(struct api *a, struct http_req *req, const char *path)
{
    proxy_handle(a->proxy, req, path);
}
static void r_models(struct api *a, struct http_req *req, const char *path)
{
    get_models(a, req, NULL);
}
static void r_health(struct api *a, struct http_req *req, const char *path)
{
    get_health(a, req);
}
static void r_running(struct api *a, struct http_req *req, const char *path)
{
    get_running(a, req);
}
static void r_unload(struct api *a, struct http_req *req, const char *path)
{
    post_unload(a, req);
}
static void r_budget(struct api *a, struct http_req *req, const char *path)
{
    get_budget(a, req);
}
static void r_logs(struct api *a, struct http_req *req, const char *path)
{
    get_logs(a, req);
}
static void r_metrics(struct api *a, struct http_req *req, const char *path)
{
    get_metrics(a, req);
}
static void r_ollama(struct api *a, struct http_req *req, const char *path)
{
    ollama_handle(a->ollama, req, path);
}

static const struct route routes[] = {
    {"POST", "/v1/chat/completions", r_relay},
    {"POST", "/v1/completions", r_relay},
    {"POST", "/v1/embeddings", r_relay},
    {"GET", "/v1/models", r_models},
    {"GET", "/health", r_health},
    {"GET", "/metrics", r_metrics},
    {"GET", "/hermod/running", r_running},
    {"POST", "/hermod/unload", r_unload},
    {"GET", "/hermod/logs", r_logs},
    {"GET", "/hermod/budget", r_budget},
    /* Ollama's API (gateway/ollama.c) */
    {"POST", "/api/chat", r_ollama},
    {"POST", "/api/generate", r_ollama},
    {"POST", "/api/embed", r_ollama},
    {"POST", "/api/embeddings", r_ollama},
    {"POST", "/api/show", r_ollama},
    {"GET", "/api/tags", r_ollama},
    {"GET", "/api/ps", r_ollama},
    {"GET", "/api/version", r_ollama},
};

void api_handle(struct http_req *req, void *arg)
{
    struct api *a = arg;
    const char *method = http_req_method(req);
    const char *path = http_req_path(req);
    bool path_known = false;
    a->requests++;
    /* Clients configured with a base URL of ".../v1" and those without
     * both work: "/v1/v1/..." is not a thing, but a trailing slash is. */
    size_t plen = strlen(path);
    char trimmed[256];
    if (plen > 1 && plen < sizeof(trimmed) && path[plen - 1] == '/') {
        memcpy(trimmed, path, plen - 1);
        trimmed[plen - 1] = '\0';
        path = trimmed;
    }
    if (!auth_admit(a->auth, req, path))
        return;
    for (size_t i = 0; i < ARRAY_SIZE(routes); i++) {
        if (strcmp(routes[i].path, path))
            continue;
        path_known = true;
        if (!strcmp(routes[i].method, method) ||
            (!strcmp(method, "HEAD") && !strcmp(routes[i].method, "GET"))) {
            routes[i].fn(a, req, routes[i].path);
            return;
        }
    }
    if (dashboard_handle(a->dash, req, method, path))
        return;
    if (a->pipeline && str_starts_with(path, "/hermod/") && pipeline_handle(a->pipeline, req))
        return;
    if (!strcmp(method, "GET") && str_starts_with(path, "/v1/models/")) {
        get_models(a, req, path + strlen("/v1/models/"));
        return;
    }
    if (!path_known && !strcmp(method, "POST") && str_starts_with(path, "/v1/")) {
        /* Every other OpenAI endpoint (audio, images, rerank, responses,
         * ...) goes to the engine of the model it names, as it came. */
        proxy_handle(a->proxy, req, http_req_path(req));
        return;
    }
    if (path_known) {
        for (size_t i = 0; i < ARRAY_SIZE(routes); i++)
            if (!strcmp(routes[i].path, path))
                http_req_add_header(req, "Allow", routes[i].method);
        http_respond_error(req, 405, "invalid_request_error", "method_not_allowed",
                           "%s is not allowed on %s", method, path);
        return;
    }
    http_respond_error(req, 404, "invalid_request_error", "not_found",
                       "no such endpoint: %s %s", method, path);
}

struct api *api_new(uv_loop_t *loop, const struct config *cfg, struct sched *sched,
                    struct proxy *proxy, struct upstream *up)
{
    struct api *a = xcalloc(1, sizeof(*a));
    a->loop = loop;
    a->cfg = cfg;
    a->sched = sched;
    a->proxy = proxy;
    a->up = up;
    a->auth = auth_new(cfg);
    a->started_wall_ms = clock_wall_ms();
    a->ollama = ollama_new(cfg, sched, proxy, a->started_wall_ms);
    a->dash = dashboard_new(loop, cfg, sched, proxy);
    return a;
}

void api_set_config(struct api *a, const struct config *cfg)
{
    a->cfg = cfg;
    auth_set_config(a->auth, cfg);
    ollama_set_config(a->ollama, cfg);
    dashboard_set_config(a->dash, cfg);
}

const char *api_internal_key(const struct api *a)
{
    return auth_internal_key(a->auth);
}

void api_set_pipeline(struct api *a, struct pipeline *p)
{
    a->pipeline = p;
}

void api_free(struct api *a)
{
    if (!a)
        return;
    dashboard_free(a->dash);
    ollama_free(a->ollama);
    auth_free(a->auth);
    free(a);
}
