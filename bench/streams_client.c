/* SPDX-License-Identifier: MIT */
/*
 * bench/streams_client: N streaming chat requests opened at the same
 * moment, on one libuv loop thread; the client side of bench/streams.mjs.
 *
 *   streams_client PORT N [MODEL=bench] [TIMEOUT_S=120]
 *
 * Each request is a fresh connection to 127.0.0.1:PORT ("Connection:
 * close", as node's http client without keep-alive sends), with the body
 * {"model":MODEL,"stream":true,"messages":[]}. For each, the time from the
 * connect call to the first body bytes holding "data: {" (the first
 * chunk) and to the end of the answer is taken; a request is ok when the
 * status is 200 and "data: [DONE]" came. Prints one line of JSON:
 *   {"n":N,"ok":K,"first":[ms, ...],"total":[ms, ...],"cpu_ms":C}
 * with the times of the ok requests in the order they were opened, and the
 * CPU this process used.
 *
 * Why not node: at 1,000 streams x 20 chunks node's http client spent
 * 0.7-1.3 CPU-s a round, on a 2-core machine shared with the engine and
 * hermod. This one parses with http-parser and keeps at most the last few
 * body bytes of each request.
 */
#include <http_parser.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

struct rq {
    uv_tcp_t tcp;
    uv_connect_t conn;
    http_parser parser;
    uint64_t t0, t_first, t_end;
    bool first_seen, done_seen, complete, closed;
    char tail[16];          /* the last body bytes, for a match across reads */
    size_t ntail;
};

static uv_loop_t *loop;
static http_parser_settings ps;
static char rbuf[64 * 1024];
static char req_text[512];
static size_t req_len;
static int open_count;
static uv_timer_t deadline;

static void on_closed(uv_handle_t *h)
{
    if (--open_count == 0)
        uv_close((uv_handle_t *)&deadline, NULL);
}

static void rq_close(struct rq *q)
{
    if (q->closed)
        return;
    q->closed = true;
    uv_close((uv_handle_t *)&q->tcp, on_closed);
}

/* Looks for pat in what came so far (the kept tail, then this piece). */
static bool seen(struct rq *q, const char *at, size_t n, const char *pat)
{
    size_t k = strlen(pat);
    char win[sizeof(q->tail) * 2];
    size_t head = n < k ? n : k;
    memcpy(win, q->tail, q->ntail);
    memcpy(win + q->ntail, at, head);
    if (memmem(win, q->ntail + head, pat, k))
        return true;
    return memmem(at, n, pat, k) != NULL;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct rq *q = p->data;
    if (!q->first_seen && seen(q, at, n, "data: {")) {
        q->first_seen = true;
        q->t_first = uv_hrtime();
    }
    if (!q->done_seen && seen(q, at, n, "data: [DONE]"))
        q->done_seen = true;
    /* Keep the last bytes for a pattern cut between two reads. */
    if (n >= sizeof(q->tail)) {
        memcpy(q->tail, at + n - sizeof(q->tail), sizeof(q->tail));
        q->ntail = sizeof(q->tail);
    } else {
        size_t keep = sizeof(q->tail) - n < q->ntail ? sizeof(q->tail) - n : q->ntail;
        memmove(q->tail, q->tail + q->ntail - keep, keep);
        memcpy(q->tail + keep, at, n);
        q->ntail = keep + n;
    }
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct rq *q = p->data;
    q->complete = true;
    q->t_end = uv_hrtime();
    return 0;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    *b = uv_buf_init(rbuf, sizeof(rbuf));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct rq *q = s->data;
    if (n < 0) {
        /* EOF ends a body without a length; an error ends the request. */
        if (n == UV_EOF && !q->complete)
            http_parser_execute(&q->parser, &ps, NULL, 0);
        rq_close(q);
        return;
    }
    size_t k = http_parser_execute(&q->parser, &ps, b->base, (size_t)n);
    if (q->complete || q->parser.http_errno != HPE_OK || k != (size_t)n)
        rq_close(q);
}

static void on_connect(uv_connect_t *c, int status)
{
    struct rq *q = c->data;
    if (status < 0) {
        rq_close(q);
        return;
    }
    uv_buf_t b = uv_buf_init(req_text, (unsigned)req_len);
    if (uv_try_write((uv_stream_t *)&q->tcp, &b, 1) != (int)req_len) {
        rq_close(q);
        return;
    }
    uv_read_start((uv_stream_t *)&q->tcp, on_alloc, on_read);
}

static struct rq *reqs;
static long n_req;

static void on_deadline(uv_timer_t *t)
{
    for (long i = 0; i < n_req; i++)
        rq_close(&reqs[i]);
}

static bool rq_ok(const struct rq *q)
{
    return q->complete && q->first_seen && q->done_seen && q->parser.status_code == 200;
}

/* The ok requests' times to the first chunk (or to the end), in ms. */
static void print_times(bool to_end)
{
    const char *sep = "";
    putchar('[');
    for (long i = 0; i < n_req; i++) {
        const struct rq *q = &reqs[i];
        if (rq_ok(q)) {
            printf("%s%.3f", sep, (double)((to_end ? q->t_end : q->t_first) - q->t0) / 1e6);
            sep = ",";
        }
    }
    putchar(']');
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: streams_client PORT N [MODEL=bench] [TIMEOUT_S=120]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    n_req = atol(argv[2]);
    const char *model = argc > 3 ? argv[3] : "bench";
    long timeout_s = argc > 4 ? atol(argv[4]) : 120;
    if (port <= 0 || port > 65535 || n_req <= 0 || timeout_s <= 0 || strlen(model) > 100 ||
        strpbrk(model, "\"\\")) {
        fprintf(stderr, "streams_client: bad arguments\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    char body[256];
    int nb = snprintf(body, sizeof(body), "{\"model\":\"%s\",\"stream\":true,\"messages\":[]}", model);
    req_len = (size_t)snprintf(req_text, sizeof(req_text),
                               "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                               "Content-Type: application/json\r\nContent-Length: %d\r\n"
                               "Connection: close\r\n\r\n%s",
                               port, nb, body);
    loop = uv_default_loop();
    ps.on_body = on_body;
    ps.on_message_complete = on_message_complete;
    reqs = calloc((size_t)n_req, sizeof(*reqs));
    if (!reqs)
        return 1;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    uv_timer_init(loop, &deadline);
    uv_timer_start(&deadline, on_deadline, (uint64_t)timeout_s * 1000, 0);
    for (long i = 0; i < n_req; i++) {
        struct rq *q = &reqs[i];
        uv_tcp_init(loop, &q->tcp);
        open_count++;
        q->tcp.data = q->conn.data = q->parser.data = q;
        http_parser_init(&q->parser, HTTP_RESPONSE);
        q->parser.data = q;
        uv_tcp_nodelay(&q->tcp, 1);
        q->t0 = uv_hrtime();
        if (uv_tcp_connect(&q->conn, &q->tcp, (const struct sockaddr *)&addr, on_connect) < 0)
            rq_close(q);
    }
    uv_run(loop, UV_RUN_DEFAULT);

    long ok = 0;
    for (long i = 0; i < n_req; i++)
        ok += rq_ok(&reqs[i]);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                 (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
    printf("{\"n\":%ld,\"ok\":%ld,\"cpu_ms\":%.0f,\"first\":", n_req, ok, cpu);
    print_times(false);
    printf(",\"total\":");
    print_times(true);
    printf("}\n");
    free(reqs);
    return 0;
}
