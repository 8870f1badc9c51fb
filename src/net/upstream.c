/* SPDX-License-Identifier: MIT */
/*
 * upstream.c: HTTP/1.1 requests to engines on libuv, responses parsed by
 * Debian's http-parser (libhttp-parser). See upstream.h for the contract.
 *
 * DESIGN
 * Why not libcurl any more (measured, bench/README.md): before each reuse
 * of a kept-alive connection libcurl polls it to see that it is alive, and
 * polls again after sending (two poll() per request, not configurable in
 * 7.88), and its per-transfer set-up was ~14% of hermod's CPU. Here a
 * connection at rest stays in the loop with its read side on: a peer that
 * closes it is noticed when it does, so taking it from the pool costs no
 * system call. A request is one write (head and body together, uv_try_write)
 * and, for a small answer, one read.
 *
 * Connections are pooled per host:port; a request that asks for a fresh
 * one, or finds none at rest, connects. A response that says
 * "Connection: close" (or HTTP/1.0 without keep-alive) is not pooled.
 *
 * Back-pressure: a data callback that returns UPSTREAM_PAUSE keeps its bytes
 * here (copied), reading stops (uv_read_stop) and the parser is paused; on
 * resume those bytes are offered again, then what was read but not parsed.
 * At most one read buffer and one refused piece are held per request.
 *
 * Callbacks may abort any request, their own included. While this module is
 * inside a parser callback (conn->busy), an abort only marks the request;
 * the connection is closed when control is back here.
 *
 * Only plain http:// URLs: engines run on this box or its LAN. config.c
 * refuses https:// engine URLs with a message that says so.
 */
#include "net/upstream.h"

#include <errno.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "lib/buf.h"
#include "lib/list.h"
#include "lib/str.h"
#include "lib/xalloc.h"

#define READ_BUF (64 * 1024)
/* Connections at rest, all hosts together: room for a burst of the size
 * the gateway is built for (1,000 concurrent streams, issue 10), so that
 * the next burst finds its connections open. At 256, a second burst of
 * 1,000 streams connected 744 times again, and the first chunks came
 * ~20-30% later (bench/README.md). A connection at rest costs a file
 * descriptor, a few KB of kernel memory and ~0.5 KB here; engines close
 * the ones they do not want (llama-server and uvicorn after 5 s idle), and
 * hermod drops them when they do. */
#define IDLE_MAX 1024
#define HEADER_MAX (64 * 1024)

struct upstream {
    uv_loop_t *loop;
    struct list reqs;         /* every live request */
    struct list idle;         /* connections at rest, newest first */
    unsigned nidle;
    struct upstream_stats st;
    http_parser_settings ps;
    bool freeing;
    /* The last URL split: engines are few, and each request to one names
     * the same few URLs (base + endpoint). */
    char *url_last;
    struct http_parser_url url_parts;
    char *rbuf;               /* the read buffer of every connection (READ_BUF) */
};

struct conn {
    uv_tcp_t tcp;             /* first: the handle's data is the conn */
    struct upstream *u;
    struct list link;         /* in u->idle while at rest */
    char *key;                /* "host:port" */
    struct upstream_req *req; /* the request on it, or NULL at rest */
    http_parser parser;
    char *rest;               /* read but not parsed (the parser paused) */
    struct buf hname, hvalue; /* the header being parsed (here: kept between requests) */
    size_t nrest;
    uv_connect_t connect;     /* here, not in the request: it may outlive it */
    uv_write_t write;
    bool writing;             /* a write is pending: not reusable until done */
    unsigned busy;            /* > 0 inside the parser */
    bool connected;
    bool keep;                /* the response lets the connection live on */
    bool closing;
};

struct upstream_req {
    struct list link;
    struct upstream *u;
    struct upstream_opts o;
    char *url;
    char *host, *port, *key;  /* from the URL */
    char *path;
    struct conn *c;
    struct lookup *lookup;    /* a name being resolved, or NULL */
    struct buf head;          /* the request line and headers */
    uv_timer_t *timer;        /* connect / first byte / stall; closed async */
    uint64_t total_deadline;  /* uv_now() ms, 0 = none */
    long status;
    bool head_done;
    bool aborted;
    bool paused;
    bool reused;
    bool finished;            /* on_done called */
    bool in_header_value;
    uint64_t body_bytes;
    char *held;               /* body bytes the data callback refused */
    size_t nheld;
    char *content_type;
    char *retry_after;
    size_t head_bytes;
    struct buf headers;       /* keep_headers: "name\0value\0" pairs */
};

