/* SPDX-License-Identifier: MIT */
/*
 * http.c: the HTTP/1.1 front on libuv, requests parsed by Debian's
 * http-parser (libhttp-parser). See http.h for the contract.
 *
 * DESIGN
 * Why not libmicrohttpd any more (measured, bench/README.md, issue 10):
 * driven from our loop through its epoll fd, it removes a suspended
 * connection from its epoll set and adds it back on resume (two epoll_ctl
 * per request that waits for an engine, which is every proxied request),
 * zeroes a 16 KiB pool per request, and cannot see a client leave while a
 * connection is suspended, which needed a timer and a uv_poll of our own.
 * Here every connection is a uv_tcp_t whose read side stays on: a client
 * that leaves is seen when it does, in any state, and an answer is one
 * write (head and body together) from the loop.
 *
 * A connection carries one request at a time. The parser is paused at the
 * end of each request; bytes that follow (a pipelined request) wait, up to
 * one read buffer, until the answer is written, then are parsed.
 *
 * A request's life: READING (head and body arriving) -> HANDLING (the
 * handler has it) -> ANSWERING (a response or stream is being written) ->
 * freed after its last byte is written, or when the connection goes. The
 * owner hears of the end through close_cb exactly once, always from a
 * libuv callback, never from inside http_respond() or http_stream_*(), so
 * an owner may go on using itself after answering.
 *
 * Limits (struct http_limits, from the config): a head over max_head gets
 * 431, a body over max_body 413 (at once when Content-Length says so), a
 * request not read whole in read_timeout 408; a kept-alive connection idle
 * for idle_timeout is closed; beyond max_conns connections a new one gets
 * a canned 503 (written without reading its request) and is closed. The
 * timeouts are checked by a sweep once a second, so they hold to about a
 * second.
 */
#include "net/http.h"

#include <errno.h>
#include <http_parser.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "net/form.h"
#include "lib/clock.h"
#include "lib/list.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define READ_BUF (64 * 1024)
#define SWEEP_MS 1000

struct http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_timer_t sweep;
    bool listening;
    int port;
    struct http_limits lim;
    uint64_t busy_logged_ms;    /* last "too many connections" line */
    http_handler_cb *handler;
    void *arg;
    http_parser_settings ps;
    struct list conns;
    struct list ended;          /* connections whose answer is all written */
    uv_idle_t ender;            /* runs their req_end() from the loop */
    char *rbuf;                 /* the read buffer of every connection (READ_BUF) */
    struct list to_flush;       /* connections with stream bytes held in outq */
    uv_check_t flusher;         /* writes them once this loop turn's callbacks are done */
    unsigned nconns;
    unsigned active;            /* requests open */
    bool draining;
    bool closing;
    unsigned handles;           /* listener, timer and connections not yet closed */
    const char *const *cors;    /* origins allowed (borrowed, NULL-terminated), or NULL */
};

struct conn {
    uv_tcp_t tcp;               /* first: the handle's data is the conn */
    struct http_server *s;
    struct list link;
    http_parser parser;
    struct http_req *req;       /* the request being read or answered */
    struct buf rest;            /* read, not parsed: what follows a request */
    uint64_t last_ms;           /* uv_now() of the last activity */
    unsigned writes;            /* uv_write()s pending */
    struct list end_link;       /* in s->ended */
    bool end_pending;
    struct list flush_link;     /* in s->to_flush */
    bool flush_pending;
    struct buf outq;            /* stream bytes waiting for the pending write */
    struct buf sending;         /* stream bytes being written (swapped with outq) */
    bool outq_last;             /* outq ends the request */
    bool close_after;           /* close once the writes are done */
    bool closing;
};

enum req_state { R_READING, R_HANDLING, R_ANSWERING };

struct hdr {
    char *name, *value;
};

struct http_req {
    struct conn *c;             /* NULL once the connection is gone */
    struct http_server *s;
    enum req_state state;
    const char *method;
    struct buf url;
    const char *path, *query;   /* in hb, or static "" */
    struct buf hb;              /* request headers, "name\0value\0" each, then path\0query\0 */
    size_t nin;
    enum { H_NONE, H_NAME, H_VALUE } hstate;
    size_t head_bytes;
    struct buf body;
    bool too_big;
    bool keep_alive;
    uint64_t start_ns;
    uint64_t start_ms;          /* uv_now(), for the read timeout */
    struct hdr *args;           /* query arguments, decoded on first use */
    size_t nargs;
    bool args_done;
    struct buf out;             /* response headers added, as sent: "Name: value\r\n" */
    bool responded;
    bool streaming;
    bool stream_ended;
    bool above_high;
    bool gone;
    bool owner_told;
    uint64_t bytes_out;
    void *owner;
    const void *principal;
    http_close_cb *on_close;
    http_drain_cb *on_drain;
};

