/* SPDX-License-Identifier: MIT */
/*
 * http.c: libmicrohttpd on the event loop. See http.h for the contract.
 *
 * DESIGN
 * The daemon runs in "external polling" mode with epoll: one uv_poll on
 * MHD's epoll fd and one uv_timer for MHD's own timeouts. MHD_run() is
 * called from those callbacks only, never from inside an MHD callback.
 *
 * A request goes through: READING (body arriving) -> HANDLING (handler has
 * it; connection suspended while it works) -> QUEUED (a response is queued
 * in MHD). Suspended connections are resumed when there is something to
 * send. libmicrohttpd allows MHD_queue_response() on a suspended connection
 * at any time, and suspending only from its own callbacks, so we suspend
 * in the access handler (waiting for the handler) and in the content
 * reader (waiting for stream data), and resume from anywhere.
 *
 * While suspended, MHD ignores the socket, so we watch it (uv_poll for
 * readable/disconnect): an EOF from a client that is waiting for its answer
 * means it went away. The watch is always stopped before the connection is
 * resumed, so it never outlives the fd, which only MHD closes.
 */
#include "net/http.h"

#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "core/log.h"
#include "lib/clock.h"
#include "lib/list.h"
#include "lib/xalloc.h"

struct http_server {
    uv_loop_t *loop;
    struct MHD_Daemon *mhd;
    uv_poll_t poll;
    uv_timer_t timer;
    uv_idle_t kick;     /* runs MHD once after a resume */
    uv_timer_t watch_timer; /* starts socket watches on long suspensions */
    struct list suspended;  /* suspended requests, oldest first */
    bool in_mhd;        /* inside MHD_run (and so in an MHD callback) */
    int port;
    uint64_t max_body;
    http_handler_cb *handler;
    void *arg;
    struct list reqs;   /* every request MHD knows about */
    unsigned active;
    bool closing;
    int closed_handles;
};

enum req_state { R_READING, R_HANDLING, R_QUEUED };

struct hdr {
    char *name, *value;
};

struct watch {
    uv_poll_t poll;
    struct http_req *r;  /* NULL once the request no longer cares */
};

struct http_req {
    struct list link;
    struct list slink;    /* in srv->suspended while suspended */
    uint64_t suspended_ms;
    struct http_server *srv;
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    enum req_state state;
    struct buf body;
    bool too_big;
    bool suspended;
    bool gone;            /* the client went away */
    bool owner_told;      /* close_cb has been called */
    bool completed;       /* MHD is done with it */
    bool responded;
    /* streaming */
    bool streaming;
    bool stream_ended;
    bool stream_ok;
    bool above_high;
    struct buf out;
    uint64_t bytes_out;
    struct hdr *hdrs;
    size_t nhdrs, hdrs_cap;
    struct watch *watch;
    uint64_t start_ns;
    void *owner;
    http_close_cb *on_close;
    http_drain_cb *on_drain;
};

/* ---- driving MHD from the loop -------------------------------------------- */

static void run_mhd(struct http_server *s);

static void mhd_timer_cb(uv_timer_t *t)
{
    run_mhd(t->data);
}

static void mhd_poll_cb(uv_poll_t *p, int status, int events)
{
    run_mhd(p->data);
}

static void kick_cb(uv_idle_t *k)
{
    run_mhd(k->data);
}

/* A resumed connection is only looked at in the next MHD_run(); make sure
 * there is one soon, after the current callback has returned. */
static void kick(struct http_server *s)
{
    if (!s->in_mhd)
        uv_idle_start(&s->kick, kick_cb);
}

static void run_mhd(struct http_server *s)
{
    uv_idle_stop(&s->kick);
    MHD_UNSIGNED_LONG_LONG to;
    int rounds = 0;
    bool more;
    /* MHD asks to run again at once (timeout 0) after it finished a
     * response, to read the next request on the connection: do it here
     * instead of a whole loop iteration later (bounded, so a busy MHD
     * cannot starve the loop). */
    do {
        s->in_mhd = true;
        MHD_run(s->mhd);
        s->in_mhd = false;
        more = MHD_get_timeout(s->mhd, &to) == MHD_YES;
    } while (more && to == 0 && ++rounds < 2);
    if (more)
        uv_timer_start(&s->timer, mhd_timer_cb, to, 0);
    else
        uv_timer_stop(&s->timer);
}

