/*
 * Unit tests for net/upstream.c: back-pressure (UPSTREAM_PAUSE) and the
 * pool of kept-alive connections, against a small engine on the same
 * libuv loop that answers every request on a connection it keeps open.
 *
 * The engine writes each whole answer at once, so the first read holds
 * the head, the body and the end of the answer; the data callback refuses
 * the first piece (the client is slow) and an idle callback resumes. The
 * answer must then end, and the connection, pooled, must serve the next
 * request: before the fix the pooled connection was not read any more
 * (reading had stopped at the pause), and the next request waited for its
 * first-byte timeout. Found by tests/fuzz/fuzz_upstream.c as inputs that
 * took exactly the harness's 5 s timeout.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "lib/clock.h"
#include "net/upstream.h"

/* The answers the engine gives, by kind. */
static const char *const answers[] = {
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\n0123456789",
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    "6\r\ndata: \r\n4\r\nabc\n\r\n0\r\n\r\n",
};

struct fixture {
    uv_loop_t loop;
    uv_tcp_t server;
    uv_idle_t idle;
    uv_timer_t tick; /* wakes the loop so that request() sees its deadline */
    struct upstream *up;
    char url[64];
    const char *answer;
    unsigned accepted; /* connections the engine took */
    unsigned served;   /* requests it answered */
};

struct engine_conn {
    uv_tcp_t tcp;
    struct fixture *f;
};

struct run {
    struct fixture *f;
    struct upstream_req *req;
    int done, rc;
    bool paused, refuse_first;
    unsigned calls;
    size_t body;
};

static void ec_closed(uv_handle_t *h)
{
    free(h->data);
}

static void ec_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    static char rb[65536];
    *b = uv_buf_init(rb, sizeof(rb));
}

static void ec_written(uv_write_t *w, int status)
{
    free(w);
}

/* Any read is a whole request (small, written at once): answer it, and
 * keep the connection open for the next. */
static void ec_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct engine_conn *c = s->data;
    if (n < 0) {
        if (!uv_is_closing((uv_handle_t *)s))
            uv_close((uv_handle_t *)s, ec_closed);
        return;
    }
    if (n == 0)
        return;
    c->f->served++;
    uv_buf_t a = uv_buf_init((char *)(uintptr_t)c->f->answer, (unsigned)strlen(c->f->answer));
    uv_write_t *w = malloc(sizeof(*w));
    assert_non_null(w);
    uv_write(w, s, &a, 1, ec_written);
}

static void on_connection(uv_stream_t *srv, int status)
{
    struct fixture *f = srv->data;
    assert_int_equal(status, 0);
    struct engine_conn *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->f = f;
    uv_tcp_init(&f->loop, &c->tcp);
    c->tcp.data = c;
    assert_int_equal(uv_accept(srv, (uv_stream_t *)&c->tcp), 0);
    f->accepted++;
    uv_read_start((uv_stream_t *)&c->tcp, ec_alloc, ec_read);
}

static void resume_cb(uv_idle_t *i)
{
    struct run *x = i->data;
    uv_idle_stop(i);
    if (!x->done && x->paused) {
        x->paused = false;
        upstream_resume(x->req);
    }
}

static int on_data(struct upstream_req *r, const char *p, size_t n, void *arg)
{
    struct run *x = arg;
    if (x->refuse_first && ++x->calls == 1) {
        x->paused = true;
        x->f->idle.data = x;
        uv_idle_start(&x->f->idle, resume_cb);
        return UPSTREAM_PAUSE;
    }
    x->body += n;
    return 0;
}

static void on_done(struct upstream_req *r, int rc, const char *msg, void *arg)
{
    struct run *x = arg;
    assert_int_equal(x->done, 0); /* exactly one done callback */
    x->done = 1;
    x->rc = rc;
}

/* One request; runs the loop until it is done or 3 s pass (the request's
 * own timeouts are a minute: a request that waits for them has hung). */
static struct run request(struct fixture *f, bool refuse_first)
{
    struct run x = {.f = f, .refuse_first = refuse_first};
    struct upstream_opts o = {
        .method = "POST",
        .url = f->url,
        .body = "{}",
        .body_len = 2,
        .connect_timeout_ms = 60000,
        .first_byte_timeout_ms = 60000,
        .stall_timeout_ms = 60000,
        .on_data = on_data,
        .on_done = on_done,
        .arg = &x,
    };
    x.req = upstream_start(f->up, &o);
    uint64_t deadline = clock_mono_ms() + 3000;
    while (!x.done && clock_mono_ms() < deadline)
        uv_run(&f->loop, UV_RUN_ONCE);
    if (!x.done) {
        upstream_abort(x.req);
        fail_msg("the request did not end within 3 s (its timeouts are 60 s)");
    }
    return x;
}

static void tick_cb(uv_timer_t *t)
{
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    uv_loop_init(&f->loop);
    uv_tcp_init(&f->loop, &f->server);
    f->server.data = f;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&f->server, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&f->server, 16, on_connection), 0);
    struct sockaddr_in got;
    int len = sizeof(got);
    uv_tcp_getsockname(&f->server, (struct sockaddr *)&got, &len);
    snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d/v1/chat/completions",
             ntohs(got.sin_port));
    uv_idle_init(&f->loop, &f->idle);
    uv_timer_init(&f->loop, &f->tick);
    uv_timer_start(&f->tick, tick_cb, 50, 50);
    f->up = upstream_new(&f->loop);
    *state = f;
    return 0;
}

/* Closes what the engine side left open: its connections (freed when
 * closed), the listener and the idle handle. */
static void close_walk(uv_handle_t *h, void *arg)
{
    struct fixture *f = arg;
    if (uv_is_closing(h))
        return;
    bool engine_conn = h->type == UV_TCP && h != (uv_handle_t *)&f->server;
    uv_close(h, engine_conn ? ec_closed : NULL);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    upstream_free(f->up);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    uv_walk(&f->loop, close_walk, f);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    uv_loop_close(&f->loop);
    free(f);
    return 0;
}

/* A paused answer ends, and its pooled connection serves the next ones. */
static void check_pause_then_reuse(struct fixture *f, const char *answer, size_t body)
{
    f->answer = answer;
    struct run a = request(f, true);
    assert_int_equal(a.rc, 0);
    assert_int_equal(a.body, body);
    for (int i = 0; i < 3; i++) {
        struct run b = request(f, i == 1);
        assert_int_equal(b.rc, 0);
        assert_int_equal(b.body, body);
    }
    assert_int_equal(f->served, 4);
    assert_int_equal(f->accepted, 1); /* one connection, kept alive throughout */
}

static void test_pause_content_length_then_reuse(void **state)
{
    check_pause_then_reuse(*state, answers[0], 10);
}

static void test_pause_chunked_then_reuse(void **state)
{
    check_pause_then_reuse(*state, answers[1], 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pause_content_length_then_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pause_chunked_then_reuse, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
