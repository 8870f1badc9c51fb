/* SPDX-License-Identifier: MIT */
/*
 * proxy.c: the relay. See proxy.h for the contract.
 *
 * DESIGN
 * One `struct relay` per request, owned by the proxy and freed only when
 * the HTTP front says the request is over (close_cb): that is the single
 * place where its upstream transfer is aborted and its ticket given back,
 * so a client that goes away stops the engine's work at once.
 *
 * Relay states, in order: waiting for an engine (ticket), waiting for the
 * engine's status line, then either forwarding (a 200 event stream, sent
 * on as it comes) or collecting (everything else, answered whole). A
 * streamed request that waits longer than `keepalive` gets its 200 and SSE
 * comment lines saying what it waits for; from then on every failure is
 * told as an SSE error event.
 */
#include "gateway/proxy.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/list.h"
#include "lib/xalloc.h"
#include "model/engine.h"
#include "net/http.h"
#include "net/sse.h"
#include "net/upstream.h"
#include "route/answer.h"
#include "route/router.h"
#include "sched/sched.h"

struct proxy {
    uv_loop_t *loop;
    const struct config *cfg;
    struct sched *sched;
    struct upstream *up;
    struct list relays;
    unsigned active;
};

struct relay {
    struct list link;
    struct proxy *px;
    struct http_req *req;
    const char *endpoint;
    json_t *body;
    char *client_model;
    bool stream;
    struct sched_model *model;
    struct sched_ticket *ticket;
    struct engine *engine;
    struct upstream_req *up;
    const char *up_body;          /* the client's request body, or up_owned */
    char *up_owned;               /* the body rebuilt for this engine, or NULL */
    bool body_changed;            /* body differs from the client's bytes */
    size_t up_len;
    long up_status;
    bool forwarding;     /* relaying an event stream */
    bool collecting;     /* buffering the whole answer */
    bool sse_begun;      /* our 200 + event-stream headers are out */
    bool data_sent;      /* engine bytes reached the client: no fallback now */
    bool fresh_retry;    /* already retried on a fresh connection */
    bool finished;
    struct buf resp;
    struct sse_scan scan;
    uv_timer_t *ka;      /* keepalive comments; closed async */
    uint64_t t0_ns, ttfb_ns;
    int status;          /* what we answered, for the log */
    char *engine_id;     /* the engine that answered, for the log */
    /* routing: the candidates, tried in order */
    bool routed;
    struct route_decision dec;
    size_t cand;
    struct buf tried;    /* why earlier candidates could not serve */
    bool nospc, busy;    /* what made them fail */
    unsigned attempts;   /* engines tried over all candidates */
    /* escalation: structured answers judged, the best one kept */
    struct answer_spec *spec;
    unsigned answers;    /* answers judged */
    bool retried_same;   /* the current candidate was given a second try */
    uint64_t deadline_ms;/* monotonic */
    json_t *report;      /* [{model, engine, ok, problems}] */
    char *best;          /* the best answer's body so far, or NULL */
    size_t best_len;
    int64_t best_score;
    char *best_model, *best_engine;
};

static void start_upstream(struct relay *r);

/* ---- answering ---------------------------------------------------------------- */

static void add_route_headers(struct relay *r)
{
    http_req_add_header(r->req, "X-Hermod-Model", sched_model_config(r->model)->name);
    if (r->engine)
        http_req_add_header(r->req, "X-Hermod-Engine", engine_id(r->engine));
    if (r->routed) {
        http_req_add_header(r->req, "X-Hermod-Route", r->dec.route->name);
        http_req_add_header(r->req, "X-Hermod-Rule", r->dec.rule->name);
        http_req_add_header(r->req, "X-Hermod-Reason", buf_cstr(&r->dec.why));
        if (r->tried.len)
            http_req_add_header(r->req, "X-Hermod-Passed-Over", buf_cstr(&r->tried));
    }
    unsigned a = r->attempts + sched_ticket_attempts(r->ticket);
    if (a > 1) {
        char n[16];
        snprintf(n, sizeof(n), "%u", a);
        http_req_add_header(r->req, "X-Hermod-Attempts", n);
    }
}