/* One write: its bytes live here until libuv is done with them. */
struct wr {
    uv_write_t w;
    struct conn *c;
    bool last;                  /* the request's last bytes */
    bool stream;                /* the bytes are c->sending */
    char *mem[2];               /* freed after the write */
};

static void conn_close(struct conn *c);
static void flush_outq(struct conn *c);
static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b);
static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *b);
static void parse(struct conn *c, const char *p, size_t n);
static void dispatch(struct conn *c);

/* ---- requests -------------------------------------------------------------- */

static void hdrs_free(struct hdr *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i].name);
        free(h[i].value);
    }
    free(h);
}

static void tell_owner(struct http_req *r, bool aborted)
{
    if (r->owner_told)
        return;
    r->owner_told = true;
    if (r->on_close)
        r->on_close(r, aborted, r->owner);
}

static void req_free(struct http_req *r)
{
    r->s->active--;
    buf_release(&r->url);
    buf_release(&r->body);
    buf_release(&r->hb);
    buf_release(&r->out);
    hdrs_free(r->args, r->nargs);
    free(r);
}

/* The request is over: its owner hears it, and the connection goes on to
 * the next request, or closes. */
static void req_end(struct http_req *r, bool aborted)
{
    struct conn *c = r->c;
    tell_owner(r, aborted);
    if (c) {
        c->req = NULL;
        r->c = NULL;
    }
    bool keep = r->keep_alive && !aborted;
    req_free(r);
    if (!c || c->closing)
        return;
    if (!keep || c->s->draining || c->s->closing) {
        c->close_after = true;
        if (!c->writes)
            conn_close(c);
        return;
    }
    /* Parse what followed (a pipelined request), then read on. */
    http_parser_pause(&c->parser, 0);
    if (c->rest.len) {
        struct buf rest = c->rest;
        buf_init(&c->rest);
        parse(c, rest.data, rest.len);
        buf_release(&rest);
        if (c->closing)
            return;
    }
    if (!c->req || c->req->state == R_READING)
        uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb); /* UV_EALREADY if on */
}

/* ---- writing ---------------------------------------------------------------- */

/* A stream above the high-water mark is below the low one again: its
 * producer may go on. Only from loop callbacks. */
static void maybe_drain(struct conn *c)
{
    struct http_req *r = c->req;
    if (r && r->above_high && c->tcp.write_queue_size + c->outq.len < HTTP_STREAM_LOW_WATER) {
        r->above_high = false;
        if (r->on_drain && !r->owner_told)
            r->on_drain(r, r->owner);
    }
}

static void write_cb(uv_write_t *w, int status)
{
    struct wr *x = container_of(w, struct wr, w);
    struct conn *c = x->c;
    free(x->mem[0]);
    free(x->mem[1]);
    bool last = x->last;
    if (x->stream)
        buf_reset(&c->sending); /* keeps its memory for the next flush */
    free(x);
    c->writes--;
    if (c->closing)
        return;
    struct http_req *r = c->req;
    if (status < 0) {
        if (r) {
            r->gone = true;
            req_end(r, true);
        }
        conn_close(c);
        return;
    }
    c->last_ms = uv_now(c->s->loop);
    if (!c->writes && c->outq.len)
        flush_outq(c);
    maybe_drain(c);
    r = c->req; /* the drain callback may have ended it */
    if (last && r)
        req_end(r, false);
    else if (c->close_after && !c->writes)
        conn_close(c);
}

/* Stream bytes: straight to the socket when nothing is being written,
 * else queued behind the pending write and sent with the next one, so a
 * stream whose client reads slowly costs one growing buffer, not one
 * allocation and one write per chunk. */
static void write_bufs(struct conn *c, uv_buf_t *bufs, unsigned n, char *mem0, char *mem1,
                       bool last, bool stream);

static void flush_outq(struct conn *c)
{
    /* The two buffers change places: no allocation once they have grown. */
    struct buf t = c->sending;
    c->sending = c->outq;
    c->outq = t;
    bool last = c->outq_last;
    c->outq_last = false;
    uv_buf_t b = uv_buf_init(c->sending.data, (unsigned)c->sending.len);
    write_bufs(c, &b, 1, NULL, NULL, last, true);
}

/* Takes c off the list of connections to flush; true if it was on it. */
static bool flush_unlink(struct conn *c)
{
    if (!c->flush_pending)
        return false;
    list_del(&c->flush_link);
    c->flush_pending = false;
    return true;
}

/* Writes what c holds now instead of at the end of the loop turn. */
static void flush_now(struct conn *c)
{
    if (flush_unlink(c) && !c->writes && c->outq.len)
        flush_outq(c);
}

