/* SPDX-License-Identifier: MIT */
/*
 * proxy.c: the relay. See proxy.h for the contract.
 *
 * DESIGN
 * One `struct relay` per request, owned by the proxy and freed only when
 * the HTTP front says the request is over (on_close): that is the single
 * place where a client that went away is handled, whatever the state, by
 * aborting the upstream transfer and giving the ticket back.
 *
 * A relay is an explicit state machine. Every change of state goes through
 * set_state(), which asserts that the move is one of those in `moves`:
 *
 *   ROUTING ──> WAITING ──> CONNECTING ──> STREAMING ──> DONE
 *                 ^  │         │  │  ^                    ^
 *                 │  └─(error)─┼──┼──┼──────────> DONE ───┘
 *                 │            │  └──> COLLECTING ──> CHECKING ──> DONE
 *                 └─(fallback)─┘          │              │
 *                 └───────────────────────┘          ESCALATING ──> WAITING
 *                                                        └────────> CONNECTING
 *   any state ──(client gone)──> ABORTED
 *
 * ROUTING     the body is read, the model or route resolved (inside proxy_handle).
 * WAITING     a ticket waits for an engine (a cold start, a free slot).
 * CONNECTING  the upstream request is out; no status line yet.
 * STREAMING   the engine's body goes to the client as it comes: an event
 *             stream (SSE, with our [DONE] check) or a binary answer.
 * COLLECTING  the engine's body is buffered whole (JSON, errors, 5xx).
 * CHECKING    a structured answer on a route is being judged.
 * ESCALATING  it fell short: the same model once more, or the next one.
 * DONE        the client has its answer or its error; the ticket is back.
 * ABORTED     the client went away before DONE.
 *
 * Ownership: the relay owns its ticket (until DONE) and its upstream
 * request (`up`, set only by start_upstream(), cleared first thing in
 * on_done() and by the abort in on_close()), so no path can leave a
 * running transfer behind or forget one that runs.
 *
 * The answer's `model` is the name the client sent: an sse_rename rewrites
 * it in JSON answers and in every event of a stream, as the bytes pass.
 */
#include "gateway/proxy.h"
#include "gateway/proxy_int.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "gateway/auth.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/list.h"
#include "lib/prom.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "model/engine.h"
#include "net/http.h"
#include "net/sse.h"
#include "net/upstream.h"
#include "route/answer.h"
#include "route/router.h"
#include "sched/sched.h"
#include "text/jreq.h"

/* A multipart form's `model` field longer than this is refused. */
#define FORM_MODEL_MAX 1024

/* Takes body. */
static void sink_respond(const struct sink *s, int status, const char *ct, char *body, size_t len)
{
    if (!s->f) {
        http_respond(s->req, status, ct, body, len);
        return;
    }
    s->f->respond(s->req, status, ct, body, len, s->arg);
    free(body);
}

__attribute__((format(printf, 5, 6))) static void sink_error(const struct sink *s, int status,
                                                             const char *type, const char *code,
                                                             const char *fmt, ...)
{
    struct buf msg = BUF_INIT, body = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vaddf(&msg, fmt, ap);
    va_end(ap);
    if (s->refusal) {
        s->refusal->status = status;
        buf_reset(&s->refusal->why);
        buf_addstrs(&s->refusal->why, code, ": ", buf_cstr(&msg));
    }
    if (!s->f) {
        http_respond_error(s->req, status, type, code, "%s", buf_cstr(&msg));
    } else {
        http_error_json(&body, type, code, buf_cstr(&msg));
        size_t len;
        char *p = buf_detach(&body, &len);
        sink_respond(s, status, "application/json", p, len);
    }
    buf_release(&msg);
}

static void sink_stream_begin(const struct sink *s, int status, const char *ct)
{
    if (s->f)
        s->f->stream_begin(s->req, s->arg);
    else
        http_stream_begin(s->req, status, ct);
}

static void sink_stream_write(const struct sink *s, const char *p, size_t n)
{
    if (s->f)
        s->f->stream_write(s->req, p, n, s->arg);
    else
        http_stream_write(s->req, p, n);
}

static void sink_stream_end(const struct sink *s, bool ok)
{
    if (s->f)
        s->f->stream_end(s->req, ok, s->arg);
    else
        http_stream_end(s->req, ok);
}

static const char *const state_names[RELAY_NSTATES] = {
    "routing", "waiting", "connecting", "streaming", "collecting",
    "checking", "escalating", "done", "aborted",
};

#define S(x) (1u << RELAY_##x)
/* The moves allowed out of each state (ABORTED is allowed from any but
 * itself, and checked apart). */
static const unsigned moves[RELAY_NSTATES] = {
    [RELAY_ROUTING] = S(WAITING) | S(DONE),
    [RELAY_WAITING] = S(WAITING) | S(CONNECTING) | S(DONE),
    [RELAY_CONNECTING] = S(CONNECTING) | S(STREAMING) | S(COLLECTING) | S(WAITING) | S(DONE),
    [RELAY_STREAMING] = S(WAITING) | S(DONE),
    [RELAY_COLLECTING] = S(CHECKING) | S(WAITING) | S(DONE),
    [RELAY_CHECKING] = S(ESCALATING) | S(DONE),
    [RELAY_ESCALATING] = S(CONNECTING) | S(WAITING) | S(DONE),
    [RELAY_DONE] = 0,
    [RELAY_ABORTED] = 0,
};
#undef S

static void start_upstream(struct relay *r);
static void acquire(struct relay *r);

/* ---- states ------------------------------------------------------------------ */

static void release_ticket(struct relay *r)
{
    if (!r->ticket)
        return;
    r->attempts += sched_ticket_attempts(r->ticket);
    sched_ticket_free(r->ticket);
    r->ticket = NULL;
    r->engine = NULL;
}

static void set_state(struct relay *r, enum relay_state to)
{
    enum relay_state from = r->state;
    if (to == RELAY_ABORTED ? from == RELAY_ABORTED : !(moves[from] & (1u << to)))
        BUG("relay: no move from %s to %s", state_names[from], state_names[to]);
    r->state = to;
    if (to == RELAY_DONE || to == RELAY_ABORTED) {
        if (r->ka)
            uv_timer_stop(r->ka);
        release_ticket(r);
    }
}

static bool finished(const struct relay *r)
{
    return r->state == RELAY_DONE || r->state == RELAY_ABORTED;
}

/* ---- answering ---------------------------------------------------------------- */

