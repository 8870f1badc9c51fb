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