static void flusher_cb(uv_check_t *h)
{
    struct http_server *s = h->data;
    while (!list_empty(&s->to_flush)) {
        struct conn *c = container_of(list_first(&s->to_flush), struct conn, flush_link);
        flush_now(c);
        /* Held bytes can pass the high-water mark within a turn, and the
         * socket can take them all at once: no write_cb then. (A closed
         * connection has no request left to drain.) */
        maybe_drain(c);
    }
    uv_check_stop(h);
}

/*
 * Stream bytes (a stream's head, its chunks, its end) are held in outq
 * until the callbacks of this loop turn are done, then written in one
 * system call (the check phase follows the poll phase's callbacks). One
 * read from an engine often holds several chunks, or the last chunk and
 * the end, and a stream's head comes with its first chunk: each was a
 * write of its own before, each write on loopback running the client's
 * TCP input too. The wait is the rest of this turn's callbacks, so none
 * when the loop is idle. While a write is pending, outq waits for it
 * (write_cb) as before.
 */
static void hold_outq(struct conn *c)
{
    if (c->writes || c->flush_pending)
        return;
    c->flush_pending = true;
    list_add_tail(&c->s->to_flush, &c->flush_link);
    uv_check_start(&c->s->flusher, flusher_cb);
}

static void send_stream(struct conn *c, const char *head, size_t hl, const char *p, size_t n,
                        const char *tail, size_t tl, bool last)
{
    buf_add(&c->outq, head, hl);
    buf_add(&c->outq, p, n);
    buf_add(&c->outq, tail, tl);
    c->outq_last |= last;
    hold_outq(c);
}

static void ender_cb(uv_idle_t *h)
{
    struct http_server *s = h->data;
    while (!list_empty(&s->ended)) {
        struct conn *c = container_of(list_first(&s->ended), struct conn, end_link);
        list_del(&c->end_link);
        c->end_pending = false;
        if (c->req && !c->closing)
            req_end(c->req, false);
        else if (c->close_after && !c->writes && !c->closing)
            conn_close(c);
    }
    uv_idle_stop(h);
}

/* The request's last byte is written: it ends from the loop, not from
 * inside the http_* call that wrote it. */
static void schedule_end(struct conn *c)
{
    if (c->end_pending)
        return;
    c->end_pending = true;
    list_add_tail(&c->s->ended, &c->end_link);
    uv_idle_start(&c->s->ender, ender_cb);
}

/*
 * Writes bufs on c; mem (up to two blocks) is freed after. When nothing is
 * pending, the bytes go out at once with uv_try_write(): for an ordinary
 * answer that is the whole of it, and libuv then has no write request to
 * finish (uv_write would re-arm the socket's epoll entry afterwards, one
 * epoll_ctl per answer). What the socket does not take goes through
 * uv_write.
 */
static void write_bufs(struct conn *c, uv_buf_t *bufs, unsigned n, char *mem0, char *mem1,
                       bool last, bool stream)
{
    if (!c->writes) {
        size_t total = 0;
        for (unsigned i = 0; i < n; i++)
            total += bufs[i].len;
        int w = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
        if (w == (int)total) {
            free(mem0);
            free(mem1);
            if (stream)
                buf_reset(&c->sending);
            c->last_ms = uv_now(c->s->loop);
            if (last)
                schedule_end(c);
            return;
        }
        if (w > 0) {
            size_t done = (size_t)w;
            while (n && done >= bufs[0].len) {
                done -= bufs[0].len;
                bufs++;
                n--;
            }
            bufs[0].base += done;
            bufs[0].len -= (unsigned)done;
        }
    }
    struct wr *x = xcalloc(1, sizeof(*x));
    x->c = c;
    x->last = last;
    x->stream = stream;
    x->mem[0] = mem0;
    x->mem[1] = mem1;
    c->writes++;
    int rc = uv_write(&x->w, (uv_stream_t *)&c->tcp, bufs, n, write_cb);
    if (rc < 0) {
        /* The socket is gone: the write callback will not come. */
        c->writes--;
        free(mem0);
        free(mem1);
        if (stream)
            buf_reset(&c->sending);
        free(x);
        if (c->req) {
            c->req->gone = true;
            req_end(c->req, true);
        }
        conn_close(c);
    }
}

static void add_head(struct http_req *r, struct buf *h, int status, const char *ct)
{
    const char *reason = http_status_str((enum http_status)status);
    buf_grow(h, 256);
    buf_addstr(h, "HTTP/1.1 ");
    buf_add_u64(h, (uint64_t)status);
    buf_addstrs(h, " ", reason && strcmp(reason, "<unknown>") ? reason : "", "\r\n");
    if (ct)
        buf_addstrs(h, "Content-Type: ", ct, "\r\n");
    buf_add(h, r->out.data, r->out.len);
    if (!r->keep_alive || r->s->draining)
        buf_addstr(h, "Connection: close\r\n");
}

static bool can_answer(const struct http_req *r)
{
    return !r->responded && !r->gone && r->c && !r->c->closing;
}