/* ---- watching suspended sockets ------------------------------------------- */

static void tell_owner(struct http_req *r, bool aborted)
{
    if (r->owner_told)
        return;
    r->owner_told = true;
    if (r->on_close)
        r->on_close(r, aborted, r->owner);
}

static void watch_close_cb(uv_handle_t *h)
{
    free(h->data);
}

static void watch_stop(struct http_req *r)
{
    if (!r->watch)
        return;
    r->watch->r = NULL;
    uv_poll_stop(&r->watch->poll);
    uv_close((uv_handle_t *)&r->watch->poll, watch_close_cb);
    r->watch = NULL;
}

static void do_resume(struct http_req *r)
{
    if (!r->suspended)
        return;
    watch_stop(r);
    list_del(&r->slink);
    r->suspended = false;
    MHD_resume_connection(r->conn);
    kick(r->srv);
}

static void client_gone(struct http_req *r)
{
    r->gone = true;
    log_debug("http: client went away path=%s", r->path);
    /* Resuming makes MHD find the dead socket and complete the request. */
    do_resume(r);
    tell_owner(r, true);
}

static void watch_cb(uv_poll_t *p, int status, int events)
{
    struct watch *w = p->data;
    struct http_req *r = w->r;
    if (!r)
        return;
    if (status < 0 || (events & UV_DISCONNECT)) {
        client_gone(r);
        return;
    }
    if (events & UV_READABLE) {
        char c;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        ssize_t n = recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            client_gone(r);
            return;
        }
        if (n > 0) /* a pipelined request: not our business now */
            uv_poll_start(p, UV_DISCONNECT, watch_cb);
    }
}

static void watch_start(struct http_req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci || r->watch)
        return;
    struct watch *w = xcalloc(1, sizeof(*w));
    w->r = r;
    w->poll.data = w;
    if (uv_poll_init(r->srv->loop, &w->poll, ci->connect_fd) < 0) {
        free(w);
        return;
    }
    r->watch = w;
    uv_poll_start(&w->poll, UV_READABLE | UV_DISCONNECT, watch_cb);
}

/*
 * Most suspensions are short (an engine answering in a few ms, the next
 * chunk of a stream), and a client that leaves during one is noticed at the
 * next write anyway. So the socket is watched only once a request has been
 * suspended for WATCH_AFTER_MS: that spares three syscalls per request and
 * still notices a client that leaves a long wait within a few tens of ms.
 */
#define WATCH_AFTER_MS 20

static void watch_timer_cb(uv_timer_t *t)
{
    struct http_server *s = t->data;
    uint64_t now = uv_now(s->loop);
    struct list *p;
    list_for_each(p, &s->suspended)
    {
        struct http_req *r = container_of(p, struct http_req, slink);
        if (now - r->suspended_ms < WATCH_AFTER_MS)
            break; /* oldest first: the rest are younger */
        watch_start(r);
    }
    if (!list_empty(&s->suspended))
        uv_timer_start(t, watch_timer_cb, WATCH_AFTER_MS, 0);
}

static void do_suspend(struct http_req *r)
{
    struct http_server *s = r->srv;
    ASSERT(!r->suspended);
    MHD_suspend_connection(r->conn);
    r->suspended = true;
    r->suspended_ms = uv_now(s->loop);
    list_add_tail(&s->suspended, &r->slink);
    if (!uv_is_active((uv_handle_t *)&s->watch_timer))
        uv_timer_start(&s->watch_timer, watch_timer_cb, WATCH_AFTER_MS, 0);
}

/* ---- responses ------------------------------------------------------------- */

static void add_headers(struct http_req *r, struct MHD_Response *resp)
{
    for (size_t i = 0; i < r->nhdrs; i++)
        MHD_add_response_header(resp, r->hdrs[i].name, r->hdrs[i].value);
}

