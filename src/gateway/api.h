/* SPDX-License-Identifier: MIT */
/*
 * api: the HTTP surface. Dispatches each request by method and path to the
 * relay (proxy.c) or answers it here: /v1/models, /health, /metrics and
 * the admin endpoints under /hermod/.
 */
#ifndef HERMOD_API_H
#define HERMOD_API_H

#include <uv.h>

#include "core/config.h"

struct api;
struct http_req;
struct sched;
struct proxy;
struct upstream;

/* All borrowed; they must outlive the api. */
struct api *api_new(uv_loop_t *loop, const struct config *cfg, struct sched *sched,
                    struct proxy *proxy, struct upstream *up);
/* The pipeline that answers /hermod/ingest, /hermod/episodes/ and
 * /hermod/memories/search (borrowed; NULL = none). */
struct pipeline;
void api_set_pipeline(struct api *a, struct pipeline *p);
/* The config after a reload (borrowed; must outlive the api). */
void api_set_config(struct api *a, const struct config *cfg);
/* The key with which the daemon calls its own API (the ingest pipeline):
 * random, made at start, valid while the api lives (gateway/auth.h). */
const char *api_internal_key(const struct api *a);
void api_free(struct api *a);
/* The http_handler_cb: arg is the struct api. */
void api_handle(struct http_req *req, void *arg);

#endif