void http_respond(struct http_req *r, int status, const char *content_type, char *body,
                  size_t len)
{
    if (!can_answer(r)) {
        free(body);
        return;
    }
    r->responded = true;
    r->state = R_ANSWERING;
    struct buf h = BUF_INIT;
    add_head(r, &h, status, content_type);
    if (status == 204) {
        buf_addstr(&h, "\r\n"); /* no Content-Length on a 204 (RFC 9110, 8.6) */
    } else {
        buf_addstr(&h, "Content-Length: ");
        buf_add_u64(&h, len);
        buf_addstr(&h, "\r\n\r\n");
    }
    bool head_only = !strcmp(r->method, "HEAD");
    r->bytes_out = head_only ? 0 : len;
    size_t hl;
    char *hp = buf_detach(&h, &hl);
    uv_buf_t bufs[2] = {uv_buf_init(hp, (unsigned)hl), uv_buf_init(body, (unsigned)len)};
    write_bufs(r->c, bufs, head_only || !len ? 1 : 2, hp, body, true, false);
}

void http_respond_copy(struct http_req *r, int status, const char *content_type,
                       const char *body, size_t len)
{
    http_respond(r, status, content_type, xmemdup(body, len), len);
}

void http_respond_json(struct http_req *r, int status, const struct json_t *j)
{
    /* json_dumpb() sizes the text first; one allocation, plus the newline */
    size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT | JSON_REAL_PRECISION(10));
    char *body = xmalloc(n + 2);
    json_dumpb(j, body, n, JSON_COMPACT | JSON_REAL_PRECISION(10));
    body[n++] = '\n';
    body[n] = '\0';
    http_respond(r, status, "application/json", body, n);
}

void http_error_json(struct buf *out, const char *type, const char *code, const char *message)
{
    buf_addstr(out, "{\"error\":{\"message\":");
    buf_add_json_str(out, message);
    buf_addstr(out, ",\"type\":");
    buf_add_json_str(out, type);
    buf_addstr(out, ",\"param\":null,\"code\":");
    if (code)
        buf_add_json_str(out, code);
    else
        buf_addstr(out, "null");
    buf_addstr(out, "}}");
}

void http_respond_error(struct http_req *r, int status, const char *type, const char *code,
                        const char *fmt, ...)
{
    struct buf msg = BUF_INIT, out = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vaddf(&msg, fmt, ap);
    va_end(ap);
    http_error_json(&out, type, code, buf_cstr(&msg));
    buf_addch(&out, '\n');
    buf_release(&msg);
    size_t len;
    char *body = buf_detach(&out, &len);
    http_respond(r, status, "application/json", body, len);
}

void http_stream_begin(struct http_req *r, int status, const char *content_type)
{
    if (!can_answer(r))
        return;
    r->responded = true;
    r->streaming = true;
    r->state = R_ANSWERING;
    /* Built straight into the stream's held bytes: it goes out with the
     * first chunk. */
    struct buf *h = &r->c->outq;
    add_head(r, h, status, content_type);
    /* Tell a reverse proxy in front of us not to buffer the stream. */
    buf_addstr(h, "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n");
    hold_outq(r->c);
}

void http_stream_write(struct http_req *r, const char *p, size_t n)
{
    if (!r->streaming || r->stream_ended || r->gone || !r->c || r->c->closing || !n)
        return;
    char head[24];
    int hl = snprintf(head, sizeof(head), "%zx\r\n", n);
    r->bytes_out += n;
    struct conn *c = r->c;
    send_stream(c, head, (size_t)hl, p, n, "\r\n", 2, false);
    if (c->req == r && http_stream_pending(r) >= HTTP_STREAM_HIGH_WATER)
        r->above_high = true;
}

size_t http_stream_pending(const struct http_req *r)
{
    return r->c ? r->c->tcp.write_queue_size + r->c->outq.len : 0;
}

void http_stream_end(struct http_req *r, bool ok)
{
    if (!r->streaming || r->stream_ended || !r->c || r->c->closing)
        return;
    r->stream_ended = true;
    if (ok) {
        send_stream(r->c, "0\r\n\r\n", 5, "", 0, "", 0, true);
        return;
    }
    /* Cut: no end of stream. What was written goes out, then the close. */
    struct conn *c = r->c;
    flush_now(c);
    r->keep_alive = false;
    c->close_after = true;
    req_end(r, true);
}

bool http_req_responded(const struct http_req *r)
{
    return r->responded;
}

/* ---- reading ------------------------------------------------------------------ */

static struct http_req *cur(http_parser *p)
{
    struct conn *c = p->data;
    return c->req;
}

