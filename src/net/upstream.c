/* SPDX-License-Identifier: MIT */
/*
 * upstream.c: libcurl multi on libuv. See upstream.h for the contract.
 *
 * The socket and timer plumbing follows curl's own docs/examples/multi-uv.c:
 * one uv_poll per socket libcurl asks us to watch, one uv_timer for
 * libcurl's timeouts, and check_done() after every call into libcurl.
 *
 * Our own timers (first byte, stall) live in the request: libcurl's
 * CURLOPT_TIMEOUT bounds a whole transfer, which for a long streamed
 * generation is the wrong thing to bound.
 */
#include "net/upstream.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "lib/buf.h"
#include "lib/list.h"
#include "lib/xalloc.h"

#define EASY_POOL_MAX 64

struct upstream {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    unsigned depth;           /* > 0 while inside libcurl */
    struct list reqs;         /* every live request */
    struct list doomed;       /* aborted inside a libcurl callback */
    CURL *pool[EASY_POOL_MAX];
    unsigned npool;
    struct sock **socks;      /* by fd: every socket libcurl has open */
    size_t nsocks;
    struct upstream_stats st;
};

struct sock {
    uv_poll_t poll;
    curl_socket_t fd;
    struct upstream *u;
    int events;               /* what the poll watches now */
    bool idle;                /* libcurl is not watching it (cached or new) */
};

struct upstream_req {
    struct list link;
    struct upstream *u;
    CURL *easy;
    struct curl_slist *hdrs;
    struct upstream_opts o;
    char *url;
    char *auth;
    char errbuf[CURL_ERROR_SIZE];
    uv_timer_t *timer;        /* first-byte / stall; separately allocated, closed async */
    long status;
    bool head_done;
    bool aborted;
    bool paused;
    bool timed_out;
    uint64_t body_bytes;
    char *content_type;
    char *retry_after;
    struct buf headers; /* keep_headers: "name\0value\0" pairs */
};

/* ---- libcurl <-> libuv -------------------------------------------------- */

static void check_done(struct upstream *u);
static void req_free(struct upstream_req *r);

static void reap_doomed(struct upstream *u)
{
    struct list *p, *tmp;
    list_for_each_safe(p, tmp, &u->doomed)
    {
        struct upstream_req *r = container_of(p, struct upstream_req, link);
        list_del(&r->link);
        curl_multi_remove_handle(u->multi, r->easy);
        req_free(r);
    }
}

static void after_curl(struct upstream *u)
{
    check_done(u);
    reap_doomed(u);
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
    struct sock *s = h->data;
    struct upstream *u = s->u;
    int flags = 0, running;
    if (s->idle) {
        /* The engine closed (or wrote to) a connection resting in
         * libcurl's cache; libcurl finds out when it next picks it, and
         * until then there is nothing to do. */
        uv_poll_stop(&s->poll);
        return;
    }
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    u->depth++;
    curl_multi_socket_action(u->multi, s->fd, flags, &running);
    u->depth--;
    after_curl(u);
}

static void sock_close_cb(uv_handle_t *h)
{
    struct sock *s = h->data;
    close(s->fd);
    free(s);
}

/*
 * Sockets are created and closed through us (CURLOPT_OPENSOCKETFUNCTION and
 * CLOSESOCKETFUNCTION), so each keeps one uv_poll for its whole life. When
 * libcurl stops watching a connection that goes back to its cache, the
 * poll stays registered for reading: the next request on that connection
 * then needs no epoll_ctl() at all. (Closing the handle unregisters the fd
 * before it is closed, so a reused fd number never meets a stale poll.)
 */
static curl_socket_t open_socket_cb(void *clientp, curlsocktype purpose,
                                    struct curl_sockaddr *addr)
{
    struct upstream *u = clientp;
    int fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
    if (fd < 0)
        return CURL_SOCKET_BAD;
    struct sock *s = xcalloc(1, sizeof(*s));
    s->fd = fd;
    s->u = u;
    s->idle = true;
    if (uv_poll_init_socket(u->loop, &s->poll, fd) < 0) {
        free(s);
        close(fd);
        return CURL_SOCKET_BAD;
    }
    s->poll.data = s;
    if ((size_t)fd >= u->nsocks) {
        size_t n = (size_t)fd + 64;
        u->socks = xrealloc(u->socks, n * sizeof(*u->socks));
        memset(u->socks + u->nsocks, 0, (n - u->nsocks) * sizeof(*u->socks));
        u->nsocks = n;
    }
    u->socks[fd] = s;
    return fd;
}

