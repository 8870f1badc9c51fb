/* SPDX-License-Identifier: MIT */
/*
 * ollama.c: Ollama's API over the relay. See ollama.h.
 *
 * DESIGN
 * A generating request (/api/chat, /api/generate, /api/embed[dings]) is
 * checked and rebuilt as an OpenAI body here, then given to the relay
 * with a proxy_filter and one `struct oreq`, which the relay frees
 * (through filter_free) when the request is over. From then on the relay
 * decides everything, as for an OpenAI client; the filter only rewrites
 * what it would send:
 *
 *   a whole answer     -> one Ollama JSON object (or, for a client that
 *                         asked for a stream, the same as NDJSON lines)
 *   an OpenAI error    -> {"error": "message"}, same status
 *   an event stream    -> NDJSON: one line per content chunk, then a
 *                         final line with done: true and the counts;
 *                         hermod's keepalive comments are dropped; an
 *                         error event becomes an {"error": ...} line
 *
 * Stream events arrive cut anywhere; the filter keeps the current line
 * (at most LINE_MAX bytes, else the stream ends with an error line) and
 * handles each whole one. Ollama reports token counts and durations in
 * its last line: the OpenAI request asks for usage in the stream
 * (stream_options.include_usage), durations are measured here in ns.
 *
 * Everything runs on the loop thread; the filter writes to the request
 * at once, so the relay's back-pressure (http_stream_pending) holds.
 */
#include "gateway/ollama.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/catalog.h"
#include "core/log.h"
#include "gateway/proxy.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "model/engine.h"
#include "net/http.h"
#include "route/router.h"
#include "sched/sched.h"

/* The Ollama API version whose shapes this layer follows (clients gate
 * features on it). */
#define OLLAMA_API_VERSION "0.12.0"
/* A stream event line longer than this is refused (one token's chunk is
 * a few hundred bytes; a whole answer passed on as one event fits). */
#define LINE_MAX_BYTES (4u << 20)
/* Tool-call arguments streamed in pieces, kept until the end, at most. */
#define TOOL_ARGS_MAX (1u << 20)

struct ollama {
    const struct config *cfg;
    struct sched *sched;
    struct proxy *proxy;
    uint64_t started_wall_ms;
};

enum okind { K_CHAT, K_GENERATE, K_EMBED, K_EMBEDDINGS };

/* One generating request, owned by the relay from proxy_handle_filtered()
 * until filter_free(). */
struct oreq {
    enum okind kind;
    char *model;            /* the name the client sent */
    bool stream;            /* NDJSON to the client */
    bool began;             /* our 200 + NDJSON head is out */
    bool finished;          /* the final line (done or error) is out */
    bool broken;            /* a line was too long: the rest is dropped */
    uint64_t t0_ns;         /* the request's first byte */
    uint64_t first_ns;      /* the first content chunk */
    struct buf line;        /* the stream's current line */
    char done_reason[32];
    json_int_t prompt_tokens, eval_tokens; /* -1 = not said */
    json_t *tools;          /* streamed tool calls: [{name, args}] by index */
    size_t tool_bytes;
};

/* ---- answering ------------------------------------------------------------------ */

static void reply_json(struct http_req *req, int status, json_t *j)
{
    http_respond_json(req, status, j);
    json_decref(j);
}

__attribute__((format(printf, 3, 4))) static void reply_error(struct http_req *req, int status,
                                                              const char *fmt, ...)
{
    struct buf m = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vaddf(&m, fmt, ap);
    va_end(ap);
    reply_json(req, status, json_pack("{s:s}", "error", buf_cstr(&m)));
    buf_release(&m);
}

static json_t *now_json(void)
{
    char ts[40];
    clock_fmt_rfc3339(clock_wall_ms(), ts, sizeof(ts));
    return json_string(ts);
}

static json_t *time_json(uint64_t wall_ms)
{
    char ts[40];
    clock_fmt_rfc3339(wall_ms, ts, sizeof(ts));
    return json_string(ts);
}

/* The message of an OpenAI error body (or any body), for {"error": ...}. */
static void error_message(const char *body, size_t len, int status, struct buf *out)
{
    json_t *j = json_loadb(body, len, 0, NULL);
    json_t *e = json_object_get(j, "error");
    const char *m = json_string_value(json_object_get(e, "message"));
    if (!m)
        m = json_string_value(e);
    if (!m)
        m = json_string_value(json_object_get(j, "detail"));
    if (m)
        buf_addstr(out, m);
    else if (len)
        buf_add(out, body, len > 500 ? 500 : len);
    else
        buf_addf(out, "HTTP %d", status);
    json_decref(j);
}

/* ---- OpenAI answers into Ollama's ------------------------------------------------- */

/* Ollama's done_reason for an OpenAI finish_reason. */
static void set_done_reason(struct oreq *q, const char *finish)
{
    if (!finish)
        return;
    snprintf(q->done_reason, sizeof(q->done_reason), "%s",
             !strcmp(finish, "length") ? "length" : "stop");
}

static void take_usage(struct oreq *q, const json_t *usage)
{
    json_t *in = json_object_get(usage, "prompt_tokens");
    json_t *out = json_object_get(usage, "completion_tokens");
    if (json_is_integer(in))
        q->prompt_tokens = json_integer_value(in);
    if (json_is_integer(out))
        q->eval_tokens = json_integer_value(out);
}