static int on_message_begin(http_parser *p)
{
    struct conn *c = p->data;
    struct http_req *r = xcalloc(1, sizeof(*r));
    r->c = c;
    r->s = c->s;
    r->state = R_READING;
    r->start_ns = clock_mono_ns();
    r->start_ms = uv_now(c->s->loop);
    c->s->active++;
    c->req = r;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct http_req *r = cur(p);
    if ((r->head_bytes += n) > r->s->lim.max_head)
        return -1;
    buf_add(&r->url, at, n);
    return 0;
}

/* Appends [p, p+n) and a NUL to the request's header buffer; returns where
 * it starts. */
static size_t hb_addz(struct http_req *r, const char *p, size_t n)
{
    size_t at = r->hb.len;
    buf_add(&r->hb, p, n);
    buf_addch(&r->hb, '\0');
    return at;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct http_req *r = cur(p);
    if ((r->head_bytes += n) > r->s->lim.max_head)
        return -1;
    if (r->hstate == H_NAME)
        buf_setlen(&r->hb, r->hb.len - 1); /* the name goes on */
    else
        r->nin++;
    hb_addz(r, at, n);
    r->hstate = H_NAME;
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct http_req *r = cur(p);
    if ((r->head_bytes += n) > r->s->lim.max_head || r->hstate == H_NONE)
        return -1;
    if (r->hstate == H_VALUE)
        buf_setlen(&r->hb, r->hb.len - 1); /* the value goes on */
    hb_addz(r, at, n);
    r->hstate = H_VALUE;
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct http_req *r = cur(p);
    r->method = http_method_str((enum http_method)p->method);
    if (r->hstate == H_NAME)
        buf_addch(&r->hb, '\0'); /* a header without a value */
    r->hstate = H_NONE;
    /* Path and query go after the headers: hb does not change after this,
     * so pointers into it hold for the request's life. */
    struct http_parser_url u;
    http_parser_url_init(&u);
    const char *url = buf_cstr(&r->url);
    size_t poff, qoff = 0;
    if (url[0] == '/' && p->method != HTTP_CONNECT) {
        /* origin-form, as every client sends it: the path, then '?' and
         * the query (a fragment is never sent; cut it if it is). The
         * parser has already refused characters a target may not hold. */
        size_t n = strcspn(url, "?#");
        poff = hb_addz(r, url, n);
        if (url[n] == '?')
            qoff = hb_addz(r, url + n + 1, strcspn(url + n + 1, "#"));
    } else if (!http_parser_parse_url(url, r->url.len, p->method == HTTP_CONNECT, &u) &&
        (u.field_set & (1 << UF_PATH))) {
        poff = hb_addz(r, url + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
        if (u.field_set & (1 << UF_QUERY))
            qoff = hb_addz(r, url + u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len);
    } else {
        poff = hb_addz(r, url, r->url.len);
    }
    r->path = r->hb.data + poff;
    r->query = qoff ? r->hb.data + qoff : NULL; /* a query follows the path: never at 0 */
    if (p->content_length != ULLONG_MAX && p->content_length > r->s->lim.max_body)
        r->too_big = true; /* said so: no need to read it */
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct http_req *r = cur(p);
    if (r->too_big)
        return 0;
    if (r->body.len + n > r->s->lim.max_body) {
        r->too_big = true;
        buf_release(&r->body);
        return 0;
    }
    buf_add(&r->body, at, n);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct http_req *r = cur(p);
    r->keep_alive = http_should_keep_alive(p);
    r->state = R_HANDLING;
    /* One request at a time: what follows waits for this answer. */
    http_parser_pause(p, 1);
    return 0;
}

/* A request that cannot be read: an error answer, then the close. */
/* An error this module answers itself (408, 413, 431, 503) is read by a
 * browser only with CORS headers: they are added when the request's Origin,
 * if it was read, is one the gateway allows (http_server_set_cors). */
static void own_error_cors(struct http_req *r)
{
    const char *origin = http_req_header(r, "Origin");
    for (size_t i = 0; origin && r->s->cors && r->s->cors[i]; i++) {
        if (!strcmp(r->s->cors[i], "*") || !strcasecmp(r->s->cors[i], origin)) {
            http_req_add_header(r, "Access-Control-Allow-Origin", origin);
            http_req_add_header(r, "Vary", "Origin");
            return;
        }
    }
}

static void refuse(struct conn *c, int status, const char *code, const char *msg)
{
    if (!c->req)
        on_message_begin(&c->parser);
    struct http_req *r = c->req;
    r->state = R_HANDLING;
    r->keep_alive = false;
    if (!r->method)
        r->method = "GET";
    if (!r->path)
        r->path = "";
    own_error_cors(r);
    http_respond_error(r, status, "invalid_request_error", code, "%s", msg);
}

static void parse(struct conn *c, const char *p, size_t n)
{
    size_t used = http_parser_execute(&c->parser, &c->s->ps, p, n);
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED) {
        buf_add(&c->rest, p + used, n - used);
        dispatch(c);
        return;
    }
    if (e == HPE_OK)
        return;
    struct http_req *r = c->req;
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (e == HPE_HEADER_OVERFLOW || (r && r->head_bytes > c->s->lim.max_head)) {
        struct buf m = BUF_INIT;
        buf_addf(&m, "the request's headers are larger than the limit of %llu bytes "
                 "(max_header)", (unsigned long long)c->s->lim.max_head);
        refuse(c, 431, "headers_too_large", buf_cstr(&m));
        buf_release(&m);
    }
    else if (r && r->state != R_READING)
        conn_close(c); /* bytes after a request that is being answered */
    else {
        struct buf m = BUF_INIT;
        buf_addf(&m, "the request is not valid HTTP/1.1: %s", http_errno_description(e));
        refuse(c, 400, "bad_request", buf_cstr(&m));
        buf_release(&m);
    }
}

