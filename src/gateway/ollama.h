/* SPDX-License-Identifier: MIT */
/*
 * ollama: Ollama's API on hermod's port, as a translation layer over the
 * relay.
 *
 * Many applications speak only Ollama's API. This module answers its
 * endpoints: /api/chat, /api/generate, /api/embed and /api/embeddings are
 * turned into the OpenAI request the relay (proxy.c) already handles, and
 * the relay's answer, or its event stream, back into Ollama's JSON or
 * NDJSON (proxy_handle_filtered); /api/tags, /api/ps, /api/show and
 * /api/version are answered here from the scheduler's public getters.
 * So routes ("auto"), fallback, escalation, cold starts and the memory
 * budget work the same through either API, and nothing is proxied twice.
 *
 * Errors are Ollama's: {"error": "message"} with the HTTP status hermod
 * would give on the OpenAI side. docs/internals/gateway.md lists what is
 * mapped and what is not.
 */
#ifndef HERMOD_OLLAMA_H
#define HERMOD_OLLAMA_H

#include <stdint.h>

#include "core/config.h"

struct ollama;
struct http_req;
struct proxy;
struct sched;

/* All borrowed; they must outlive the module. started_wall_ms is when
 * hermod started (the models' modified_at). */
struct ollama *ollama_new(const struct config *cfg, struct sched *sched, struct proxy *proxy,
                          uint64_t started_wall_ms);
/* The config after a reload (borrowed). */
void ollama_set_config(struct ollama *o, const struct config *cfg);
/* NULL is a no-op. */
void ollama_free(struct ollama *o);

/* Answers req, whose path is `path` (one of /api/chat, /api/generate,
 * /api/embed, /api/embeddings, /api/show, /api/tags, /api/ps,
 * /api/version; the method already checked), in every case. */
void ollama_handle(struct ollama *o, struct http_req *req, const char *path);

#endif
