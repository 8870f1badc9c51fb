/*
 * libFuzzer harness for the engine's answer as net/upstream.c reads it:
 * status line, headers (Content-Type, Retry-After, Connection, the 64 KiB
 * head limit), and the body plain, by Content-Length or chunked, through
 * the module's real code path. A fake engine of a few lines listens on a
 * loopback port of the same libuv loop; each input is one upstream request
 * to it, answered with the input's bytes in two writes (the first byte
 * says where they are cut, so the parser meets every boundary), then the
 * engine closes. The data callback pauses now and then (UPSTREAM_PAUSE)
 * so that the held-bytes path runs too. Every request must end with
 * exactly one done callback, and none by a timeout (15 s, under
 * libFuzzer's 20): the engine never makes anyone wait.
 *
 *   make build/fuzz/fuzz_upstream && build/fuzz/fuzz_upstream tests/fuzz/upstream
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "net/upstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static uv_tcp_t server;
static struct upstream *up;
static char url[64];

/* The answer the engine gives to the next connection. */
static const uint8_t *answer;
static size_t answer_len, cut;

struct engine_conn {
    uv_tcp_t tcp;
    size_t got;
    bool answered;
};

struct run {
    struct upstream_req *req;
    int done;
    long status;
    size_t body;
    unsigned calls;
    bool paused;
    const char *ct, *ra;
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
    struct engine_conn *c = w->data;
    free(w);
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, ec_closed);
}

/* The request's head has arrived (we do not parse it: any read will do,
 * the request is small and written at once); answer and close. */
static void ec_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct engine_conn *c = s->data;
    if (n < 0) {
        if (!uv_is_closing((uv_handle_t *)s))
            uv_close((uv_handle_t *)s, ec_closed);
        return;
    }
    if (c->answered || n == 0)
        return;
    c->answered = true;
    uv_read_stop(s);
    uv_buf_t bufs[2] = {uv_buf_init((char *)(uintptr_t)answer, (unsigned)cut),
                        uv_buf_init((char *)(uintptr_t)answer + cut, (unsigned)(answer_len - cut))};
    uv_write_t *w = malloc(sizeof(*w));
    w->data = c;
    uv_write(w, s, bufs, 2, ec_written);
}

static void on_connection(uv_stream_t *srv, int status)
{
    if (status)
        return;
    struct engine_conn *c = calloc(1, sizeof(*c));
    uv_tcp_init(&loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(srv, (uv_stream_t *)&c->tcp)) {
        uv_close((uv_handle_t *)&c->tcp, ec_closed);
        return;
    }
    uv_read_start((uv_stream_t *)&c->tcp, ec_alloc, ec_read);
}

static void on_head(struct upstream_req *r, long status, void *arg)
{
    struct run *x = arg;
    x->status = status;
    /* every accessor, on whatever the parser kept */
    x->ct = upstream_req_content_type(r);
    x->ra = upstream_req_retry_after(r);
    const char *v = upstream_req_header(r, "x-anything");
    if (v && x->ct)
        x->body += strlen(v) + strlen(x->ct);
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

static uv_idle_t idle;

static int on_data(struct upstream_req *r, const char *p, size_t n, void *arg)
{
    struct run *x = arg;
    /* every third piece is refused once, then offered again on resume */
    if (++x->calls % 3 == 0 && !x->paused) {
        x->paused = true;
        idle.data = x;
        uv_idle_start(&idle, resume_cb);
        return UPSTREAM_PAUSE;
    }
    for (size_t i = 0; i < n; i++)
        x->body += (unsigned char)p[i] == 0xff;
    x->body += n;
    return 0;
}

static void on_done(struct upstream_req *r, int rc, const char *msg, void *arg)
{
    struct run *x = arg;
    if (x->done)
        __builtin_trap(); /* two done callbacks */
    x->done = rc ? rc : 1;
    if (msg && strlen(msg) > 4096)
        __builtin_trap();
    /* The engine answers at once and closes: nothing here may wait for a
     * timeout (a pooled connection left unread did, 7a4e293). */
    if (rc == -ETIMEDOUT)
        __builtin_trap();
}

static void setup(void)
{
    uv_loop_init(&loop);
    uv_tcp_init(&loop, &server);
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    if (uv_tcp_bind(&server, (const struct sockaddr *)&a, 0) || uv_listen((uv_stream_t *)&server, 128, on_connection))
        abort();
    struct sockaddr_in got;
    int len = sizeof(got);
    uv_tcp_getsockname(&server, (struct sockaddr *)&got, &len);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/chat/completions", ntohs(got.sin_port));
    uv_idle_init(&loop, &idle);
    up = upstream_new(&loop);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!up)
        setup();
    if (size < 1)
        return 0;
    answer = data + 1;
    answer_len = size - 1;
    cut = answer_len ? (size_t)data[0] * answer_len / 255 : 0;
    struct run x = {0};
    struct upstream_opts o = {
        .method = "POST",
        .url = url,
        .body = "{}",
        .body_len = 2,
        .connect_timeout_ms = 15000,
        .first_byte_timeout_ms = 15000,
        .stall_timeout_ms = 15000,
        .fresh_connect = data[0] & 1,
        .keep_headers = true,
        .on_head = on_head,
        .on_data = on_data,
        .on_done = on_done,
        .arg = &x,
    };
    x.req = upstream_start(up, &o);
    while (!x.done)
        uv_run(&loop, UV_RUN_ONCE);
    uv_idle_stop(&idle);
    /* let the engine side close its connection */
    for (int i = 0; i < 4; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    return 0;
}