/* A name lookup on the worker pool; it outlives an aborted request. */
struct lookup {
    uv_getaddrinfo_t g;
    struct upstream_req *r;   /* NULL once the request is gone */
};

static void conn_close(struct conn *c);
static void finish(struct upstream_req *r, int rc, const char *msg);
static void req_free(struct upstream_req *r);
static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b);
static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b);
static void feed(struct conn *c, const char *p, size_t n);

/* Health checks are counted apart: an engine that is down (or an unmanaged
 * one not started yet) is no failure of a request. */
static void count_failure(struct upstream_req *r)
{
    if (r->o.probe)
        r->u->st.probe_failures++;
    else
        r->u->st.failures++;
}

/* ---- timers ------------------------------------------------------------------ */

static void timer_close_cb(uv_handle_t *h)
{
    free(h);
}

static void timeout_cb(uv_timer_t *t)
{
    struct upstream_req *r = t->data;
    count_failure(r);
    const char *m = !r->c || !r->c->connected ? "could not connect in time (connect_timeout)"
                    : r->head_done ? "engine stalled: no data within the stall timeout"
                                   : "engine sent no response within the first-byte timeout";
    if (r->total_deadline && uv_now(r->u->loop) >= r->total_deadline)
        m = "the request took longer than request_timeout";
    finish(r, -ETIMEDOUT, m);
}

/* Arms the request's one timer for ms (0: none), bounded by the total. */
static void arm(struct upstream_req *r, uint64_t ms)
{
    if (r->total_deadline) {
        uint64_t now = uv_now(r->u->loop);
        uint64_t left = r->total_deadline > now ? r->total_deadline - now : 1;
        if (!ms || left < ms)
            ms = left;
    }
    if (!ms) {
        if (r->timer)
            uv_timer_stop(r->timer);
        return;
    }
    if (!r->timer) {
        r->timer = xmalloc(sizeof(*r->timer));
        uv_timer_init(r->u->loop, r->timer);
        r->timer->data = r;
    }
    uv_timer_start(r->timer, timeout_cb, ms, 0);
}

/* ---- the request's end ---------------------------------------------------------- */

static void req_free(struct upstream_req *r)
{
    if (r->timer)
        uv_close((uv_handle_t *)r->timer, timer_close_cb);
    list_del(&r->link);
    r->u->st.active--;
    buf_release(&r->head);
    buf_release(&r->headers);
    free(r->url); /* host, port, path and key live in the same block */
    free(r->held);
    free(r->content_type);
    free(r->retry_after);
    free(r);
}

/* Puts c at rest (pooled) or closes it; the request is detached. */
static void conn_release(struct conn *c, bool reusable)
{
    struct upstream *u = c->u;
    c->req = NULL;
    if (!reusable || c->closing || u->freeing || c->nrest || c->writing) {
        conn_close(c);
        return;
    }
    if (u->nidle >= IDLE_MAX) {
        struct conn *old = container_of(u->idle.prev, struct conn, link);
        conn_close(old);
    }
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
    /* At rest the connection is read (read_cb closes it when the engine
     * does), and a request that takes it back expects it read: an answer
     * that ended while reading was stopped for back-pressure (the end was
     * among the bytes kept aside) must start it again. Already reading:
     * UV_EALREADY, nothing to do. */
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    list_add_head(&u->idle, &c->link);
    u->nidle++;
}

/*
 * Ends r: tells the owner (unless it aborted), gives the connection back
 * (pooled after a whole, kept-alive answer) and frees r. Inside the
 * parser, the connection is dealt with when the parser returns.
 */
static void finish(struct upstream_req *r, int rc, const char *msg)
{
    if (r->finished)
        return;
    r->finished = true;
    if (r->timer)
        uv_timer_stop(r->timer);
    if (r->lookup) {
        r->lookup->r = NULL; /* its callback frees it */
        uv_cancel((uv_req_t *)&r->lookup->g);
        r->lookup = NULL;
    }
    struct conn *c = r->c;
    if (!r->aborted)
        r->o.on_done(r, rc, msg, r->o.arg);
    if (c) {
        r->c = NULL;
        c->req = NULL;
        if (!c->busy)
            conn_release(c, rc == 0 && c->keep);
    }
    req_free(r);
}

