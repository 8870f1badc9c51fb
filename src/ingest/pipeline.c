/* SPDX-License-Identifier: MIT */
/*
 * pipeline.c: ingest jobs, from upload to stored episode: jobs and their
 * clients, the loop side that moves a job from stage to stage, the model
 * call, the answer, retries, and the pipeline's life. The stages that run
 * on the worker pool are in pipeline_work.c, the endpoints in
 * pipeline_http.c (pipeline_int.h has the map). See pipeline.h for the
 * stages; docs/internals/pipeline.md for the reasons.
 */
#include "ingest/pipeline.h"

#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/log.h"
#include "ingest/ocr.h"
#include "ingest/pipeline_int.h"
#include "lib/clock.h"
#include "lib/list.h"
#include "lib/xalloc.h"
#include "net/http.h"
#include "net/upstream.h"
#include "route/router.h"
#include "store/store.h"
#include "text/timeparse.h"

/* Episodes taken per retry pass, and the first pass after start. */
#define RETRY_BATCH 8
#define RETRY_FIRST_MS 3000

/* ---- small helpers ------------------------------------------------------------- */

json_t *pipeline__str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *pipeline__json_or_null(const char *text)
{
    json_t *j = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
    return j ? j : json_null();
}

/* ---- clients ------------------------------------------------------------------- */

static void client_close_cb(struct http_req *req, bool aborted, void *owner)
{
    struct client *c = owner;
    if (c->job)
        c->job->client = NULL;
    free(c);
}

struct client *pipeline__client_new(struct http_req *req, struct job *j)
{
    struct client *c = xcalloc(1, sizeof(*c));
    c->req = req;
    c->job = j;
    http_req_set_owner(req, c, client_close_cb, NULL);
    return c;
}

/* Answers the job's client, if it is still there, and lets it go. */
static void client_answer(struct job *j, int status, json_t *body)
{
    if (j->client) {
        http_respond_json(j->client->req, status, body);
        j->client->job = NULL;
        j->client = NULL;
    }
}

void pipeline__client_error(struct job *j, int status, const char *type, const char *code,
                         const char *msg)
{
    if (j->client) {
        struct buf b = BUF_INIT;
        http_error_json(&b, type, code, msg);
        buf_addch(&b, '\n');
        size_t n;
        char *body = buf_detach(&b, &n);
        http_respond(j->client->req, status, "application/json", body, n);
        j->client->job = NULL;
        j->client = NULL;
    }
}

/* ---- jobs ---------------------------------------------------------------------- */

struct job *pipeline__job_new(struct pipeline *p)
{
    struct job *j = xcalloc(1, sizeof(*j));
    j->p = p;
    j->at = STORE_TIME_NONE;
    j->captured_at = STORE_TIME_NONE;
    j->work.data = j;
    list_init(&j->followers);
    list_init(&j->follow_link);
    vision_desc_init(&j->desc);
    extract_graph_init(&j->g);
    j->warnings = json_array();
    list_add_tail(&p->jobs, &j->link);
    return j;
}

void pipeline__job_free(struct job *j)
{
    if (j->ureq)
        upstream_abort(j->ureq);
    if (j->client)
        j->client->job = NULL;
    list_del(&j->link);
    if (list_linked(&j->follow_link))
        list_del(&j->follow_link);
    free(j->data);
    free(j->filename);
    free(j->source);
    free(j->model);
    free(j->text);
    json_decref(j->input_json);
    buf_release(&j->err);
    buf_release(&j->resp);
    buf_release(&j->call_body);
    free(j->used_model);
    free(j->used_engine);
    free(j->verdict);
    free(j->route);
    json_decref(j->answer);
    vision_desc_release(&j->desc);
    json_decref(j->typed);
    extract_graph_release(&j->g);
    json_decref(j->warnings);
    free(j->raw_text);
    json_decref(j->entity_answer);
    json_decref(j->out);
    struct pipeline *p = j->p;
    free(j);
    /* The last job gone: give back what the worker threads' malloc arenas
     * kept of the pixel buffers (glibc keeps freed memory per arena). A
     * fixed low mmap threshold did the same during bursts too, but cost
     * 8 ms a photo in page faults (bench/ingest.mjs: RSS after 80 photos
     * 95 MiB without either, 37 MiB with the threshold). */
    if (list_empty(&p->jobs))
        malloc_trim(0);
}