static void stop_keepalive(struct relay *r)
{
    if (r->ka)
        uv_timer_stop(r->ka);
}

/* Ends the request with an error, as JSON or, once the stream is begun,
 * as an SSE error event. */
static void respond_best(struct relay *r, bool ok);

static void fail(struct relay *r, int status, const char *type, const char *code,
                 const char *msg)
{
    if (r->finished)
        return;
    if (r->best) {
        /* An escalation whose next attempt failed: the best answer so far
         * is still an answer. */
        json_array_append_new(r->report, json_pack("{s:s,s:s,s:b,s:s}", "model",
                                                   sched_model_config(r->model)->name, "engine",
                                                   r->engine_id ? r->engine_id : "-", "ok", 0,
                                                   "problems", msg));
        respond_best(r, false);
        return;
    }
    r->finished = true;
    stop_keepalive(r);
    r->status = status;
    if (r->sse_begun) {
        struct buf ev = BUF_INIT;
        buf_addstr(&ev, "data: ");
        http_error_json(&ev, type, code, msg);
        buf_addstr(&ev, "\n\n");
        http_stream_write(r->req, ev.data, ev.len);
        http_stream_end(r->req, true);
        buf_release(&ev);
        return;
    }
    http_respond_error(r->req, status, type, code, "%s", msg);
}

static void begin_sse(struct relay *r)
{
    if (r->sse_begun)
        return;
    r->sse_begun = true;
    r->status = 200;
    add_route_headers(r);
    http_stream_begin(r->req, 200, "text/event-stream");
}

static void ka_cb(uv_timer_t *t)
{
    struct relay *r = t->data;
    if (r->finished || r->forwarding)
        return;
    begin_sse(r);
    struct buf line = BUF_INIT;
    buf_addstr(&line, ": hermod: ");
    if (r->engine && r->up)
        buf_addf(&line, "waiting for %s to answer", engine_id(r->engine));
    else
        sched_ticket_status(r->ticket, &line);
    buf_addstr(&line, "\n\n");
    http_stream_write(r->req, line.data, line.len);
    buf_release(&line);
    uv_timer_start(t, ka_cb, r->px->cfg->keepalive_ms, 0);
}

/* ---- upstream callbacks --------------------------------------------------------- */

static bool is_event_stream(const char *ct)
{
    return ct && !strncasecmp(ct, "text/event-stream", 17);
}

static void on_head(struct upstream_req *u, long status, void *arg)
{
    struct relay *r = arg;
    r->up_status = status;
    if (status < 500 && r->stream && status == 200 &&
        is_event_stream(upstream_req_content_type(u))) {
        r->forwarding = true;
        stop_keepalive(r);
        if (!r->sse_begun) {
            begin_sse(r);
        } else {
            char line[256];
            int n = snprintf(line, sizeof(line), ": hermod: ready, answered by %s\n\n",
                             engine_id(r->engine));
            http_stream_write(r->req, line, (size_t)n);
        }
        return;
    }
    r->collecting = true;
}

static int on_data(struct upstream_req *u, const char *p, size_t n, void *arg)
{
    struct relay *r = arg;
    if (r->forwarding) {
        if (http_stream_pending(r->req) >= HTTP_STREAM_HIGH_WATER)
            return UPSTREAM_PAUSE;
        if (!r->ttfb_ns)
            r->ttfb_ns = clock_mono_ns();
        sse_scan_feed(&r->scan, p, n);
        http_stream_write(r->req, p, n);
        r->data_sent = true;
        return 0;
    }
    if (r->resp.len + n > r->px->cfg->max_response) {
        /* Dropping the rest makes done() see a cut body; keep the head. */
        r->resp.len = r->px->cfg->max_response + 1;
        return 0;
    }
    buf_add(&r->resp, p, n);
    return 0;
}

static void on_drain(struct http_req *req, void *owner)
{
    struct relay *r = owner;
    if (r->up)
        upstream_resume(r->up);
}