/* ---- parsing the answer ---------------------------------------------------------- */

static struct upstream_req *preq(http_parser *p)
{
    struct conn *c = p->data;
    return c->req;
}

static void header_done(struct upstream_req *r)
{
    struct conn *c = r->c;
    if (!c->hname.len)
        return;
    const char *n = buf_cstr(&c->hname), *v = buf_cstr(&c->hvalue);
    if (r->o.keep_headers) {
        buf_add(&r->headers, n, c->hname.len + 1);
        buf_add(&r->headers, v, c->hvalue.len + 1);
    }
    if (!strcasecmp(n, "content-type")) {
        free(r->content_type);
        r->content_type = xstrdup(v);
    } else if (!strcasecmp(n, "retry-after")) {
        free(r->retry_after);
        r->retry_after = xstrdup(v);
    }
    buf_reset(&c->hname);
    buf_reset(&c->hvalue);
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct upstream_req *r = preq(p);
    if (!r || r->finished)
        return -1;
    if ((r->head_bytes += n) > HEADER_MAX)
        return -1;
    if (r->in_header_value) {
        header_done(r);
        r->in_header_value = false;
    }
    buf_add(&r->c->hname, at, n);
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct upstream_req *r = preq(p);
    if (!r || r->finished)
        return -1;
    if ((r->head_bytes += n) > HEADER_MAX)
        return -1;
    r->in_header_value = true;
    buf_add(&r->c->hvalue, at, n);
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct conn *c = p->data;
    struct upstream_req *r = c->req;
    if (!r || r->finished)
        return -1;
    header_done(r);
    r->in_header_value = false;
    if (p->status_code < 200) {
        /* 1xx: the real answer follows; forget these headers. */
        buf_reset(&r->headers);
        return 0;
    }
    r->head_done = true;
    r->status = p->status_code;
    arm(r, r->o.stall_timeout_ms);
    if (r->o.on_head)
        r->o.on_head(r, r->status, r->o.arg);
    if (r->aborted || r->finished)
        return -1;
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct conn *c = p->data;
    struct upstream_req *r = c->req;
    if (!r || r->finished || !r->head_done)
        return r && r->head_done ? -1 : 0;
    if (r->o.stall_timeout_ms)
        arm(r, r->o.stall_timeout_ms);
    if (!r->o.on_data) {
        r->body_bytes += n;
        return 0;
    }
    int rc = r->o.on_data(r, at, n, r->o.arg);
    if (r->aborted || r->finished)
        return -1;
    if (rc == UPSTREAM_PAUSE) {
        /* Keep the refused bytes; stop reading until resumed. */
        r->held = xmemdup(at, n);
        r->nheld = n;
        r->paused = true;
        if (r->timer)
            uv_timer_stop(r->timer); /* a slow client is not a stalled engine */
        http_parser_pause(p, 1);
        return 0;
    }
    r->body_bytes += n;
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct conn *c = p->data;
    struct upstream_req *r = c->req;
    if (!r || r->finished)
        return 0;
    if (r->status < 200)
        return 0; /* the end of a 1xx */
    c->keep = http_should_keep_alive(p);
    finish(r, 0, "ok");
    /* Anything after the answer on this connection is not ours: stop. */
    http_parser_pause(p, 1);
    return 0;
}

/* Parses n bytes of c's answer. */
static void feed(struct conn *c, const char *p, size_t n)
{
    c->busy++;
    size_t used = http_parser_execute(&c->parser, &c->u->ps, p, n);
    c->busy--;
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    struct upstream_req *r = c->req;
    if (e == HPE_PAUSED) {
        if (r && r->paused && !r->finished) {
            /* Paused by back-pressure: keep what was not parsed yet. */
            free(c->rest);
            c->nrest = n - used;
            c->rest = c->nrest ? xmemdup(p + used, c->nrest) : NULL;
            uv_read_stop((uv_stream_t *)&c->tcp);
            return;
        }
        /* Paused at the end of the answer: bytes beyond it are a protocol
         * error for a connection at rest. */
        if (!r) {
            conn_release(c, c->keep && used == n);
            return;
        }
    }
    if (r && r->aborted) {
        finish(r, -ECANCELED, "aborted");
        return;
    }
    if (!r) {
        /* The request ended inside the parser (aborted, timed out). */
        conn_close(c);
        return;
    }
    if (e != HPE_OK && e != HPE_PAUSED) {
        struct buf m = BUF_INIT;
        buf_addf(&m, "the engine's answer is not HTTP: %s", http_errno_description(e));
        count_failure(r);
        c->closing = true;
        finish(r, -EPROTO, buf_cstr(&m));
        buf_release(&m);
    }
}