void pipeline__warn(struct job *j, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_array_append_new(j->warnings, json_string(msg));
}

static void call_model(struct job *j);

/* ---- the loop side ---------------------------------------------------------------------- */

static void job_end(struct job *j);

static void answer_followers(struct job *j, int status)
{
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &j->followers) {
        struct job *f = container_of(pos, struct job, follow_link);
        list_del(&f->follow_link);
        list_init(&f->follow_link);
        if (j->out) {
            /* "duplicate": whether the content was there before this
             * upload arrived; the first of two concurrent uploads may be
             * the one that waited. */
            json_t *o = json_deep_copy(j->out);
            json_object_set_new(o, "duplicate", json_boolean(f->existed));
            client_answer(f, status, o);
            json_decref(o);
        } else {
            pipeline__client_error(f, 500, "server_error", "store_error", buf_cstr(&j->err));
        }
        pipeline__job_free(f);
    }
}

/* Answers the client and everyone waiting on the same content, counts,
 * logs, frees. */
static void job_end(struct job *j)
{
    struct pipeline *p = j->p;
    int status;
    if (j->unstored && !j->id) {
        status = j->http_status ? j->http_status : 500;
        p->refused++;
        pipeline__client_error(j, status, j->err_type ? j->err_type : "server_error",
                     j->err_code ? j->err_code : "ingest_failed", buf_cstr(&j->err));
        pipeline__job_free(j);
        return;
    }
    const char *st = j->out ? json_string_value(json_object_get(j->out, "status")) : NULL;
    if (!j->out) {
        status = 500;
        log_err("ingest: episode %lld: %s", (long long)j->id, buf_cstr(&j->err));
        pipeline__client_error(j, status, "server_error", "store_error", buf_cstr(&j->err));
    } else {
        if (j->failed) {
            /* The error object of http_error_json(), beside the episode. */
            json_object_set_new(j->out, "error",
                                json_pack("{s:s,s:s,s:n,s:s}", "message", buf_cstr(&j->err),
                                          "type", "upstream_error", "param", "code",
                                          j->permanent ? "model_failed" : "model_unavailable"));
            if (st && !strcmp(st, "pending") && p->cfg->pipeline.retry_interval_ms)
                json_object_set_new(j->out, "retry_in_s",
                                    json_real((double)p->cfg->pipeline.retry_interval_ms / 1000));
        }
        json_object_set_new(j->out, "duplicate", json_boolean(j->existed));
        if (j->route)
            json_object_set_new(j->out, "route", json_string(j->route));
        if (j->verdict)
            json_object_set_new(j->out, "answer_check", json_string(j->verdict));
        status = st && !strcmp(st, "done") ? 200 : st && !strcmp(st, "pending") ? 202 : 502;
        if (status == 200 && !j->existed)
            p->done++;
        else if (status == 200)
            p->duplicates++;
        else if (status == 202)
            p->pending++;
        else
            p->failed++;
        log_info("ingest: episode %lld %s%s kind=%s model=%s%s%s", (long long)j->id,
                 st ? st : "?", j->existed ? " (same content as before)" : "",
                 json_string_value(json_object_get(j->out, "kind")),
                 j->used_model ? j->used_model : "-", j->failed ? " error: " : "",
                 j->failed ? buf_cstr(&j->err) : "");
        client_answer(j, status, j->out);
    }
    answer_followers(j, status);
    pipeline__job_free(j);
}