static int close_socket_cb(void *clientp, curl_socket_t fd)
{
    struct upstream *u = clientp;
    struct sock *s = (size_t)fd < u->nsocks ? u->socks[fd] : NULL;
    if (!s)
        return close(fd);
    u->socks[fd] = NULL;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, sock_close_cb); /* closes fd after */
    return 0;
}

static int socket_cb(CURL *easy, curl_socket_t fd, int action, void *userp, void *socketp)
{
    struct upstream *u = userp;
    struct sock *s = (size_t)fd < u->nsocks ? u->socks[fd] : NULL;
    if (!s)
        return 0;
    if (action == CURL_POLL_REMOVE) {
        s->idle = true;
        if (s->events != UV_READABLE) {
            s->events = UV_READABLE;
            uv_poll_start(&s->poll, UV_READABLE, poll_cb);
        }
        return 0;
    }
    int ev = 0;
    if (action & CURL_POLL_IN)
        ev |= UV_READABLE;
    if (action & CURL_POLL_OUT)
        ev |= UV_WRITABLE;
    s->idle = false;
    if (ev != s->events || !uv_is_active((uv_handle_t *)&s->poll)) {
        s->events = ev;
        uv_poll_start(&s->poll, ev, poll_cb);
    }
    return 0;
}

static void timer_cb(uv_timer_t *t)
{
    struct upstream *u = t->data;
    int running;
    u->depth++;
    curl_multi_socket_action(u->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    u->depth--;
    after_curl(u);
}

static int multi_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct upstream *u = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&u->timer);
    else
        uv_timer_start(&u->timer, timer_cb, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ---- requests ------------------------------------------------------------ */

static void timer_close_cb(uv_handle_t *h)
{
    free(h);
}

static void req_free(struct upstream_req *r)
{
    struct upstream *u = r->u;
    if (r->timer)
        uv_close((uv_handle_t *)r->timer, timer_close_cb);
    if (u->npool < EASY_POOL_MAX) {
        /* Drop what points into r before r goes. */
        curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, NULL);
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, NULL);
        u->pool[u->npool++] = r->easy;
    } else {
        curl_easy_cleanup(r->easy);
    }
    curl_slist_free_all(r->hdrs);
    free(r->url);
    free(r->auth);
    free(r->content_type);
    free(r->retry_after);
    buf_release(&r->headers);
    free(r);
    u->st.active--;
}

/* Our own timeout fired: libcurl would not notice a silent transfer, so we
 * end it here (never inside libcurl: timers run from the loop). */
static void req_timeout_cb(uv_timer_t *t)
{
    struct upstream_req *r = t->data;
    struct upstream *u = r->u;
    ASSERT(u->depth == 0);
    r->timed_out = true;
    curl_multi_remove_handle(u->multi, r->easy);
    list_del(&r->link);
    u->st.failures++;
    r->o.on_done(r, -ETIMEDOUT,
                 r->head_done ? "engine stalled: no data within the stall timeout"
                              : "engine sent no response within the first-byte timeout",
                 r->o.arg);
    req_free(r);
}

static void arm_timer(struct upstream_req *r, uint64_t ms)
{
    if (!ms)
        return;
    if (!r->timer) {
        r->timer = xmalloc(sizeof(*r->timer));
        uv_timer_init(r->u->loop, r->timer);
        r->timer->data = r;
    }
    uv_timer_start(r->timer, req_timeout_cb, ms, 0);
}