/* ---- connections ---------------------------------------------------------------- */

static void conn_closed_cb(uv_handle_t *h)
{
    struct conn *c = h->data;
    free(c->rest);
    free(c->key);
    buf_release(&c->hname);
    buf_release(&c->hvalue);
    free(c);
}

static void conn_close(struct conn *c)
{
    if (c->closing && uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    c->closing = true;
    if (!list_empty(&c->link)) {
        list_del(&c->link);
        c->u->nidle--;
    }
    if (c->req) {
        struct upstream_req *r = c->req;
        c->req = NULL;
        r->c = NULL;
    }
    uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
}

/* One read buffer for all connections, as in http.c: the loop reads one
 * socket at a time, and what is kept past read_cb is copied (c->rest when
 * the parser pauses, r->held for refused bytes). */
static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    struct conn *c = h->data;
    b->base = c->u->rbuf;
    b->len = READ_BUF;
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = s->data;
    struct upstream_req *r = c->req;
    if (n == 0)
        return;
    if (!r) {
        /* At rest: the engine closed it (or sent what nobody asked for). */
        conn_close(c);
        return;
    }
    if (n < 0) {
        if (n == UV_EOF) {
            /* An answer that ends at the close is whole now. */
            c->busy++;
            http_parser_execute(&c->parser, &c->u->ps, NULL, 0);
            c->busy--;
            if (!c->req) {
                conn_close(c);
                return;
            }
        }
        c->closing = true;
        count_failure(r);
        finish(r, -ECONNRESET,
               r->head_done ? "the engine closed the connection in the middle of its answer"
                            : "the engine closed the connection without answering");
        return;
    }
    feed(c, b->base, (size_t)n);
}

static void write_cb(uv_write_t *w, int status)
{
    struct conn *c = w->data;
    struct upstream_req *r = c->req;
    c->writing = false;
    if (status == UV_ECANCELED || !r || r->finished)
        return;
    if (status < 0) {
        count_failure(r);
        if (r->c)
            r->c->closing = true;
        finish(r, -ECONNRESET, "the engine closed the connection as the request was sent");
    }
}

/* Sends r's head and body on its connection: one write when the socket
 * takes it all, which it does for ordinary requests. */
static void send_request(struct upstream_req *r)
{
    struct conn *c = r->c;
    buf_reset(&c->hname);
    buf_reset(&c->hvalue);
    uv_buf_t bufs[2] = {
        uv_buf_init(r->head.data, (unsigned)r->head.len),
        uv_buf_init((char *)(uintptr_t)r->o.body, (unsigned)(r->o.body ? r->o.body_len : 0)),
    };
    unsigned nb = r->o.body && r->o.body_len ? 2 : 1;
    int n = uv_try_write((uv_stream_t *)&c->tcp, bufs, nb);
    if (n == UV_EAGAIN || n == UV_ENOSYS)
        n = 0;
    if (n < 0) {
        count_failure(r);
        c->closing = true;
        finish(r, r->reused ? -ECONNRESET : -ECONNREFUSED, uv_strerror(n));
        return;
    }
    size_t done = (size_t)n;
    if (done == bufs[0].len + (nb > 1 ? bufs[1].len : 0))
        return;
    /* The rest goes through the loop; the request owns the bytes until done. */
    unsigned first = 0;
    if (done >= bufs[0].len) {
        done -= bufs[0].len;
        first = 1;
    }
    bufs[first].base += done;
    bufs[first].len -= (unsigned)done;
    c->write.data = c;
    c->writing = true;
    uv_write(&c->write, (uv_stream_t *)&c->tcp, bufs + first, nb - first, write_cb);
}

static void connect_cb(uv_connect_t *cr, int status)
{
    struct conn *c = cr->handle->data;
    struct upstream_req *r = c->req;
    if (status == UV_ECANCELED || !r)
        return;
    if (status < 0) {
        count_failure(r);
        struct buf m = BUF_INIT;
        buf_addf(&m, "cannot connect to %s: %s", r->key, uv_strerror(status));
        c->closing = true;
        finish(r, status == UV_ETIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED, buf_cstr(&m));
        buf_release(&m);
        return;
    }
    c->connected = true;
    uv_tcp_nodelay(&c->tcp, 1);
    arm(r, r->o.first_byte_timeout_ms);
    send_request(r);
}