/* A short, single-line excerpt of an engine's error body for messages. */
static void excerpt(struct buf *out, const struct buf *body)
{
    json_t *j = json_loadb(buf_cstr(body), body->len, 0, NULL);
    const char *m = NULL;
    if (j) {
        json_t *e = json_object_get(j, "error");
        m = json_string_value(json_object_get(e, "message"));
        if (!m)
            m = json_string_value(e);
        if (!m)
            m = json_string_value(json_object_get(j, "detail"));
    }
    const char *src = m ? m : buf_cstr(body);
    size_t n = strlen(src);
    if (n > 200)
        n = 200;
    for (size_t i = 0; i < n; i++)
        buf_addch(out, (src[i] == '\n' || src[i] == '\r') ? ' ' : src[i]);
    if (strlen(src) > 200)
        buf_addstr(out, "...");
    json_decref(j);
}

/* The engine failed this request before the client saw any of it: try the
 * next engine. */
static void fall_back(struct relay *r, const char *reason, bool cooldown)
{
    log_warn("request failed on engine, trying the next engine=%s reason=\"%s\"",
             engine_id(r->engine), reason);
    r->engine = NULL;
    r->forwarding = r->collecting = false;
    r->up_status = 0;
    r->fresh_retry = false;
    buf_reset(&r->resp);
    sse_scan_init(&r->scan);
    sched_engine_failed(r->ticket, reason, cooldown);
    if (r->stream && !r->finished && r->ka && !uv_is_active((uv_handle_t *)r->ka))
        uv_timer_start(r->ka, ka_cb, r->px->cfg->keepalive_ms, 0);
    sched_acquire(r->ticket);
}

static bool escalate(struct relay *r);
static void next_candidate(struct relay *r, int rc, const char *msg);

/* The answer's text and finish_reason out of an OpenAI response body. */
static const char *answer_text(json_t *resp, size_t *len, const char **finish)
{
    json_t *c0 = json_array_get(json_object_get(resp, "choices"), 0);
    json_t *t = json_object_get(json_object_get(c0, "message"), "content");
    if (!json_is_string(t))
        t = json_object_get(c0, "text");
    *finish = json_string_value(json_object_get(c0, "finish_reason"));
    *len = json_string_length(t);
    return json_is_string(t) ? json_string_value(t) : NULL;
}

/* Answers with the best answer judged, and the record of every attempt. */
static void respond_best(struct relay *r, bool ok)
{
    json_t *resp = json_loadb(r->best, r->best_len, 0, NULL);
    if (resp && (json_array_size(r->report) > 1 || !ok)) {
        json_object_set_new(resp, "hermod",
                            json_pack("{s:b,s:O}", "valid", ok, "attempts", r->report));
        free(r->best);
        struct buf b = BUF_INIT;
        char *s = json_dumps(resp, JSON_COMPACT);
        buf_addstr(&b, s);
        free(s);
        r->best = buf_detach(&b, &r->best_len);
    }
    json_decref(resp);
    http_req_add_header(r->req, "X-Hermod-Model", r->best_model);
    http_req_add_header(r->req, "X-Hermod-Engine", r->best_engine);
    http_req_add_header(r->req, "X-Hermod-Route", r->dec.route->name);
    http_req_add_header(r->req, "X-Hermod-Rule", r->dec.rule->name);
    http_req_add_header(r->req, "X-Hermod-Reason", buf_cstr(&r->dec.why));
    http_req_add_header(r->req, "X-Hermod-Answer", ok ? "valid" : "invalid");
    char n[16];
    snprintf(n, sizeof(n), "%u", r->answers);
    http_req_add_header(r->req, "X-Hermod-Answers", n);
    r->finished = true;
    r->status = 200;
    char *body = r->best;
    r->best = NULL;
    http_respond(r->req, 200, "application/json", body, r->best_len);
}

/*
 * Judges a structured answer (answer.c). A valid one goes to the client.
 * Otherwise the best so far is kept and the request goes on: once more to
 * the same model when the answer looks like an accident (cut short, or no
 * JSON at all), else to the route's next candidate, the specialist lane
 * last; bounded by the route's attempts and deadline. Returns true when it
 * answered or started another attempt.
 */