static void add_route_headers(struct relay *r)
{
    http_req_add_header(r->req, "X-Hermod-Model", sched_model_config(r->model)->name);
    if (r->engine_id)
        http_req_add_header(r->req, "X-Hermod-Engine", r->engine_id);
    if (r->routed) {
        http_req_add_header(r->req, "X-Hermod-Route", r->dec.route->name);
        http_req_add_header(r->req, "X-Hermod-Rule", r->dec.rule->name);
        http_req_add_header(r->req, "X-Hermod-Reason", buf_cstr(&r->dec.why));
        if (r->tried.len)
            http_req_add_header(r->req, "X-Hermod-Passed-Over", buf_cstr(&r->tried));
    }
    unsigned a = r->attempts + (r->ticket ? sched_ticket_attempts(r->ticket) : 0);
    if (a > 1) {
        char n[16];
        snprintf(n, sizeof(n), "%u", a);
        http_req_add_header(r->req, "X-Hermod-Attempts", n);
    }
}

static void respond_best(struct relay *r, bool ok);

/* What to do next, after a refusal's reason: the client (often a person
 * reading an app's error) gets the step, not only the cause. */
static void add_next_step(struct buf *m, const char *code, const char *model)
{
    if (!strcmp(code, "insufficient_memory"))
        buf_addf(m, ". Next: free memory (hermod ps lists what runs, hermod unload MODEL "
                 "stops one) or raise 'budget' in the config, then retry");
    else if (!strcmp(code, "model_busy"))
        buf_addf(m, ". Next: retry after Retry-After, or raise '%s''s 'queue' or "
                 "'concurrency' in the config", model);
    else if (!strcmp(code, "no_engine_available"))
        buf_addf(m, ". Next: see why with hermod ps and hermod logs %s (or GET "
                 "/hermod/running), fix the engine, then retry", model);
    else if (!strcmp(code, "no_route"))
        buf_addf(m, ". Next: name a model that can take it, or add one to the route's rules "
                 "(hermod route --explain TEXT shows the decision)");
}

/* Ends the request with an error: as JSON or, once the stream is begun,
 * as an SSE error event (a raw stream is cut). An escalation that already
 * holds an answer answers with that instead. */
static void fail(struct relay *r, int status, const char *type, const char *code,
                 const char *msg)
{
    if (finished(r))
        return;
    if (r->best) {
        json_array_append_new(r->report, json_pack("{s:s,s:s,s:b,s:s}", "model",
                                                   sched_model_config(r->model)->name, "engine",
                                                   r->engine_id ? r->engine_id : "-", "ok", 0,
                                                   "problems", msg));
        respond_best(r, false);
        return;
    }
    set_state(r, RELAY_DONE);
    r->status = status;
    if (r->sse_begun) {
        struct buf ev = BUF_INIT;
        sse_rename_flush(&r->rename, &ev);
        buf_addstr(&ev, "data: ");
        http_error_json(&ev, type, code, msg);
        buf_addstr(&ev, "\n\n");
        sink_stream_write(&r->sink, ev.data, ev.len);
        sink_stream_end(&r->sink, true);
        buf_release(&ev);
        return;
    }
    if (http_req_responded(r->req)) {
        /* A binary answer cut short: all the client can be told. */
        log_warn("answer cut short path=%s model=%s: %s", r->endpoint, r->client_model, msg);
        sink_stream_end(&r->sink, false);
        return;
    }
    sink_error(&r->sink, status, type, code, "%s", msg);
}

static void begin_sse(struct relay *r)
{
    if (r->sse_begun)
        return;
    r->sse_begun = true;
    r->status = 200;
    add_route_headers(r);
    sink_stream_begin(&r->sink, 200, "text/event-stream");
}

static void ka_cb(uv_timer_t *t)
{
    struct relay *r = t->data;
    if (r->state != RELAY_WAITING && r->state != RELAY_CONNECTING)
        return;
    begin_sse(r);
    struct buf line = BUF_INIT;
    buf_addstr(&line, ": hermod: ");
    if (r->state == RELAY_CONNECTING)
        buf_addf(&line, "waiting for %s to answer", r->engine_id);
    else
        sched_ticket_status(r->ticket, &line);
    buf_addstr(&line, "\n\n");
    sink_stream_write(&r->sink, line.data, line.len);
    buf_release(&line);
    uv_timer_start(t, ka_cb, r->cfg->keepalive_ms, 0);
}

static void arm_keepalive(struct relay *r)
{
    if (r->ka && !uv_is_active((uv_handle_t *)r->ka))
        uv_timer_start(r->ka, ka_cb, r->cfg->keepalive_ms, 0);
}

/* ---- upstream callbacks --------------------------------------------------------- */

static bool ct_is(const char *ct, const char *type)
{
    size_t n = strlen(type);
    return ct && !strncasecmp(ct, type, n) && (!ct[n] || ct[n] == ';' || ct[n] == ' ');
}

static bool ct_is_json(const char *ct)
{
    /* application/json, and +json types (problem+json, ...) */
    if (!ct)
        return false;
    const char *semi = strchr(ct, ';');
    size_t n = semi ? (size_t)(semi - ct) : strlen(ct);
    while (n && ct[n - 1] == ' ')
        n--;
    return (n >= 16 && !strncasecmp(ct, "application/json", 16)) ||
           (n >= 5 && !strncasecmp(ct + n - 5, "+json", 5));
}

/*
 * The token counts of an OpenAI answer or stream chunk, when it says.
 * Only the usage object is parsed, not the answer around it: the last
 * `"usage"` followed by a colon and an object is the key (inside a string
 * every quote is escaped, and OpenAI servers put usage last), and jansson
 * reads that object and stops there.
 */