static void open_conn(struct upstream_req *r, const struct sockaddr *sa)
{
    struct upstream *u = r->u;
    struct conn *c = xcalloc(1, sizeof(*c));
    c->u = u;
    c->key = xstrdup(r->key);
    list_init(&c->link);
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
    uv_tcp_init(u->loop, &c->tcp);
    c->tcp.data = c;
    c->req = r;
    r->c = c;
    arm(r, r->o.connect_timeout_ms);
    int rc = uv_tcp_connect(&c->connect, &c->tcp, sa, connect_cb);
    /* Reading is asked for with the connect, so that the socket's epoll
     * entry is added once for both and changed once when the connect is
     * done (libuv reports nothing read before that). Asked for in
     * connect_cb, libuv saw no events left after the connect, and the
     * re-add cost two epoll_ctl calls, the first failing. */
    if (rc == 0)
        rc = uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
    if (rc < 0) {
        count_failure(r);
        struct buf m = BUF_INIT;
        buf_addf(&m, "cannot connect to %s: %s", r->key, uv_strerror(rc));
        c->closing = true;
        finish(r, -ECONNREFUSED, buf_cstr(&m));
        buf_release(&m);
    }
}

static void resolved_cb(uv_getaddrinfo_t *g, int status, struct addrinfo *res)
{
    struct lookup *l = g->data;
    struct upstream_req *r = l->r;
    free(l);
    if (!r) {
        uv_freeaddrinfo(res);
        return;
    }
    r->lookup = NULL;
    if (status < 0 || !res) {
        count_failure(r);
        struct buf m = BUF_INIT;
        buf_addf(&m, "cannot resolve %s: %s", r->host, uv_strerror(status));
        finish(r, -ECONNREFUSED, buf_cstr(&m));
        buf_release(&m);
        uv_freeaddrinfo(res);
        return;
    }
    open_conn(r, res->ai_addr);
    uv_freeaddrinfo(res);
}

/* ---- requests ------------------------------------------------------------------- */

/* Splits an http:// URL with http-parser's URL parser. */
static int split_url(struct upstream_req *r)
{
    struct http_parser_url pu;
    const char *s = r->o.url;
    size_t n = strlen(s);
    struct upstream *u = r->u;
    if (u->url_last && !strcmp(u->url_last, s)) {
        pu = u->url_parts;
    } else {
        http_parser_url_init(&pu);
        if (http_parser_parse_url(s, n, 0, &pu) || !(pu.field_set & (1 << UF_HOST)))
            return -EINVAL;
        free(u->url_last);
        u->url_last = xstrdup(s);
        u->url_parts = pu;
    }
    if (!(pu.field_set & (1 << UF_SCHEMA)) || pu.field_data[UF_SCHEMA].len != 4 ||
        strncasecmp(s + pu.field_data[UF_SCHEMA].off, "http", 4))
        return -EPROTONOSUPPORT;
    /* One block: the URL, then host, port, path (query included) and key
     * "host:port", each NUL-terminated; r->url owns it. */
    size_t hl = pu.field_data[UF_HOST].len;
    bool has_port = pu.field_set & (1 << UF_PORT);
    size_t pl = has_port ? pu.field_data[UF_PORT].len : 2;
    bool has_path = pu.field_set & (1 << UF_PATH);
    size_t tl = has_path ? n - pu.field_data[UF_PATH].off : 1;
    char *m = xmalloc(n + 1 + hl + 1 + pl + 1 + tl + 1 + hl + 1 + pl + 1);
    free(r->url);
    r->url = m;
    memcpy(m, s, n + 1);
    r->o.url = m;
    m += n + 1;
    r->host = m;
    memcpy(m, s + pu.field_data[UF_HOST].off, hl);
    m[hl] = '\0';
    m += hl + 1;
    r->port = m;
    memcpy(m, has_port ? s + pu.field_data[UF_PORT].off : "80", pl);
    m[pl] = '\0';
    m += pl + 1;
    r->path = m;
    memcpy(m, has_path ? s + pu.field_data[UF_PATH].off : "/", tl);
    m[tl] = '\0';
    m += tl + 1;
    r->key = m;
    memcpy(m, r->host, hl);
    m[hl] = ':';
    memcpy(m + hl + 1, r->port, pl);
    m[hl + 1 + pl] = '\0';
    return 0;
}