static size_t header_cb(char *p, size_t size, size_t n, void *arg)
{
    struct upstream_req *r = arg;
    size_t len = size * n;
    if (r->aborted)
        return 0;
    if (len >= 5 && !strncmp(p, "HTTP/", 5)) {
        /* A new status line: 1xx responses come before the real one. */
        free(r->content_type);
        free(r->retry_after);
        r->content_type = r->retry_after = NULL;
        buf_reset(&r->headers);
        return len;
    }
    if (len <= 2 && (p[0] == '\r' || p[0] == '\n')) {
        long status = 0;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && !r->head_done) {
            r->head_done = true;
            r->status = status;
            arm_timer(r, r->o.stall_timeout_ms);
            if (!r->o.stall_timeout_ms && r->timer)
                uv_timer_stop(r->timer);
            if (r->o.on_head)
                r->o.on_head(r, status, r->o.arg);
            if (r->aborted)
                return 0;
        }
        return len;
    }
    const char *colon = memchr(p, ':', len);
    if (!colon)
        return len;
    size_t nl = (size_t)(colon - p);
    const char *v = colon + 1;
    size_t vl = len - nl - 1;
    while (vl && (*v == ' ' || *v == '\t')) {
        v++;
        vl--;
    }
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
        vl--;
    if (r->o.keep_headers) {
        buf_add(&r->headers, p, nl);
        buf_addch(&r->headers, '\0');
        buf_add(&r->headers, v, vl);
        buf_addch(&r->headers, '\0');
    }
    if (nl == 12 && !strncasecmp(p, "content-type", 12)) {
        free(r->content_type);
        r->content_type = xstrndup(v, vl);
    } else if (nl == 11 && !strncasecmp(p, "retry-after", 11)) {
        free(r->retry_after);
        r->retry_after = xstrndup(v, vl);
    }
    return len;
}

static size_t write_cb(char *p, size_t size, size_t n, void *arg)
{
    struct upstream_req *r = arg;
    size_t len = size * n;
    if (r->aborted)
        return 0;
    if (r->timer && r->o.stall_timeout_ms)
        uv_timer_start(r->timer, req_timeout_cb, r->o.stall_timeout_ms, 0);
    if (!r->o.on_data) {
        r->body_bytes += len;
        return len;
    }
    int rc = r->o.on_data(r, p, len, r->o.arg);
    if (r->aborted)
        return 0;
    if (rc == UPSTREAM_PAUSE) {
        r->paused = true;
        if (r->timer)
            uv_timer_stop(r->timer); /* a slow client is not a stalled engine */
        return CURL_WRITEFUNC_PAUSE;
    }
    r->body_bytes += len;
    return len;
}

static int map_error(CURLcode c, struct upstream_req *r)
{
    if (r->timed_out)
        return -ETIMEDOUT;
    switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
        return -ECONNREFUSED;
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
        return -ECONNRESET;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return -EPROTO;
    default:
        return -EIO;
    }
}

static void check_done(struct upstream *u)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(u->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct upstream_req *r;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        CURLcode res = msg->data.result;
        curl_multi_remove_handle(u->multi, r->easy);
        list_del(&r->link);
        if (r->aborted) {
            req_free(r);
            continue;
        }
        int rc = 0;
        char msgbuf[CURL_ERROR_SIZE + 64];
        const char *m = "ok";
        if (res != CURLE_OK) {
            rc = map_error(res, r);
            u->st.failures++;
            snprintf(msgbuf, sizeof(msgbuf), "%s",
                     r->errbuf[0] ? r->errbuf : curl_easy_strerror(res));
            m = msgbuf;
        }
        r->o.on_done(r, rc, m, r->o.arg);
        req_free(r);
    }
}

struct upstream *upstream_new(uv_loop_t *loop)
{
    static bool global_done;
    if (!global_done) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT))
            BUG("curl_global_init failed");
        global_done = true;
    }
    struct upstream *u = xcalloc(1, sizeof(*u));
    u->loop = loop;
    list_init(&u->reqs);
    list_init(&u->doomed);
    u->multi = curl_multi_init();
    if (!u->multi)
        BUG("curl_multi_init failed");
    uv_timer_init(loop, &u->timer);
    u->timer.data = u;
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, multi_timer_cb);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
    curl_multi_setopt(u->multi, CURLMOPT_MAXCONNECTS, 256L);
    return u;
}