/* OpenAI tool calls (arguments as a JSON string) into Ollama's (an object). */
static json_t *tool_calls_json(const json_t *calls)
{
    json_t *out = json_array();
    size_t i;
    const json_t *c;
    json_array_foreach(calls, i, c)
    {
        const json_t *fn = json_object_get(c, "function");
        const char *args = json_string_value(json_object_get(fn, "arguments"));
        json_t *a = args ? json_loads(args, 0, NULL) : NULL;
        if (!json_is_object(a)) {
            json_decref(a);
            a = json_object();
        }
        const char *name = json_string_value(json_object_get(fn, "name"));
        json_array_append_new(out, json_pack("{s:{s:s,s:o}}", "function", "name",
                                             name ? name : "", "arguments", a));
    }
    return out;
}

/* {"model", "created_at"} and the kind's content field. */
static json_t *chunk_json(const struct oreq *q, const char *text, const char *thinking,
                          json_t *tool_calls)
{
    json_t *j = json_pack("{s:s,s:o}", "model", q->model, "created_at", now_json());
    if (q->kind == K_CHAT) {
        json_t *msg = json_pack("{s:s,s:s}", "role", "assistant", "content", text ? text : "");
        if (thinking && *thinking)
            json_object_set_new(msg, "thinking", json_string(thinking));
        if (tool_calls)
            json_object_set_new(msg, "tool_calls", tool_calls);
        json_object_set_new(j, "message", msg);
    } else {
        json_decref(tool_calls);
        json_object_set_new(j, "response", json_string(text ? text : ""));
        if (thinking && *thinking)
            json_object_set_new(j, "thinking", json_string(thinking));
    }
    return j;
}

/* Marks j as the last line: done, its reason, counts and durations (ns). */
static void add_done(const struct oreq *q, json_t *j)
{
    uint64_t now = clock_mono_ns();
    uint64_t first = q->first_ns ? q->first_ns : now;
    json_object_set_new(j, "done", json_true());
    json_object_set_new(j, "done_reason",
                        json_string(q->done_reason[0] ? q->done_reason : "stop"));
    json_object_set_new(j, "total_duration", json_integer((json_int_t)(now - q->t0_ns)));
    json_object_set_new(j, "load_duration", json_integer(0));
    json_object_set_new(j, "prompt_eval_count",
                        json_integer(q->prompt_tokens >= 0 ? q->prompt_tokens : 0));
    json_object_set_new(j, "prompt_eval_duration", json_integer((json_int_t)(first - q->t0_ns)));
    json_object_set_new(j, "eval_count", json_integer(q->eval_tokens >= 0 ? q->eval_tokens : 0));
    json_object_set_new(j, "eval_duration", json_integer((json_int_t)(now - first)));
}

static void begin(struct http_req *req, struct oreq *q)
{
    if (q->began)
        return;
    q->began = true;
    http_stream_begin(req, 200, "application/x-ndjson");
}

/* Writes j (taken) as one NDJSON line. */
static void write_line(struct http_req *req, struct oreq *q, json_t *j)
{
    begin(req, q);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    size_t n = strlen(s);
    s[n] = '\n';
    http_stream_write(req, s, n + 1);
    free(s);
}

static void write_error_line(struct http_req *req, struct oreq *q, const char *msg)
{
    if (q->finished)
        return;
    q->finished = true;
    write_line(req, q, json_pack("{s:s}", "error", msg));
}

/* The streamed tool calls, gathered, as Ollama's. */
static json_t *gathered_tools(struct oreq *q)
{
    if (!q->tools)
        return NULL;
    json_t *calls = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(q->tools, i, t)
    {
        json_t *fn = json_pack("{s:O,s:O}", "name", json_object_get(t, "name"), "arguments",
                               json_object_get(t, "arguments"));
        json_array_append_new(calls, json_pack("{s:o}", "function", fn));
    }
    json_t *out = tool_calls_json(calls);
    json_decref(calls);
    json_decref(q->tools);
    q->tools = NULL;
    return out;
}

static void write_done(struct http_req *req, struct oreq *q)
{
    if (q->finished)
        return;
    json_t *tools = gathered_tools(q);
    if (tools)
        write_line(req, q, chunk_json(q, "", NULL, tools));
    q->finished = true;
    json_t *j = chunk_json(q, "", NULL, NULL);
    add_done(q, j);
    write_line(req, q, j);
}

/* Streamed tool-call pieces: name once, arguments in parts, by index. */
static void gather_tools(struct http_req *req, struct oreq *q, const json_t *calls)
{
    size_t i;
    const json_t *c;
    if (!q->tools)
        q->tools = json_array();
    json_array_foreach(calls, i, c)
    {
        json_t *ix = json_object_get(c, "index");
        size_t k = json_is_integer(ix) ? (size_t)json_integer_value(ix) : i;
        if (k > 64)
            continue;
        while (json_array_size(q->tools) <= k)
            json_array_append_new(q->tools, json_pack("{s:s,s:s}", "name", "", "arguments", ""));
        json_t *t = json_array_get(q->tools, k);
        const json_t *fn = json_object_get(c, "function");
        const char *name = json_string_value(json_object_get(fn, "name"));
        const char *args = json_string_value(json_object_get(fn, "arguments"));
        if (name && *name)
            json_object_set_new(t, "name", json_string(name));
        if (args && *args) {
            q->tool_bytes += strlen(args);
            if (q->tool_bytes > TOOL_ARGS_MAX) {
                write_error_line(req, q, "the model's tool-call arguments are too long");
                return;
            }
            struct buf b = BUF_INIT;
            buf_addstr(&b, json_string_value(json_object_get(t, "arguments")));
            buf_addstr(&b, args);
            json_object_set_new(t, "arguments", json_string(buf_cstr(&b)));
            buf_release(&b);
        }
    }
}