static void build_head(struct upstream_req *r)
{
    const struct upstream_opts *o = &r->o;
    struct buf *h = &r->head;
    bool ipv6 = strchr(r->host, ':') != NULL;
    buf_grow(h, 256);
    buf_addstrs(h, o->method ? o->method : "GET", " ", r->path, " HTTP/1.1\r\nHost: ",
                ipv6 ? "[" : "", r->host, ipv6 ? "]:" : ":", r->port, "\r\n");
    if (o->body) {
        buf_addstrs(h, "Content-Type: ", o->content_type ? o->content_type : "application/json",
                    "\r\nContent-Length: ");
        buf_add_u64(h, o->body_len);
        buf_addstr(h, "\r\n");
    } else if (o->method && strcmp(o->method, "GET")) {
        buf_addstr(h, "Content-Length: 0\r\n");
    }
    if (o->auth_bearer)
        buf_addstrs(h, "Authorization: Bearer ", o->auth_bearer, "\r\n");
    buf_addstr(h, "Accept: */*\r\n\r\n");
}

/* A connection at rest to the same host and port, or NULL. */
static struct conn *take_idle(struct upstream *u, const char *key)
{
    struct list *p;
    list_for_each(p, &u->idle)
    {
        struct conn *c = container_of(p, struct conn, link);
        if (!strcmp(c->key, key)) {
            list_del(&c->link);
            u->nidle--;
            return c;
        }
    }
    return NULL;
}

/* Fails r from the loop, never from inside upstream_start(): the caller
 * gets its request pointer before any callback. */
static void fail_soon_cb(uv_timer_t *t)
{
    struct upstream_req *r = t->data;
    finish(r, r->status == -EPROTONOSUPPORT ? -EPROTO : -ECONNREFUSED,
           r->status == -EPROTONOSUPPORT
               ? "only http:// engine URLs are supported (engines run on this box or its LAN)"
               : "the engine URL does not parse");
}

struct upstream_req *upstream_start(struct upstream *u, const struct upstream_opts *o)
{
    struct upstream_req *r = xcalloc(1, sizeof(*r));
    ASSERT(o->on_done);
    r->u = u;
    r->o = *o;
    r->url = NULL;
    list_add_tail(&u->reqs, &r->link);
    if (o->probe)
        u->st.probes++;
    else
        u->st.requests++;
    u->st.active++;
    if (o->total_timeout_ms)
        r->total_deadline = uv_now(u->loop) + o->total_timeout_ms;
    int rc = split_url(r);
    if (rc) {
        r->url = xstrdup(o->url);
        r->o.url = r->url;
        r->status = rc;
        r->timer = xmalloc(sizeof(*r->timer));
        uv_timer_init(u->loop, r->timer);
        r->timer->data = r;
        uv_timer_start(r->timer, fail_soon_cb, 0, 0);
        return r;
    }
    build_head(r);
    struct conn *c = o->fresh_connect ? NULL : take_idle(u, r->key);
    if (c) {
        r->reused = true;
        c->req = r;
        r->c = c;
        arm(r, o->first_byte_timeout_ms);
        send_request(r);
        return r;
    }
    /* A literal address (engines are mostly 127.0.0.1) needs no lookup. */
    struct sockaddr_storage ss;
    uint64_t port = 0;
    if (str_parse_uint(r->port, 1, 65535, &port)) {
        r->status = -EINVAL;
        r->timer = xmalloc(sizeof(*r->timer));
        uv_timer_init(u->loop, r->timer);
        r->timer->data = r;
        uv_timer_start(r->timer, fail_soon_cb, 0, 0);
        return r;
    }
    const char *host = !strcmp(r->host, "localhost") ? "127.0.0.1" : r->host;
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)&ss) == 0 ||
        uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)&ss) == 0) {
        open_conn(r, (struct sockaddr *)&ss);
        return r;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct lookup *l = xcalloc(1, sizeof(*l));
    l->r = r;
    l->g.data = l;
    r->lookup = l;
    arm(r, o->connect_timeout_ms);
    rc = uv_getaddrinfo(u->loop, &l->g, resolved_cb, r->host, r->port, &hints);
    if (rc < 0) {
        free(l);
        r->lookup = NULL;
        r->status = -EINVAL;
        arm(r, 1);
        uv_timer_start(r->timer, fail_soon_cb, 0, 0);
    }
    return r;
}