static void queue(struct http_req *r, int status, struct MHD_Response *resp)
{
    add_headers(r, resp);
    r->responded = true;
    r->state = R_QUEUED;
    if (MHD_queue_response(r->conn, (unsigned)status, resp) != MHD_YES)
        log_warn("http: could not queue a %d response for %s", status, r->path);
    MHD_destroy_response(resp);
    do_resume(r);
}

void http_respond(struct http_req *r, int status, const char *content_type, char *body,
                  size_t len)
{
    if (r->responded || r->gone || r->completed) {
        free(body);
        return;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback(len, body, free);
    if (!resp)
        BUG("MHD_create_response_from_buffer failed");
    if (content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    r->bytes_out = len;
    queue(r, status, resp);
}

void http_respond_copy(struct http_req *r, int status, const char *content_type,
                       const char *body, size_t len)
{
    http_respond(r, status, content_type, xmemdup(body, len), len);
}

void http_respond_json(struct http_req *r, int status, const struct json_t *j)
{
    /* json_dumpb() sizes the text first; one allocation, plus the newline */
    size_t n = json_dumpb(j, NULL, 0, JSON_COMPACT);
    char *body = xmalloc(n + 2);
    json_dumpb(j, body, n, JSON_COMPACT);
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

static ssize_t stream_reader(void *cls, uint64_t pos, char *dst, size_t max)
{
    struct http_req *r = cls;
    if (r->gone)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (r->out.len) {
        size_t n = r->out.len < max ? r->out.len : max;
        memcpy(dst, r->out.data, n);
        buf_consume(&r->out, n);
        r->bytes_out += n;
        if (r->above_high && r->out.len < HTTP_STREAM_LOW_WATER) {
            r->above_high = false;
            if (r->on_drain && !r->owner_told)
                r->on_drain(r, r->owner);
        }
        return (ssize_t)n;
    }
    if (r->stream_ended)
        return r->stream_ok ? MHD_CONTENT_READER_END_OF_STREAM
                            : MHD_CONTENT_READER_END_WITH_ERROR;
    do_suspend(r);
    return 0;
}

void http_stream_begin(struct http_req *r, int status, const char *content_type)
{
    if (r->responded || r->gone || r->completed)
        return;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 8 * 1024, stream_reader, r, NULL);
    if (!resp)
        BUG("MHD_create_response_from_callback failed");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    /* Tell a reverse proxy in front of us not to buffer the stream. */
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    r->streaming = true;
    queue(r, status, resp);
}

void http_stream_write(struct http_req *r, const char *p, size_t n)
{
    if (!r->streaming || r->stream_ended || r->gone || r->completed)
        return;
    buf_add(&r->out, p, n);
    if (r->out.len >= HTTP_STREAM_HIGH_WATER)
        r->above_high = true;
    do_resume(r);
}

size_t http_stream_pending(const struct http_req *r)
{
    return r->out.len;
}

void http_stream_end(struct http_req *r, bool ok)
{
    if (!r->streaming || r->stream_ended)
        return;
    r->stream_ended = true;
    r->stream_ok = ok;
    do_resume(r);
}

bool http_req_responded(const struct http_req *r)
{
    return r->responded;
}

/* ---- MHD callbacks ---------------------------------------------------------- */

static void req_free(struct http_req *r)
{
    watch_stop(r);
    list_del(&r->slink);
    list_del(&r->link);
    r->srv->active--;
    buf_release(&r->body);
    buf_release(&r->out);
    for (size_t i = 0; i < r->nhdrs; i++) {
        free(r->hdrs[i].name);
        free(r->hdrs[i].value);
    }
    free(r->hdrs);
    free(r);
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_size, void **con_cls)
{
    struct http_server *s = cls;
    struct http_req *r = *con_cls;

    if (!r) {
        r = xcalloc(1, sizeof(*r));
        r->srv = s;
        r->conn = conn;
        r->method = method;
        r->path = url;
        r->start_ns = clock_mono_ns();
        list_init(&r->slink);
        list_add_tail(&s->reqs, &r->link);
        s->active++;
        *con_cls = r;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->max_body)
            r->too_big = true;
        return MHD_YES;
    }
    if (r->gone)
        return MHD_NO;
    if (*upload_size) {
        if (!r->too_big && r->body.len + *upload_size > s->max_body) {
            r->too_big = true;
            buf_release(&r->body);
        }
        if (!r->too_big)
            buf_add(&r->body, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->state != R_READING) {
        /* Called again after a resume with nothing queued: keep waiting. */
        if (!r->responded)
            do_suspend(r);
        return MHD_YES;
    }
    r->state = R_HANDLING;
    if (r->too_big) {
        http_req_add_header(r, "Connection", "close");
        http_respond_error(r, 413, "invalid_request_error", "request_too_large",
                           "request body is larger than the limit of %llu bytes (max_body)",
                           (unsigned long long)s->max_body);
        return MHD_YES;
    }
    s->handler(r, s->arg);
    if (!r->responded && !r->gone && !r->suspended)
        do_suspend(r);
    return MHD_YES;
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_req *r = *con_cls;
    if (!r)
        return;
    *con_cls = NULL;
    r->completed = true;
    bool ok = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && !r->gone;
    tell_owner(r, !ok);
    req_free(r);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    log_debug("http: %s", line);
}

struct http_server *http_server_new(uv_loop_t *loop, const char *host, int port,
                                    uint64_t max_body, http_handler_cb *handler, void *arg,
                                    struct buf *err)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sl;
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                     MHD_USE_TURBO;
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        sl = sizeof(*sin);
    } else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        sl = sizeof(*sin6);
        flags |= MHD_USE_IPv6;
    } else if (!strcmp(host, "localhost")) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sl = sizeof(*sin);
    } else {
        buf_addf(err, "listen address '%s' is not an IP address", host);
        return NULL;
    }
    (void)sl;

    struct http_server *s = xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->max_body = max_body;
    s->handler = handler;
    s->arg = arg;
    list_init(&s->reqs);
    list_init(&s->suspended);
    s->mhd = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, access_cb, s,
                              MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                              MHD_OPTION_NOTIFY_COMPLETED, completed_cb, s,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)300,
                              /* MHD zeroes this pool for every request */
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16 * 1024),
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096,
                              MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
                              MHD_OPTION_END);
    if (!s->mhd) {
        buf_addf(err, "cannot listen on %s:%d: %s", host, port,
                 errno ? strerror(errno) : "address in use or not available");
        free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : port;
    di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    uv_poll_init(loop, &s->poll, di->epoll_fd);
    s->poll.data = s;
    uv_poll_start(&s->poll, UV_READABLE, mhd_poll_cb);
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    uv_idle_init(loop, &s->kick);
    s->kick.data = s;
    uv_timer_init(loop, &s->watch_timer);
    s->watch_timer.data = s;
    run_mhd(s);
    return s;
}