/* One data event of the relay's stream. */
static void on_event(struct http_req *req, struct oreq *q, const char *data, size_t n)
{
    if (n == 6 && !memcmp(data, "[DONE]", 6)) {
        write_done(req, q);
        return;
    }
    json_t *j = json_loadb(data, n, 0, NULL);
    if (!j) {
        write_error_line(req, q, "the engine sent an event that is not JSON");
        return;
    }
    json_t *err = json_object_get(j, "error");
    if (err) {
        struct buf m = BUF_INIT;
        error_message(data, n, 502, &m);
        write_error_line(req, q, buf_cstr(&m));
        buf_release(&m);
        json_decref(j);
        return;
    }
    json_t *usage = json_object_get(j, "usage");
    if (json_is_object(usage))
        take_usage(q, usage);
    json_t *c0 = json_array_get(json_object_get(j, "choices"), 0);
    /* a delta, or a whole message (an answer the relay passed on as one event) */
    json_t *d = json_object_get(c0, "delta");
    if (!d)
        d = json_object_get(c0, "message");
    const char *text = json_string_value(json_object_get(d, "content"));
    if (!text)
        text = json_string_value(json_object_get(c0, "text"));
    const char *thinking = json_string_value(json_object_get(d, "reasoning_content"));
    json_t *calls = json_object_get(d, "tool_calls");
    set_done_reason(q, json_string_value(json_object_get(c0, "finish_reason")));
    if (json_is_array(calls) && !q->finished)
        gather_tools(req, q, calls);
    if (((text && *text) || (thinking && *thinking)) && !q->finished) {
        if (!q->first_ns)
            q->first_ns = clock_mono_ns();
        json_t *line = chunk_json(q, text, thinking, NULL);
        json_object_set_new(line, "done", json_false());
        write_line(req, q, line);
    }
    json_decref(j);
}

static void on_line(struct http_req *req, struct oreq *q, const char *p, size_t n)
{
    if (n && p[n - 1] == '\r')
        n--;
    if (n < 5 || memcmp(p, "data:", 5))
        return; /* blank lines, comments (": hermod: loading ..."), other fields */
    p += 5;
    n -= 5;
    while (n && *p == ' ') {
        p++;
        n--;
    }
    on_event(req, q, p, n);
}

/* ---- the filter ---------------------------------------------------------------- */

static void f_stream_begin(struct http_req *req, void *arg)
{
    begin(req, arg);
}

static void f_stream_write(struct http_req *req, const char *p, size_t n, void *arg)
{
    struct oreq *q = arg;
    while (n && !q->broken) {
        const char *nl = memchr(p, '\n', n);
        size_t k = nl ? (size_t)(nl - p) : n;
        if (q->line.len + k > LINE_MAX_BYTES) {
            q->broken = true;
            buf_release(&q->line);
            write_error_line(req, q, "the engine sent an event longer than hermod takes");
            return;
        }
        buf_add(&q->line, p, k);
        if (!nl)
            return;
        on_line(req, q, q->line.data, q->line.len);
        buf_reset(&q->line);
        p += k + 1;
        n -= k + 1;
    }
}

static void f_stream_end(struct http_req *req, bool ok, void *arg)
{
    struct oreq *q = arg;
    if (q->line.len && !q->broken)
        on_line(req, q, q->line.data, q->line.len);
    if (ok && !q->finished)
        write_done(req, q);
    http_stream_end(req, ok);
}

/* A whole answer: the engine's, or the relay's error. */
static void f_respond(struct http_req *req, int status, const char *ct, const char *body,
                      size_t len, void *arg)
{
    struct oreq *q = arg;
    json_t *j = status < 400 ? json_loadb(body, len, 0, NULL) : NULL;
    if (!json_is_object(j)) {
        struct buf m = BUF_INIT;
        if (status < 400)
            buf_addstr(&m, "the engine's answer is not a JSON object");
        else
            error_message(body, len, status, &m);
        reply_error(req, status < 400 ? 502 : status, "%s", buf_cstr(&m));
        buf_release(&m);
        json_decref(j);
        return;
    }
    take_usage(q, json_object_get(j, "usage"));
    if (q->kind == K_EMBED || q->kind == K_EMBEDDINGS) {
        json_t *data = json_object_get(j, "data");
        json_t *embs = json_array();
        for (size_t i = 0; i < json_array_size(data); i++)
            json_array_append_new(embs, json_array());
        size_t i;
        json_t *d;
        json_array_foreach(data, i, d)
        {
            json_t *ix = json_object_get(d, "index");
            size_t k = json_is_integer(ix) ? (size_t)json_integer_value(ix) : i;
            json_t *e = json_object_get(d, "embedding");
            if (k < json_array_size(embs) && json_is_array(e))
                json_array_set(embs, k, e);
        }
        if (q->kind == K_EMBEDDINGS) {
            json_t *first = json_array_get(embs, 0);
            reply_json(req, 200, json_pack("{s:O}", "embedding", first ? first : json_array()));
            json_decref(embs);
        } else {
            reply_json(req, 200,
                       json_pack("{s:s,s:o,s:I,s:i,s:I}", "model", q->model, "embeddings", embs,
                                 "total_duration", (json_int_t)(clock_mono_ns() - q->t0_ns),
                                 "load_duration", 0, "prompt_eval_count",
                                 q->prompt_tokens >= 0 ? q->prompt_tokens : 0));
        }
        json_decref(j);
        return;
    }
    json_t *c0 = json_array_get(json_object_get(j, "choices"), 0);
    json_t *msg = json_object_get(c0, "message");
    const char *text = json_string_value(json_object_get(msg, "content"));
    if (!text)
        text = json_string_value(json_object_get(c0, "text"));
    const char *thinking = json_string_value(json_object_get(msg, "reasoning_content"));
    json_t *calls = json_object_get(msg, "tool_calls");
    set_done_reason(q, json_string_value(json_object_get(c0, "finish_reason")));
    q->first_ns = clock_mono_ns();
    json_t *out = chunk_json(q, text, thinking,
                             json_array_size(calls) ? tool_calls_json(calls) : NULL);
    if (q->stream) {
        /* The client asked for a stream; the engine answered whole. */
        json_object_set_new(out, "done", json_false());
        write_line(req, q, out);
        write_done(req, q);
        http_stream_end(req, true);
    } else {
        add_done(q, out);
        reply_json(req, 200, out);
    }
    json_decref(j);
}