void upstream_abort(struct upstream_req *r)
{
    if (r->aborted || r->finished)
        return;
    r->aborted = true;
    struct conn *c = r->c;
    if (c && c->busy)
        return; /* feed() ends it when the parser returns */
    if (c)
        c->closing = true; /* mid-answer: the connection cannot be reused */
    finish(r, -ECANCELED, "aborted");
}

void upstream_resume(struct upstream_req *r)
{
    if (!r->paused || r->aborted || r->finished)
        return;
    struct conn *c = r->c;
    r->paused = false;
    arm(r, r->o.stall_timeout_ms);
    /* First the bytes the callback refused, as they were. */
    char *held = r->held;
    size_t nheld = r->nheld;
    r->held = NULL;
    r->nheld = 0;
    if (held) {
        /* As inside the parser: an abort from the callback only marks r,
         * which is ended here (r freed by an abort would be read after). */
        c->busy++;
        int rc = r->o.on_data(r, held, nheld, r->o.arg);
        c->busy--;
        if (r->aborted) {
            free(held);
            c->closing = true;
            finish(r, -ECANCELED, "aborted");
            return;
        }
        if (rc == UPSTREAM_PAUSE) {
            r->held = held;
            r->nheld = nheld;
            r->paused = true;
            if (r->timer)
                uv_timer_stop(r->timer);
            return;
        }
        r->body_bytes += nheld;
        free(held);
    }
    /* Then what was read but not parsed, then the socket again. */
    http_parser_pause(&c->parser, 0);
    char *rest = c->rest;
    size_t nrest = c->nrest;
    c->rest = NULL;
    c->nrest = 0;
    if (nrest) {
        feed(c, rest, nrest);
        free(rest);
        /* feed() may have ended r (the answer complete, broken or aborted),
         * and then r is freed: only c, closed asynchronously, may be read.
         * Found by tests/fuzz/fuzz_upstream.c. */
        if (c->req != r || r->paused)
            return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb);
}

bool upstream_req_reused(const struct upstream_req *r)
{
    return r->reused;
}

uint64_t upstream_req_body_bytes(const struct upstream_req *r)
{
    return r->body_bytes;
}

const char *upstream_req_content_type(const struct upstream_req *r)
{
    return r->content_type;
}

const char *upstream_req_header(const struct upstream_req *r, const char *name)
{
    /* No header kept: data is NULL, and NULL + 0 is undefined (found by
     * tests/fuzz/fuzz_upstream.c). */
    if (!r->headers.len)
        return NULL;
    const char *p = r->headers.data, *end = p + r->headers.len;
    while (p < end) {
        const char *v = p + strlen(p) + 1;
        if (!strcasecmp(p, name))
            return v;
        p = v + strlen(v) + 1;
    }
    return NULL;
}

const char *upstream_req_retry_after(const struct upstream_req *r)
{
    return r->retry_after;
}

void upstream_get_stats(const struct upstream *u, struct upstream_stats *st)
{
    *st = u->st;
}

struct upstream *upstream_new(uv_loop_t *loop)
{
    struct upstream *u = xcalloc(1, sizeof(*u));
    u->loop = loop;
    u->rbuf = xmalloc(READ_BUF);
    list_init(&u->reqs);
    list_init(&u->idle);
    http_parser_settings_init(&u->ps);
    u->ps.on_header_field = on_header_field;
    u->ps.on_header_value = on_header_value;
    u->ps.on_headers_complete = on_headers_complete;
    u->ps.on_body = on_body;
    u->ps.on_message_complete = on_message_complete;
    return u;
}

void upstream_free(struct upstream *u)
{
    if (!u)
        return;
    u->freeing = true;
    struct list *p, *tmp;
    list_for_each_safe(p, tmp, &u->reqs)
    {
        struct upstream_req *r = container_of(p, struct upstream_req, link);
        r->aborted = true;
        if (r->c)
            r->c->closing = true;
        finish(r, -ECANCELED, "shutting down");
    }
    list_for_each_safe(p, tmp, &u->idle)
        conn_close(container_of(p, struct conn, link));
    free(u->url_last);
    free(u->rbuf);
    free(u);
}
