/* SPDX-License-Identifier: MIT */
/*
 * upstream: HTTP/1.1 requests to engines, on the event loop.
 *
 * hermod's own client on libuv TCP handles; Debian's http-parser reads the
 * answers. Connections to an engine are pooled per host:port and reused;
 * one at rest keeps its read side on, so an engine that closes it is seen
 * when it does (see upstream.c for why this replaced libcurl).
 *
 * A request reports through three callbacks, always on the loop thread:
 * head (status line and headers complete), data (body bytes as they
 * arrive) and done (the end, with an error code or 0). After
 * upstream_abort() no callback is called again.
 *
 * DESIGN
 * Callbacks may abort any request, their own included (a client went
 * away, a relay gave up). Inside the parser an abort only marks the
 * request; the connection is closed when the parser returns. A data
 * callback that returns UPSTREAM_PAUSE stops the transfer until
 * upstream_resume(): the refused bytes are kept and offered again.
 */
#ifndef HERMOD_UPSTREAM_H
#define HERMOD_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct buf;
struct upstream;
struct upstream_req;

/* Returned by a data callback that did NOT take the bytes: the transfer is
 * paused and the same bytes are offered again after upstream_resume(). */
#define UPSTREAM_PAUSE 1

/* Status line and headers are complete. status is the HTTP status. */
typedef void upstream_head_cb(struct upstream_req *r, long status, void *arg);
/* Body bytes, borrowed for the call. Returns 0 (taken) or UPSTREAM_PAUSE. */
typedef int upstream_data_cb(struct upstream_req *r, const char *p, size_t n, void *arg);
/*
 * The request is over. rc is 0 when the whole response arrived, else
 * -ECONNREFUSED (nothing listens), -ETIMEDOUT (connect, first byte or
 * total timeout), -ECONNRESET (the connection broke or closed early),
 * -EPROTO (not HTTP), -EIO (anything else). msg says what happened, for
 * people. The request is freed after this returns.
 */
typedef void upstream_done_cb(struct upstream_req *r, int rc, const char *msg, void *arg);

struct upstream_opts {
    const char *method;       /* "GET" or "POST" */
    const char *url;          /* borrowed for the call */
    const char *body;         /* borrowed until done; NULL for none */
    size_t body_len;
    const char *content_type; /* of the body, default application/json */
    const char *auth_bearer;  /* adds Authorization: Bearer ..., or NULL */
    uint64_t connect_timeout_ms;
    uint64_t first_byte_timeout_ms; /* 0 = none: until the status line arrives */
    uint64_t stall_timeout_ms;      /* 0 = none: silence between body bytes */
    uint64_t total_timeout_ms;      /* 0 = none */
    bool fresh_connect;             /* do not reuse a kept-alive connection */
    bool keep_headers;              /* keep every response header for upstream_req_header() */
    bool probe;                     /* a health check: counted as one, not as a request */
    upstream_head_cb *on_head;      /* may be NULL */
    upstream_data_cb *on_data;      /* may be NULL: the body is dropped */
    upstream_done_cb *on_done;      /* required */
    void *arg;
};

/* Creates the client on loop. Never fails (out of memory aborts). */
struct upstream *upstream_new(uv_loop_t *loop);
/* Aborts every request (no callbacks) and frees the client. The loop must
 * run once more afterwards so that the closed handles are released. */
void upstream_free(struct upstream *u);

/* Starts a request; the options are copied. Never returns NULL. */
struct upstream_req *upstream_start(struct upstream *u, const struct upstream_opts *o);
/* Stops the request at once; no callback follows. */
void upstream_abort(struct upstream_req *r);
/* Resumes a transfer paused by UPSTREAM_PAUSE. */
void upstream_resume(struct upstream_req *r);

/* Did this request run on a connection kept from an earlier one? */
bool upstream_req_reused(const struct upstream_req *r);
/* Body bytes taken so far by the data callback. */
uint64_t upstream_req_body_bytes(const struct upstream_req *r);
/* The response's Content-Type, or NULL before the head or if none. */
const char *upstream_req_content_type(const struct upstream_req *r);
/* The response's Retry-After header value, or NULL. */
const char *upstream_req_retry_after(const struct upstream_req *r);
/* A response header by name (any case), or NULL; only with keep_headers.
 * The value is valid until the request is done. */
const char *upstream_req_header(const struct upstream_req *r, const char *name);

/* Counts for /metrics. requests and failures are the requests' (relay,
 * pipeline, unload); probes and probe_failures the health checks'. A
 * failure is a transfer that ended without a whole response (refused,
 * reset, timed out); an HTTP error status is not one. */
struct upstream_stats {
    uint64_t requests, failures, retries_fresh;
    uint64_t probes, probe_failures;
    unsigned active;
};
void upstream_get_stats(const struct upstream *u, struct upstream_stats *st);

#endif
