/* SPDX-License-Identifier: MIT */
/*
 * proxy: relays one OpenAI API request to an engine and its answer back.
 *
 * For each request the proxy parses the JSON body, finds the model, gets
 * an engine from the scheduler, rewrites "model" to the engine's own model
 * id, and relays the answer: streamed answers chunk by chunk as they
 * arrive, with back-pressure from slow clients; other answers whole.
 *
 * Failures before any byte of the answer reached the client (connection
 * refused, 5xx, an engine that failed to start) move the request to the
 * model's next engine. A failure after that point cannot be hidden: the
 * client gets an explicit SSE error event, never a clean [DONE].
 */
#ifndef HERMOD_PROXY_H
#define HERMOD_PROXY_H

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

/* Relays req (POST with a JSON body) to `endpoint` ("/v1/chat/completions",
 * "/v1/completions", "/v1/embeddings"). Answers req in every case. */
void proxy_handle(struct proxy *p, struct http_req *req, const char *endpoint);

/* Requests being relayed now. */
unsigned proxy_active(const struct proxy *p);

#endif