/* A request has been read whole: to the handler. */
static void dispatch(struct conn *c)
{
    struct http_req *r = c->req;
    struct http_server *s = c->s;
    if (!r || r->state != R_HANDLING || r->responded)
        return;
    if (c->rest.len >= READ_BUF)
        uv_read_stop((uv_stream_t *)&c->tcp); /* enough waits; read the rest later */
    if (r->too_big) {
        r->keep_alive = false;
        own_error_cors(r);
        http_respond_error(r, 413, "invalid_request_error", "request_too_large",
                           "request body is larger than the limit of %llu bytes (max_body)",
                           (unsigned long long)s->lim.max_body);
        return;
    }
    if (s->draining) {
        /* A request on a connection kept alive from before the shutdown. */
        http_req_add_header(r, "Retry-After", "5");
        own_error_cors(r);
        http_respond_error(r, 503, "service_unavailable", "shutting_down",
                           "hermod is shutting down; retry in a moment");
        return;
    }
    s->handler(r, s->arg);
}

/* One read buffer for all connections: the loop reads one socket at a
 * time, and read_cb copies what it keeps (headers and body into the
 * request, pipelined bytes into c->rest) before it returns. A buffer per
 * connection was 64 KiB of heap each, allocated, touched and freed per
 * connection: with 1,000 clients at once, page faults, brk() calls and a
 * fragmented heap (bench/README.md). */
static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct conn *c = h->data;
    b->base = c->s->rbuf;
    b->len = READ_BUF;
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = st->data;
    if (n == 0)
        return;
    if (n < 0) {
        /* The client went away (or half-closed: it cannot hear an answer
         * it did not wait for, as far as an HTTP/1.1 proxy can tell). */
        struct http_req *r = c->req;
        if (r) {
            r->gone = true;
            log_debug("http: client went away path=%s", r->path ? r->path : "-");
            req_end(r, true);
        }
        conn_close(c);
        return;
    }
    c->last_ms = uv_now(c->s->loop);
    struct http_req *r = c->req;
    if (r && r->state != R_READING) {
        /* Pipelined bytes while a request is answered: they wait. */
        buf_add(&c->rest, b->base, (size_t)n);
        if (c->rest.len >= READ_BUF)
            uv_read_stop(st);
        return;
    }
    parse(c, b->base, (size_t)n);
}

/* ---- connections ------------------------------------------------------------- */

static void handle_closed(struct http_server *s)
{
    if (--s->handles == 0 && s->closing) {
        free(s->rbuf);
        free(s);
    }
}

static void conn_closed_cb(uv_handle_t *h)
{
    struct conn *c = h->data;
    struct http_server *s = c->s;
    buf_release(&c->rest);
    buf_release(&c->outq);
    buf_release(&c->sending);
    free(c);
    handle_closed(s);
}

static void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    if (c->end_pending) {
        list_del(&c->end_link);
        c->end_pending = false;
    }
    flush_unlink(c);
    struct http_req *r = c->req;
    if (r) {
        r->gone = true;
        req_end(r, true);
    }
    list_del(&c->link);
    c->s->nconns--;
    uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
}

static void on_connection(uv_stream_t *l, int status)
{
    struct http_server *s = l->data;
    if (status < 0)
        return;
    struct conn *c = xcalloc(1, sizeof(*c));
    c->s = s;
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    list_init(&c->end_link);
    list_init(&c->flush_link);
    s->handles++;
    list_add_tail(&s->conns, &c->link);
    s->nconns++;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) < 0 || s->draining) {
        conn_close(c);
        return;
    }
    if (s->nconns > s->lim.max_conns) {
        /* One try, no buffer of ours: a client that does not read it
         * still loses its connection. */
        static const char body[] =
            "{\"error\":{\"message\":\"too many connections to hermod (max_connections); "
            "retry in a moment\",\"type\":\"service_unavailable\",\"param\":null,"
            "\"code\":\"too_many_connections\"}}\n";
        char head[200];
        int hl = snprintf(head, sizeof(head),
                          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                          "Retry-After: 1\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n",
                          sizeof(body) - 1);
        uv_buf_t b[2] = {uv_buf_init(head, (unsigned)hl),
                         uv_buf_init((char *)(uintptr_t)body, sizeof(body) - 1)};
        uv_try_write((uv_stream_t *)&c->tcp, b, 2);
        if (uv_now(s->loop) - s->busy_logged_ms >= 1000) { /* one line a second at most */
            s->busy_logged_ms = uv_now(s->loop);
            log_warn("http: connection refused: %u open (max_connections)", s->nconns - 1);
        }
        conn_close(c);
        return;
    }
    /* TCP_NODELAY comes from the listener (Linux copies it to accepted
     * sockets): no setsockopt per connection. */
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->last_ms = uv_now(s->loop);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