static bool escalate(struct relay *r)
{
    const struct config_route *rt = r->dec.route;
    json_t *resp = json_loadb(buf_cstr(&r->resp), r->resp.len, 0, NULL);
    size_t len = 0;
    const char *finish = NULL;
    const char *text = resp ? answer_text(resp, &len, &finish) : NULL;
    struct answer_verdict v;
    answer_verdict_init(&v);
    answer_judge(r->spec, text ? text : "", len, finish, &v);
    r->answers++;
    int64_t score = text ? answer_score(&v) : INT64_MIN;
    struct buf why = BUF_INIT;
    if (!text)
        buf_addstr(&why, "the engine's response has no message content");
    else
        answer_verdict_describe(&v, &why);
    const char *model = sched_model_config(r->model)->name;
    json_array_append_new(r->report, json_pack("{s:s,s:s,s:b,s:s}", "model", model, "engine",
                                               r->engine_id ? r->engine_id : "-", "ok",
                                               v.ok && text, "problems", buf_cstr(&why)));
    if (!r->best || score > r->best_score) {
        free(r->best);
        free(r->best_model);
        free(r->best_engine);
        /* A valid answer found inside prose or a code fence is handed over
         * as the JSON alone, which is what the client asked for. */
        if (v.ok && v.wrapped && v.json && resp) {
            json_t *c0 = json_array_get(json_object_get(resp, "choices"), 0);
            char *clean = json_dumps(v.json, JSON_COMPACT);
            json_t *msg = json_object_get(c0, "message");
            json_object_set_new(msg ? msg : c0, msg ? "content" : "text", json_string(clean));
            free(clean);
            char *s = json_dumps(resp, JSON_COMPACT);
            buf_reset(&r->resp);
            buf_addstr(&r->resp, s);
            free(s);
        }
        r->best = xmemdup(buf_cstr(&r->resp), r->resp.len);
        r->best_len = r->resp.len;
        r->best_score = score;
        r->best_model = xstrdup(model);
        r->best_engine = xstrdup(r->engine_id ? r->engine_id : "-");
    }
    bool ok = v.ok && text;
    bool accident = v.truncated || !v.parsed || !text;
    answer_verdict_release(&v);
    json_decref(resp);
    if (ok) {
        buf_release(&why);
        respond_best(r, true);
        return true;
    }
    log_warn("structured answer failed its check route=%s model=%s engine=%s problems=\"%s\"",
             rt->name, model, r->engine_id ? r->engine_id : "-", buf_cstr(&why));
    bool more_time = clock_mono_ms() < r->deadline_ms && r->answers < rt->max_attempts;
    bool same = accident && !r->retried_same;
    if (!more_time || (!same && r->cand + 1 >= r->dec.ncands)) {
        buf_release(&why);
        respond_best(r, false);
        return true;
    }
    /* Once more, the same model or the next one. */
    r->finished = false;
    r->forwarding = r->collecting = false;
    r->up_status = 0;
    r->fresh_retry = false;
    buf_reset(&r->resp);
    if (same) {
        r->retried_same = true;
        start_upstream(r);
    } else {
        r->retried_same = false;
        struct buf m = BUF_INIT;
        buf_addf(&m, "answer failed its check: %s", buf_cstr(&why));
        next_candidate(r, 0, buf_cstr(&m));
        buf_release(&m);
    }
    buf_release(&why);
    return true;
}

