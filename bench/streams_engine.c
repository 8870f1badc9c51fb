/* SPDX-License-Identifier: MIT */
/*
 * bench/streams_engine: an OpenAI-compatible engine for the concurrency
 * benchmark (bench/streams.mjs), on one libuv loop thread.
 *
 *   streams_engine --port P [--chunks N] [--chunk-delay MS] [--model NAME]
 *
 * Every POST to /v1/chat/completions or /v1/completions with "stream":
 * true is answered at once with the head and the first chunk; the other
 * N - 1 chunks follow DELAY ms apart (one libuv timer per connection),
 * then a last chunk with finish_reason "stop" and "data: [DONE]". Without
 * "stream" the answer is one JSON completion. GET /health and /v1/models
 * answer as llama-server does; anything else is a 404.
 *
 * Why not tests/fakes/fake-engine: that one answers each connection on a
 * thread of its own (libmicrohttpd, so that a response can sleep and
 * misbehave on demand). At 1,000 concurrent streams its threads spend about
 * 75 us of CPU a chunk, 1.5-1.7 CPU-s a round, more than hermod and the
 * client together on a 2-core machine; the first chunks then wait for a
 * core, and the benchmark measures the engine's scheduling, not the relay.
 * An engine such as llama-server runs its HTTP side on a few threads. This
 * one does no inference and does not misbehave: it is only for load.
 *
 * Requests are parsed by Debian's http-parser, bodies by jansson. Writes
 * go out with uv_try_write; what the socket does not take is queued with
 * uv_write. Keep-alive as the client asks.
 */
#include <getopt.h>
#include <http_parser.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#define BODY_MAX (1024 * 1024)

static struct {
    int port;
    long chunks, delay_ms;
    const char *model;
} opt = {.chunks = 20, .delay_ms = 50, .model = "bench"};

enum conn_state { C_READING, C_STREAMING, C_CLOSING };

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    http_parser parser;
    enum conn_state state;
    int handles;            /* open libuv handles; freed at 0 */
    char url[128];
    size_t nurl;
    char *body;
    size_t nbody, cap;
    bool too_big;
    bool keep_alive;
    bool chat;              /* chat.completion.chunk, else text_completion */
    long sent;              /* stream chunks sent */
};

struct wreq {
    uv_write_t w;
    struct conn *c;
    char data[];
};

static uv_loop_t *loop;
static http_parser_settings ps;
static char rbuf[64 * 1024];

static void on_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    if (--c->handles == 0) {
        free(c->body);
        free(c);
    }
}