static void f_free(void *arg)
{
    struct oreq *q = arg;
    buf_release(&q->line);
    json_decref(q->tools);
    free(q->model);
    free(q);
}

static const struct proxy_filter filter = {
    .respond = f_respond,
    .stream_begin = f_stream_begin,
    .stream_write = f_stream_write,
    .stream_end = f_stream_end,
    .free = f_free,
};

/* ---- Ollama requests into OpenAI's ------------------------------------------------ */

/* The model or route a client's name stands for: itself, or without an
 * Ollama tag (":latest"). Returns the name to use (owned), or NULL. */
static char *resolve(struct ollama *o, const char *name, struct sched_model **m,
                     const struct config_route **rt)
{
    char *n = xstrdup(name);
    for (int pass = 0; pass < 2; pass++) {
        *m = sched_find_model(o->sched, n);
        *rt = *m ? NULL : config_find_route(o->cfg, n);
        if (*m || *rt)
            return n;
        char *colon = strrchr(n, ':');
        if (!colon || strcmp(colon, ":latest"))
            break;
        *colon = '\0';
    }
    free(n);
    return NULL;
}

static void names(struct ollama *o, struct buf *out)
{
    for (size_t i = 0; i < o->cfg->nroutes; i++)
        buf_addf(out, "%s%s", out->len ? ", " : "", o->cfg->routes[i].name);
    for (size_t i = 0; i < sched_model_count(o->sched); i++)
        buf_addf(out, "%s%s", out->len ? ", " : "",
                 sched_model_config(sched_model_at(o->sched, i))->name);
}

static void not_found(struct ollama *o, struct http_req *req, const char *model)
{
    struct buf n = BUF_INIT;
    names(o, &n);
    reply_error(req, 404, "model '%s' not found; available models: %s", model, buf_cstr(&n));
    buf_release(&n);
}

/* The MIME type of a base64 image, from its first bytes. */
static const char *image_type(const char *b64)
{
    if (str_starts_with(b64, "iVBOR"))
        return "image/png";
    if (str_starts_with(b64, "UklGR"))
        return "image/webp";
    if (str_starts_with(b64, "R0lGOD"))
        return "image/gif";
    return "image/jpeg";
}

/* An OpenAI content array: the text, then each image as a data URL. */
static int content_with_images(const char *text, const json_t *images, json_t **out,
                               struct buf *err)
{
    json_t *parts = json_array();
    if (text && *text)
        json_array_append_new(parts, json_pack("{s:s,s:s}", "type", "text", "text", text));
    size_t i;
    const json_t *im;
    json_array_foreach(images, i, im)
    {
        const char *b64 = json_string_value(im);
        if (!b64) {
            buf_addf(err, "images[%zu] must be a base64 string", i);
            json_decref(parts);
            return -EINVAL;
        }
        char *url = xasprintf("data:%s;base64,%s", image_type(b64), b64);
        json_array_append_new(parts, json_pack("{s:s,s:{s:s}}", "type", "image_url",
                                               "image_url", "url", url));
        free(url);
    }
    *out = parts;
    return 0;
}

