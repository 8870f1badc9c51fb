/*
 * Unit tests for net/http.c: how a stream's bytes reach the socket.
 *
 * A stream's head, chunks and end are held until the callbacks of the
 * loop turn are done, then written in one system call: the head goes out
 * with the first chunk, and a last chunk with the end. The client here is
 * a plain socket in the test's own thread; the loop is run one turn at a
 * time between its reads. The number of TCP segments that carried data to
 * it (tcpi_data_segs_in) shows how many writes the server made: on
 * loopback with TCP_NODELAY each small write is a segment of its own.
 * Also: a head written alone still goes out in its turn; a stream cut
 * (end not ok) delivers what was held, then closes; a client gone with
 * bytes held frees them (the ASan build runs this too).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "lib/buf.h"
#include "lib/clock.h"
#include "net/http.h"

enum mode {
    BEGIN_AND_WRITE, /* head and a first chunk in the handler */
    BEGIN_ONLY,      /* the head alone */
    CUT,             /* head, a chunk, then end(false) */
    PRODUCER,        /* 100 KiB chunks while below the high-water mark, on on_drain */
};

#define PIECE (100 * 1024)
#define PIECES 8

struct fixture {
    uv_loop_t loop;
    uv_timer_t tick;
    struct http_server *srv;
    enum mode mode;
    struct http_req *req;   /* the request being answered, until closed */
    int handled, closed;
    bool aborted;
    int fd;                 /* the client's socket */
    char got[8192];
    size_t ngot;
    bool eof;
    int pieces, drains;     /* PRODUCER: chunks written, drain callbacks */
    char *got_big;          /* PRODUCER: what the client read */
    size_t nbig;
};

static void on_close(struct http_req *r, bool aborted, void *owner)
{
    struct fixture *f = owner;
    f->closed++;
    f->aborted = aborted;
    f->req = NULL;
}

/* Writes chunks until the output is above the high-water mark, as the
 * gateway's relay does, and the end after the last. */
static void produce(struct fixture *f)
{
    static char piece[PIECE];
    memset(piece, 'x', sizeof(piece));
    while (f->pieces < PIECES && http_stream_pending(f->req) < HTTP_STREAM_HIGH_WATER) {
        http_stream_write(f->req, piece, sizeof(piece));
        f->pieces++;
    }
    if (f->pieces == PIECES)
        http_stream_end(f->req, true);
}

static void on_drain(struct http_req *r, void *owner)
{
    struct fixture *f = owner;
    f->drains++;
    produce(f);
}

static void handler(struct http_req *r, void *arg)
{
    struct fixture *f = arg;
    f->handled++;
    f->req = r;
    http_req_set_owner(r, f, on_close, on_drain);
    if (f->mode == PRODUCER) {
        http_stream_begin(r, 200, "application/octet-stream");
        produce(f);
        return;
    }
    http_stream_begin(r, 200, "text/event-stream");
    if (f->mode == BEGIN_ONLY)
        return;
    http_stream_write(r, "data: 1\n\n", 9);
    if (f->mode == CUT)
        http_stream_end(r, false);
}

static void tick_cb(uv_timer_t *t)
{
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    uv_loop_init(&f->loop);
    uv_timer_init(&f->loop, &f->tick);
    uv_timer_start(&f->tick, tick_cb, 20, 20);
    struct http_limits lim = {0};
    struct buf err = BUF_INIT;
    f->srv = http_server_new(&f->loop, "127.0.0.1", 0, &lim, handler, f, &err);
    assert_non_null(f->srv);
    buf_release(&err);
    f->fd = -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->fd >= 0)
        close(f->fd);
    http_server_free(f->srv);
    uv_close((uv_handle_t *)&f->tick, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
    return 0;
}

/* Connects and sends a streaming request (the loop accepts it later). */
static void send_request(struct fixture *f)
{
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(f->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)http_server_port(f->srv)),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    static const char req[] = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                              "Content-Length: 2\r\n\r\n{}";
    assert_int_equal(write(f->fd, req, sizeof(req) - 1), (ssize_t)(sizeof(req) - 1));
    fcntl(f->fd, F_SETFL, fcntl(f->fd, F_GETFL) | O_NONBLOCK);
}

/* The kernel's struct tcp_info goes on past glibc's (linux/tcp.h, which
 * cannot be included beside netinet/tcp.h): the fields up to
 * tcpi_data_segs_in (Linux 4.6). */
struct tcp_info_more {
    struct tcp_info glibc;
    uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
    uint32_t segs_out, segs_in, notsent_bytes, min_rtt, data_segs_in, data_segs_out;
};
_Static_assert(offsetof(struct tcp_info_more, pacing_rate) == 104, "kernel layout");