static void finish_collected(struct relay *r)
{
    r->finished = true;
    stop_keepalive(r);
    if (r->resp.len > r->px->cfg->max_response) {
        char m[128];
        snprintf(m, sizeof(m), "the engine's answer is larger than max_response (%llu bytes)",
                 (unsigned long long)r->px->cfg->max_response);
        r->finished = false;
        fail(r, 502, "upstream_error", "response_too_large", m);
        return;
    }
    if (r->sse_begun) {
        /* We promised a stream; the engine answered something else (often a
         * JSON error for a bad request). Pass it on as an event. */
        struct buf ev = BUF_INIT;
        if (r->up_status >= 400) {
            struct buf msg = BUF_INIT;
            buf_addf(&msg, "engine %s answered HTTP %ld: ", engine_id(r->engine), r->up_status);
            excerpt(&msg, &r->resp);
            buf_addstr(&ev, "data: ");
            http_error_json(&ev, "upstream_error", "upstream_status", buf_cstr(&msg));
            buf_release(&msg);
        } else {
            buf_addstr(&ev, "data: ");
            for (size_t i = 0; i < r->resp.len; i++)
                if (r->resp.data[i] != '\n' && r->resp.data[i] != '\r')
                    buf_addch(&ev, r->resp.data[i]);
            buf_addstr(&ev, "\n\ndata: [DONE]");
        }
        buf_addstr(&ev, "\n\n");
        http_stream_write(r->req, ev.data, ev.len);
        http_stream_end(r->req, true);
        buf_release(&ev);
        r->status = 200;
        return;
    }
    if (r->spec && r->up_status == 200 && escalate(r))
        return;
    r->status = (int)r->up_status;
    add_route_headers(r);
    const char *ct = upstream_req_content_type(r->up);
    const char *ra = upstream_req_retry_after(r->up);
    if (ra)
        http_req_add_header(r->req, "Retry-After", ra);
    size_t len;
    char *body = buf_detach(&r->resp, &len);
    http_respond(r->req, (int)r->up_status, ct ? ct : "application/json", body, len);
}

static void on_done(struct upstream_req *u, int rc, const char *msg, void *arg)
{
    struct relay *r = arg;
    bool reused = upstream_req_reused(u);
    uint64_t got = upstream_req_body_bytes(u);

    if (rc == 0 && r->collecting && r->up_status < 500) {
        finish_collected(r); /* needs r->up for the headers */
        r->up = NULL;
        return;
    }
    r->up = NULL;
    if (rc != 0) {
        if (!r->data_sent && rc == -ECONNRESET && reused && !r->fresh_retry &&
            !r->up_status && !got) {
            /* The engine closed a kept-alive connection as we reused it
             * (llama-server closes after each stream). Not a failure. */
            log_debug("upstream connection was stale, retrying on a fresh one engine=%s",
                      engine_id(r->engine));
            r->fresh_retry = true;
            start_upstream(r);
            return;
        }
        if (rc == -ETIMEDOUT && !r->data_sent) {
            struct buf m = BUF_INIT;
            buf_addf(&m, "engine %s timed out: %s", engine_id(r->engine), msg);
            fail(r, 504, "upstream_error", "upstream_timeout", buf_cstr(&m));
            buf_release(&m);
            return;
        }
        if (!r->data_sent) {
            struct buf m = BUF_INIT;
            buf_addstr(&m, msg);
            fall_back(r, buf_cstr(&m), true);
            buf_release(&m);
            return;
        }
        struct buf m = BUF_INIT;
        buf_addf(&m, "engine %s failed mid-stream: %s; the answer is incomplete",
                 engine_id(r->engine), msg);
        fail(r, 502, "upstream_error", rc == -ETIMEDOUT ? "upstream_stalled" : "stream_interrupted",
             buf_cstr(&m));
        buf_release(&m);
        return;
    }
    if (r->up_status >= 500) {
        struct buf m = BUF_INIT;
        buf_addf(&m, "HTTP %ld: ", r->up_status);
        excerpt(&m, &r->resp);
        fall_back(r, buf_cstr(&m), true);
        buf_release(&m);
        return;
    }
    /* A forwarded stream that ended cleanly at the TCP level. */
    if (!r->scan.saw_done && !r->scan.saw_error) {
        struct buf m = BUF_INIT;
        buf_addf(&m, "engine %s ended the stream without [DONE]; the answer may be incomplete",
                 engine_id(r->engine));
        fail(r, 502, "upstream_error", "stream_interrupted", buf_cstr(&m));
        buf_release(&m);
        return;
    }
    r->finished = true;
    http_stream_end(r->req, true);
}

/* ---- engines -------------------------------------------------------------------- */

