/* SPDX-License-Identifier: MIT */
/*
 * pipeline: what hermod does with a photo, screenshot, video or transcript
 * it is given: prepare it, have a model describe it, extract what it says,
 * and keep all of it in the memory store.
 *
 *   POST /hermod/ingest             one item; answers with the episode
 *   GET  /hermod/episodes/ID        an episode as stored
 *   POST /hermod/ingest/retry[?id=N] retries pending episodes now (or
 *                                   revives a failed one)
 *   GET  /hermod/memories/search    ?q=&since=&until=&kind=&entity=&limit=&tz=
 *
 * An ingest body is either the raw file (any Content-Type but JSON; the
 * query string carries source, at, model, kind, filename) or a JSON object
 * {"text": "..."} for a transcript or {"data": "<base64 or data: URL>"}
 * for a file, with the same fields beside it. The format comes from the
 * content, never from a name.
 *
 * The life of an item:
 *   1. worker: hash the bytes; decode, orient, downscale and re-encode an
 *      image (image.h) or sample a video's frames (video.h); build the
 *      model request; record the episode as pending with that request and
 *      the media facts in one transaction (store.h). From here nothing is
 *      lost: a crash leaves a pending episode that the retry timer redoes.
 *   2. loop: send the request to hermod's own /v1/chat/completions, so the
 *      route, the engine fallback, the scheduler and the answer checks
 *      (valid JSON of the schema, retried once, then escalated) all apply.
 *   3. worker: read the answer (vision.h, transcript.h), build the typed
 *      record (extract.h); for a picture with text, a second call has the
 *      extract route name its people, places and organisations.
 *   4. worker: write the result, entities and facts in one transaction,
 *      read the episode back and answer with it.
 * A failed model call leaves the episode pending (HTTP 202, retried every
 * pipeline.retry_interval until pipeline.max_attempts); the same bytes
 * sent again are the same episode (idempotent on the SHA-256 of the
 * content), and a second upload while the first is still being described
 * waits for the first's answer instead of asking the model twice.
 *
 * DESIGN
 * The loop thread owns the jobs; every store call, decode and parse runs
 * on libuv's worker pool, touching only its own job. docs/internals/
 * pipeline.md has the request shapes and the failure table.
 */
#ifndef HERMOD_PIPELINE_H
#define HERMOD_PIPELINE_H

#include <uv.h>

#include "core/config.h"
#include "lib/buf.h"

struct http_req;
struct pipeline;
struct store;
struct upstream;

/*
 * Creates the pipeline. st may be NULL when the store could not be
 * opened; store_error then says why, and every endpoint answers 503 with
 * it. All pointers are borrowed and must outlive the pipeline.
 */
struct pipeline *pipeline_new(uv_loop_t *loop, const struct config *cfg, struct upstream *up,
                              struct store *st, const char *store_error);

/* Where hermod itself listens, for the model calls; starts the retry
 * timer (the first pass a few seconds later, for episodes a crash left). */
void pipeline_start(struct pipeline *p, int port);
/* The API key the pipeline's model calls to the daemon's own port carry
 * (gateway/auth.h: the internal key); copied. */
void pipeline_set_api_key(struct pipeline *p, const char *key);

/* Stops starting anything: no new model call, no retry; jobs still on the
 * worker pool finish and are dropped. Answers waiting clients with 503. */
void pipeline_stop(struct pipeline *p);

/* Frees everything; after pipeline_stop() and once the loop has no work
 * requests left. NULL is a no-op. */
void pipeline_free(struct pipeline *p);

/* Whether the request is one of the pipeline's; if so it is answered. */
bool pipeline_handle(struct pipeline *p, struct http_req *req);

/* "http://HOST:PORT" for reaching a server that listens on host (a
 * wildcard address becomes loopback). */
void pipeline_local_url(const char *host, int port, char *out, size_t n);

/* Appends the pipeline's Prometheus metrics. */
void pipeline_metrics(const struct pipeline *p, struct buf *out);

#endif