/* Timeouts: a request read too slowly (408), a kept-alive connection idle
 * too long (closed). */
static void sweep_cb(uv_timer_t *t)
{
    struct http_server *s = t->data;
    uint64_t now = uv_now(s->loop);
    struct list *p, *tmp;
    list_for_each_safe(p, tmp, &s->conns)
    {
        struct conn *c = container_of(p, struct conn, link);
        struct http_req *r = c->req;
        if (c->closing)
            continue;
        if (r && r->state == R_READING && now - r->start_ms > s->lim.read_timeout_ms) {
            uv_read_stop((uv_stream_t *)&c->tcp);
            struct buf m = BUF_INIT;
            buf_addf(&m, "the request was not sent whole within %llu ms (header_timeout)",
                     (unsigned long long)s->lim.read_timeout_ms);
            refuse(c, 408, "request_timeout", buf_cstr(&m));
            buf_release(&m);
        } else if (!r && !c->writes && now - c->last_ms > s->lim.idle_timeout_ms) {
            conn_close(c);
        }
    }
}

static void listener_closed_cb(uv_handle_t *h)
{
    handle_closed(h->data);
}

struct http_server *http_server_new(uv_loop_t *loop, const char *host, int port,
                                    const struct http_limits *lim, http_handler_cb *handler,
                                    void *arg, struct buf *err)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    const char *h = !strcmp(host, "localhost") ? "127.0.0.1" : host;
    if (uv_ip4_addr(h, port, (struct sockaddr_in *)&ss) &&
        uv_ip6_addr(h, port, (struct sockaddr_in6 *)&ss)) {
        buf_addf(err, "listen address '%s' is not an IP address", host);
        return NULL;
    }
    struct http_server *s = xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->rbuf = xmalloc(READ_BUF);
    s->lim = *lim;
    if (!s->lim.max_body)
        s->lim.max_body = 64ull << 20;
    if (!s->lim.max_head)
        s->lim.max_head = 64u << 10;
    if (!s->lim.read_timeout_ms)
        s->lim.read_timeout_ms = 60000;
    if (!s->lim.idle_timeout_ms)
        s->lim.idle_timeout_ms = 300000;
    if (!s->lim.max_conns)
        s->lim.max_conns = 16384;
    /* http-parser's own bound (process-wide; one server per process),
     * a little above ours so that ours, with its clear message, speaks. */
    http_parser_set_max_header_size((uint32_t)(s->lim.max_head + 1024));
    s->handler = handler;
    s->arg = arg;
    list_init(&s->conns);
    list_init(&s->ended);
    list_init(&s->to_flush);
    http_parser_settings_init(&s->ps);
    s->ps.on_message_begin = on_message_begin;
    s->ps.on_url = on_url;
    s->ps.on_header_field = on_header_field;
    s->ps.on_header_value = on_header_value;
    s->ps.on_headers_complete = on_headers_complete;
    s->ps.on_body = on_body;
    s->ps.on_message_complete = on_message_complete;
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    s->handles = 1;
    int rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&ss, 0);
    if (!rc)
        rc = uv_tcp_nodelay(&s->listener, 1);
    if (!rc)
        rc = uv_listen((uv_stream_t *)&s->listener, 511, on_connection);
    if (rc < 0) {
        buf_addf(err, "cannot listen on %s:%d: %s", host, port, uv_strerror(rc));
        s->closing = true;
        uv_close((uv_handle_t *)&s->listener, listener_closed_cb);
        return NULL;
    }
    s->listening = true;
    struct sockaddr_storage bound;
    int bl = sizeof(bound);
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &bl);
    s->port = bound.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                                          : ntohs(((struct sockaddr_in *)&bound)->sin_port);
    uv_timer_init(loop, &s->sweep);
    s->sweep.data = s;
    s->handles++;
    uv_idle_init(loop, &s->ender);
    s->ender.data = s;
    s->handles++;
    uv_check_init(loop, &s->flusher);
    s->flusher.data = s;
    s->handles++;
    uv_timer_start(&s->sweep, sweep_cb, SWEEP_MS, SWEEP_MS);
    uv_unref((uv_handle_t *)&s->sweep);
    return s;
}