static void start_upstream(struct relay *r)
{
    const struct config *cfg = r->px->cfg;
    if (!r->up_body) {
        const char *um = engine_upstream_model(r->engine);
        const char *cm = json_string_value(json_object_get(r->body, "model"));
        size_t in_len;
        const char *in = http_req_body(r->req, &in_len);
        if (!r->body_changed && cm && !strcmp(cm, um)) {
            /* The engine knows the model by the name the client used and
             * nothing else changed: the client's bytes go as they came. */
            r->up_body = in;
            r->up_len = in_len;
        } else {
            json_object_set_new(r->body, "model", json_string(um));
            r->body_changed = true; /* a later engine must not get the client's bytes */
            /* One pass into a buffer sized from the request: the rewritten
             * body is the client's, give or take the model name (and escapes). */
            size_t cap = in_len + strlen(um) + 256;
            r->up_owned = xmalloc(cap);
            r->up_len = json_dumpb(r->body, r->up_owned, cap, JSON_COMPACT);
            if (r->up_len > cap) {
                r->up_owned = xrealloc(r->up_owned, r->up_len);
                r->up_len = json_dumpb(r->body, r->up_owned, r->up_len, JSON_COMPACT);
            }
            r->up_body = r->up_owned;
        }
    }
    char url[512];
    snprintf(url, sizeof(url), "%s%s", engine_base_url(r->engine), r->endpoint);
    struct upstream_opts o = {
        .method = "POST",
        .url = url,
        .body = r->up_body,
        .body_len = r->up_len,
        .auth_bearer = engine_config(r->engine)->api_key,
        .connect_timeout_ms = cfg->connect_timeout_ms,
        .first_byte_timeout_ms = cfg->first_byte_timeout_ms,
        .stall_timeout_ms = cfg->stall_timeout_ms,
        .total_timeout_ms = cfg->request_timeout_ms,
        .fresh_connect = r->fresh_retry,
        .on_head = on_head,
        .on_data = on_data,
        .on_done = on_done,
        .arg = r,
    };
    r->up = upstream_start(r->px->up, &o);
}

static void on_grant(struct sched_ticket *t, struct engine *e, int rc, const char *msg,
                     void *arg);

/* Moves a routed request to its next candidate model. */
static void next_candidate(struct relay *r, int rc, const char *msg)
{
    const struct config_model *from = r->dec.cands[r->cand];
    if (r->tried.len)
        buf_addstr(&r->tried, "; ");
    buf_addf(&r->tried, "%s: %s", from->name, msg);
    r->nospc |= rc == -ENOSPC;
    r->busy |= rc == -EBUSY;
    r->attempts += sched_ticket_attempts(r->ticket);
    log_info("route candidate cannot serve, trying the next route=%s model=%s next=%s",
             r->dec.route->name, from->name, r->dec.cands[r->cand + 1]->name);
    r->cand++;
    sched_ticket_free(r->ticket);
    r->model = sched_find_model(r->px->sched, r->dec.cands[r->cand]->name);
    r->ticket = sched_ticket_new(r->model, on_grant, r);
    sched_acquire(r->ticket);
}

static void on_grant(struct sched_ticket *t, struct engine *e, int rc, const char *msg, void *arg)
{
    struct relay *r = arg;
    if (r->finished)
        return;
    if (rc && r->routed && r->cand + 1 < r->dec.ncands) {
        /* This candidate cannot serve: the route's next one may. */
        next_candidate(r, rc, msg);
        return;
    }
    if (rc == -EBUSY && !r->nospc) {
        if (!r->sse_begun)
            http_req_add_header(r->req, "Retry-After", "1");
        fail(r, 429, "rate_limit_exceeded", "model_busy", msg);
        return;
    }
    if (rc) {
        struct buf m = BUF_INIT;
        if (r->tried.len)
            buf_addf(&m, "%s; ", buf_cstr(&r->tried));
        buf_addstr(&m, msg);
        fail(r, 503, "service_unavailable",
             rc == -ENOSPC || r->nospc ? "insufficient_memory" : "no_engine_available",
             buf_cstr(&m));
        buf_release(&m);
        return;
    }
    r->engine = e;
    free(r->engine_id);
    r->engine_id = xstrdup(engine_id(e));
    /* The body names the engine's model; rebuild it when the engine changes. */
    free(r->up_owned);
    r->up_owned = NULL;
    r->up_body = NULL;
    start_upstream(r);
}