static void after_work(uv_work_t *w, int status)
{
    struct job *j = w->data;
    j->busy = false;
    if (j->p->stopping) {
        pipeline__client_error(j, 503, "server_error", "shutting_down", "hermod is shutting down; "
                     "the episode stays pending and is retried at the next start");
        answer_followers(j, 503);
        pipeline__job_free(j);
        return;
    }
    struct pipeline *p = j->p;
    switch (j->stage) {
    case ST_PREPARE:
        if (j->unstored) {
            job_end(j);
            return;
        }
        if (j->existed && j->prior == STORE_DONE) {
            pipeline__stage_run(j, ST_FOLLOW); /* read it back */
            return;
        }
        /* The same content being described right now: wait for that. */
        struct list *pos;
        list_for_each(pos, &p->jobs) {
            struct job *o = container_of(pos, struct job, link);
            /* The stage first: a job still in ST_PREPARE is on the worker
             * pool, which writes its id (a data race found by make tsan). */
            if (o != j && o->stage >= ST_CALL && o->stage != ST_FOLLOW && o->id == j->id) {
                j->stage = ST_FOLLOW;
                list_add_tail(&o->followers, &j->follow_link);
                return;
            }
        }
        call_model(j);
        return;
    case ST_LOAD:
        if (j->unstored && !j->failed) { /* done meanwhile */
            pipeline__job_free(j);
            return;
        }
        if (j->failed) {
            log_warn("ingest: episode %lld cannot be retried: %s", (long long)j->id,
                     buf_cstr(&j->err));
            if (j->permanent)
                pipeline__stage_run(j, ST_FAIL);
            else
                pipeline__job_free(j);
            return;
        }
        p->retried++;
        call_model(j);
        return;
    case ST_DIGEST:
        if (j->failed || !j->want_entities) {
            if (j->failed) {
                pipeline__stage_run(j, ST_FOLLOW); /* the failure is recorded: read it back */
                return;
            }
            job_end(j);
            return;
        }
        /* the entity call */
        j->entity_call = true;
        j->stage = ST_ENTITIES;
        call_model(j);
        return;
    case ST_FINISH:
    case ST_FOLLOW:
    case ST_FAIL:
        job_end(j);
        return;
    default:
        BUG("pipeline: after_work in stage %d", j->stage);
    }
}

void pipeline__stage_run(struct job *j, enum stage st)
{
    static const uv_work_cb fns[] = {
        [ST_PREPARE] = pipeline__prepare_work, [ST_LOAD] = pipeline__load_work,
        [ST_DIGEST] = pipeline__digest_work,   [ST_FINISH] = pipeline__finish_work,
        [ST_FAIL] = pipeline__readback_work,   [ST_FOLLOW] = pipeline__readback_work,
    };
    j->stage = st;
    j->busy = true;
    uv_queue_work(j->p->loop, &j->work, fns[st], after_work);
}

/* ---- the model call (loop) ---------------------------------------------------------- */

static void keep_header(struct upstream_req *r, const char *name, char **slot)
{
    const char *v = upstream_req_header(r, name);
    if (v && *v) {
        free(*slot);
        *slot = xstrdup(v);
    }
}

static void call_head(struct upstream_req *r, long status, void *arg)
{
    struct job *j = arg;
    j->status = status;
    if (!j->entity_call) {
        keep_header(r, "X-Hermod-Model", &j->used_model);
        keep_header(r, "X-Hermod-Engine", &j->used_engine);
        keep_header(r, "X-Hermod-Answer", &j->verdict);
        keep_header(r, "X-Hermod-Route", &j->route);
    }
}

static int call_data(struct upstream_req *r, const char *p, size_t n, void *arg)
{
    struct job *j = arg;
    if (j->resp.len + n > j->p->cfg->max_response) {
        j->too_big = true;
        return 0;
    }
    buf_add(&j->resp, p, n);
    return 0;
}

static void call_done(struct upstream_req *r, int rc, const char *msg, void *arg)
{
    struct job *j = arg;
    j->ureq = NULL;
    if (rc || j->too_big) {
        if (j->too_big)
            buf_addf(&j->err, "the model's reply is larger than max_response");
        else
            buf_addf(&j->err, "%s call to %s failed: %s", j->entity_call ? "entity" : "model",
                     j->p->self_url, msg);
        if (j->entity_call) {
            /* The description is there; the names are a bonus. */
            pipeline__warn(j, "entities were not extracted: %s", buf_cstr(&j->err));
            buf_reset(&j->err);
            pipeline__stage_run(j, ST_FINISH);
            return;
        }
        j->failed = true;
        pipeline__stage_run(j, ST_FAIL);
        return;
    }
    if (j->entity_call) {
        json_t *resp = NULL;
        const char *content = NULL;
        if (j->status == 200)
            content = pipeline__answer_content(j, &resp);
        json_t *ans = NULL;
        if (j->status != 200)
            pipeline__call_error(j);
        if (content && !vision_parse(content, strlen(content), &ans, &j->err))
            j->entity_answer = ans;
        else
            pipeline__warn(j, "entities were not extracted: %s", buf_cstr(&j->err));
        buf_reset(&j->err);
        j->permanent = false;
        json_decref(resp);
        pipeline__stage_run(j, ST_FINISH);
        return;
    }
    pipeline__stage_run(j, ST_DIGEST);
}

