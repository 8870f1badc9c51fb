/* SPDX-License-Identifier: MIT */
/*
 * pipeline_http.c: the pipeline's endpoints (see pipeline.h): POST
 * /hermod/ingest turns a request into a job, GET /hermod/episodes/ID and
 * GET /hermod/memories/search read the store on the worker pool, POST
 * /hermod/ingest/retry retries or revives. The jobs themselves are
 * pipeline.c's (see pipeline_int.h).
 */
#include "ingest/pipeline_int.h"

#include <errno.h>
#include <nettle/base64.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "lib/clock.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "net/http.h"
#include "store/store.h"
#include "text/timeparse.h"

/* A transcript larger than this is refused (it is text, not a book). */
#define MAX_TRANSCRIPT (1u << 20)

/* ---- HTTP endpoints ---------------------------------------------------------------------- */

static bool decode_base64(const char *s, char **out, size_t *len)
{
    const char *comma;
    if (!strncmp(s, "data:", 5) && (comma = strchr(s, ',')))
        s = comma + 1;
    size_t n = strlen(s);
    struct base64_decode_ctx ctx;
    uint8_t *dst = xmalloc(BASE64_DECODE_LENGTH(n) + 1);
    size_t dl = BASE64_DECODE_LENGTH(n) + 1;
    base64_decode_init(&ctx);
    if (!base64_decode_update(&ctx, &dl, dst, n, s) || !base64_decode_final(&ctx)) {
        free(dst);
        return false;
    }
    *out = (char *)dst;
    *len = dl;
    return true;
}

static void set_str(char **slot, const char *v)
{
    if (v && *v) {
        free(*slot);
        *slot = xstrdup(v);
    }
}

/* Reads the fields of an upload (query string, then JSON fields over
 * them). Returns false after answering the client. */
static bool read_fields(struct job *j, struct http_req *req, const json_t *body)
{
    struct pipeline *p = j->p;
    const char *source = http_req_query(req, "source"), *at = http_req_query(req, "at"),
               *model = http_req_query(req, "model"), *kind = http_req_query(req, "kind"),
               *filename = http_req_query(req, "filename"), *tz = http_req_query(req, "tz");
    if (body) {
        const char *v;
#define FIELD(name, var)                                                                      \
    if ((v = json_string_value(json_object_get(body, name))))                                \
        var = v;
        FIELD("source", source);
        FIELD("at", at);
        FIELD("model", model);
        FIELD("kind", kind);
        FIELD("filename", filename);
        FIELD("tz", tz);
#undef FIELD
    }
    set_str(&j->source, source);
    set_str(&j->filename, filename);
    char msg[512];
    int tzm = p->tz_min;
    if (tz && timeparse_tz_parse(tz, &tzm)) {
        snprintf(msg, sizeof(msg), "tz must be an offset like +05:30, got \"%s\"", tz);
        pipeline__client_error(j, 400, "invalid_request_error", "bad_tz", msg);
        return false;
    }
    if (at && *at) {
        struct buf e = BUF_INIT;
        int64_t t;
        if (timeparse_point(at, (int64_t)clock_wall_ms(), tzm, false, &t, &e)) {
            snprintf(msg, sizeof(msg), "at: %s (give a date, an ISO time or a span like 2h)",
                     buf_cstr(&e));
            buf_release(&e);
            pipeline__client_error(j, 400, "invalid_request_error", "bad_time", msg);
            return false;
        }
        buf_release(&e);
        j->at = t;
    }
    if (model && *model) {
        if (!config_find_model(p->cfg, model) && !config_find_route(p->cfg, model)) {
            snprintf(msg, sizeof(msg), "model '%.200s' is neither a model nor a route of this "
                     "hermod (see GET /v1/models)", model);
            pipeline__client_error(j, 404, "invalid_request_error", "model_not_found", msg);
            return false;
        }
        set_str(&j->model, model);
    }
    if (kind && *kind) {
        if (!strcmp(kind, "transcript") || !strcmp(kind, "text")) {
            j->text_given = true;
        } else if (!strcmp(kind, "video") || !strcmp(kind, "image")) {
            /* the content says which */
        } else if (vision_kind_parse(kind, &j->kind)) {
            snprintf(msg, sizeof(msg), "kind '%.100s' is not one of photo, screenshot, receipt, "
                     "document, whiteboard, lab_report, meal, other, video, transcript", kind);
            pipeline__client_error(j, 400, "invalid_request_error", "bad_kind", msg);
            return false;
        } else {
            j->kind_forced = true;
        }
    }
    return true;
}