/* ---- request lifetime ------------------------------------------------------------ */

static void ka_close_cb(uv_handle_t *h)
{
    free(h);
}

static void on_close(struct http_req *req, bool aborted, void *owner)
{
    struct relay *r = owner;
    struct proxy *px = r->px;
    if (r->up)
        upstream_abort(r->up);
    uint64_t now = clock_mono_ns();
    uint64_t t0 = http_req_start_ns(req);
    /* Integers only: this line is on the hot path of every request. */
    log_info("request path=%s model=%s engine=%s status=%d%s stream=%d bytes=%llu "
             "ttfb_us=%llu us=%llu attempts=%u",
             r->endpoint, r->client_model ? r->client_model : "-",
             r->engine_id ? r->engine_id : "-", r->status, aborted ? " aborted=1" : "",
             r->stream, (unsigned long long)http_req_bytes_out(req),
             (unsigned long long)(r->ttfb_ns ? (r->ttfb_ns - t0) / 1000 : 0),
             (unsigned long long)((now - t0) / 1000),
             r->attempts + (r->ticket ? sched_ticket_attempts(r->ticket) : 0));
    sched_ticket_free(r->ticket);
    if (r->ka) {
        uv_timer_stop(r->ka);
        uv_close((uv_handle_t *)r->ka, ka_close_cb);
    }
    if (r->routed)
        route_decision_release(&r->dec);
    answer_spec_free(r->spec);
    json_decref(r->report);
    free(r->best);
    free(r->best_model);
    free(r->best_engine);
    buf_release(&r->tried);
    json_decref(r->body);
    free(r->client_model);
    free(r->up_owned);
    free(r->engine_id);
    buf_release(&r->resp);
    list_del(&r->link);
    px->active--;
    free(r);
}

static const char *model_state(const struct config_model *mc, void *arg)
{
    struct proxy *px = arg;
    struct sched_model *m = sched_find_model(px->sched, mc->name);
    return m ? sched_model_state(m, NULL) : "unavailable";
}