static void call_model(struct job *j)
{
    struct pipeline *p = j->p;
    char url[300];
    snprintf(url, sizeof(url), "%s/v1/chat/completions", p->self_url);
    const char *body;
    size_t len;
    if (j->entity_call) {
        body = j->call_body.data;
        len = j->call_body.len;
    } else {
        /* The request as stored: what a retry sends too. */
        json_t *req = json_object_get(j->input_json, "request");
        char *s = json_dumps(req, JSON_COMPACT);
        buf_reset(&j->call_body);
        buf_addstr(&j->call_body, s);
        free(s);
        body = j->call_body.data;
        len = j->call_body.len;
    }
    buf_reset(&j->resp);
    j->status = 0;
    j->too_big = false;
    j->stage = j->entity_call ? ST_ENTITIES : ST_CALL;
    struct upstream_opts o = {
        .method = "POST",
        .url = url,
        .body = body,
        .body_len = len,
        .connect_timeout_ms = 5000,
        .auth_bearer = p->api_key,
        .total_timeout_ms = p->cfg->pipeline.timeout_ms,
        .keep_headers = true,
        .on_head = call_head,
        .on_data = call_data,
        .on_done = call_done,
        .arg = j,
    };
    j->ureq = upstream_start(p->up, &o);
}

/* ---- retry ------------------------------------------------------------------------------ */

bool pipeline__in_flight(struct pipeline *p, int64_t id)
{
    struct list *pos;
    list_for_each(pos, &p->jobs) {
        struct job *j = container_of(pos, struct job, link);
        if (j->id == id)
            return true;
    }
    return false;
}

static void scan_work(uv_work_t *w)
{
    struct pipeline *p = w->data;
    buf_reset(&p->scan_err);
    store_episode_pending(p->st, RETRY_BATCH * 4, &p->scan_ids, &p->scan_n, &p->scan_err);
}

static void scan_after(uv_work_t *w, int status)
{
    struct pipeline *p = w->data;
    p->retry_scan_busy = false;
    unsigned started = 0;
    for (size_t i = 0; i < p->scan_n && !p->stopping && started < RETRY_BATCH; i++) {
        if (pipeline__in_flight(p, p->scan_ids[i]))
            continue;
        struct job *j = pipeline__job_new(p);
        j->id = p->scan_ids[i];
        pipeline__stage_run(j, ST_LOAD);
        started++;
    }
    if (started)
        log_info("ingest: retrying %u pending episode%s", started, started == 1 ? "" : "s");
    if (p->scan_err.len)
        log_warn("ingest: cannot list pending episodes: %s", buf_cstr(&p->scan_err));
    free(p->scan_ids);
    p->scan_ids = NULL;
    p->scan_n = 0;
}

void pipeline__retry_now(struct pipeline *p)
{
    if (p->stopping || !p->st || p->retry_scan_busy || !p->self_url)
        return;
    p->retry_scan_busy = true;
    p->scan_work.data = p;
    uv_queue_work(p->loop, &p->scan_work, scan_work, scan_after);
}

static void retry_cb(uv_timer_t *t)
{
    pipeline__retry_now(t->data);
}

/* ---- life --------------------------------------------------------------------------------- */

struct pipeline *pipeline_new(uv_loop_t *loop, const struct config *cfg, struct upstream *up,
                              struct store *st, const char *store_error)
{
    struct pipeline *p = xcalloc(1, sizeof(*p));
    p->loop = loop;
    p->cfg = cfg;
    p->up = up;
    p->st = st;
    p->store_error = store_error ? xstrdup(store_error) : NULL;
    list_init(&p->jobs);
    /* Unnamed in the config: the route called vision (or extract), else
     * the first model that reads images (or any model). */
    p->vision = cfg->pipeline.vision;
    if (!p->vision && config_find_route(cfg, "vision"))
        p->vision = "vision";
    for (size_t i = 0; !p->vision && i < cfg->nmodels; i++)
        if (router_model_modalities(&cfg->models[i]) & CONFIG_MOD_IMAGE)
            p->vision = cfg->models[i].name;
    p->extract = cfg->pipeline.extract;
    if (!p->extract && config_find_route(cfg, "extract"))
        p->extract = "extract";
    if (!p->extract && cfg->nroutes)
        p->extract = cfg->routes[0].name;
    if (!p->extract && cfg->nmodels)
        p->extract = cfg->models[0].name;
    if (!cfg->pipeline.timezone || timeparse_tz_parse(cfg->pipeline.timezone, &p->tz_min))
        p->tz_min = timeparse_local_offset((int64_t)clock_wall_ms());
    uv_timer_init(loop, &p->retry_timer);
    p->retry_timer.data = p;
    return p;
}