static void upstream_close_cb(uv_handle_t *h)
{
    free(h->data);
}

void upstream_free(struct upstream *u)
{
    if (!u)
        return;
    struct list *p, *tmp;
    list_for_each_safe(p, tmp, &u->reqs)
    {
        struct upstream_req *r = container_of(p, struct upstream_req, link);
        list_del(&r->link);
        curl_multi_remove_handle(u->multi, r->easy);
        req_free(r);
    }
    reap_doomed(u);
    for (unsigned i = 0; i < u->npool; i++)
        curl_easy_cleanup(u->pool[i]);
    curl_multi_cleanup(u->multi); /* closes the cached connections through us */
    free(u->socks);
    uv_timer_stop(&u->timer);
    uv_close((uv_handle_t *)&u->timer, upstream_close_cb);
}

struct upstream_req *upstream_start(struct upstream *u, const struct upstream_opts *o)
{
    struct upstream_req *r = xcalloc(1, sizeof(*r));
    ASSERT(o->on_done);
    r->u = u;
    r->o = *o;
    r->url = xstrdup(o->url);
    r->o.url = r->url;
    bool fresh = !u->npool;
    r->easy = fresh ? curl_easy_init() : u->pool[--u->npool];
    if (!r->easy)
        BUG("curl_easy_init failed");
    CURL *e = r->easy;
    /*
     * Pooled handles keep their options: what is the same for every
     * request is set once, when the handle is made, and everything a
     * request may change is set on every request, to a value or back to
     * its default. (curl_easy_reset() would zero and re-fill a large
     * struct per request; this measured 10% of hermod's instructions.)
     */
    if (fresh) {
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
        /* Engines run on loopback or a LAN; no proxy from the environment. */
        curl_easy_setopt(e, CURLOPT_PROXY, "");
        curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
        curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, u);
        curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, close_socket_cb);
        curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, u);
    }
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)o->total_timeout_ms);
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, o->fresh_connect ? 1L : 0L);
    /* "Expect: 100-continue" would cost a round trip on large bodies. */
    r->hdrs = curl_slist_append(NULL, "Expect:");
    if (o->body) {
        char ct[128];
        snprintf(ct, sizeof(ct), "Content-Type: %s",
                 o->content_type ? o->content_type : "application/json");
        r->hdrs = curl_slist_append(r->hdrs, ct);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, o->body);
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
                     o->method && strcmp(o->method, "GET") && strcmp(o->method, "POST")
                         ? o->method
                         : NULL);
    if (o->auth_bearer) {
        r->auth = xasprintf("Authorization: Bearer %s", o->auth_bearer);
        r->hdrs = curl_slist_append(r->hdrs, r->auth);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
    arm_timer(r, o->first_byte_timeout_ms);
    list_add_tail(&u->reqs, &r->link);
    u->st.requests++;
    u->st.active++;
    curl_multi_add_handle(u->multi, e);
    return r;
}

void upstream_abort(struct upstream_req *r)
{
    struct upstream *u = r->u;
    if (r->aborted)
        return;
    r->aborted = true;
    if (r->timer)
        uv_timer_stop(r->timer);
    list_del(&r->link);
    if (u->depth) {
        list_add_tail(&u->doomed, &r->link);
        return;
    }
    curl_multi_remove_handle(u->multi, r->easy);
    req_free(r);
}

void upstream_resume(struct upstream_req *r)
{
    struct upstream *u = r->u;
    if (!r->paused || r->aborted)
        return;
    r->paused = false;
    if (r->timer && r->o.stall_timeout_ms)
        uv_timer_start(r->timer, req_timeout_cb, r->o.stall_timeout_ms, 0);
    /* Unpausing may deliver the held bytes at once, from inside libcurl. */
    u->depth++;
    curl_easy_pause(r->easy, CURLPAUSE_CONT);
    u->depth--;
    if (!u->depth)
        after_curl(u);
}

bool upstream_req_reused(const struct upstream_req *r)
{
    long n = 1;
    curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &n);
    return n == 0;
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
    const char *p = r->headers.data, *end = p + r->headers.len;
    while (p && p < end) {
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