static bool is_text_type(const char *ct)
{
    return ct && (str_starts_with(ct, "text/plain") || str_starts_with(ct, "text/markdown"));
}

static bool valid_utf8(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    bool ok = j != NULL;
    json_decref(j);
    return ok;
}

static void post_ingest(struct pipeline *p, struct http_req *req)
{
    size_t len;
    const char *body = http_req_body(req, &len);
    const char *ct = http_req_header(req, "Content-Type");
    struct job *j = pipeline__job_new(p);
    j->client = pipeline__client_new(req, j);
    json_t *jb = NULL;
    if (ct && str_starts_with(ct, "multipart/")) {
        pipeline__client_error(j, 415, "invalid_request_error", "unsupported_media",
                     "send the file itself as the body (curl --data-binary @photo.jpg), or JSON "
                     "{\"data\": \"<base64>\"}; multipart forms are not read");
        pipeline__job_free(j);
        return;
    }
    if (ct && str_starts_with(ct, "application/json")) {
        json_error_t jerr;
        jb = json_loadb(body ? body : "", len, 0, &jerr);
        if (!json_is_object(jb)) {
            char msg[300];
            snprintf(msg, sizeof(msg), "the body is not a JSON object: %s (line %d, column %d)",
                     jb ? "another JSON value" : jerr.text, jerr.line, jerr.column);
            pipeline__client_error(j, 400, "invalid_request_error", "invalid_json", msg);
            goto drop;
        }
    }
    if (!read_fields(j, req, jb))
        goto drop;
    if (jb) {
        const json_t *text = json_object_get(jb, "text"), *data = json_object_get(jb, "data");
        if (json_is_string(text) && !data) {
            j->text = xstrndup(json_string_value(text), json_string_length(text));
            j->text_given = true;
        } else if (json_is_string(data) && !text) {
            if (!decode_base64(json_string_value(data), &j->data, &j->len)) {
                pipeline__client_error(j, 400, "invalid_request_error", "bad_base64",
                             "'data' is not base64 (nor a data: URL with base64)");
                goto drop;
            }
            if (j->text_given) { /* kind: transcript with base64 text */
                j->text = xstrndup(j->data, j->len);
                free(j->data);
                j->data = NULL;
            }
        } else {
            pipeline__client_error(j, 400, "invalid_request_error", "missing_field",
                         "give either 'text' (a transcript) or 'data' (a file, base64) as a "
                         "string");
            goto drop;
        }
    } else if (j->text_given || is_text_type(ct)) {
        j->text = xstrndup(body ? body : "", len);
        j->text_given = true;
    } else {
        j->data = xmemdup(body ? body : "", len);
        j->len = len;
    }
    const char *need = j->model                         ? NULL
                       : j->text_given && !p->extract  ? "no model or route extracts from text"
                       : !j->text_given && !p->vision ? "no model or route reads images"
                                                       : NULL;
    if (need) {
        char msg[300];
        snprintf(msg, sizeof(msg), "%s: set pipeline.%s in the config, or give a model that "
                 "can (model=NAME)", need, j->text_given ? "extract" : "vision");
        pipeline__client_error(j, 503, "server_error", "no_pipeline_model", msg);
        goto drop;
    }
    if (j->text_given) {
        size_t tl = strlen(j->text);
        const char *why = !tl ? "the transcript is empty"
                          : tl > MAX_TRANSCRIPT ? "the transcript is over 1 MiB"
                          : !valid_utf8(j->text, tl) ? "the transcript is not valid UTF-8"
                                                     : NULL;
        if (why) {
            pipeline__client_error(j, tl > MAX_TRANSCRIPT ? 413 : 400, "invalid_request_error",
                         "bad_transcript", why);
            goto drop;
        }
    } else if (!j->len) {
        pipeline__client_error(j, 400, "invalid_request_error", "empty_body",
                     "the body is empty: send a photo, screenshot, video or transcript");
        goto drop;
    }
    json_decref(jb);
    pipeline__stage_run(j, ST_PREPARE);
    return;
drop:
    json_decref(jb);
    p->refused++;
    pipeline__job_free(j);
}

struct getjob;
/* The HTTP side of a getjob, freed when the http module is done with the
 * request (which may be after the getjob). */
struct gclient {
    struct http_req *req;
    struct getjob *g;
};