static void server_handle_closed(uv_handle_t *h)
{
    struct http_server *s = h->data;
    if (++s->closed_handles == 4)
        free(s);
}

void http_server_free(struct http_server *s)
{
    if (!s)
        return;
    s->closing = true;
    /* MHD must not be stopped with suspended connections. */
    struct list *p, *tmp;
    list_for_each_safe(p, tmp, &s->reqs)
    {
        struct http_req *r = container_of(p, struct http_req, link);
        r->gone = true;
        do_resume(r);
        tell_owner(r, true);
    }
    MHD_run(s->mhd);
    MHD_stop_daemon(s->mhd);
    uv_poll_stop(&s->poll);
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->poll, server_handle_closed);
    uv_close((uv_handle_t *)&s->timer, server_handle_closed);
    uv_idle_stop(&s->kick);
    uv_close((uv_handle_t *)&s->kick, server_handle_closed);
    uv_timer_stop(&s->watch_timer);
    uv_close((uv_handle_t *)&s->watch_timer, server_handle_closed);
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

const char *http_req_query(const struct http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_req_header(const struct http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *http_req_body(const struct http_req *r, size_t *len)
{
    *len = r->body.len;
    return buf_cstr(&r->body);
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

void http_req_add_header(struct http_req *r, const char *name, const char *value)
{
    ALLOC_GROW(r->hdrs, r->nhdrs + 1, r->hdrs_cap);
    r->hdrs[r->nhdrs].name = xstrdup(name);
    r->hdrs[r->nhdrs].value = xstrdup(value);
    r->nhdrs++;
}