/* options: Ollama's sampling options into the OpenAI body's fields. */
static int map_options(const json_t *opts, json_t *body, const struct config_model *mc,
                       struct buf *err)
{
    if (!opts || json_is_null(opts))
        return 0;
    if (!json_is_object(opts)) {
        buf_addstr(err, "options must be an object");
        return -EINVAL;
    }
    static const struct {
        const char *from, *to;
    } same[] = {
        {"temperature", "temperature"},
        {"top_p", "top_p"},
        {"top_k", "top_k"},
        {"min_p", "min_p"},
        {"seed", "seed"},
        {"presence_penalty", "presence_penalty"},
        {"frequency_penalty", "frequency_penalty"},
        {"repeat_penalty", "repeat_penalty"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(same); i++) {
        json_t *v = json_object_get(opts, same[i].from);
        if (!v || json_is_null(v))
            continue;
        if (!json_is_number(v)) {
            buf_addf(err, "options.%s must be a number", same[i].from);
            return -EINVAL;
        }
        json_object_set(body, same[i].to, v);
    }
    json_t *np = json_object_get(opts, "num_predict");
    if (np && !json_is_null(np)) {
        if (!json_is_integer(np)) {
            buf_addstr(err, "options.num_predict must be an integer");
            return -EINVAL;
        }
        /* -1: until the model stops, -2: until the context is full */
        if (json_integer_value(np) > 0)
            json_object_set(body, "max_tokens", np);
    }
    json_t *stop = json_object_get(opts, "stop");
    if (json_is_string(stop)) {
        json_object_set_new(body, "stop", json_pack("[O]", stop));
    } else if (json_is_array(stop)) {
        for (size_t i = 0; i < json_array_size(stop); i++) {
            if (!json_is_string(json_array_get(stop, i))) {
                buf_addstr(err, "options.stop must be a string or a list of strings");
                return -EINVAL;
            }
        }
        if (json_array_size(stop))
            json_object_set(body, "stop", stop);
    } else if (stop && !json_is_null(stop)) {
        buf_addstr(err, "options.stop must be a string or a list of strings");
        return -EINVAL;
    }
    json_t *nc = json_object_get(opts, "num_ctx");
    if (nc && !json_is_null(nc)) {
        if (!json_is_integer(nc) || json_integer_value(nc) <= 0) {
            buf_addstr(err, "options.num_ctx must be a positive integer");
            return -EINVAL;
        }
        /* An engine's context is set when it starts, not per request: a
         * request that needs more than the model has is refused here,
         * rather than cut short there. */
        uint64_t have = mc ? router_model_context(mc) : 0;
        if (have && (uint64_t)json_integer_value(nc) > have) {
            buf_addf(err,
                     "options.num_ctx %lld is more than %s serves (context %llu tokens); "
                     "ask for at most %llu, or set a larger context: in the model's config",
                     (long long)json_integer_value(nc), mc->name, (unsigned long long)have,
                     (unsigned long long)have);
            return -ERANGE;
        }
    }
    return 0;
}

/* format: "json" or a JSON Schema, as response_format. */
static int map_format(const json_t *fmt, json_t *body, struct buf *err)
{
    if (!fmt || json_is_null(fmt) || (json_is_string(fmt) && !*json_string_value(fmt)))
        return 0;
    if (json_is_string(fmt) && !strcmp(json_string_value(fmt), "json")) {
        json_object_set_new(body, "response_format", json_pack("{s:s}", "type", "json_object"));
        return 0;
    }
    if (json_is_object(fmt)) {
        json_object_set_new(body, "response_format",
                            json_pack("{s:s,s:{s:s,s:O}}", "type", "json_schema", "json_schema",
                                      "name", "format", "schema", fmt));
        return 0;
    }
    buf_addstr(err, "format must be \"json\" or a JSON Schema object");
    return -EINVAL;
}

/* think: true/false, or "low"/"medium"/"high". */
static int map_think(json_t *think, json_t *body, struct buf *err)
{
    if (!think || json_is_null(think))
        return 0;
    if (json_is_boolean(think)) {
        json_object_set_new(body, "chat_template_kwargs",
                            json_pack("{s:b}", "enable_thinking", json_is_true(think)));
        return 0;
    }
    if (json_is_string(think)) {
        json_object_set(body, "reasoning_effort", think);
        return 0;
    }
    buf_addstr(err, "think must be true, false, \"low\", \"medium\" or \"high\"");
    return -EINVAL;
}

/* Ollama's chat messages into OpenAI's. */
static int map_messages(const json_t *msgs, json_t *out, struct buf *err)
{
    size_t i;
    const json_t *m;
    json_array_foreach(msgs, i, m)
    {
        const char *role = json_string_value(json_object_get(m, "role"));
        json_t *content = json_object_get(m, "content");
        if (!json_is_object(m) || !role) {
            buf_addf(err, "messages[%zu] needs a \"role\"", i);
            return -EINVAL;
        }
        if (content && !json_is_string(content) && !json_is_null(content)) {
            buf_addf(err, "messages[%zu].content must be a string", i);
            return -EINVAL;
        }
        const char *text = json_string_value(content);
        json_t *om = json_pack("{s:s}", "role", role);
        json_t *images = json_object_get(m, "images");
        if (json_array_size(images)) {
            json_t *parts;
            struct buf e = BUF_INIT;
            if (content_with_images(text, images, &parts, &e)) {
                buf_addf(err, "messages[%zu].%s", i, buf_cstr(&e));
                buf_release(&e);
                json_decref(om);
                return -EINVAL;
            }
            json_object_set_new(om, "content", parts);
        } else {
            json_object_set_new(om, "content", json_string(text ? text : ""));
        }
        json_t *calls = json_object_get(m, "tool_calls");
        if (json_array_size(calls)) {
            json_t *oc = json_array();
            size_t k;
            const json_t *c;
            json_array_foreach(calls, k, c)
            {
                const json_t *fn = json_object_get(c, "function");
                const json_t *args = json_object_get(fn, "arguments");
                char *a = args ? json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
                char id[48];
                snprintf(id, sizeof(id), "call_%zu_%zu", i, k);
                const char *name = json_string_value(json_object_get(fn, "name"));
                json_array_append_new(oc, json_pack("{s:s,s:s,s:{s:s,s:s}}", "id", id, "type",
                                                    "function", "function", "name",
                                                    name ? name : "", "arguments", a ? a : "{}"));
                free(a);
            }
            json_object_set_new(om, "tool_calls", oc);
        }
        const char *tool_name = json_string_value(json_object_get(m, "tool_name"));
        if (tool_name)
            json_object_set_new(om, "name", json_string(tool_name));
        json_array_append_new(out, om);
    }
    return 0;
}

/* keep_alive 0 ("0", "0s", 0): unload. */
static bool keep_alive_zero(const json_t *ka)
{
    if (json_is_number(ka))
        return json_number_value(ka) == 0;
    const char *s = json_string_value(ka);
    return s && (!strcmp(s, "0") || !strcmp(s, "0s") || !strcmp(s, "0m"));
}

/* A chat without messages or a generate without a prompt: Ollama's way to
 * load (or, with keep_alive 0, unload) a model. */
static void load_or_unload(struct ollama *o, struct http_req *req, enum okind kind,
                           const char *model, struct sched_model *m, const json_t *ka)
{
    const char *reason = "load";
    if (keep_alive_zero(ka)) {
        reason = "unload";
        if (m) {
            unsigned n = sched_unload(o->sched, m);
            log_info("unload model=%s engines=%u (ollama keep_alive 0)",
                     sched_model_config(m)->name, n);
        }
    }
    /* NEEDSWORK: "load" answers at once; the model is started by its first
     * real request, as for OpenAI clients. */
    json_t *j = json_pack("{s:s,s:o,s:b,s:s}", "model", model, "created_at", now_json(), "done", 1,
                          "done_reason", reason);
    if (kind == K_CHAT)
        json_object_set_new(j, "message", json_pack("{s:s,s:s}", "role", "assistant", "content",
                                                     ""));
    else
        json_object_set_new(j, "response", json_string(""));
    reply_json(req, 200, j);
}

static json_t *read_body(struct http_req *req)
{
    size_t len;
    const char *text = http_req_body(req, &len);
    json_error_t jerr;
    if (!len) {
        reply_error(req, 400, "the request needs a JSON body");
        return NULL;
    }
    json_t *j = json_loadb(text, len, 0, &jerr);
    if (!json_is_object(j)) {
        if (j)
            reply_error(req, 400, "the body must be a JSON object");
        else
            reply_error(req, 400, "the body is not valid JSON: %s (line %d, column %d)",
                        jerr.text, jerr.line, jerr.column);
        json_decref(j);
        return NULL;
    }
    return j;
}

/* /api/chat, /api/generate, /api/embed, /api/embeddings. */
static void generate(struct ollama *o, struct http_req *req, enum okind kind)
{
    json_t *in = read_body(req);
    if (!in)
        return;
    json_t *out = json_object();
    struct buf err = BUF_INIT;
    char *name = NULL;
    const char *endpoint = "/v1/chat/completions";
    const char *model = json_string_value(json_object_get(in, "model"));
    if (!model)
        model = json_string_value(json_object_get(in, "name")); /* older clients */
    if (!model || !*model) {
        reply_error(req, 400, "model is required");
        goto out;
    }
    struct sched_model *m;
    const struct config_route *rt;
    name = resolve(o, model, &m, &rt);
    if (!name) {
        not_found(o, req, model);
        goto out;
    }
    json_object_set_new(out, "model", json_string(name));
    json_t *js = json_object_get(in, "stream");
    if (js && !json_is_boolean(js) && !json_is_null(js)) {
        reply_error(req, 400, "stream must be true or false");
        goto out;
    }
    /* Ollama streams unless told not to. */
    bool stream = (kind == K_CHAT || kind == K_GENERATE) && !json_is_false(js);
    const struct config_model *mc = m ? sched_model_config(m) : NULL;

    if (kind == K_EMBED || kind == K_EMBEDDINGS) {
        endpoint = "/v1/embeddings";
        json_t *input = json_object_get(in, kind == K_EMBED ? "input" : "prompt");
        bool ok = json_is_string(input);
        if (json_is_array(input)) {
            ok = json_array_size(input) > 0;
            for (size_t i = 0; i < json_array_size(input); i++)
                ok = ok && json_is_string(json_array_get(input, i));
        }
        if (!ok) {
            reply_error(req, 400, kind == K_EMBED
                                      ? "input must be a string or a non-empty list of strings"
                                      : "prompt must be a string");
            goto out;
        }
        json_object_set(out, "input", input);
        json_t *dim = json_object_get(in, "dimensions");
        if (json_is_integer(dim))
            json_object_set(out, "dimensions", dim);
    } else if (kind == K_CHAT) {
        json_t *msgs = json_object_get(in, "messages");
        if (msgs && !json_is_array(msgs) && !json_is_null(msgs)) {
            reply_error(req, 400, "messages must be a list");
            goto out;
        }
        if (!json_array_size(msgs)) {
            load_or_unload(o, req, kind, model, m, json_object_get(in, "keep_alive"));
            goto out;
        }
        json_t *om = json_array();
        json_object_set_new(out, "messages", om);
        if (map_messages(msgs, om, &err)) {
            reply_error(req, 400, "%s", buf_cstr(&err));
            goto out;
        }
        json_t *tools = json_object_get(in, "tools");
        if (json_array_size(tools))
            json_object_set(out, "tools", tools);
    } else {
        json_t *jp = json_object_get(in, "prompt");
        if (jp && !json_is_string(jp) && !json_is_null(jp)) {
            reply_error(req, 400, "prompt must be a string");
            goto out;
        }
        const char *prompt = json_string_value(jp);
        json_t *images = json_object_get(in, "images");
        if ((!prompt || !*prompt) && !json_array_size(images)) {
            load_or_unload(o, req, kind, model, m, json_object_get(in, "keep_alive"));
            goto out;
        }
        if (json_is_true(json_object_get(in, "raw"))) {
            /* No template: the prompt goes to the model as it is. */
            endpoint = "/v1/completions";
            json_object_set_new(out, "prompt", json_string(prompt ? prompt : ""));
        } else {
            json_t *om = json_array();
            json_object_set_new(out, "messages", om);
            const char *sys = json_string_value(json_object_get(in, "system"));
            if (sys && *sys)
                json_array_append_new(om, json_pack("{s:s,s:s}", "role", "system", "content", sys));
            json_t *content;
            if (json_array_size(images)) {
                if (content_with_images(prompt, images, &content, &err)) {
                    reply_error(req, 400, "%s", buf_cstr(&err));
                    goto out;
                }
            } else {
                content = json_string(prompt);
            }
            json_array_append_new(om, json_pack("{s:s,s:o}", "role", "user", "content", content));
        }
        json_t *suffix = json_object_get(in, "suffix");
        if (json_is_string(suffix) && *json_string_value(suffix))
            json_object_set(out, "suffix", suffix);
    }
    if (kind == K_CHAT || kind == K_GENERATE) {
        int rc = map_options(json_object_get(in, "options"), out, mc, &err);
        if (!rc)
            rc = map_format(json_object_get(in, "format"), out, &err);
        if (!rc)
            rc = map_think(json_object_get(in, "think"), out, &err);
        if (rc) {
            reply_error(req, 400, "%s", buf_cstr(&err));
            goto out;
        }
        json_object_set_new(out, "stream", json_boolean(stream));
        if (stream)
            json_object_set_new(out, "stream_options", json_pack("{s:b}", "include_usage", 1));
    }
    /* The task a client names for a route, as on the OpenAI side. */
    json_t *hermod = json_object_get(in, "hermod");
    if (json_is_object(hermod))
        json_object_set(out, "hermod", hermod);

    struct oreq *q = xcalloc(1, sizeof(*q));
    q->kind = kind;
    q->model = xstrdup(model);
    q->stream = stream;
    q->t0_ns = http_req_start_ns(req);
    q->prompt_tokens = q->eval_tokens = -1;
    char *body = json_dumps(out, JSON_COMPACT);
    proxy_handle_filtered(o->proxy, req, endpoint, body, strlen(body), &filter, q);
out:
    free(name);
    buf_release(&err);
    json_decref(out);
    json_decref(in);
}

/* ---- answered here ------------------------------------------------------------- */

static json_t *details_json(const struct config_model *mc)
{
    const struct catalog_entry *c = mc && mc->catalog ? catalog_find(mc->catalog) : NULL;
    bool gguf = mc && mc->nengines && mc->engines[0].kind == ENGINE_KIND_LLAMA_SERVER;
    char params[32] = "";
    if (c && c->params_b > 0)
        snprintf(params, sizeof(params), "%.1fB", c->params_b);
    json_t *fam = c && c->family ? json_pack("[s]", c->family) : json_null();
    return json_pack("{s:s,s:s,s:s,s:o,s:s,s:s}", "parent_model", "", "format",
                     gguf ? "gguf" : "", "family", c && c->family ? c->family : "", "families",
                     fam, "parameter_size", params, "quantization_level", "");
}

/* The bytes a model takes, as far as hermod knows: measured, else estimated. */
static uint64_t model_size(struct sched_model *m, bool *resident)
{
    uint64_t best = 0;
    *resident = false;
    for (size_t k = 0; k < sched_model_engine_count(m); k++) {
        struct sched_engine_info info;
        sched_engine_info(m, k, &info);
        enum engine_state st = engine_state(sched_model_engine(m, k));
        uint64_t b = info.measured ? info.measured
                     : info.charge ? info.charge
                     : info.estimate ? info.estimate
                                     : info.declared;
        if (st == ENGINE_READY && engine_managed(sched_model_engine(m, k)) && !*resident) {
            *resident = true;
            best = b;
        } else if (!best) {
            best = b;
        }
    }
    return best;
}

static json_t *tag_entry(struct ollama *o, const char *name, const struct config_model *mc,
                         uint64_t size)
{
    json_t *j = json_pack("{s:s,s:s,s:o,s:I,s:s,s:o}", "name", name, "model", name, "modified_at",
                          time_json(o->started_wall_ms), "size", (json_int_t)size, "digest", "",
                          "details", details_json(mc));
    return j;
}

static void get_tags(struct ollama *o, struct http_req *req)
{
    json_t *models = json_array();
    for (size_t i = 0; i < sched_model_count(o->sched); i++) {
        struct sched_model *m = sched_model_at(o->sched, i);
        const struct config_model *mc = sched_model_config(m);
        bool res;
        uint64_t size = model_size(m, &res);
        json_array_append_new(models, tag_entry(o, mc->name, mc, size));
        for (size_t k = 0; mc->aliases[k]; k++)
            json_array_append_new(models, tag_entry(o, mc->aliases[k], mc, size));
    }
    /* Routes are models to clients: "auto" picks one by language, image, task. */
    for (size_t i = 0; i < o->cfg->nroutes; i++) {
        const struct config_route *rt = &o->cfg->routes[i];
        json_array_append_new(models, tag_entry(o, rt->name, NULL, 0));
        for (size_t k = 0; rt->aliases[k]; k++)
            json_array_append_new(models, tag_entry(o, rt->aliases[k], NULL, 0));
    }
    reply_json(req, 200, json_pack("{s:o}", "models", models));
}

/* Models with an engine ready (or loading), as Ollama's loaded models. */
static void get_ps(struct ollama *o, struct http_req *req)
{
    json_t *models = json_array();
    for (size_t i = 0; i < sched_model_count(o->sched); i++) {
        struct sched_model *m = sched_model_at(o->sched, i);
        const struct config_model *mc = sched_model_config(m);
        const char *state = sched_model_state(m, NULL);
        if (strcmp(state, "ready") && strcmp(state, "starting"))
            continue;
        uint64_t last = 0;
        int pool = -1;
        for (size_t k = 0; k < sched_model_engine_count(m); k++) {
            struct sched_engine_info info;
            sched_engine_info(m, k, &info);
            if (info.last_used_wall_ms > last)
                last = info.last_used_wall_ms;
            if (info.pool >= 0 && pool < 0)
                pool = info.pool;
        }
        bool res;
        uint64_t size = model_size(m, &res);
        struct sched_pool_info pools[16];
        size_t np = sched_pools(o->sched, pools, 16);
        bool gpu = pool >= 0 && (size_t)pool < np &&
                   (pools[pool].unified || strncmp(pools[pool].name, "gpu", 3) == 0);
        /* Never unloaded for idleness: Ollama says so with a far date. */
        uint64_t exp = mc->ttl_ms ? (last ? last : clock_wall_ms()) + mc->ttl_ms
                                  : 253402300799000ull; /* 9999-12-31T23:59:59Z */
        json_t *j = tag_entry(o, mc->name, mc, size);
        json_object_set_new(j, "expires_at", time_json(exp));
        json_object_set_new(j, "size_vram", json_integer(gpu ? (json_int_t)size : 0));
        uint64_t ctx = router_model_context(mc);
        if (ctx)
            json_object_set_new(j, "context_length", json_integer((json_int_t)ctx));
        json_object_set_new(j, "hermod", json_pack("{s:s}", "state", state));
        json_array_append_new(models, j);
    }
    reply_json(req, 200, json_pack("{s:o}", "models", models));
}

static void post_show(struct ollama *o, struct http_req *req)
{
    json_t *in = read_body(req);
    if (!in)
        return;
    const char *model = json_string_value(json_object_get(in, "model"));
    if (!model)
        model = json_string_value(json_object_get(in, "name"));
    if (!model || !*model) {
        reply_error(req, 400, "model is required");
        json_decref(in);
        return;
    }
    struct sched_model *m;
    const struct config_route *rt;
    char *name = resolve(o, model, &m, &rt);
    if (!name) {
        not_found(o, req, model);
        json_decref(in);
        return;
    }
    const struct config_model *mc = m ? sched_model_config(m) : NULL;
    json_t *caps = json_pack("[s]", "completion");
    json_t *info = json_pack("{s:s}", "general.architecture", "hermod");
    if (mc) {
        unsigned mods = router_model_modalities(mc);
        if (mods & CONFIG_MOD_IMAGE)
            json_array_append_new(caps, json_string("vision"));
        if (mods & CONFIG_MOD_AUDIO)
            json_array_append_new(caps, json_string("audio"));
        uint64_t ctx = router_model_context(mc);
        if (ctx)
            json_object_set_new(info, "hermod.context_length", json_integer((json_int_t)ctx));
    }
    json_t *j = json_pack("{s:s,s:s,s:s,s:o,s:o,s:o,s:o}", "modelfile", "", "parameters", "",
                          "template", "", "details", details_json(mc), "model_info", info,
                          "capabilities", caps, "modified_at", time_json(o->started_wall_ms));
    if (rt) {
        json_t *rules = json_array();
        for (size_t r = 0; r < rt->nrules; r++)
            json_array_append_new(rules, json_string(rt->rules[r].name));
        json_object_set_new(j, "hermod", json_pack("{s:b,s:o}", "route", 1, "rules", rules));
    }
    reply_json(req, 200, j);
    free(name);
    json_decref(in);
}

void ollama_handle(struct ollama *o, struct http_req *req, const char *path)
{
    if (!strcmp(path, "/api/chat"))
        generate(o, req, K_CHAT);
    else if (!strcmp(path, "/api/generate"))
        generate(o, req, K_GENERATE);
    else if (!strcmp(path, "/api/embed"))
        generate(o, req, K_EMBED);
    else if (!strcmp(path, "/api/embeddings"))
        generate(o, req, K_EMBEDDINGS);
    else if (!strcmp(path, "/api/tags"))
        get_tags(o, req);
    else if (!strcmp(path, "/api/ps"))
        get_ps(o, req);
    else if (!strcmp(path, "/api/show"))
        post_show(o, req);
    else if (!strcmp(path, "/api/version"))
        reply_json(req, 200, json_pack("{s:s}", "version", OLLAMA_API_VERSION));
    else
        reply_error(req, 404, "no such endpoint: %s", path);
}

struct ollama *ollama_new(const struct config *cfg, struct sched *sched, struct proxy *proxy,
                          uint64_t started_wall_ms)
{
    struct ollama *o = xcalloc(1, sizeof(*o));
    o->cfg = cfg;
    o->sched = sched;
    o->proxy = proxy;
    o->started_wall_ms = started_wall_ms;
    return o;
}

void ollama_set_config(struct ollama *o, const struct config *cfg)
{
    o->cfg = cfg;
}

void ollama_free(struct ollama *o)
{
    free(o);
}
