/* SPDX-License-Identifier: MIT */
/*
 * proxy: relays one OpenAI API request to an engine and its answer back.
 *
 * For each request the proxy reads the model the client names (from the
 * JSON body, or from the `model` field of a multipart form), finds the
 * model or route, gets an engine from the scheduler, and relays the
 * answer: event streams and binary answers (audio) as they arrive, with
 * back-pressure from slow clients; JSON answers whole. JSON bodies get the
 * engine's own model id; multipart bodies go to the engine unchanged. The
 * answer carries the model name the client sent, in streamed chunks too.
 *
 * Failures before any byte of the answer reached the client (connection
 * refused, 5xx, an engine that failed to start) move the request to the
 * model's next engine. A failure after that point cannot be hidden: the
 * client gets an explicit SSE error event, never a clean [DONE].
 *
 * Each request is one explicit state machine (see proxy.c); a client that
 * goes away is handled once, whatever the state.
 */
#ifndef HERMOD_PROXY_H
#define HERMOD_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "core/config.h"

struct proxy;
struct http_req;
struct sched;
struct sched_model;
struct upstream;

/* All borrowed; they must outlive the proxy. */
struct proxy *proxy_new(uv_loop_t *loop, const struct config *cfg, struct sched *sched,
                        struct upstream *up);
void proxy_free(struct proxy *p);

/* Relays req (a POST) to `endpoint` ("/v1/chat/completions", any other
 * "/v1/..." path; borrowed, must live as long as req). Answers req in
 * every case. */
void proxy_handle(struct proxy *p, struct http_req *req, const char *endpoint);

/*
 * A response filter: lets another API on the same port (gateway/ollama.c)
 * speak through the relay. The caller turns its request into an OpenAI
 * one; everything the relay would send the client goes to the filter
 * instead, which writes the client's answer on req itself:
 *
 *   respond       a complete answer: the engine's (JSON, status as the
 *                 engine gave it) or the relay's own error, an OpenAI
 *                 error object with status >= 400. body is borrowed.
 *   stream_begin  the relay starts an event stream (the engine's, or
 *                 keepalive comments during a cold start).
 *   stream_write  SSE bytes as the relay would send them: the engine's
 *                 events (model renamed), ": hermod: ..." comments, a
 *                 final `data: {"error": ...}` event. Cut anywhere.
 *   stream_end    the stream is over; ok false: cut, no clean end.
 *   free          the request is over (or was refused); called once.
 *
 * A non-SSE 2xx answer (audio) is collected and handed to respond, never
 * streamed raw. Back-pressure works as for any stream: the relay watches
 * http_stream_pending(req), so a filter must write what it makes to req
 * at once.
 */
struct proxy_filter {
    void (*respond)(struct http_req *req, int status, const char *content_type,
                    const char *body, size_t len, void *arg);
    void (*stream_begin)(struct http_req *req, void *arg);
    void (*stream_write)(struct http_req *req, const char *p, size_t n, void *arg);
    void (*stream_end)(struct http_req *req, bool ok, void *arg);
    void (*free)(void *arg);
};

/*
 * proxy_handle() for a request whose OpenAI body the caller made: body
 * (malloc'd, JSON, taken in every case) stands for req's own, and f
 * (borrowed, static) gets the answer with arg (taken: f->free(arg) is
 * called once, when the request is over, or before this returns when it
 * is refused).
 */
void proxy_handle_filtered(struct proxy *p, struct http_req *req, const char *endpoint,
                           char *body, size_t len, const struct proxy_filter *f, void *arg);

/* Appends the relay's metrics (requests by model, route and status;
 * request duration and time to first byte; tokens in and out; fallbacks
 * and escalations; relays active) in the Prometheus text format. */
struct buf;
void proxy_metrics(const struct proxy *p, struct buf *out);

/*
 * The relay's recent requests: a ring of the last PROXY_RECENT_MAX
 * requests that reached the relay and are over (answered, refused by the
 * scheduler, or left by their client), oldest first. An entry's strings
 * are the proxy's, each cut to PROXY_RECENT_STR bytes; they stay valid
 * until the next request ends (so: within one loop callback). Read by the
 * dashboard.
 *
 *   seq           numbers every request that ends, from 1: a reader can
 *                 tell which entries it has already seen
 *   time_ms       wall clock when it ended; ms how long it took
 *   path          the endpoint ("/v1/chat/completions", ...)
 *   client_model  the name the client sent
 *   model         the model that answered (the best answer's, after an
 *                 escalation), or the last one tried
 *   engine        the engine that answered, or NULL
 *   route, rule, reason   the route's decision, or NULL without a route
 *   passed_over   why a route's earlier candidates could not serve, or NULL
 *   status        the HTTP status answered, 0 if none (client gone first)
 *   attempts      engines tried
 *   checks        structured answers judged on an escalating route, in order
 */
#define PROXY_RECENT_MAX 50
#define PROXY_RECENT_STR 400
#define PROXY_RECENT_CHECKS 8

struct proxy_check {
    const char *model, *engine, *problems;
    bool ok;
};

struct proxy_recent {
    uint64_t seq, time_ms, ms;
    const char *path, *client_model, *model, *engine;
    const char *route, *rule, *reason, *passed_over;
    const char *refused;           /* refused before an engine: "code: message", else NULL */
    int status;
    bool aborted, stream;
    unsigned attempts;
    int64_t tokens_in, tokens_out; /* -1: the answer did not say */
    struct proxy_check checks[PROXY_RECENT_CHECKS];
    size_t nchecks;
};

/* How many entries the ring holds now (at most PROXY_RECENT_MAX). */
size_t proxy_recent_count(const struct proxy *p);
/* Entry i, 0 the oldest; i < proxy_recent_count(). Borrowed (see above). */
const struct proxy_recent *proxy_recent_at(const struct proxy *p, size_t i);

/* Shutting down: requests still waiting for an engine that is not ready
 * (a cold start) are answered 503 with the reason now, and so is every
 * later one that would need a start. Requests already on an engine run
 * to their end. */
void proxy_drain(struct proxy *p);

/* Requests being relayed now. */
unsigned proxy_active(const struct proxy *p);

/* The config the proxy reads from now on (SIGHUP). Requests already in
 * flight keep the one they started with; the caller keeps old configs
 * alive until proxy_config_users() says none uses them. */
void proxy_set_config(struct proxy *p, const struct config *cfg);
/* Requests in flight that started under cfg. */
unsigned proxy_config_users(const struct proxy *p, const struct config *cfg);

#endif