static const char *skip_space(const char *v, const char *end)
{
    while (v < end && (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n'))
        v++;
    return v;
}

/* The first key (quotes included) in [p, end): memchr for its quote, then
 * memcmp. The spans here are short (a usage object), where glibc's memmem
 * spends more on its setup than on the search. */
static const char *find_key(const char *p, const char *end, const char *key, size_t klen)
{
    while (end - p >= (ptrdiff_t)klen) {
        const char *q = memchr(p, '"', (size_t)(end - p) - klen + 1);
        if (!q)
            return NULL;
        if (!memcmp(q, key, klen))
            return q;
        p = q + 1;
    }
    return NULL;
}

/*
 * The value of `"KEY": <digits>` in [v, end), or -1. A quote that is not
 * escaped cannot be inside a string, so the quoted key followed by a colon
 * is a key; after the usage key the only object holding these two keys is
 * usage itself.
 */
static long long int_after_key(const char *v, const char *end, const char *key, size_t klen)
{
    const char *q = find_key(v, end, key, klen);
    if (!q)
        return -1;
    const char *c = skip_space(q + klen, end);
    if (c >= end || *c != ':')
        return -1;
    c = skip_space(c + 1, end);
    long long x = 0;
    const char *d = c;
    while (d < end && *d >= '0' && *d <= '9' && d - c < 18)
        x = x * 10 + (*d++ - '0');
    if (d == c || (d < end && (*d == '.' || *d == 'e' || *d == 'E' || (*d >= '0' && *d <= '9'))))
        return -1;
    return x;
}

static void take_usage(struct relay *r, const char *p, size_t n)
{
    const char *end = p + n, *v = NULL;
    /* From the end, quote by quote: the usage key is near it. */
    for (const char *q = end; !v && (q = memrchr(p, '"', (size_t)(q - p)));) {
        if (end - q < 7 || memcmp(q, "\"usage\"", 7))
            continue;
        const char *c = skip_space(q + 7, end);
        if (c < end && *c == ':') {
            c = skip_space(c + 1, end);
            if (c < end && *c == '{')
                v = c;
        }
    }
    if (!v)
        return;
    /* The usual shape, two whole numbers, is read where it stands (jansson
     * costs ~12k instructions here, a sixth of a relayed request); anything
     * else (null, a fraction, a key missing) goes to jansson. */
    long long in = int_after_key(v, end, "\"prompt_tokens\"", 15);
    long long out = int_after_key(v, end, "\"completion_tokens\"", 19);
    if (in >= 0 && out >= 0) {
        r->tokens_in = in;
        r->tokens_out = out;
        return;
    }
    json_t *u = json_loadb(v, (size_t)(end - v), JSON_DISABLE_EOF_CHECK, NULL);
    json_t *ji = json_object_get(u, "prompt_tokens");
    json_t *jo = json_object_get(u, "completion_tokens");
    if (json_is_integer(ji) && json_integer_value(ji) >= 0)
        r->tokens_in = json_integer_value(ji);
    if (json_is_integer(jo) && json_integer_value(jo) >= 0)
        r->tokens_out = json_integer_value(jo);
    json_decref(u);
}

/* Longest event line looked at for usage; longer ones are content. */
#define USAGE_LINE_MAX (64u << 10)

/* One whole event line: is it a data line with a usage object? */
static void usage_line(struct relay *r, const char *l, size_t k)
{
    if (k > 6 && !memcmp(l, "data:", 5) && memmem(l, k, "\"usage\"", 7) &&
        !memmem(l, k, "\"usage\":null", 12))
        take_usage(r, l + 5, k - 5);
}

/*
 * Streams: usage comes in a chunk of its own at the end, when the client
 * asked for it (stream_options.include_usage). An event line read whole is
 * looked at where it lies; one cut by a read is kept until its end (at
 * most USAGE_LINE_MAX) and looked at then. A line that mentions "usage"
 * with a value other than null is parsed.
 */
static void scan_usage(struct relay *r, const char *p, size_t n)
{
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t k = nl ? (size_t)(nl - p) : n;
        if (!r->uline_skip && r->uline.len + k > USAGE_LINE_MAX) {
            r->uline_skip = true;
            buf_reset(&r->uline);
        }
        if (!nl) {
            if (!r->uline_skip)
                buf_add(&r->uline, p, k);
            return;
        }
        if (r->uline_skip) {
            /* the end of a line too long to be a usage chunk */
        } else if (!r->uline.len) {
            usage_line(r, p, k);
        } else {
            buf_add(&r->uline, p, k);
            usage_line(r, r->uline.data, r->uline.len);
        }
        buf_reset(&r->uline);
        r->uline_skip = false;
        p += k + 1;
        n -= k + 1;
    }
}

static void on_head(struct upstream_req *u, long status, void *arg)
{
    struct relay *r = arg;
    ASSERT(r->state == RELAY_CONNECTING && r->up == u);
    r->up_status = status;
    free(r->up_ct);
    free(r->up_retry_after);
    const char *ct = upstream_req_content_type(u);
    const char *ra = upstream_req_retry_after(u);
    r->up_ct = ct ? xstrdup(ct) : NULL;
    r->up_retry_after = ra ? xstrdup(ra) : NULL;
    bool sse = ct_is(ct, "text/event-stream");
    if (r->stream && status == 200 && sse) {
        set_state(r, RELAY_STREAMING);
        r->stream_kind = STREAM_SSE;
        if (r->ka)
            uv_timer_stop(r->ka);
        if (!r->sse_begun) {
            begin_sse(r);
        } else {
            struct buf line = BUF_INIT;
            buf_addf(&line, ": hermod: ready, answered by %s\n\n", r->engine_id);
            sink_stream_write(&r->sink, line.data, line.len);
            buf_release(&line);
        }
        return;
    }
    if (status >= 200 && status < 300 && ct && !sse && !ct_is_json(ct) && !r->spec &&
        !r->sse_begun && !r->sink.f) {
        /* Audio, images, files: the client gets them as they come, with
         * the engine's status and type. */
        set_state(r, RELAY_STREAMING);
        r->stream_kind = STREAM_RAW;
        r->status = (int)status;
        add_route_headers(r);
        http_stream_begin(r->req, (int)status, ct);
        return;
    }
    set_state(r, RELAY_COLLECTING);
}

static int on_data(struct upstream_req *u, const char *p, size_t n, void *arg)
{
    struct relay *r = arg;
    ASSERT(r->up == u);
    if (r->state == RELAY_STREAMING) {
        if (http_stream_pending(r->req) >= HTTP_STREAM_HIGH_WATER)
            return UPSTREAM_PAUSE;
        if (!r->ttfb_ns)
            r->ttfb_ns = clock_mono_ns();
        if (r->stream_kind == STREAM_SSE) {
            sse_scan_feed(&r->scan, p, n);
            scan_usage(r, p, n);
            buf_reset(&r->out);
            sse_rename_feed(&r->rename, p, n, &r->out);
            if (r->out.len)
                sink_stream_write(&r->sink, r->out.data, r->out.len);
        } else {
            sink_stream_write(&r->sink, p, n);
        }
        r->sent = true;
        return 0;
    }
    ASSERT(r->state == RELAY_COLLECTING);
    if (r->resp.len + n > r->cfg->max_response) {
        /* Dropping the rest makes on_done see a cut body; keep the head. */
        r->resp.len = r->cfg->max_response + 1;
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
 * model's next engine. A refused connection, or one closed before any
 * answer, to an engine hermod runs means its process is ending (it crashed
 * under an earlier request): the scheduler waits for the end and starts it
 * again (sched_engine_refused), once per request, so that a request that
 * itself kills the engine does not restart it forever. */
static void fall_back(struct relay *r, const char *reason, int rc)
{
    bool gone = rc == -ECONNREFUSED || (rc == -ECONNRESET && !r->up_status);
    log_warn("request failed on engine, trying the next engine=%s reason=\"%s\"", r->engine_id,
             reason);
    r->up_status = 0;
    r->fresh_retry = false;
    buf_reset(&r->resp);
    sse_scan_init(&r->scan);
    prom_add(r->px->m_fallbacks, (const char *[]){sched_model_config(r->model)->name}, 1);
    if (gone && !r->gone_waited) {
        r->gone_waited = true;
        sched_engine_refused(r->ticket, reason);
    } else {
        sched_engine_failed(r->ticket, reason, true);
    }
    r->engine = NULL;
    if (r->stream)
        arm_keepalive(r);
    acquire(r);
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
    set_state(r, RELAY_DONE);
    json_t *resp = json_loadb(r->best, r->best_len, 0, NULL);
    if (resp) {
        if (json_array_size(r->report) > 1 || !ok)
            json_object_set_new(resp, "hermod",
                                json_pack("{s:b,s:O}", "valid", ok, "attempts", r->report));
        if (json_is_string(json_object_get(resp, "model")))
            json_object_set_new(resp, "model", json_string(r->client_model));
        free(r->best);
        r->best = json_dumps(resp, JSON_COMPACT);
        r->best_len = strlen(r->best);
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
    r->status = 200;
    r->ttfb_ns = clock_mono_ns();
    take_usage(r, r->best, r->best_len);
    char *body = r->best;
    r->best = NULL;
    sink_respond(&r->sink, 200, "application/json", body, r->best_len);
}

/* Keeps the answer in r->resp as the best so far if it beats the one kept. */
static void keep_if_best(struct relay *r, json_t *resp, const struct answer_verdict *v,
                         int64_t score)
{
    if (r->best && score <= r->best_score)
        return;
    free(r->best);
    free(r->best_model);
    free(r->best_engine);
    /* A valid answer found inside prose or a code fence is handed over as
     * the JSON alone, which is what the client asked for. */
    if (v->ok && v->wrapped && v->json && resp) {
        json_t *c0 = json_array_get(json_object_get(resp, "choices"), 0);
        char *clean = json_dumps(v->json, JSON_COMPACT);
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
    r->best_model = xstrdup(sched_model_config(r->model)->name);
    r->best_engine = xstrdup(r->engine_id ? r->engine_id : "-");
}

/*
 * CHECKING: judges a structured answer (answer.c). A valid one goes to the
 * client. Otherwise the best so far is kept and the request goes on: once
 * more to the same model when the answer looks like an accident (cut
 * short, or no JSON at all), else to the route's next candidate, the
 * specialist lane last; bounded by the route's attempts and deadline.
 * Always ends in DONE, or ESCALATING and on to the next attempt.
 */
static bool escalate(struct relay *r)
{
    set_state(r, RELAY_CHECKING);
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
    keep_if_best(r, resp, &v, score);
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
    set_state(r, RELAY_ESCALATING);
    prom_add(r->px->m_escalations, (const char *[]){rt->name, model}, 1);
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

static void respond_collected(struct relay *r)
{
    set_state(r, RELAY_DONE);
    r->status = (int)r->up_status;
    r->ttfb_ns = clock_mono_ns();
    if (r->up_status == 200 && ct_is_json(r->up_ct) && r->resp.len)
        take_usage(r, r->resp.data, r->resp.len);
    add_route_headers(r);
    if (r->up_retry_after)
        http_req_add_header(r->req, "Retry-After", r->up_retry_after);
    const char *ct = r->up_ct ? r->up_ct : "application/json";
    struct buf body = BUF_INIT;
    if (ct_is_json(ct) || ct_is(ct, "text/event-stream")) {
        buf_grow(&body, r->resp.len + 64);
        sse_rename_feed(&r->rename, r->resp.data ? r->resp.data : "", r->resp.len, &body);
        sse_rename_flush(&r->rename, &body);
    } else {
        buf_add(&body, r->resp.data ? r->resp.data : "", r->resp.len);
    }
    size_t len;
    char *p = buf_detach(&body, &len);
    sink_respond(&r->sink, (int)r->up_status, ct, p, len);
}

static void finish_collected(struct relay *r)
{
    if (r->resp.len > r->cfg->max_response) {
        char m[128];
        snprintf(m, sizeof(m), "the engine's answer is larger than max_response (%llu bytes)",
                 (unsigned long long)r->cfg->max_response);
        fail(r, 502, "upstream_error", "response_too_large", m);
        return;
    }
    if (r->sse_begun) {
        /* We promised a stream; the engine answered something else (often a
         * JSON error for a bad request). Pass it on as an event. */
        set_state(r, RELAY_DONE);
        struct buf ev = BUF_INIT;
        buf_addstr(&ev, "data: ");
        if (r->up_status >= 400) {
            struct buf msg = BUF_INIT;
            buf_addf(&msg, "engine %s answered HTTP %ld: ", r->engine_id, r->up_status);
            excerpt(&msg, &r->resp);
            http_error_json(&ev, "upstream_error", "upstream_status", buf_cstr(&msg));
            buf_release(&msg);
        } else {
            struct buf renamed = BUF_INIT;
            sse_rename_feed(&r->rename, r->resp.data ? r->resp.data : "", r->resp.len, &renamed);
            sse_rename_flush(&r->rename, &renamed);
            for (size_t i = 0; i < renamed.len; i++)
                if (renamed.data[i] != '\n' && renamed.data[i] != '\r')
                    buf_addch(&ev, renamed.data[i]);
            buf_release(&renamed);
            buf_addstr(&ev, "\n\ndata: [DONE]");
        }
        buf_addstr(&ev, "\n\n");
        sink_stream_write(&r->sink, ev.data, ev.len);
        sink_stream_end(&r->sink, true);
        buf_release(&ev);
        r->status = 200;
        return;
    }
    if (r->spec && r->up_status == 200) {
        escalate(r);
        return;
    }
    if (r->spec && r->best) {
        /* An escalated attempt that the engine refused: the answer kept
         * so far goes back, with this refusal in its record. */
        struct buf m = BUF_INIT;
        buf_addf(&m, "engine %s answered HTTP %ld: ", r->engine_id, r->up_status);
        excerpt(&m, &r->resp);
        fail(r, 502, "upstream_error", "upstream_status", buf_cstr(&m));
        buf_release(&m);
        return;
    }
    respond_collected(r);
}

static void on_done(struct upstream_req *u, int rc, const char *msg, void *arg)
{
    struct relay *r = arg;
    /* The transfer is over: from here on the relay owns no upstream
     * request, whatever it starts next. */
    ASSERT(r->up == u);
    r->up = NULL;
    bool reused = upstream_req_reused(u);
    uint64_t got = upstream_req_body_bytes(u);

    switch (r->state) {
    case RELAY_CONNECTING:
    case RELAY_COLLECTING:
        if (rc == 0 && r->state == RELAY_COLLECTING) {
            if (r->up_status >= 500) {
                struct buf m = BUF_INIT;
                buf_addf(&m, "HTTP %ld: ", r->up_status);
                excerpt(&m, &r->resp);
                fall_back(r, buf_cstr(&m), 0);
                buf_release(&m);
                return;
            }
            finish_collected(r);
            return;
        }
        if (rc == 0)
            rc = -EPROTO; /* done without a status line */
        if (rc == -ECONNRESET && reused && !r->fresh_retry && !r->up_status && !got) {
            /* The engine closed a kept-alive connection as we reused it
             * (llama-server closes after each stream). Not a failure. */
            log_debug("upstream connection was stale, retrying on a fresh one engine=%s",
                      r->engine_id);
            r->fresh_retry = true;
            set_state(r, RELAY_CONNECTING);
            start_upstream(r);
            return;
        }
        if (rc == -ETIMEDOUT) {
            struct buf m = BUF_INIT;
            buf_addf(&m, "engine %s timed out: %s", r->engine_id, msg);
            fail(r, 504, "upstream_error", "upstream_timeout", buf_cstr(&m));
            buf_release(&m);
            return;
        }
        fall_back(r, msg, rc);
        return;
    case RELAY_STREAMING:
        if (rc != 0 && !r->sent) {
            fall_back(r, msg, rc);
            return;
        }
        if (rc != 0) {
            struct buf m = BUF_INIT;
            buf_addf(&m, "engine %s failed mid-stream: %s; the answer is incomplete",
                     r->engine_id, msg);
            fail(r, 502, "upstream_error",
                 rc == -ETIMEDOUT ? "upstream_stalled" : "stream_interrupted", buf_cstr(&m));
            buf_release(&m);
            return;
        }
        if (r->stream_kind == STREAM_SSE && !r->scan.saw_done && !r->scan.saw_error) {
            struct buf m = BUF_INIT;
            buf_addf(&m, "engine %s ended the stream without [DONE]; the answer may be incomplete",
                     r->engine_id);
            fail(r, 502, "upstream_error", "stream_interrupted", buf_cstr(&m));
            buf_release(&m);
            return;
        }
        set_state(r, RELAY_DONE);
        if (r->stream_kind == STREAM_SSE) {
            buf_reset(&r->out);
            sse_rename_flush(&r->rename, &r->out);
            if (r->out.len)
                sink_stream_write(&r->sink, r->out.data, r->out.len);
        }
        sink_stream_end(&r->sink, true);
        return;
    default:
        BUG("relay: upstream done in state %s", state_names[r->state]);
    }
}

/* ---- engines -------------------------------------------------------------------- */

/* The body this engine gets: the client's bytes when they will do, else
 * the JSON with the engine's model id. A form goes as it came. */
static void build_up_body(struct relay *r)
{
    size_t in_len = r->in_len;
    const char *in = r->in_body ? r->in_body : http_req_body(r->req, &in_len);
    const char *um = engine_upstream_model(r->engine);
    const char *cm = r->body ? json_string_value(json_object_get(r->body, "model"))
                             : r->client_model;
    if (r->body_kind == BODY_FORM || (!r->body_changed && cm && !strcmp(cm, um))) {
        r->up_body = in;
        r->up_len = in_len;
        return;
    }
    if (!r->body) {
        /* No tree (jreq_scan): the client's bytes with the engine's name
         * in place of the model's value. */
        struct buf b = BUF_INIT;
        buf_grow(&b, in_len + 2 * strlen(um) + 8);
        buf_add(&b, in, r->model_off);
        buf_add_json_str(&b, um);
        buf_add(&b, in + r->model_end, in_len - r->model_end);
        r->up_owned = buf_detach(&b, &r->up_len);
        r->up_body = r->up_owned;
        return;
    }
    json_object_set_new(r->body, "model", json_string(um));
    r->body_changed = true; /* a later engine must not get the client's bytes */
    /* One pass into a buffer sized from the request: the rewritten body is
     * the client's, give or take the model name (and escapes). */
    size_t cap = in_len + 2 * strlen(um) + 256;
    r->up_owned = xmalloc(cap);
    r->up_len = json_dumpb(r->body, r->up_owned, cap, JSON_COMPACT);
    if (r->up_len > cap) {
        r->up_owned = xrealloc(r->up_owned, r->up_len);
        r->up_len = json_dumpb(r->body, r->up_owned, r->up_len, JSON_COMPACT);
    }
    r->up_body = r->up_owned;
}

/* Starts the one upstream transfer of this relay (CONNECTING). */
static void start_upstream(struct relay *r)
{
    ASSERT(!r->up && r->engine);
    if (r->state != RELAY_CONNECTING)
        set_state(r, RELAY_CONNECTING);
    const struct config *cfg = r->cfg;
    if (!r->up_body)
        build_up_body(r);
    struct buf ub = BUF_INIT;
    buf_addstrs(&ub, engine_base_url(r->engine), r->endpoint);
    char *url = buf_detach(&ub, NULL);
    struct upstream_opts o = {
        .method = "POST",
        .url = url,
        .body = r->up_body,
        .body_len = r->up_len,
        .content_type = r->body_kind == BODY_FORM ? http_req_header(r->req, "Content-Type")
                                                  : NULL,
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
    free(url);
}

static void on_grant(struct sched_ticket *t, struct engine *e, int rc, const char *msg,
                     void *arg);

/* WAITING: asks the scheduler for an engine; the answer may come at once. */
/* Shutting down, a request that would need a cold start gets a 503 that
 * says why (at the drain, and for any later fallback). Returns whether it
 * did. */
static bool refuse_cold_start(struct relay *r)
{
    if (!r->px->draining || !strcmp(sched_model_state(r->model, NULL), "ready"))
        return false;
    struct buf m = BUF_INIT;
    buf_addf(&m, "hermod is shutting down; %s is not loaded and will not be now; retry in a "
             "moment", sched_model_config(r->model)->name);
    if (!r->sse_begun)
        http_req_add_header(r->req, "Retry-After", "5");
    fail(r, 503, "service_unavailable", "shutting_down", buf_cstr(&m));
    buf_release(&m);
    return true;
}

static void acquire(struct relay *r)
{
    set_state(r, RELAY_WAITING);
    if (!refuse_cold_start(r))
        sched_acquire(r->ticket);
}

/* Moves a routed request to its next candidate model. */
static void next_candidate(struct relay *r, int rc, const char *msg)
{
    const struct config_model *from = r->dec.cands[r->cand];
    if (r->tried.len)
        buf_addstr(&r->tried, "; ");
    buf_addf(&r->tried, "%s: %s", from->name, msg);
    r->nospc |= rc == -ENOSPC;
    prom_add(r->px->m_passed_over, (const char *[]){r->dec.route->name, from->name}, 1);
    log_info("route candidate cannot serve, trying the next route=%s model=%s next=%s",
             r->dec.route->name, from->name, r->dec.cands[r->cand + 1]->name);
    r->cand++;
    release_ticket(r);
    free(r->engine_id);
    r->engine_id = NULL;
    struct sched_model *m = sched_find_model(r->px->sched, r->dec.cands[r->cand]->name);
    if (!m) {
        /* A config reload removed it since the route decided. */
        if (r->cand + 1 < r->dec.ncands) {
            next_candidate(r, -ENODEV, "removed by a config reload");
            return;
        }
        struct buf e = BUF_INIT;
        buf_addf(&e, "%s; %s: removed by a config reload", buf_cstr(&r->tried),
                 r->dec.cands[r->cand]->name);
        add_next_step(&e, "no_route", NULL);
        fail(r, 503, "service_unavailable", "no_engine_available", buf_cstr(&e));
        buf_release(&e);
        return;
    }
    r->model = m;
    r->ticket = sched_ticket_new(r->model, on_grant, r);
    free(r->up_owned);
    r->up_owned = NULL;
    r->up_body = NULL;
    acquire(r);
}

static void on_grant(struct sched_ticket *t, struct engine *e, int rc, const char *msg, void *arg)
{
    struct relay *r = arg;
    ASSERT(r->state == RELAY_WAITING && r->ticket == t);
    if (rc && r->routed && r->cand + 1 < r->dec.ncands) {
        /* This candidate cannot serve: the route's next one may. */
        next_candidate(r, rc, msg);
        return;
    }
    const char *name = sched_model_config(r->model)->name;
    if (rc == -EBUSY && !r->nospc) {
        if (!r->sse_begun)
            http_req_add_header(r->req, "Retry-After", "1");
        struct buf m = BUF_INIT;
        buf_addstr(&m, msg);
        add_next_step(&m, "model_busy", name);
        fail(r, 429, "rate_limit_exceeded", "model_busy", buf_cstr(&m));
        buf_release(&m);
        return;
    }
    if (rc) {
        struct buf m = BUF_INIT;
        const char *code =
            rc == -ENOSPC || r->nospc ? "insufficient_memory" : "no_engine_available";
        if (r->tried.len)
            buf_addf(&m, "%s; ", buf_cstr(&r->tried));
        buf_addstr(&m, msg);
        add_next_step(&m, code, name);
        fail(r, 503, "service_unavailable", code, buf_cstr(&m));
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

/* The one place a relay ends, whatever its state: the client has its
 * answer, or went away. */
static void on_close(struct http_req *req, bool aborted, void *owner)
{
    struct relay *r = owner;
    struct proxy *px = r->px;
    if (r->state != RELAY_DONE)
        set_state(r, RELAY_ABORTED);
    if (r->up) {
        upstream_abort(r->up);
        r->up = NULL;
    }
    uint64_t now = clock_mono_ns();
    uint64_t t0 = http_req_start_ns(req);
    if (log_enabled(LOG_INFO)) {
        /* On every request's path: built without printf. */
        struct buf l = BUF_INIT;
        buf_grow(&l, 256);
        buf_addstrs(&l, "request path=", r->endpoint, " model=",
                    r->client_model ? r->client_model : "-", " engine=",
                    r->engine_id ? r->engine_id : "-", " status=");
        buf_add_u64(&l, (uint64_t)(r->status < 0 ? 0 : r->status));
        buf_addstrs(&l, aborted ? " aborted=1" : "", " stream=", r->stream ? "1" : "0",
                    " bytes=");
        buf_add_u64(&l, http_req_bytes_out(req));
        buf_addstr(&l, " ttfb_us=");
        buf_add_u64(&l, r->ttfb_ns ? (r->ttfb_ns - t0) / 1000 : 0);
        buf_addstr(&l, " us=");
        buf_add_u64(&l, (now - t0) / 1000);
        buf_addstr(&l, " attempts=");
        buf_add_u64(&l, r->attempts);
        log_text(LOG_INFO, l.data, l.len);
        buf_release(&l);
    }
    proxy__count(r, aborted, now - t0);
    proxy__remember(r, aborted, now - t0);
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
    free(r->up_ct);
    free(r->up_retry_after);
    free(r->engine_id);
    buf_release(&r->resp);
    buf_release(&r->out);
    sse_rename_release(&r->rename);
    buf_release(&r->uline);
    free(r->in_body);
    if (r->sink.f)
        r->sink.f->free(r->sink.arg);
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

/* ---- reading the request --------------------------------------------------------- */

/* What a multipart form tells the relay: its model and whether it carries
 * audio. */
struct form_scan {
    const char *endpoint;
    struct buf model;
    bool has_model;
    bool too_long;
    unsigned audio;       /* file parts that are audio */
};

static int form_part_cb(void *arg, const char *name, const char *filename,
                        const char *content_type, const char *data, uint64_t off, size_t size)
{
    struct form_scan *f = arg;
    if (name && !strcmp(name, "model") && !filename) {
        f->has_model = true;
        if (f->model.len + size > FORM_MODEL_MAX)
            f->too_long = true;
        else
            buf_add(&f->model, data, size);
    }
    if (filename && off == 0 &&
        ((content_type && (!strncasecmp(content_type, "audio/", 6) ||
                           !strncasecmp(content_type, "video/", 6))) ||
         str_starts_with(f->endpoint, "/v1/audio/")))
        f->audio++;
    return 0;
}

/* Only multipart forms: the OpenAI API sends files that way, while curl's
 * -d labels JSON bodies application/x-www-form-urlencoded. */
static bool is_form(const char *ct)
{
    return ct_is(ct, "multipart/form-data");
}

/* The models and routes a client may name, for messages. */
static void list_names(struct proxy *px, const struct http_req *req, struct buf *names)
{
    for (size_t i = 0; i < px->cfg->nroutes; i++)
        if (auth_allows(px->cfg, req, px->cfg->routes[i].name))
            buf_addf(names, "%s%s", names->len ? ", " : "", px->cfg->routes[i].name);
    for (size_t i = 0; i < sched_model_count(px->sched); i++) {
        const struct config_model *mc = sched_model_config(sched_model_at(px->sched, i));
        if (auth_allows(px->cfg, req, mc->name))
            buf_addf(names, "%s%s", names->len ? ", " : "", mc->name);
    }
}

static void unknown_model(struct proxy *px, const struct sink *sk, const char *model,
                          const char *why)
{
    struct buf names = BUF_INIT;
    list_names(px, sk->req, &names);
    if (model)
        sink_error(sk, 404, "invalid_request_error", "model_not_found",
                           "the model '%s' does not exist; available models: %s", model,
                           buf_cstr(&names));
    else
        sink_error(sk, 404, "invalid_request_error", "model_not_found",
                           "%s; available models: %s", why, buf_cstr(&names));
    buf_release(&names);
}

/* Reads the JSON body. Returns it, or NULL having answered. */
static json_t *read_json(const struct sink *sk, const char *text, size_t len)
{
    json_error_t jerr;
    if (!len) {
        sink_error(sk, 400, "invalid_request_error", "missing_body",
                           "the request needs a JSON body");
        return NULL;
    }
    json_t *body = json_loadb(text, len, 0, &jerr);
    if (!body) {
        sink_error(sk, 400, "invalid_request_error", "invalid_json",
                           "the body is not valid JSON: %s (line %d, column %d)", jerr.text,
                           jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(body)) {
        json_decref(body);
        sink_error(sk, 400, "invalid_request_error", "invalid_json",
                           "the body must be a JSON object");
        return NULL;
    }
    return body;
}

/*
 * The quick look (text/jreq.h): true when the body is a JSON object whose
 * "model" is a string that names no route (routes and model names never
 * share a name: config.c), with a "stream" that is a boolean, null or
 * absent, and no "hermod" options. Such a request needs no tree: the relay
 * passes the client's bytes on, with the engine's model name put in place;
 * whether the model exists and the key may use it is checked after, as for
 * every request. Anything else goes through jansson.
 */
static bool scan_plain(struct proxy *px, const char *text, size_t len, struct jreq *q)
{
    if (jreq_scan(text, len, q))
        return false;
    bool ok = q->model_kind == JREQ_STRING && !q->has_hermod &&
              (q->stream_kind == JREQ_ABSENT || q->stream_kind == JREQ_TRUE ||
               q->stream_kind == JREQ_FALSE || q->stream_kind == JREQ_NULL) &&
              !config_find_route(px->cfg, q->model);
    if (!ok)
        jreq_release(q);
    return ok;
}

/* proxy_handle and proxy_handle_filtered. in_body (taken) is the filtered
 * request's body, or NULL. Returns whether a relay took the request; if
 * not, it was answered. */
static bool handle(struct proxy *px, struct http_req *req, const char *endpoint, char *in_body,
                   size_t in_len, const struct sink *sk_in)
{
    /* The same sink, noting a refusal for the recent-requests ring. */
    struct sink_refusal refusal = {.status = 0, .why = BUF_INIT};
    struct sink sk_copy = *sk_in;
    sk_copy.refusal = &refusal;
    const struct sink *sk = &sk_copy;
    const char *ct = http_req_header(req, "Content-Type");
    enum body_kind kind = !in_body && is_form(ct) ? BODY_FORM : BODY_JSON;
    json_t *body = NULL;
    char *model = NULL;
    struct route_request rq;
    bool have_rq = false;
    struct jreq fast = {0}; /* BODY_JSON without a tree: what jreq_scan read */
    int st = 400; /* the status of a refusal */
    size_t len = in_len; /* the OpenAI body: the filtered one, or the request's */
    const char *text = in_body ? in_body : http_req_body(req, &len);

    if (kind == BODY_FORM) {
        struct form_scan f = {.endpoint = endpoint};
        int rc = http_req_form_each(req, form_part_cb, &f);
        if (rc || f.too_long) {
            buf_release(&f.model);
            if (rc)
                sink_error(sk, 400, "invalid_request_error", "invalid_form",
                                   "the body does not parse as the form its Content-Type "
                                   "says (%s)", ct);
            else
                sink_error(sk, 400, "invalid_request_error", "invalid_form",
                                   "the form's model field is longer than %d bytes",
                                   FORM_MODEL_MAX);
            goto refuse;
        }
        if (!f.has_model) {
            buf_release(&f.model);
            unknown_model(px, sk, NULL, "the form has no 'model' field");
            st = 404;
            goto refuse;
        }
        model = buf_detach(&f.model, NULL);
        router_features_text("", 0, &rq);
        have_rq = true;
        if (f.audio)
            rq.modality = CONFIG_MOD_AUDIO;
        rq.audios = f.audio;
    } else if (scan_plain(px, text, len, &fast)) {
        /* A model named directly, and nothing that needs the tree. */
        model = fast.model;
        fast.model = NULL;
    } else {
        body = read_json(sk, text, len);
        if (!body)
            goto refuse;
        json_t *jm = json_object_get(body, "model");
        if (!json_is_string(jm)) {
            unknown_model(px, sk, NULL,
                          jm ? "\"model\" must be a string" : "the request names no model");
            st = 404;
            goto refuse;
        }
        model = xstrdup(json_string_value(jm));
        json_t *js = json_object_get(body, "stream");
        if (js && !json_is_boolean(js) && !json_is_null(js)) {
            sink_error(sk, 400, "invalid_request_error", "invalid_stream",
                               "\"stream\" must be true or false");
            goto refuse;
        }
    }

    struct sched_model *m = sched_find_model(px->sched, model);
    const struct config_route *route = !m ? config_find_route(px->cfg, model) : NULL;
    if ((!m && !route) || !auth_allows(px->cfg, req, model)) {
        /* A model outside the API key's list does not exist for it. */
        unknown_model(px, sk, model, NULL);
        st = 404;
        goto refuse;
    }
    if (px->cfg->log_prompts && kind == BODY_JSON)
        log_debug("request body path=%s body=%.*s", endpoint, (int)len, text);

    /* A route picks the model from what the request holds. */
    struct route_decision dec;
    struct answer_spec *spec = NULL;
    bool routed = false;
    if (route) {
        if (!have_rq) {
            router_features(body, http_req_header(req, "X-Hermod-Task"), &rq);
            have_rq = true;
        }
        int rc = router_decide(px->cfg, route, &rq, model_state, px, &dec);
        if (rc) {
            add_next_step(&dec.why, "no_route", NULL);
            sink_error(sk, 503, "service_unavailable", "no_route", "%s",
                               buf_cstr(&dec.why));
            route_decision_release(&dec);
            st = 503;
            goto refuse;
        }
        m = sched_find_model(px->sched, dec.cands[0]->name);
        routed = true;
        /* Structured answers on a route are judged, and escalated. */
        const json_t *rf = body ? json_object_get(body, "response_format") : NULL;
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
                sink_error(sk, 400, "invalid_request_error", "invalid_response_format",
                                   "response_format: %s", buf_cstr(&err));
                buf_release(&err);
                route_decision_release(&dec);
                goto refuse;
            }
            buf_release(&err);
        }
    } else if (have_rq && (rq.modality & CONFIG_MOD_AUDIO) &&
               !(router_model_modalities(sched_model_config(m)) & CONFIG_MOD_AUDIO)) {
        /* A named model that cannot hear gets no audio. */
        struct buf names = BUF_INIT;
        for (size_t i = 0; i < sched_model_count(px->sched); i++) {
            const struct config_model *mc = sched_model_config(sched_model_at(px->sched, i));
            if (router_model_modalities(mc) & CONFIG_MOD_AUDIO)
                buf_addf(&names, "%s%s", names.len ? ", " : "", mc->name);
        }
        sink_error(sk, 400, "invalid_request_error", "unsupported_modality",
                           "the model '%s' does not take audio; models that do: %s", model,
                           names.len ? buf_cstr(&names) : "none configured");
        buf_release(&names);
        goto refuse;
    }
    if (have_rq)
        router_request_release(&rq);
    /* hermod's own request fields are not the engine's business */
    bool had_hermod = body && json_object_del(body, "hermod") == 0;

    struct relay *r = xcalloc(1, sizeof(*r));
    r->state = RELAY_ROUTING;
    r->routed = routed;
    if (routed)
        r->dec = dec;
    if (spec) {
        r->spec = spec;
        r->report = json_array();
        r->deadline_ms = clock_mono_ms() + route->deadline_ms;
    }
    r->px = px;
    r->cfg = px->cfg;
    r->req = req;
    r->sink = *sk_in; /* not sk_copy: its refusal note lives on this frame */
    r->in_body = in_body;
    r->in_len = in_len;
    r->tokens_in = r->tokens_out = -1;
    r->endpoint = endpoint;
    r->body_kind = kind;
    r->body = body;
    r->body_changed = had_hermod;
    r->client_model = model;
    r->stream = (body ? json_is_true(json_object_get(body, "stream"))
                      : fast.stream_kind == JREQ_TRUE) &&
                strcmp(endpoint, "/v1/embeddings") != 0;
    r->model_off = fast.model_off;
    r->model_end = fast.model_end;
    r->model = m;
    sse_scan_init(&r->scan);
    sse_rename_init(&r->rename, model);
    list_add_tail(&px->relays, &r->link);
    px->active++;
    http_req_set_owner(req, r, on_close, on_drain);
    r->ticket = sched_ticket_new(m, on_grant, r);
    if (r->stream) {
        r->ka = xmalloc(sizeof(*r->ka));
        uv_timer_init(px->loop, r->ka);
        r->ka->data = r;
        uv_timer_start(r->ka, ka_cb, r->cfg->keepalive_ms, 0);
    }
    buf_release(&refusal.why);
    acquire(r);
    return true;

refuse:
    jreq_release(&fast);
    proxy__count_refused(px, st);
    proxy__remember_refused(px, endpoint, model, &refusal,
                            clock_mono_ns() - http_req_start_ns(req));
    buf_release(&refusal.why);
    if (have_rq)
        router_request_release(&rq);
    json_decref(body);
    free(model);
    free(in_body);
    return false;
}

void proxy_handle(struct proxy *px, struct http_req *req, const char *endpoint)
{
    struct sink sk = {.req = req};
    handle(px, req, endpoint, NULL, 0, &sk);
}

void proxy_handle_filtered(struct proxy *px, struct http_req *req, const char *endpoint,
                           char *body, size_t len, const struct proxy_filter *f, void *arg)
{
    struct sink sk = {.req = req, .f = f, .arg = arg};
    if (!handle(px, req, endpoint, body, len, &sk))
        f->free(arg);
}

void proxy_drain(struct proxy *px)
{
    px->draining = true;
    struct list *p, *tmp;
    list_for_each_safe(p, tmp, &px->relays)
    {
        struct relay *r = container_of(p, struct relay, link);
        if (r->state == RELAY_WAITING)
            refuse_cold_start(r);
    }
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
    proxy__stats_init(p);
    return p;
}

void proxy_free(struct proxy *p)
{
    if (!p)
        return;
    ASSERT(list_empty(&p->relays));
    proxy__stats_release(p);
    free(p);
}

unsigned proxy_active(const struct proxy *p)
{
    return p->active;
}

void proxy_set_config(struct proxy *p, const struct config *cfg)
{
    p->cfg = cfg;
}

unsigned proxy_config_users(const struct proxy *p, const struct config *cfg)
{
    unsigned n = 0;
    struct list *it;
    list_for_each(it, &p->relays)
    {
        struct relay *r = container_of(it, struct relay, link);
        n += r->cfg == cfg;
    }
    return n;
}