void pipeline_local_url(const char *host, int port, char *out, size_t n)
{
    /* A wildcard listen address is reached on loopback. */
    if (!*host || !strcmp(host, "0.0.0.0"))
        host = "127.0.0.1";
    else if (!strcmp(host, "::"))
        host = "::1";
    snprintf(out, n, strchr(host, ':') ? "http://[%s]:%d" : "http://%s:%d", host, port);
}

void pipeline_set_api_key(struct pipeline *p, const char *key)
{
    free(p->api_key);
    p->api_key = key ? xstrdup(key) : NULL;
}

void pipeline_start(struct pipeline *p, int port)
{
    char url[300];
    pipeline_local_url(p->cfg->listen_host, port, url, sizeof(url));
    free(p->self_url);
    p->self_url = xstrdup(url);
    uint64_t iv = p->cfg->pipeline.retry_interval_ms;
    if (p->st && iv)
        uv_timer_start(&p->retry_timer, retry_cb, iv < RETRY_FIRST_MS ? iv : RETRY_FIRST_MS, iv);
}

void pipeline_stop(struct pipeline *p)
{
    if (p->stopping)
        return;
    p->stopping = true;
    uv_timer_stop(&p->retry_timer);
    uv_close((uv_handle_t *)&p->retry_timer, NULL);
    /* Jobs waiting on the model or on another job: the episode stays
     * pending. Jobs on the worker pool end in after_work. First every
     * waiting client is answered and every follower let go of its
     * leader, then the jobs are freed, so no free reaches into a job
     * freed before it. */
    struct list *pos, *tmp;
    list_for_each(pos, &p->jobs) {
        struct job *j = container_of(pos, struct job, link);
        if (list_linked(&j->follow_link))
            list_del(&j->follow_link);
        if (!j->busy)
            pipeline__client_error(j, 503, "server_error", "shutting_down",
                         "hermod is shutting down; the episode stays pending and is retried at "
                         "the next start");
    }
    list_for_each_safe(pos, tmp, &p->jobs) {
        struct job *j = container_of(pos, struct job, link);
        if (!j->busy)
            pipeline__job_free(j);
    }
}

void pipeline_free(struct pipeline *p)
{
    if (!p)
        return;
    if (!p->stopping)
        pipeline_stop(p);
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &p->jobs)
        pipeline__job_free(container_of(pos, struct job, link));
    buf_release(&p->scan_err);
    free(p->scan_ids);
    /* No OCR can run now: the jobs are gone and the pool is drained. */
    ocr_shutdown();
    free(p->self_url);
    free(p->api_key);
    free(p->store_error);
    free(p);
}

void pipeline_metrics(const struct pipeline *p, struct buf *b)
{
    unsigned active = (unsigned)list_count(&p->jobs);
    buf_addf(b,
             "# HELP hermod_ingest_total Items ingested, by how they ended.\n"
             "# TYPE hermod_ingest_total counter\n"
             "hermod_ingest_total{result=\"done\"} %llu\n"
             "hermod_ingest_total{result=\"duplicate\"} %llu\n"
             "hermod_ingest_total{result=\"pending\"} %llu\n"
             "hermod_ingest_total{result=\"failed\"} %llu\n"
             "hermod_ingest_total{result=\"refused\"} %llu\n"
             "# HELP hermod_ingest_retries_total Pending episodes retried.\n# TYPE hermod_ingest_retries_total counter\nhermod_ingest_retries_total %llu\n"
             "# HELP hermod_ingest_active Ingest jobs in progress.\n# TYPE hermod_ingest_active gauge\nhermod_ingest_active %u\n"
             "# HELP hermod_store_up 1 when the memory store is open.\n# TYPE hermod_store_up gauge\nhermod_store_up %d\n",
             (unsigned long long)p->done, (unsigned long long)p->duplicates,
             (unsigned long long)p->pending, (unsigned long long)p->failed,
             (unsigned long long)p->refused, (unsigned long long)p->retried, active,
             p->st != NULL);
}