static void conn_close(struct conn *c)
{
    if (c->state == C_CLOSING)
        return;
    c->state = C_CLOSING;
    uv_close((uv_handle_t *)&c->timer, on_closed);
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_shutdown(uv_shutdown_t *s, int status)
{
    struct conn *c = s->data;
    free(s);
    conn_close(c);
}

/* After a response: close (the client asked to) or read the next request. */
static void response_done(struct conn *c)
{
    if (c->keep_alive) {
        c->state = C_READING;
        return;
    }
    uv_shutdown_t *s = malloc(sizeof(*s));
    if (!s || uv_shutdown(s, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        free(s);
        conn_close(c);
        return;
    }
    s->data = c;
}

static void on_written(uv_write_t *w, int status)
{
    struct wreq *r = (struct wreq *)w;
    if (status < 0)
        conn_close(r->c);
    free(r);
}

static void send_bytes(struct conn *c, char *p, size_t n)
{
    if (c->state == C_CLOSING)
        return;
    size_t done = 0;
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0) {
        uv_buf_t b = uv_buf_init(p, (unsigned)n);
        int rc = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (rc >= 0)
            done = (size_t)rc;
        else if (rc != UV_EAGAIN) {
            conn_close(c);
            return;
        }
    }
    if (done == n)
        return;
    struct wreq *r = malloc(sizeof(*r) + n - done);
    if (!r) {
        conn_close(c);
        return;
    }
    r->c = c;
    memcpy(r->data, p + done, n - done);
    uv_buf_t b = uv_buf_init(r->data, (unsigned)(n - done));
    if (uv_write(&r->w, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) {
        free(r);
        conn_close(c);
    }
}

static void send_simple(struct conn *c, int status, const char *reason, const char *ctype,
                        const char *body)
{
    char buf[2048];
    int n = snprintf(buf, sizeof(buf),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n%s",
                     status, reason, ctype, strlen(body),
                     c->keep_alive ? "" : "Connection: close\r\n", body);
    send_bytes(c, buf, n > 0 && (size_t)n < sizeof(buf) ? (size_t)n : 0);
    response_done(c);
}

/* One SSE event in HTTP/1.1 chunked framing, appended at p: chunk i of the
 * stream, or (i == opt.chunks) the last, with finish_reason and [DONE]. */
static size_t put_event(char *p, size_t room, const struct conn *c, long i)
{
    bool last = i >= opt.chunks;
    char text[32] = "";
    if (!last)
        snprintf(text, sizeof(text), "tok%ld ", i);
    char choice[96];
    if (c->chat && last)
        snprintf(choice, sizeof(choice), "\"delta\":{}");
    else if (c->chat)
        snprintf(choice, sizeof(choice), "\"delta\":{\"content\":\"%s\"}", text);
    else
        snprintf(choice, sizeof(choice), "\"text\":\"%s\"", text);
    char ev[512];
    int n = snprintf(ev, sizeof(ev),
                     "data: {\"id\":\"cmpl-bench\",\"object\":\"%s\",\"created\":1700000000,"
                     "\"model\":\"%s\",\"choices\":[{\"index\":0,%s,\"finish_reason\":%s}]}\n\n%s",
                     c->chat ? "chat.completion.chunk" : "text_completion", opt.model, choice,
                     last ? "\"stop\"" : "null", last ? "data: [DONE]\n\n" : "");
    if (n <= 0 || (size_t)n >= sizeof(ev))
        return 0;
    int m = snprintf(p, room, "%x\r\n%s\r\n%s", (unsigned)n, ev, last ? "0\r\n\r\n" : "");
    return m > 0 && (size_t)m < room ? (size_t)m : 0;
}

static void on_tick(uv_timer_t *t)
{
    struct conn *c = t->data;
    if (c->state != C_STREAMING)
        return;
    char buf[1024];
    size_t n = put_event(buf, sizeof(buf), c, c->sent);
    send_bytes(c, buf, n);
    if (c->sent++ >= opt.chunks) {
        uv_timer_stop(&c->timer);
        response_done(c);
    }
}

static void answer_completion(struct conn *c)
{
    json_t *j = json_loadb(c->body ? c->body : "", c->nbody, 0, NULL);
    bool stream = j && json_is_true(json_object_get(j, "stream"));
    json_decref(j);
    if (!j) {
        send_simple(c, 400, "Bad Request", "application/json",
                    "{\"error\":{\"message\":\"body is not JSON\",\"type\":\"invalid_request_error\"}}");
        return;
    }
    if (!stream) {
        char body[512];
        snprintf(body, sizeof(body),
                 c->chat ? "{\"id\":\"cmpl-bench\",\"object\":\"chat.completion\",\"created\":"
                           "1700000000,\"model\":\"%s\",\"choices\":[{\"index\":0,\"message\":"
                           "{\"role\":\"assistant\",\"content\":\"tok0\"},\"finish_reason\":"
                           "\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,"
                           "\"total_tokens\":4}}"
                         : "{\"id\":\"cmpl-bench\",\"object\":\"text_completion\",\"created\":"
                           "1700000000,\"model\":\"%s\",\"choices\":[{\"index\":0,\"text\":"
                           "\"tok0\",\"finish_reason\":\"stop\"}]}",
                 opt.model);
        send_simple(c, 200, "OK", "application/json", body);
        return;
    }
    char buf[2048];
    int h = snprintf(buf, sizeof(buf),
                     "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     "Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n%s\r\n",
                     c->keep_alive ? "" : "Connection: close\r\n");
    c->state = C_STREAMING;
    c->sent = 0;
    size_t n = (size_t)h + put_event(buf + h, sizeof(buf) - (size_t)h, c, c->sent++);
    send_bytes(c, buf, n);
    if (c->state == C_STREAMING)
        uv_timer_start(&c->timer, on_tick, (uint64_t)opt.delay_ms, (uint64_t)opt.delay_ms);
}

static int on_message_begin(http_parser *p)
{
    struct conn *c = p->data;
    c->nurl = 0;
    c->nbody = 0;
    c->too_big = false;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct conn *c = p->data;
    size_t k = n < sizeof(c->url) - 1 - c->nurl ? n : sizeof(c->url) - 1 - c->nurl;
    memcpy(c->url + c->nurl, at, k);
    c->nurl += k;
    c->url[c->nurl] = 0;
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct conn *c = p->data;
    if (c->nbody + n > BODY_MAX) {
        c->too_big = true;
        return 0;
    }
    if (c->nbody + n > c->cap) {
        size_t cap = c->cap ? c->cap : 1024;
        while (cap < c->nbody + n)
            cap *= 2;
        char *b = realloc(c->body, cap);
        if (!b)
            return -1;
        c->body = b;
        c->cap = cap;
    }
    memcpy(c->body + c->nbody, at, n);
    c->nbody += n;
    return 0;
}

static int on_message_complete(http_parser *p)
{
    struct conn *c = p->data;
    if (c->state != C_READING)
        return -1;          /* pipelined while streaming: not for this engine */
    c->keep_alive = http_should_keep_alive(p);
    bool post = p->method == HTTP_POST;
    if (c->too_big)
        send_simple(c, 413, "Payload Too Large", "application/json",
                    "{\"error\":{\"message\":\"body too large\",\"type\":\"invalid_request_error\"}}");
    else if (!post && strcmp(c->url, "/health") == 0)
        send_simple(c, 200, "OK", "application/json", "{\"status\":\"ok\"}");
    else if (!post && strcmp(c->url, "/v1/models") == 0) {
        char body[256];
        snprintf(body, sizeof(body),
                 "{\"object\":\"list\",\"data\":[{\"id\":\"%s\",\"object\":\"model\"}]}", opt.model);
        send_simple(c, 200, "OK", "application/json", body);
    } else if (post && (strcmp(c->url, "/v1/chat/completions") == 0 ||
                        strcmp(c->url, "/v1/completions") == 0)) {
        c->chat = strcmp(c->url, "/v1/chat/completions") == 0;
        answer_completion(c);
    } else
        send_simple(c, 404, "Not Found", "application/json",
                    "{\"error\":{\"message\":\"no such endpoint\",\"type\":\"not_found_error\"}}");
    return 0;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    *b = uv_buf_init(rbuf, sizeof(rbuf));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = s->data;
    if (n < 0) {
        conn_close(c);
        return;
    }
    size_t k = http_parser_execute(&c->parser, &ps, b->base, (size_t)n);
    if (c->parser.http_errno != HPE_OK || k != (size_t)n)
        conn_close(c);
}

static void on_connection(uv_stream_t *srv, int status)
{
    if (status < 0)
        return;
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        return;
    uv_tcp_init(loop, &c->tcp);
    uv_timer_init(loop, &c->timer);
    c->handles = 2;
    c->tcp.data = c->timer.data = c;
    c->parser.data = c;
    http_parser_init(&c->parser, HTTP_REQUEST);
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_signal(uv_signal_t *s, int sig)
{
    uv_stop(loop);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: streams_engine --port P [--chunks N] [--chunk-delay MS] [--model NAME]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"port", required_argument, 0, 'p'},        {"chunks", required_argument, 0, 'n'},
        {"chunk-delay", required_argument, 0, 'd'}, {"model", required_argument, 0, 'm'},
        {"alias", required_argument, 0, 'm'},       {0, 0, 0, 0},
    };
    for (int ch; (ch = getopt_long(argc, argv, "", lo, NULL)) != -1;) {
        char *end = NULL;
        switch (ch) {
        case 'p': opt.port = (int)strtol(optarg, &end, 10); break;
        case 'n': opt.chunks = strtol(optarg, &end, 10); break;
        case 'd': opt.delay_ms = strtol(optarg, &end, 10); break;
        case 'm': opt.model = optarg; break;
        default: usage();
        }
        if (end && *end)
            usage();
    }
    if (opt.port <= 0 || opt.port > 65535 || opt.chunks < 1 || opt.delay_ms < 0 ||
        strlen(opt.model) > 100 || strpbrk(opt.model, "\"\\"))
        usage();
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    loop = uv_default_loop();
    ps.on_message_begin = on_message_begin;
    ps.on_url = on_url;
    ps.on_body = on_body;
    ps.on_message_complete = on_message_complete;

    uv_tcp_t srv;
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", opt.port, &addr);
    uv_tcp_init(loop, &srv);
    int rc = uv_tcp_bind(&srv, (const struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv, 4096, on_connection);
    if (rc < 0) {
        fprintf(stderr, "streams_engine: port %d: %s\n", opt.port, uv_strerror(rc));
        return 1;
    }
    uv_signal_t sig_term, sig_int;
    uv_signal_init(loop, &sig_term);
    uv_signal_init(loop, &sig_int);
    uv_signal_start(&sig_term, on_signal, SIGTERM);
    uv_signal_start(&sig_int, on_signal, SIGINT);
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
