/* SPDX-License-Identifier: MIT */
/*
 * http: the HTTP/1.1 front, on libuv, requests parsed by Debian's
 * http-parser.
 *
 * Every callback here happens on the loop thread. A request is handed to
 * the handler once its whole body has arrived (bodies over max_body get
 * 413 without reaching it; heads over 64 KiB 431; a request not read whole
 * in 60 s 408). The handler answers at once or later, with a complete
 * response (http_respond*) or a stream (http_stream_*). The client's side
 * of the connection is read all along, so a client that goes away is
 * noticed at once, in any state, not at the next write.
 *
 * Lifetime: the request object belongs to this module. Its owner (the
 * handler's context, set with http_req_set_owner) learns that the request
 * is over through close_cb, exactly once, always from a loop callback
 * (never from inside an http_* call), and must not touch the request after
 * that callback returns.
 */
#ifndef HERMOD_HTTP_H
#define HERMOD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "lib/buf.h"

struct http_server;
struct http_req;

/* A request with its whole body. The handler must answer eventually. */
typedef void http_handler_cb(struct http_req *req, void *arg);
/* The request is over: answered in full (aborted false), or the client went
 * away or the connection broke (aborted true). */
typedef void http_close_cb(struct http_req *req, bool aborted, void *owner);
/* A stream's unsent output fell below the low-water mark. */
typedef void http_drain_cb(struct http_req *req, void *owner);

/* What one client may make the server hold, and for how long. A zero
 * field takes the default in brackets. */
struct http_limits {
    uint64_t max_body;          /* request body: 413 beyond [64 MiB] */
    uint64_t max_head;          /* request line and headers: 431 beyond [64 KiB] */
    uint64_t read_timeout_ms;   /* a request not read whole in this long: 408 [60 s] */
    uint64_t idle_timeout_ms;   /* a kept-alive connection idle this long is closed [300 s] */
    unsigned max_conns;         /* beyond, a new connection gets 503 and is closed [16384] */
};

/* Starts listening on host:port (port 0 picks one; see http_server_port).
 * lim is copied. Returns NULL with err set when the address cannot be
 * bound. */
struct http_server *http_server_new(uv_loop_t *loop, const char *host, int port,
                                    const struct http_limits *lim, http_handler_cb *handler,
                                    void *arg, struct buf *err);
/* Stops listening and ends every connection (owners get close_cb). */
void http_server_free(struct http_server *s);
int http_server_port(const struct http_server *s);
/* The web origins whose requests get CORS headers on the errors this module
 * answers itself (408, 413, 431, and 503 while draining; not the canned 503
 * of max_connections, written before any request is read). origins is a
 * NULL-terminated list, "*" for any, borrowed: it must outlive s. NULL (the
 * default) adds none. The gateway's own answers have their CORS from auth. */
void http_server_set_cors(struct http_server *s, const char *const *origins);
/* Shutting down: stops accepting connections (the port is closed at once),
 * answers requests that still arrive on open connections with 503, and
 * closes each connection after its answer. Requests in flight go on. */
void http_server_drain(struct http_server *s);
/* Requests currently open (for /metrics and shutdown). */
unsigned http_server_active(const struct http_server *s);

/* Request accessors; the strings live as long as the request. */
const char *http_req_method(const struct http_req *r);
const char *http_req_path(const struct http_req *r);
/* A query argument or a header (case-insensitive), or NULL. */
const char *http_req_query(const struct http_req *r, const char *name);
const char *http_req_header(const struct http_req *r, const char *name);
const char *http_req_body(const struct http_req *r, size_t *len);
/* A multipart/form-data body, parsed by GMime (src/form.c): cb gets each
 * part's field name, file name (NULL for a plain field), content type (or
 * NULL) and, for a plain field, its value (a file's content is not
 * passed). A non-zero return from cb stops the walk and is returned.
 * Returns 0, -EINVAL when the body is not a multipart form or does not
 * parse, -ENOSYS when GMime is missing. */
typedef int http_form_cb(void *arg, const char *name, const char *filename,
                         const char *content_type, const char *data, uint64_t off, size_t size);
int http_req_form_each(struct http_req *r, http_form_cb *cb, void *arg);
/* Monotonic time (ns) when the request's first byte arrived. */
uint64_t http_req_start_ns(const struct http_req *r);
/* Response body bytes handed to the socket layer so far. */
uint64_t http_req_bytes_out(const struct http_req *r);
/* Has the client gone away? */
bool http_req_gone(const struct http_req *r);

void http_req_set_owner(struct http_req *r, void *owner, http_close_cb *on_close,
                        http_drain_cb *on_drain);

/* Who the request came from (gateway/auth.c's key), opaque here; NULL
 * until set. Borrowed: it must outlive the request. */
void http_req_set_principal(struct http_req *r, const void *principal);
const void *http_req_principal(const struct http_req *r);

/* Adds a response header; call before responding. Both strings are copied. */
void http_req_add_header(struct http_req *r, const char *name, const char *value);

/* A complete response. Takes ownership of body (malloc'd), even on failure. */
void http_respond(struct http_req *r, int status, const char *content_type, char *body,
                  size_t len);
/* The same with a copy of body. */
void http_respond_copy(struct http_req *r, int status, const char *content_type,
                       const char *body, size_t len);
/* A JSON document (borrowed) as the body, compact, with a final newline. */
struct json_t;
void http_respond_json(struct http_req *r, int status, const struct json_t *j);
/* An OpenAI-style error: {"error":{"message","type","param":null,"code"}}. */
__attribute__((format(printf, 5, 6))) void http_respond_error(struct http_req *r, int status,
                                                              const char *type,
                                                              const char *code,
                                                              const char *fmt, ...);
/* Builds the same error object as JSON text into out. */
void http_error_json(struct buf *out, const char *type, const char *code, const char *message);

/* Streams: begin (status and headers go out with the first write), write
 * any number of times, end. A write never fails: bytes are queued, and the
 * caller watches http_stream_pending() and on_drain for back-pressure.
 * end with ok=false cuts the connection without a clean end of stream. */
void http_stream_begin(struct http_req *r, int status, const char *content_type);
void http_stream_write(struct http_req *r, const char *p, size_t n);
size_t http_stream_pending(const struct http_req *r);
void http_stream_end(struct http_req *r, bool ok);
/* Has the response (status line) been started? */
bool http_req_responded(const struct http_req *r);

/* Output queued beyond this makes a stream's producer pause. */
#define HTTP_STREAM_HIGH_WATER (256u << 10)
#define HTTP_STREAM_LOW_WATER (64u << 10)

#endif