/* Segments with data that reached the client so far. */
static unsigned data_segs_in(const struct fixture *f)
{
    struct tcp_info_more ti;
    socklen_t len = sizeof(ti);
    memset(&ti, 0, sizeof(ti));
    assert_int_equal(getsockopt(f->fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
    assert_true(len >= offsetof(struct tcp_info_more, data_segs_out));
    return ti.data_segs_in;
}

static void read_some(struct fixture *f)
{
    for (;;) {
        ssize_t n = recv(f->fd, f->got + f->ngot, sizeof(f->got) - 1 - f->ngot, 0);
        if (n > 0) {
            f->ngot += (size_t)n;
            f->got[f->ngot] = 0;
            continue;
        }
        if (n == 0)
            f->eof = true;
        else
            assert_true(errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNRESET);
        return;
    }
}

/* Runs loop turns and reads until the client has text (or EOF, with
 * text NULL), within 5 s. */
static void pump_until(struct fixture *f, const char *text)
{
    uint64_t deadline = clock_mono_ms() + 5000;
    while (clock_mono_ms() < deadline) {
        read_some(f);
        if (text ? strstr(f->got, text) != NULL : f->eof)
            return;
        uv_run(&f->loop, UV_RUN_ONCE);
    }
    fail_msg("the client did not get %s within 5 s; it has: %s", text ? text : "EOF", f->got);
}

/* Runs loop turns until the server has closed the connection, within 5 s. */
static void run_until_closed(struct fixture *f)
{
    uint64_t deadline = clock_mono_ms() + 5000;
    while (!f->closed && clock_mono_ms() < deadline)
        uv_run(&f->loop, UV_RUN_ONCE);
    if (!f->closed)
        fail_msg("the server did not close the connection within 5 s");
}

static const char *body_of(const struct fixture *f)
{
    const char *b = strstr(f->got, "\r\n\r\n");
    assert_non_null(b);
    return b + 4;
}

/* The head comes with the first chunk, the last chunk with the end: one
 * segment each. */
static void test_stream_head_with_first_chunk(void **state)
{
    struct fixture *f = *state;
    f->mode = BEGIN_AND_WRITE;
    send_request(f);
    pump_until(f, "data: 1\n\n\r\n");
    assert_int_equal(f->handled, 1);
    assert_non_null(strstr(f->got, "HTTP/1.1 200"));
    assert_non_null(strstr(f->got, "Transfer-Encoding: chunked\r\n"));
    assert_string_equal(body_of(f), "9\r\ndata: 1\n\n\r\n");
    assert_int_equal(data_segs_in(f), 1);

    /* Later, from outside any callback of this request: a chunk and the end. */
    http_stream_write(f->req, "data: 2\n\n", 9);
    http_stream_end(f->req, true);
    pump_until(f, "0\r\n\r\n");
    assert_string_equal(body_of(f), "9\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n0\r\n\r\n");
    assert_int_equal(data_segs_in(f), 2);
    run_until_closed(f);
    assert_false(f->aborted);
}

/* A head with nothing after it still goes out in its loop turn. */
static void test_stream_head_alone(void **state)
{
    struct fixture *f = *state;
    f->mode = BEGIN_ONLY;
    send_request(f);
    pump_until(f, "\r\n\r\n");
    assert_string_equal(body_of(f), "");
    assert_int_equal(data_segs_in(f), 1);
    http_stream_end(f->req, true);
    pump_until(f, "0\r\n\r\n");
    assert_string_equal(body_of(f), "0\r\n\r\n");
}

/* A stream cut at once: the held head and chunk go out, then the close,
 * without an end of stream. */
static void test_stream_cut_sends_held_bytes(void **state)
{
    struct fixture *f = *state;
    f->mode = CUT;
    send_request(f);
    pump_until(f, NULL);
    assert_string_equal(body_of(f), "9\r\ndata: 1\n\n\r\n");
    assert_int_equal(f->closed, 1);
    assert_true(f->aborted);
}

/* The client goes away while its bytes are held: nothing is written to
 * the dead connection and nothing leaks. */
static void test_client_gone_with_bytes_held(void **state)
{
    struct fixture *f = *state;
    f->mode = BEGIN_ONLY;
    send_request(f);
    pump_until(f, "\r\n\r\n");
    http_stream_write(f->req, "data: 1\n\n", 9); /* held until the turn's end */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(f->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(f->fd); /* a reset */
    f->fd = -1;
    run_until_closed(f);
    assert_int_equal(f->closed, 1);
    assert_true(f->aborted);
}

/* A producer that stops above the high-water mark hears on_drain and
 * finishes, also when the bytes held in one turn pass the mark and the
 * socket takes them all at once (then no write of libuv's completes). */
static void test_stream_back_pressure(void **state)
{
    struct fixture *f = *state;
    f->mode = PRODUCER;
    send_request(f);
    f->got_big = malloc(PIECE * PIECES + 65536);
    assert_non_null(f->got_big);
    uint64_t deadline = clock_mono_ms() + 10000;
    bool eof = false;
    while (!eof && clock_mono_ms() < deadline) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        for (;;) {
            ssize_t n = recv(f->fd, f->got_big + f->nbig, PIECE * PIECES + 65536 - f->nbig, 0);
            if (n > 0) {
                f->nbig += (size_t)n;
                continue;
            }
            eof = n == 0 || memmem(f->got_big, f->nbig, "\r\n0\r\n\r\n", 7);
            break;
        }
    }
    assert_true(eof);
    assert_int_equal(f->pieces, PIECES);
    assert_true(f->drains >= 1);
    /* Head, then PIECES chunks of PIECE bytes of 'x', then the end. */
    const char *b = memmem(f->got_big, f->nbig, "\r\n\r\n", 4);
    assert_non_null(b);
    b += 4;
    size_t xs = 0;
    for (const char *p = b; p < f->got_big + f->nbig; p++)
        xs += *p == 'x';
    assert_int_equal(xs, (size_t)PIECE * PIECES);
    free(f->got_big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stream_head_with_first_chunk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_head_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_cut_sends_held_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_gone_with_bytes_held, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_back_pressure, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