static void stop_listening(struct http_server *s)
{
    if (!s->listening)
        return;
    s->listening = false;
    uv_close((uv_handle_t *)&s->listener, listener_closed_cb);
}

void http_server_drain(struct http_server *s)
{
    if (s->draining)
        return;
    s->draining = true;
    stop_listening(s);
    /* Kept-alive connections at rest are closed now; the others after
     * their answer (which says Connection: close). */
    struct list *p, *tmp;
    list_for_each_safe(p, tmp, &s->conns)
    {
        struct conn *c = container_of(p, struct conn, link);
        if (!c->req && !c->writes)
            conn_close(c);
    }
}

void http_server_free(struct http_server *s)
{
    if (!s)
        return;
    s->closing = true;
    stop_listening(s);
    struct list *p, *tmp;
    list_for_each_safe(p, tmp, &s->conns)
        conn_close(container_of(p, struct conn, link));
    uv_timer_stop(&s->sweep);
    uv_close((uv_handle_t *)&s->sweep, listener_closed_cb);
    uv_idle_stop(&s->ender);
    uv_close((uv_handle_t *)&s->ender, listener_closed_cb);
    uv_check_stop(&s->flusher);
    uv_close((uv_handle_t *)&s->flusher, listener_closed_cb);
}

void http_server_set_cors(struct http_server *s, const char *const *origins)
{
    s->cors = origins;
}

int http_server_port(const struct http_server *s)
{
    return s->port;
}

unsigned http_server_active(const struct http_server *s)
{
    return s->active;
}

/* ---- accessors -------------------------------------------------------------- */

const char *http_req_method(const struct http_req *r)
{
    return r->method;
}

const char *http_req_path(const struct http_req *r)
{
    return r->path;
}

const char *http_req_query(const struct http_req *cr, const char *name)
{
    struct http_req *r = (struct http_req *)(uintptr_t)cr; /* decoded once, on first use */
    if (!r->args_done) {
        r->args_done = true;
        size_t cap = 0;
        const char *q = r->query;
        while (q && *q) {
            const char *amp = strchr(q, '&');
            size_t len = amp ? (size_t)(amp - q) : strlen(q);
            const char *eq = memchr(q, '=', len);
            if (len) {
                ALLOC_GROW(r->args, r->nargs + 1, cap);
                size_t kl = eq ? (size_t)(eq - q) : len;
                r->args[r->nargs].name = str_url_unescape(q, kl);
                r->args[r->nargs].value = eq ? str_url_unescape(eq + 1, len - kl - 1) : xstrdup("");
                r->nargs++;
            }
            q = amp ? amp + 1 : NULL;
        }
    }
    for (size_t i = 0; i < r->nargs; i++)
        if (!strcmp(r->args[i].name, name))
            return r->args[i].value;
    return NULL;
}

const char *http_req_header(const struct http_req *r, const char *name)
{
    /* While the head is read (an early refusal), the pairs read whole. */
    size_t n = r->nin - (r->hstate == H_NAME);
    const char *h = r->hb.data;
    for (size_t i = 0; i < n; i++) {
        const char *v = h + strlen(h) + 1;
        if (!strcasecmp(h, name))
            return v;
        h = v + strlen(v) + 1;
    }
    return NULL;
}

const char *http_req_body(const struct http_req *r, size_t *len)
{
    *len = r->body.len;
    return buf_cstr(&r->body);
}

int http_req_form_each(struct http_req *r, http_form_cb *cb, void *arg)
{
    return form_each(http_req_header(r, "Content-Type"), r->body.data ? r->body.data : "",
                     r->body.len, cb, arg);
}

uint64_t http_req_start_ns(const struct http_req *r)
{
    return r->start_ns;
}

uint64_t http_req_bytes_out(const struct http_req *r)
{
    return r->bytes_out;
}

bool http_req_gone(const struct http_req *r)
{
    return r->gone;
}

void http_req_set_owner(struct http_req *r, void *owner, http_close_cb *on_close,
                        http_drain_cb *on_drain)
{
    r->owner = owner;
    r->on_close = on_close;
    r->on_drain = on_drain;
}

void http_req_set_principal(struct http_req *r, const void *principal)
{
    r->principal = principal;
}

const void *http_req_principal(const struct http_req *r)
{
    return r->principal;
}

void http_req_add_header(struct http_req *r, const char *name, const char *value)
{
    buf_addstrs(&r->out, name, ": ");
    size_t at = r->out.len;
    buf_addstr(&r->out, value);
    /* A header value is one line: no response splitting through it. */
    for (char *v = r->out.data + at; v < r->out.data + r->out.len; v++)
        if (*v == '\r' || *v == '\n')
            *v = ' ';
    buf_addstr(&r->out, "\r\n");
}