struct getjob {
    struct pipeline *p;
    struct gclient *client;
    uv_work_t work;
    int64_t id;
    struct store_query q;
    char *text, *entity;
    struct buf err;
    json_t *out;
    int status;
};

static void getjob_close(struct http_req *req, bool aborted, void *owner)
{
    struct gclient *c = owner;
    if (c->g)
        c->g->client = NULL;
    free(c);
}

static void episode_work(uv_work_t *w)
{
    struct getjob *g = w->data;
    struct store_episode ep;
    int rc = store_episode_get(g->p->st, g->id, &ep, &g->err);
    if (rc) {
        g->status = rc == -ENOENT ? 404 : 500;
        return;
    }
    g->out = pipeline__episode_json(&ep);
    store_episode_release(&ep);
    g->status = 200;
}

static void search_work(uv_work_t *w)
{
    struct getjob *g = w->data;
    struct store_hits h;
    if (store_search(g->p->st, &g->q, &h, &g->err)) {
        g->status = 500;
        return;
    }
    g->out = store_hits_json(g->text, &h);
    store_hits_release(&h);
    g->status = 200;
}

static void getjob_after(uv_work_t *w, int status)
{
    struct getjob *g = w->data;
    if (g->client) {
        struct http_req *req = g->client->req;
        g->client->g = NULL;
        if (g->out) {
            http_respond_json(req, g->status, g->out);
        } else {
            http_respond_error(req, g->status, g->status == 404 ? "invalid_request_error"
                                                                : "server_error",
                               g->status == 404 ? "not_found" : "store_error", "%s",
                               buf_cstr(&g->err));
        }
    }
    json_decref(g->out);
    buf_release(&g->err);
    free(g->text);
    free(g->entity);
    free(g);
}

static void getjob_queue(struct pipeline *p, struct http_req *req, struct getjob *g,
                         uv_work_cb fn, uv_after_work_cb after)
{
    g->p = p;
    struct gclient *c = xcalloc(1, sizeof(*c));
    c->req = req;
    c->g = g;
    http_req_set_owner(req, c, getjob_close, NULL);
    g->client = c;
    g->work.data = g;
    uv_queue_work(p->loop, &g->work, fn, after ? after : getjob_after);
}

static void get_search(struct pipeline *p, struct http_req *req)
{
    struct getjob *g = xcalloc(1, sizeof(*g));
    int64_t now = (int64_t)clock_wall_ms();
    const char *q = http_req_query(req, "q"), *since = http_req_query(req, "since"),
               *until = http_req_query(req, "until"), *kind = http_req_query(req, "kind"),
               *entity = http_req_query(req, "entity"), *limit = http_req_query(req, "limit"),
               *tz = http_req_query(req, "tz");
    struct buf e = BUF_INIT;
    g->q.since = g->q.until = STORE_TIME_NONE;
    g->q.now = now;
    g->q.tz_min = p->tz_min;
    const char *param = NULL;
    uint64_t lim = 10;
    if (tz && *tz && timeparse_tz_parse(tz, &g->q.tz_min)) {
        param = "tz";
        buf_addf(&e, "must be an offset like +05:30, got \"%s\"", tz);
    } else if (since && *since && timeparse_point(since, now, g->q.tz_min, false, &g->q.since,
                                                 &e)) {
        param = "since";
    } else if (until && *until && timeparse_point(until, now, g->q.tz_min, true, &g->q.until,
                                                 &e)) {
        param = "until";
    } else if (kind && *kind && store_kinds_parse(kind, &g->q.kinds, &e)) {
        param = "kind";
    } else if (limit && *limit && str_parse_uint(limit, 1, 1000, &lim)) {
        param = "limit";
        buf_addstr(&e, "must be a number from 1 to 1000");
    }
    if (param) {
        http_respond_error(req, 400, "invalid_request_error", "invalid_parameter", "%s: %s",
                           param, buf_cstr(&e));
        buf_release(&e);
        free(g);
        return;
    }
    buf_release(&e);
    g->q.limit = (unsigned)lim;
    if (q && *q)
        g->text = xstrdup(q);
    if (entity && *entity)
        g->entity = xstrdup(entity);
    g->q.text = g->text;
    g->q.entity = g->entity;
    getjob_queue(p, req, g, search_work, NULL);
}

static void get_episode(struct pipeline *p, struct http_req *req, const char *idstr)
{
    uint64_t id;
    if (str_parse_uint(idstr, 1, INT64_MAX, &id)) {
        http_respond_error(req, 404, "invalid_request_error", "not_found",
                           "no such episode: '%s' (episode ids are numbers)", idstr);
        return;
    }
    struct getjob *g = xcalloc(1, sizeof(*g));
    g->id = (int64_t)id;
    getjob_queue(p, req, g, episode_work, NULL);
}

