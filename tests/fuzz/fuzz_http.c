/*
 * libFuzzer harness for the HTTP request intake (net/http.c), through its
 * real code path: a real http_server on a loopback port of a libuv loop,
 * and a real TCP client connection per input that writes the input in
 * two pieces (the first byte says where it is cut, so the parser meets
 * every boundary), reads whatever comes back, half-closes and waits for
 * the server to close. No internal entry point: accept, read buffers,
 * the parser's pauses for pipelined requests, the limits (small here:
 * 2 KiB head, 4 KiB body), the error answers and the writes all run as
 * they do in the daemon. The handler reads every accessor (query, headers,
 * body, the multipart form on paths with "form") and answers with a
 * response or, for paths ending in 's', a stream.
 *
 *   make build/fuzz/fuzz_http && build/fuzz/fuzz_http tests/fuzz/http
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "lib/buf.h"
#include "net/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t loop;
static struct http_server *srv;
static struct sockaddr_in addr;

static int form_cb(void *arg, const char *name, const char *filename, const char *ct,
                   const char *d, uint64_t off, size_t n)
{
    size_t *total = arg;
    /* name is NULL for a part whose Content-Disposition has none (form.h) */
    *total += (name ? strlen(name) : 0) + (filename ? strlen(filename) : 0) + (ct ? strlen(ct) : 0) + n;
    return 0;
}

static void handler(struct http_req *r, void *arg)
{
    const char *path = http_req_path(r);
    size_t n, total = 0;
    const char *body = http_req_body(r, &n);
    const char *q = http_req_query(r, "a");
    const char *ct = http_req_header(r, "Content-Type");
    total += n + (q ? strlen(q) : 0) + (ct ? strlen(ct) : 0) + (body[n] == '\0');
    if (strstr(path, "form"))
        http_req_form_each(r, form_cb, &total);
    http_req_add_header(r, "X-Total", q ? q : "-");
    size_t pl = strlen(path);
    if (pl && path[pl - 1] == 's') {
        http_stream_begin(r, 200, "text/event-stream");
        http_stream_write(r, "data: x\n\n", 9);
        http_stream_end(r, total & 1);
    } else {
        http_respond_copy(r, 200, "text/plain", path, pl);
    }
}

struct client {
    uv_tcp_t tcp;
    uv_connect_t conn;
    uv_shutdown_t sd;
    bool connected, eof, closed;
    size_t got;
};

static void cl_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    static char rb[65536];
    *b = uv_buf_init(rb, sizeof(rb));
}

static void cl_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct client *c = s->data;
    if (n > 0)
        c->got += (size_t)n;
    else if (n < 0)
        c->eof = true;
}

static void cl_connect(uv_connect_t *req, int status)
{
    struct client *c = req->data;
    c->connected = true;
    if (status == 0)
        uv_read_start((uv_stream_t *)&c->tcp, cl_alloc, cl_read);
    else
        c->eof = true;
}

static void cl_closed(uv_handle_t *h)
{
    ((struct client *)h->data)->closed = true;
}

static void sd_cb(uv_shutdown_t *r, int status)
{
}

static void write_some(struct client *c, const uint8_t *p, size_t n)
{
    if (!n || c->eof)
        return;
    uv_buf_t b = uv_buf_init((char *)(uintptr_t)p, (unsigned)n);
    /* A blocking-free write of what fits; the rest is dropped as a client
     * that gave up would. */
    uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    for (int i = 0; i < 8; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
}

static void setup(void)
{
    struct buf err = BUF_INIT;
    uv_loop_init(&loop);
    struct http_limits lim = {.max_body = 4096, .max_head = 2048};
    srv = http_server_new(&loop, "127.0.0.1", 0, &lim, handler, NULL, &err);
    if (!srv) {
        fprintf(stderr, "fuzz_http: %s\n", buf_cstr(&err));
        abort();
    }
    uv_ip4_addr("127.0.0.1", http_server_port(srv), &addr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!srv)
        setup();
    if (size < 1)
        return 0;
    size_t cut = 1 + (size_t)data[0] * (size - 1) / 255;
    struct client c = {0};
    uv_tcp_init(&loop, &c.tcp);
    c.tcp.data = &c;
    c.conn.data = &c;
    uv_tcp_connect(&c.conn, &c.tcp, (const struct sockaddr *)&addr, cl_connect);
    while (!c.connected)
        uv_run(&loop, UV_RUN_ONCE);
    write_some(&c, data + 1, cut - 1);
    write_some(&c, data + cut, size - cut);
    if (!c.eof)
        uv_shutdown(&c.sd, (uv_stream_t *)&c.tcp, sd_cb);
    /* The server answers what it read, sees the end and closes; the
     * sweep (1 s) ends anything slower, so this always finishes. */
    while (!c.eof)
        uv_run(&loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&c.tcp, cl_closed);
    while (!c.closed)
        uv_run(&loop, UV_RUN_ONCE);
    if (http_server_active(srv) != 0)
        __builtin_trap(); /* a request outlived its connection */
    return 0;
}