void proxy_handle(struct proxy *px, struct http_req *req, const char *endpoint)
{
    size_t len;
    const char *text = http_req_body(req, &len);
    json_error_t jerr;
    if (!len) {
        http_respond_error(req, 400, "invalid_request_error", "missing_body",
                           "the request needs a JSON body");
        return;
    }
    json_t *body = json_loadb(text, len, 0, &jerr);
    if (!body) {
        http_respond_error(req, 400, "invalid_request_error", "invalid_json",
                           "the body is not valid JSON: %s (line %d, column %d)", jerr.text,
                           jerr.line, jerr.column);
        return;
    }
    if (!json_is_object(body)) {
        json_decref(body);
        http_respond_error(req, 400, "invalid_request_error", "invalid_json",
                           "the body must be a JSON object");
        return;
    }
    json_t *jm = json_object_get(body, "model");
    const char *model = json_string_value(jm);
    struct sched_model *m = model ? sched_find_model(px->sched, model) : NULL;
    const struct config_route *route = model && !m ? config_find_route(px->cfg, model) : NULL;
    if (!m && !route) {
        struct buf names = BUF_INIT;
        for (size_t i = 0; i < px->cfg->nroutes; i++)
            buf_addf(&names, "%s%s", names.len ? ", " : "", px->cfg->routes[i].name);
        for (size_t i = 0; i < sched_model_count(px->sched); i++) {
            const struct config_model *mc = sched_model_config(sched_model_at(px->sched, i));
            buf_addf(&names, "%s%s", names.len ? ", " : "", mc->name);
        }
        if (!jm)
            http_respond_error(req, 404, "invalid_request_error", "model_not_found",
                               "the request names no model; available models: %s",
                               buf_cstr(&names));
        else if (!model)
            http_respond_error(req, 404, "invalid_request_error", "model_not_found",
                               "\"model\" must be a string; available models: %s",
                               buf_cstr(&names));
        else
            http_respond_error(req, 404, "invalid_request_error", "model_not_found",
                               "the model '%s' does not exist; available models: %s", model,
                               buf_cstr(&names));
        buf_release(&names);
        json_decref(body);
        return;
    }
    json_t *js = json_object_get(body, "stream");
    if (js && !json_is_boolean(js) && !json_is_null(js)) {
        json_decref(body);
        http_respond_error(req, 400, "invalid_request_error", "invalid_stream",
                           "\"stream\" must be true or false");
        return;
    }
    if (px->cfg->log_prompts)
        log_debug("request body path=%s body=%.*s", endpoint, (int)len, text);

    /* A route picks the model from what the request holds. */
    struct route_decision dec;
    struct answer_spec *spec = NULL;
    bool routed = false;
    if (route) {
        struct route_request rq;
        router_features(body, http_req_header(req, "X-Hermod-Task"), &rq);
        int rc = router_decide(px->cfg, route, &rq, model_state, px, &dec);
        if (rc) {
            router_request_release(&rq);
            http_respond_error(req, 503, "service_unavailable", "no_route", "%s",
                               buf_cstr(&dec.why));
            route_decision_release(&dec);
            json_decref(body);
            return;
        }
        m = sched_find_model(px->sched, dec.cands[0]->name);
        routed = true;
        /* Structured answers on a route are judged, and escalated. */
        const json_t *rf = json_object_get(body, "response_format");
        if (rq.structured && !json_is_true(json_object_get(body, "stream"))) {
            struct buf err = BUF_INIT;
            /* The names an answer must keep are the user's: a system
             * prompt's examples are not, and for a picture or a recording
             * they are in the media, which no text check can see. */
            bool media = rq.modality & ~(unsigned)CONFIG_MOD_TEXT;
            int src = answer_spec_new(rf, media || !rq.user_text ? "" : rq.user_text,
                                      media ? 0 : rq.user_text_len, media ? 0 : route->coverage,
                                      &spec, &err);
            if (src) {
                http_respond_error(req, 400, "invalid_request_error", "invalid_response_format",
                                   "response_format: %s", buf_cstr(&err));
                buf_release(&err);
                route_decision_release(&dec);
                router_request_release(&rq);
                json_decref(body);
                return;
            }
            buf_release(&err);
        }
        router_request_release(&rq);
    }
    /* hermod's own request fields are not the engine's business */
    bool had_hermod = json_object_del(body, "hermod") == 0;

    struct relay *r = xcalloc(1, sizeof(*r));
    r->routed = routed;
    if (routed)
        r->dec = dec;
    if (spec) {
        r->spec = spec;
        r->report = json_array();
        r->deadline_ms = clock_mono_ms() + route->deadline_ms;
    }
    r->px = px;
    r->req = req;
    r->endpoint = endpoint;
    r->body = body;
    r->body_changed = had_hermod;
    r->client_model = xstrdup(model);
    r->stream = json_is_true(js) && strcmp(endpoint, "/v1/embeddings") != 0;
    r->model = m;
    r->t0_ns = clock_mono_ns();
    sse_scan_init(&r->scan);
    list_add_tail(&px->relays, &r->link);
    px->active++;
    http_req_set_owner(req, r, on_close, on_drain);
    r->ticket = sched_ticket_new(m, on_grant, r);
    if (r->stream) {
        r->ka = xmalloc(sizeof(*r->ka));
        uv_timer_init(px->loop, r->ka);
        r->ka->data = r;
        uv_timer_start(r->ka, ka_cb, px->cfg->keepalive_ms, 0);
    }
    sched_acquire(r->ticket);
}

struct proxy *proxy_new(uv_loop_t *loop, const struct config *cfg, struct sched *sched,
                        struct upstream *up)
{
    struct proxy *p = xcalloc(1, sizeof(*p));
    p->loop = loop;
    p->cfg = cfg;
    p->sched = sched;
    p->up = up;
    list_init(&p->relays);
    return p;
}

void proxy_free(struct proxy *p)
{
    if (!p)
        return;
    free(p);
}

unsigned proxy_active(const struct proxy *p)
{
    return p->active;
}