static void revive_work(uv_work_t *w)
{
    struct getjob *g = w->data;
    int rc = store_episode_retry(g->p->st, g->id, &g->err);
    if (rc == -EALREADY) {
        struct store_episode ep;
        if (store_episode_get(g->p->st, g->id, &ep, NULL)) {
            g->status = 404;
            buf_reset(&g->err);
            buf_addf(&g->err, "no episode %lld", (long long)g->id);
            return;
        }
        if (ep.status == STORE_PENDING)
            rc = 0; /* pending already: the pass below takes it */
        store_episode_release(&ep);
    }
    if (rc) {
        g->status = rc == -EALREADY ? 409 : 500;
        return;
    }
    g->out = json_object();
    json_object_set_new(g->out, "id", json_integer(g->id));
    json_object_set_new(g->out, "status", json_string("pending"));
    g->status = 200;
}

static void revive_after(uv_work_t *w, int status)
{
    struct getjob *g = w->data;
    if (g->out)
        pipeline__retry_now(g->p);
    getjob_after(w, status);
}

static void post_retry(struct pipeline *p, struct http_req *req)
{
    const char *ids = http_req_query(req, "id");
    uint64_t id;
    if (ids && *ids) {
        if (str_parse_uint(ids, 1, INT64_MAX, &id)) {
            http_respond_error(req, 400, "invalid_request_error", "invalid_parameter",
                               "id must be an episode number, got '%s'", ids);
            return;
        }
        struct getjob *g = xcalloc(1, sizeof(*g));
        g->id = (int64_t)id;
        getjob_queue(p, req, g, revive_work, revive_after);
        return;
    }
    bool was_busy = p->retry_scan_busy;
    pipeline__retry_now(p);
    json_t *o = json_object();
    json_object_set_new(o, "retrying", json_boolean(!was_busy));
    json_object_set_new(o, "in_flight", json_integer((json_int_t)list_count(&p->jobs)));
    http_respond_json(req, 202, o);
    json_decref(o);
}

bool pipeline_handle(struct pipeline *p, struct http_req *req)
{
    const char *path = http_req_path(req), *method = http_req_method(req);
    bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    bool post = !strcmp(method, "POST");
    enum { E_INGEST, E_RETRY, E_SEARCH, E_EPISODE } e;
    const char *allow;
    size_t pl = strlen(path);
    while (pl > 1 && path[pl - 1] == '/')
        pl--;
#define IS(lit) (pl == sizeof(lit) - 1 && !strncmp(path, lit, pl))
    if (IS("/hermod/ingest")) {
        e = E_INGEST;
        allow = "POST";
    } else if (IS("/hermod/ingest/retry")) {
        e = E_RETRY;
        allow = "POST";
    } else if (IS("/hermod/memories/search")) {
        e = E_SEARCH;
        allow = "GET";
    } else if (str_starts_with(path, "/hermod/episodes/")) {
        e = E_EPISODE;
        allow = "GET";
    } else {
        return false;
    }
#undef IS
    if ((!strcmp(allow, "POST") && !post) || (!strcmp(allow, "GET") && !get)) {
        http_req_add_header(req, "Allow", allow);
        http_respond_error(req, 405, "invalid_request_error", "method_not_allowed",
                           "%s is not allowed on %.*s", method, (int)pl, path);
        return true;
    }
    if (!p->st) {
        http_respond_error(req, 503, "server_error", "store_unavailable",
                           "the memory store is not available: %s",
                           p->store_error ? p->store_error : "not opened");
        return true;
    }
    if (p->stopping || !p->self_url) {
        http_respond_error(req, 503, "server_error", "shutting_down", "hermod is shutting down");
        return true;
    }
    switch (e) {
    case E_INGEST:
        post_ingest(p, req);
        break;
    case E_RETRY:
        post_retry(p, req);
        break;
    case E_SEARCH:
        get_search(p, req);
        break;
    case E_EPISODE: {
        char id[32];
        size_t n = pl - strlen("/hermod/episodes/");
        snprintf(id, sizeof(id), "%.*s", (int)(n < sizeof(id) - 1 ? n : sizeof(id) - 1),
                 path + strlen("/hermod/episodes/"));
        get_episode(p, req, id);
        break;
    }
    }
    return true;
}
