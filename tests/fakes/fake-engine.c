/* SPDX-License-Identifier: MIT */
/*
 * fake-engine: a small OpenAI-compatible inference server that misbehaves
 * on demand. The tests start it through hermod, as they would llama-server.
 *
 * It speaks HTTP through libmicrohttpd (thread per connection, so a
 * response can sleep between chunks) and JSON through jansson. It answers
 * /health, /v1/models, /v1/chat/completions, /v1/completions and
 * /v1/embeddings. What it does and when is set by flags (see usage()), and
 * it writes what happened to it, one event per line, to --record FILE, so a
 * test can check, for instance, that its connection was closed mid-stream.
 *
 * It also accepts (and ignores) llama-server's usual flags, so it can stand
 * in for llama-server in a config; -m FILE must name a readable file.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <jpeglib.h>
#include <nettle/base64.h>
#include <setjmp.h>

static struct {
    int port;
    const char *host;
    const char *model;
    const char *record;
    const char *content;
    const char *model_file;
    const char *content_file;   /* answers, one per line, used in turn */
    const char *finish;         /* finish_reason of non-streamed answers */
    long listen_delay_ms, load_delay_ms, chunk_delay_ms, first_delay_ms;
    long chunks;
    int fail_start;         /* exit code, 0 = off */
    long crash_after;       /* chunks, -1 = off */
    long exit_delay_ms;     /* a crash closes every socket, then exits this much later */
    long hang_after;        /* chunks, -1 = off */
    bool hang;              /* never answer completions */
    int status;             /* answer completions with this status */
    bool garbage;           /* answer 200 with a body that is not JSON */
    bool no_done;           /* end streams without [DONE] */
    bool split_writes;      /* each stream chunk in two writes (the usage line cut in two) */
    bool close_after_stream;
    bool drop_reused;       /* drop the 2nd request on a connection unanswered */
    bool json_stream;       /* answer stream requests with plain JSON */
    long alloc_mb;
    long fail_after;        /* fail (status 500) after this many requests, -1 = off */
    long fail_first;        /* fail (status 503) the first N requests */
    long ignore_sigterm;
    int embed_dim;
    long record_every;      /* record every Nth chunk */
    long report_mib;        /* print llama-server's load report for this size */
    bool bench;             /* put the send time (CLOCK_MONOTONIC ns) in each chunk */
    bool look;              /* decode the images of a request and record what they show */
    long ollama_mib;        /* serve Ollama's /api/tags and /api/ps for a model of this size */
    long ollama_keep_ms;    /* ... which /api/ps shows loaded this long after a request */
    const char *save;       /* write each audio request's body to this file */
    const char *save_json;  /* write each completion request's body to this file */
    long speech_bytes;      /* size of a /v1/audio/speech answer */
    long huge_headers;      /* answer completions with a header this many bytes long */
    const char *wrong_model;/* answer completions naming this model */
    bool garbage_bytes;     /* answer completions with bytes that are not HTTP */
    bool hang_mid_body;     /* non-streamed: send half the JSON body, then hang */
} opt = {
    .host = "127.0.0.1", .model = "fake-model", .chunks = 5, .crash_after = -1,
    .hang_after = -1, .fail_after = -1, .embed_dim = 8, .record_every = 1,
    .speech_bytes = 4096,
};

static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static long requests;
static long long last_request_ms; /* since start; 0 = none yet */

__attribute__((format(printf, 1, 2))) static void record(const char *fmt, ...)
{
    if (!opt.record)
        return;
    pthread_mutex_lock(&rec_lock);
    FILE *f = fopen(opt.record, "a");
    if (f) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        fprintf(f, "%lld.%03ld ", (long long)ts.tv_sec, ts.tv_nsec / 1000000);
        va_list ap;
        va_start(ap, fmt);
        vfprintf(f, fmt, ap);
        va_end(ap);
        fputc('\n', f);
        fclose(f);
    }
    pthread_mutex_unlock(&rec_lock);
}

static void msleep(long ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct timespec started;

static long since_start_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - started.tv_sec) * 1000 + (now.tv_nsec - started.tv_nsec) / 1000000;
}

/* ---- per-request state ----------------------------------------------------------- */

enum kind { K_CHAT, K_COMPLETION, K_EMBED, K_OTHER };

struct req {
    char *body;
    size_t len;
    size_t cap;
    enum kind kind;
    bool stream;
    char model[256];
    long sent;              /* chunks sent */
    bool done_sent;
    bool base64;            /* embeddings: encoding_format base64 */
    bool usage;             /* stream_options.include_usage: a usage chunk at the end */
    char pend[8192];        /* --split-writes: the second part of the last chunk */
    size_t npend;
    int fd;
    long id;
};

struct conn {
    long requests;
};

static enum MHD_Result reply(struct MHD_Connection *c, int status, const char *ctype,
                             const char *body)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", ctype);
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

/* FNV-1a over a body, so a test can compare what arrived with what it sent. */
static unsigned long long fnv1a(const char *p, size_t n)
{
    unsigned long long h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* /v1/audio/transcriptions and /translations, as Whisper servers answer:
 * the form arrives untouched; we keep it for the test to compare. */
static enum MHD_Result audio_in(struct MHD_Connection *c, struct req *q, const char *url)
{
    __atomic_add_fetch(&requests, 1, __ATOMIC_SEQ_CST);
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    record("audio url=%s bytes=%zu fnv=%llx ct=%s", url, q->len,
           fnv1a(q->body ? q->body : "", q->len), ct ? ct : "-");
    if (opt.save) {
        FILE *f = fopen(opt.save, "wb");
        if (f) {
            fwrite(q->body ? q->body : "", 1, q->len, f);
            fclose(f);
        }
    }
    char b[256];
    snprintf(b, sizeof(b), "{\"text\":\"naanu nale barthini\",\"model\":\"%s\"}", opt.model);
    return reply(c, 200, "application/json", b);
}

/* /v1/audio/speech: speech_bytes of audio/mpeg, the same bytes every time. */
static enum MHD_Result audio_out(struct MHD_Connection *c, struct req *q)
{
    __atomic_add_fetch(&requests, 1, __ATOMIC_SEQ_CST);
    record("speech bytes=%zu", q->len);
    msleep(opt.first_delay_ms);
    size_t n = (size_t)opt.speech_bytes;
    char *b = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++)
        b[i] = (char)((i * 31 + 7) & 0xff);
    struct MHD_Response *r = MHD_create_response_from_buffer(n, b, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "audio/mpeg");
    enum MHD_Result rc = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return rc;
}

static char *chunk_json(struct req *q, long i, bool last)
{
    char word[128];
    if (opt.bench)
        snprintf(word, sizeof(word), "t=%llu ", (unsigned long long)mono_ns());
    else if (opt.content)
        snprintf(word, sizeof(word), "%s", i == 0 ? opt.content : "");
    else
        snprintf(word, sizeof(word), "tok%ld ", i);
    json_t *choice;
    if (q->kind == K_COMPLETION)
        choice = json_pack("{s:i,s:s,s:o}", "index", 0, "text", last ? "" : word,
                           "finish_reason", last ? json_string("stop") : json_null());
    else
        choice = json_pack("{s:i,s:o,s:o}", "index", 0, "delta",
                           last ? json_object() : json_pack("{s:s}", "content", word),
                           "finish_reason", last ? json_string("stop") : json_null());
    json_t *j = json_pack("{s:s,s:s,s:i,s:s,s:[o]}", "id", "cmpl-fake", "object",
                          q->kind == K_COMPLETION ? "text_completion" : "chat.completion.chunk",
                          "created", 1700000000, "model", q->model, "choices", choice);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

/* Hangs until the client closes the connection (recorded), or forever. */
static void hang_here(struct req *q)
{
    record("hang id=%ld after=%ld", q->id, q->sent);
    for (;;) {
        msleep(10);
        char c;
        ssize_t n = recv(q->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            record("client-closed id=%ld during=hang", q->id);
            return;
        }
    }
}

/* The crash of --crash-after: with --exit-delay the sockets go first (the
 * port refuses at once) and the process ends later, as a dying process's
 * can (hermod then sees a refusal from an engine that still runs). */
static void crash_now(long id, long after)
{
    record("crash id=%ld after=%ld", id, after);
    if (opt.exit_delay_ms > 0) {
        for (int fd = 3; fd < 4096; fd++) {
            int type;
            socklen_t len = sizeof(type);
            if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0) {
                shutdown(fd, SHUT_RDWR);
                close(fd);
            }
        }
        msleep(opt.exit_delay_ms);
    }
    _exit(3);
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct req *q = cls;
    if (q->npend) {
        msleep(5);
        size_t k = q->npend < max ? q->npend : max;
        memcpy(buf, q->pend, k);
        memmove(q->pend, q->pend + k, q->npend - k);
        q->npend -= k;
        return (ssize_t)k;
    }
    if (q->done_sent)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (q->sent == 0)
        msleep(opt.first_delay_ms);
    else
        msleep(opt.chunk_delay_ms);
    if (opt.crash_after >= 0 && q->sent >= opt.crash_after)
        crash_now(q->id, q->sent);
    if (opt.hang_after >= 0 && q->sent >= opt.hang_after) {
        hang_here(q);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n;
    if (q->sent < opt.chunks) {
        char *j = chunk_json(q, q->sent, false);
        n = (size_t)snprintf(buf, max, "data: %s\n\n", j);
        free(j);
    } else if (q->sent == opt.chunks) {
        char *j = chunk_json(q, q->sent, true);
        char u[256] = "";
        if (q->usage)
            snprintf(u, sizeof(u),
                     "data: {\"id\":\"cmpl-fake\",\"object\":\"chat.completion.chunk\","
                     "\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":%ld,"
                     "\"total_tokens\":%ld}}\n\n",
                     opt.chunks, 3 + opt.chunks);
        if (opt.no_done)
            n = (size_t)snprintf(buf, max, "data: %s\n\n%s", j, u);
        else
            n = (size_t)snprintf(buf, max, "data: %s\n\n%sdata: [DONE]\n\n", j, u);
        free(j);
        q->done_sent = true;
    } else {
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    q->sent++;
    if (q->sent % opt.record_every == 0 || q->done_sent)
        record("chunk id=%ld n=%ld", q->id, q->sent);
    if (n > max)
        n = max;
    if (opt.split_writes && n > 1) {
        /* Cut inside the usage object when there is one, else in the middle. */
        const char *u = memmem(buf, n, "\"usage\"", 7);
        size_t cut = u ? (size_t)(u - buf) + 12 : n / 2;
        if (cut >= n)
            cut = n / 2;
        if (n - cut <= sizeof(q->pend)) {
            memcpy(q->pend, buf + cut, n - cut);
            q->npend = n - cut;
            n = cut;
        }
    }
    return (ssize_t)n;
}

static void completed_cb(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct req *q = *con_cls;
    if (!q)
        return;
    if (q->stream && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        record("client-closed id=%ld after=%ld toe=%d", q->id, q->sent, (int)toe);
    else
        record("done id=%ld sent=%ld toe=%d", q->id, q->sent, (int)toe);
    free(q->body);
    free(q);
    *con_cls = NULL;
}

static void conn_cb(void *cls, struct MHD_Connection *c, void **socket_context,
                    enum MHD_ConnectionNotificationCode code)
{
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        *socket_context = calloc(1, sizeof(struct conn));
    else {
        free(*socket_context);
        *socket_context = NULL;
    }
}

/* ---- --look: what a vision model would be shown ---------------------------------- */

struct jerr {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
};

static void jerr_exit(j_common_ptr ci)
{
    longjmp(((struct jerr *)(void *)ci->err)->jb, 1);
}

/* A colour name for the mean of a w x h block at (x, y). */
static const char *block_colour(const unsigned char *px, unsigned stride, unsigned x0,
                                unsigned y0, unsigned bw, unsigned bh)
{
    unsigned long r = 0, g = 0, b = 0, n = 0;
    for (unsigned y = y0; y < y0 + bh; y++)
        for (unsigned x = x0; x < x0 + bw; x++) {
            const unsigned char *p = px + (size_t)y * stride + x * 3;
            r += p[0];
            g += p[1];
            b += p[2];
            n++;
        }
    if (!n)
        return "none";
    r /= n;
    g /= n;
    b /= n;
    if (r > 150 && g < 100 && b < 100)
        return "red";
    if (g > 150 && r < 100 && b < 100)
        return "green";
    if (b > 150 && r < 100 && g < 100)
        return "blue";
    if (r > 200 && g > 200 && b > 200)
        return "white";
    if (r < 60 && g < 60 && b < 60)
        return "black";
    return "mixed";
}

/* RGB pixels of a JPEG (malloc'd), or NULL. */
static unsigned char *decode_jpeg(const uint8_t *raw, size_t len, unsigned *w, unsigned *h)
{
    struct jpeg_decompress_struct ci;
    struct jerr je;
    unsigned char *volatile px = NULL;
    ci.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = jerr_exit;
    if (setjmp(je.jb)) {
        jpeg_destroy_decompress(&ci);
        free(px);
        return NULL;
    }
    jpeg_create_decompress(&ci);
    jpeg_mem_src(&ci, raw, (unsigned long)len);
    jpeg_read_header(&ci, TRUE);
    ci.out_color_space = JCS_RGB;
    jpeg_start_decompress(&ci);
    unsigned stride = ci.output_width * 3;
    px = malloc((size_t)stride * ci.output_height);
    while (ci.output_scanline < ci.output_height) {
        JSAMPROW row = px + (size_t)ci.output_scanline * stride;
        jpeg_read_scanlines(&ci, &row, 1);
    }
    *w = ci.output_width;
    *h = ci.output_height;
    jpeg_finish_decompress(&ci);
    jpeg_destroy_decompress(&ci);
    return px;
}

/* Records, for each image of a chat request, its size, whether the JPEG
 * carries any APP1 segment (EXIF or XMP) and the colour of its corners. */
static void look_at_images(const json_t *body)
{
    const json_t *msgs = json_object_get(body, "messages"), *m, *part;
    size_t i, k, nimg = 0;
    json_array_foreach(msgs, i, m) {
        json_array_foreach(json_object_get(m, "content"), k, part) {
            const char *url = json_string_value(
                json_object_get(json_object_get(part, "image_url"), "url"));
            if (!url)
                continue;
            nimg++;
            const char *comma = strchr(url, ',');
            if (strncmp(url, "data:image/jpeg;base64,", 23) || !comma) {
                record("image n=%zu not-a-jpeg-data-url", nimg);
                continue;
            }
            const char *b64 = comma + 1;
            size_t n = strlen(b64), dl = BASE64_DECODE_LENGTH(n);
            uint8_t *raw = malloc(dl + 1);
            struct base64_decode_ctx ctx;
            base64_decode_init(&ctx);
            if (!base64_decode_update(&ctx, &dl, raw, n, b64) || !base64_decode_final(&ctx)) {
                record("image n=%zu bad-base64", nimg);
                free(raw);
                continue;
            }
            int app1 = 0;
            for (size_t o = 2; o + 4 <= dl && raw[o] == 0xff && raw[o + 1] != 0xda;) {
                if (raw[o + 1] == 0xe1)
                    app1 = 1;
                o += 2 + ((size_t)raw[o + 2] << 8 | raw[o + 3]);
            }
            unsigned w, h, stride;
            unsigned char *px = decode_jpeg(raw, dl, &w, &h);
            if (!px) {
                free(raw);
                record("image n=%zu bad-jpeg", nimg);
                continue;
            }
            stride = w * 3;
            unsigned bw = w / 8 ? w / 8 : 1, bh = h / 8 ? h / 8 : 1;
            record("image n=%zu w=%u h=%u bytes=%zu app1=%d tl=%s tr=%s bl=%s br=%s", nimg, w, h,
                   dl, app1, block_colour(px, stride, 0, 0, bw, bh),
                   block_colour(px, stride, w - bw, 0, bw, bh),
                   block_colour(px, stride, 0, h - bh, bw, bh),
                   block_colour(px, stride, w - bw, h - bh, bw, bh));
            free(px);
            free(raw);
        }
    }
}

/* Writes bytes straight to the connection's socket, past libmicrohttpd,
 * for answers no HTTP library would send (the fault matrix). */
static void raw_write(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* --garbage-bytes and --huge-headers: a raw answer, then the connection
 * is dropped (MHD_NO). */
static enum MHD_Result raw_answer(struct req *q)
{
    if (opt.garbage_bytes) {
        static const char junk[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all \r\n\r\n\xff\xfe";
        record("garbage-bytes id=%ld", q->id);
        raw_write(q->fd, junk, sizeof(junk) - 1);
    } else {
        size_t n = (size_t)opt.huge_headers;
        char *h = malloc(n + 256);
        int o = snprintf(h, 256, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Huge: ");
        memset(h + o, 'a', n);
        static const char tail[] = "\r\nContent-Length: 2\r\n\r\n{}";
        memcpy(h + o + n, tail, sizeof(tail) - 1);
        record("huge-headers id=%ld bytes=%zu", q->id, n);
        raw_write(q->fd, h, (size_t)o + n + sizeof(tail) - 1);
        free(h);
    }
    shutdown(q->fd, SHUT_WR);
    return MHD_NO;
}

/* --hang-mid-body: a JSON answer with its length, of which half is sent. */
struct half {
    struct req *q;
    char *s;
    size_t n;
};

static ssize_t half_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct half *hb = cls;
    if (pos >= hb->n / 2) {
        hang_here(hb->q);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = hb->n / 2 - (size_t)pos;
    if (n > max)
        n = max;
    memcpy(buf, hb->s + pos, n);
    hb->q->sent++;
    return (ssize_t)n;
}

static void half_free(void *cls)
{
    struct half *hb = cls;
    free(hb->s);
    free(hb);
}

static enum MHD_Result completion(struct MHD_Connection *c, struct req *q)
{
    long n = __atomic_add_fetch(&requests, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&last_request_ms, (long long)since_start_ms() + 1, __ATOMIC_SEQ_CST);
    q->id = n;
    json_error_t jerr;
    json_t *body = json_loadb(q->body ? q->body : "", q->len, 0, &jerr);
    if (!body)
        return reply(c, 400, "application/json",
                     "{\"error\":{\"message\":\"fake-engine: invalid JSON\",\"type\":\"invalid_request_error\"}}");
    const char *m = json_string_value(json_object_get(body, "model"));
    snprintf(q->model, sizeof(q->model), "%s", m ? m : "");
    q->stream = json_is_true(json_object_get(body, "stream")) && q->kind != K_EMBED;
    const char *ef = json_string_value(json_object_get(body, "encoding_format"));
    q->base64 = ef && !strcmp(ef, "base64");
    q->usage = json_is_true(json_object_get(json_object_get(body, "stream_options"),
                                            "include_usage"));
    if (opt.save_json) {
        FILE *f = fopen(opt.save_json, "wb");
        if (f) {
            fwrite(q->body ? q->body : "", 1, q->len, f);
            fclose(f);
        }
    }
    char keys[256] = "";
    const char *key;
    json_t *val;
    json_object_foreach(body, key, val)
    {
        size_t l = strlen(keys);
        snprintf(keys + l, sizeof(keys) - l, "%s%s", l ? "," : "", key);
    }
    record("request id=%ld kind=%d model=%s stream=%d bytes=%zu keys=%s", n, (int)q->kind,
           q->model, q->stream, q->len, keys);
    if (opt.look)
        look_at_images(body);
    json_decref(body);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    q->fd = ci ? ci->connect_fd : -1;

    if (opt.hang) {
        hang_here(q);
        return MHD_NO;
    }
    if (opt.garbage_bytes || opt.huge_headers > 0)
        return raw_answer(q);
    if (opt.wrong_model)
        snprintf(q->model, sizeof(q->model), "%s", opt.wrong_model);
    int status = opt.status;
    if (opt.fail_after >= 0 && n > opt.fail_after)
        status = 500;
    if (n <= opt.fail_first)
        status = 503;
    if (status && status != 200) {
        char b[256];
        snprintf(b, sizeof(b),
                 "{\"error\":{\"message\":\"fake-engine: told to fail with %d\",\"type\":\"server_error\"}}",
                 status);
        return reply(c, status, "application/json", b);
    }
    if (opt.garbage)
        return reply(c, 200, "application/json", "this is {not json");
    if (q->kind == K_EMBED) {
        json_t *vec;
        if (q->base64) {
            /* encoding_format "base64": little-endian float32s, base64'd */
            static const char b64[] =
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            unsigned char raw[4096];
            size_t nraw = 0;
            for (int i = 0; i < opt.embed_dim && nraw + 4 <= sizeof(raw); i++) {
                float f = (float)(i / 10.0);
                memcpy(raw + nraw, &f, 4);
                nraw += 4;
            }
            char enc[8192];
            size_t o = 0;
            for (size_t k = 0; k < nraw; k += 3) {
                unsigned v = (unsigned)raw[k] << 16 | (k + 1 < nraw ? raw[k + 1] : 0) << 8 |
                             (k + 2 < nraw ? raw[k + 2] : 0);
                enc[o++] = b64[v >> 18 & 63];
                enc[o++] = b64[v >> 12 & 63];
                enc[o++] = k + 1 < nraw ? b64[v >> 6 & 63] : '=';
                enc[o++] = k + 2 < nraw ? b64[v & 63] : '=';
            }
            enc[o] = '\0';
            vec = json_string(enc);
        } else {
            vec = json_array();
            for (int i = 0; i < opt.embed_dim; i++)
                json_array_append_new(vec, json_real(i / 10.0));
        }
        json_t *j = json_pack("{s:s,s:[{s:s,s:i,s:o}],s:s,s:{s:i,s:i}}", "object", "list",
                              "data", "object", "embedding", "index", 0, "embedding", vec,
                              "model", q->model, "usage", "prompt_tokens", 3, "total_tokens", 3);
        char *s = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        enum MHD_Result rc = reply(c, 200, "application/json", s);
        free(s);
        return rc;
    }
    if (q->stream && !opt.json_stream) {
        struct MHD_Response *r =
            MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_reader, q, NULL);
        MHD_add_response_header(r, "Content-Type", "text/event-stream");
        if (opt.close_after_stream)
            MHD_add_response_header(r, "Connection", "close");
        enum MHD_Result rc = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return rc;
    }
    msleep(opt.first_delay_ms);
    if (opt.crash_after == 0)
        crash_now(q->id, 0);
    char text[4096] = "";
    if (opt.content_file) {
        /* the (n-1)th line, cycling; "\n" in a line stands for a newline */
        FILE *cf = fopen(opt.content_file, "r");
        char line[4096];
        long count = 0, want;
        while (cf && fgets(line, sizeof(line), cf))
            count++;
        want = count ? (n - 1) % count : 0;
        if (cf)
            rewind(cf);
        for (long i = 0; cf && fgets(line, sizeof(line), cf); i++) {
            if (i != want)
                continue;
            line[strcspn(line, "\n")] = '\0';
            size_t o = 0;
            for (const char *ch = line; *ch && o + 1 < sizeof(text); ch++) {
                if (ch[0] == '\\' && ch[1] == 'n') {
                    text[o++] = '\n';
                    ch++;
                } else {
                    text[o++] = *ch;
                }
            }
            text[o] = '\0';
            break;
        }
        if (cf)
            fclose(cf);
    } else if (opt.content)
        snprintf(text, sizeof(text), "%s", opt.content);
    else
        for (long i = 0; i < opt.chunks && strlen(text) < sizeof(text) - 32; i++)
            snprintf(text + strlen(text), sizeof(text) - strlen(text), "tok%ld ", i);
    json_t *choice = q->kind == K_COMPLETION
                         ? json_pack("{s:i,s:s,s:s}", "index", 0, "text", text, "finish_reason",
                                     opt.finish ? opt.finish : "stop")
                         : json_pack("{s:i,s:{s:s,s:s},s:s}", "index", 0, "message", "role",
                                     "assistant", "content", text, "finish_reason",
                                     opt.finish ? opt.finish : "stop");
    json_t *j = json_pack("{s:s,s:s,s:i,s:s,s:[o],s:{s:i,s:i,s:i}}", "id", "cmpl-fake",
                          "object", q->kind == K_COMPLETION ? "text_completion" : "chat.completion",
                          "created", 1700000000, "model", q->model, "choices", choice, "usage",
                          "prompt_tokens", 3, "completion_tokens", (int)opt.chunks,
                          "total_tokens", 3 + (int)opt.chunks);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (opt.hang_mid_body) {
        struct half *hb = malloc(sizeof(*hb));
        *hb = (struct half){.q = q, .s = s, .n = strlen(s)};
        record("half-body id=%ld bytes=%zu", q->id, hb->n / 2);
        struct MHD_Response *r =
            MHD_create_response_from_callback(hb->n, 4096, half_reader, hb, half_free);
        MHD_add_response_header(r, "Content-Type", "application/json");
        enum MHD_Result rc = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return rc;
    }
    enum MHD_Result rc = reply(c, 200, "application/json", s);
    free(s);
    return rc;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls)
{
    struct req *q = *con_cls;
    if (!q) {
        q = calloc(1, sizeof(*q));
        *con_cls = q;
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        struct conn *cn = ci ? ci->socket_context : NULL;
        if (cn && ++cn->requests > 1 && opt.drop_reused && !strcmp(method, "POST")) {
            record("drop-reused");
            return MHD_NO;
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (q->len + *upload_size + 1 > q->cap) {
            q->cap = (q->len + *upload_size + 1) * 2;
            q->body = realloc(q->body, q->cap);
        }
        memcpy(q->body + q->len, upload, *upload_size);
        q->len += *upload_size;
        q->body[q->len] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    bool loading = since_start_ms() < opt.load_delay_ms;
    if (!strcmp(url, "/health")) {
        if (loading)
            return reply(c, 503, "application/json",
                         "{\"error\":{\"code\":503,\"message\":\"Loading model\"}}");
        return reply(c, 200, "application/json", "{\"status\":\"ok\"}");
    }
    if (opt.ollama_mib && !strcmp(url, "/api/version"))
        return reply(c, 200, "application/json", "{\"version\":\"0.12.0\"}");
    if (opt.ollama_mib && !strcmp(url, "/api/tags")) {
        char b[512];
        snprintf(b, sizeof(b), "{\"models\":[{\"name\":\"%s:latest\",\"model\":\"%s:latest\","
                 "\"size\":%lld}]}", opt.model, opt.model, (long long)opt.ollama_mib << 20);
        return reply(c, 200, "application/json", b);
    }
    if (opt.ollama_mib && !strcmp(url, "/api/ps")) {
        /* Loaded from the first request until keep_ms after the last. */
        long long last = __atomic_load_n(&last_request_ms, __ATOMIC_SEQ_CST);
        long keep = opt.ollama_keep_ms ? opt.ollama_keep_ms : 300000;
        char b[512];
        bool loaded = last && since_start_ms() + 1 - last < keep;
        if (loaded)
            snprintf(b, sizeof(b), "{\"models\":[{\"name\":\"%s:latest\",\"model\":\"%s:latest\","
                     "\"size\":%lld,\"size_vram\":%lld}]}", opt.model, opt.model,
                     (long long)(opt.ollama_mib + 64) << 20, (long long)(opt.ollama_mib + 64) << 20);
        else
            snprintf(b, sizeof(b), "{\"models\":[]}");
        record("api-ps loaded=%d", loaded);
        return reply(c, 200, "application/json", b);
    }
    if (opt.ollama_mib && !strcmp(method, "POST") && !strcmp(url, "/api/generate")) {
        json_t *b = json_loadb(q->body ? q->body : "", q->len, 0, NULL);
        json_t *ka = json_object_get(b, "keep_alive");
        if (json_is_integer(ka) && json_integer_value(ka) == 0) {
            __atomic_store_n(&last_request_ms, 0, __ATOMIC_SEQ_CST);
            record("unload");
        }
        json_decref(b);
        return reply(c, 200, "application/json", "{\"done\":true,\"done_reason\":\"unload\"}");
    }
    if (!strcmp(url, "/v1/models")) {
        char b[512];
        snprintf(b, sizeof(b), "{\"object\":\"list\",\"data\":[{\"id\":\"%s\",\"object\":\"model\"}]}",
                 opt.model);
        return reply(c, 200, "application/json", b);
    }
    if (loading)
        return reply(c, 503, "application/json",
                     "{\"error\":{\"code\":503,\"message\":\"Loading model\"}}");
    if (!strcmp(method, "POST") && !strcmp(url, "/v1/chat/completions")) {
        q->kind = K_CHAT;
        return completion(c, q);
    }
    if (!strcmp(method, "POST") && !strcmp(url, "/v1/completions")) {
        q->kind = K_COMPLETION;
        return completion(c, q);
    }
    if (!strcmp(method, "POST") && !strcmp(url, "/v1/embeddings")) {
        q->kind = K_EMBED;
        return completion(c, q);
    }
    if (!strcmp(method, "POST") &&
        (!strcmp(url, "/v1/audio/transcriptions") || !strcmp(url, "/v1/audio/translations")))
        return audio_in(c, q, url);
    if (!strcmp(method, "POST") && !strcmp(url, "/v1/audio/speech"))
        return audio_out(c, q);
    return reply(c, 404, "application/json", "{\"error\":{\"message\":\"not found\"}}");
}

/* Like llama-server, say when the model is loaded: hermod reacts to output
 * with an immediate readiness check. */
static void *loaded_thread(void *arg)
{
    msleep(opt.load_delay_ms);
    printf("main: model loaded\n");
    fflush(stdout);
    return NULL;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: fake-engine --port N [options]   (N 0: a free port, printed)\n"
            "  --host H              listen address (127.0.0.1)\n"
            "  --alias ID            model id it serves (fake-model)\n"
            "  --record FILE         append what happens, one event per line\n"
            "  --listen-delay MS     wait before listening at all\n"
            "  --load-delay MS       listen, but answer 503 'Loading model' for MS\n"
            "  --fail-start CODE     print an error and exit with CODE\n"
            "  --chunks N            chunks per answer (5)\n"
            "  --chunk-delay MS      pause between chunks\n"
            "  --first-delay MS      pause before the first byte of an answer\n"
            "  --crash-after N       exit(3) after N chunks of a stream\n"
            "  --exit-delay MS       with --crash-after: close every socket, exit MS later\n"
            "  --hang                never answer completions\n"
            "  --hang-after N        stream N chunks, then hang\n"
            "  --status CODE         answer completions with this HTTP status\n"
            "  --fail-after N        answer 500 after N requests\n"
            "  --garbage             answer 200 with a body that is not JSON\n"
            "  --no-done             end streams without data: [DONE]\n"
            "  --split-writes        send each stream chunk in two writes, 5 ms apart\n"
            "  --json-stream         answer stream requests with plain JSON\n"
            "  --close-after-stream  close the connection after each stream\n"
            "  --drop-reused         drop a 2nd request on one connection unanswered\n"
            "  --content TEXT        answer with this text\n"
            "  --content-file FILE   answers, one per line, in turn (\\n for newlines)\n"
            "  --finish REASON       finish_reason of non-streamed answers (stop)\n"
            "  --alloc-mb N          allocate and touch N MiB at start\n"
            "  --ignore-sigterm      ignore SIGTERM (must be SIGKILLed)\n"
            "  --record-every N      record only every Nth chunk\n"
            "  --report-mib N        print llama-server's buffer report totalling N MiB\n"
            "  --bench               chunks carry their send time\n"
            "  --fail-first N        answer the first N completions with 503\n"
            "  --ollama-mib N        also serve Ollama's /api/tags and /api/ps for a model of N MiB\n"
            "  --ollama-keep MS      /api/ps shows it loaded for MS after each request (300000)\n"
            "  --save FILE           write each audio request's body to FILE\n"
            "  --save-json FILE      write each completion request's body to FILE\n"
            "  --speech-bytes N      size of a /v1/audio/speech answer (4096)\n"
            "  --huge-headers N      answer completions with a header of N bytes, then close\n"
            "  --garbage-bytes       answer completions with bytes that are not HTTP, then close\n"
            "  --wrong-model ID      answers name model ID, not the one asked for\n"
            "  --hang-mid-body       non-streamed answers: send half the body, then hang\n"
            "  --look                decode the JPEGs of a request, record size and corner colours\n"
            "  -m, --model FILE      model file (must exist); llama-server flags are ignored\n");
}

int main(int argc, char **argv)
{
    clock_gettime(CLOCK_MONOTONIC, &started);
    opt.port = -1; /* required; 0 asks the kernel for a free one */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NUM(flag, field)                                                       \
    if (!strcmp(a, flag) && v) {                                               \
        opt.field = strtol(v, NULL, 10);                                       \
        i++;                                                                   \
        continue;                                                              \
    }
#define STR(flag, field)                                                       \
    if (!strcmp(a, flag) && v) {                                               \
        opt.field = v;                                                         \
        i++;                                                                   \
        continue;                                                              \
    }
#define FLAG(flag, field)                                                      \
    if (!strcmp(a, flag)) {                                                    \
        opt.field = true;                                                      \
        continue;                                                              \
    }
        NUM("--port", port)
        STR("--host", host)
        STR("--alias", model)
        STR("--model", model_file)
        STR("--record", record)
        STR("--content", content)
        STR("-m", model_file)
        STR("--content-file", content_file)
        STR("--finish", finish)
        STR("--model-file", model_file)
        NUM("--listen-delay", listen_delay_ms)
        NUM("--load-delay", load_delay_ms)
        NUM("--chunk-delay", chunk_delay_ms)
        NUM("--first-delay", first_delay_ms)
        NUM("--chunks", chunks)
        NUM("--fail-start", fail_start)
        NUM("--crash-after", crash_after)
        NUM("--exit-delay", exit_delay_ms)
        NUM("--hang-after", hang_after)
        NUM("--status", status)
        NUM("--fail-after", fail_after)
        NUM("--fail-first", fail_first)
        NUM("--alloc-mb", alloc_mb)
        NUM("--embed-dim", embed_dim)
        NUM("--record-every", record_every)
        NUM("--report-mib", report_mib)
        FLAG("--hang", hang)
        FLAG("--garbage", garbage)
        FLAG("--no-done", no_done)
        FLAG("--split-writes", split_writes)
        FLAG("--json-stream", json_stream)
        FLAG("--close-after-stream", close_after_stream)
        FLAG("--drop-reused", drop_reused)
        FLAG("--bench", bench)
        FLAG("--look", look)
        NUM("--ollama-mib", ollama_mib)
        NUM("--ollama-keep", ollama_keep_ms)
        STR("--save", save)
        STR("--save-json", save_json)
        NUM("--speech-bytes", speech_bytes)
        NUM("--huge-headers", huge_headers)
        STR("--wrong-model", wrong_model)
        FLAG("--garbage-bytes", garbage_bytes)
        FLAG("--hang-mid-body", hang_mid_body)
        if (!strcmp(a, "--ignore-sigterm")) {
            opt.ignore_sigterm = 1;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage();
            return 0;
        }
        /* llama-server flags with a value, accepted and ignored */
        if ((!strcmp(a, "-c") || !strcmp(a, "-ngl") || !strcmp(a, "--mmproj") ||
             !strcmp(a, "-np") || !strcmp(a, "--ctx-size") || !strcmp(a, "--parallel")) && v) {
            i++;
            continue;
        }
        fprintf(stderr, "fake-engine: unknown argument '%s'\n", a);
        usage();
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    record("start pid=%d port=%d", (int)getpid(), opt.port);
    if (opt.ignore_sigterm)
        signal(SIGTERM, SIG_IGN);
    printf("fake-engine: starting, pid %d\n", (int)getpid());
    if (opt.fail_start) {
        fprintf(stderr, "fake-engine: error: told to fail at start (exit %d)\n", opt.fail_start);
        record("fail-start code=%d", opt.fail_start);
        return opt.fail_start;
    }
    if (opt.model_file && access(opt.model_file, R_OK) != 0) {
        fprintf(stderr, "fake-engine: error: failed to load model '%s': %s\n", opt.model_file,
                strerror(errno));
        return 1;
    }
    if (opt.port < 0 || opt.port > 65535) {
        usage();
        return 2;
    }
    if (opt.alloc_mb > 0) {
        size_t n = (size_t)opt.alloc_mb << 20;
        char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            fprintf(stderr, "fake-engine: error: cannot allocate %ld MiB\n", opt.alloc_mb);
            return 1;
        }
        for (size_t k = 0; k < n; k += 4096)
            p[k] = 1;
        printf("fake-engine: allocated %ld MiB\n", opt.alloc_mb);
    }
    /* Still killable by SIGTERM while "loading"; blocked from here on so
     * that sigwait() gets it and not one of MHD's threads. */
    if (opt.report_mib > 8) {
        /* the lines llama-server prints while it loads */
        printf("load_tensors:   CPU_Mapped model buffer size = %8.2f MiB\n",
               (double)opt.report_mib - 8);
        printf("llama_kv_cache:        CPU KV buffer size =     4.00 MiB\n");
        printf("sched_reserve:        CPU compute buffer size =     4.00 MiB\n");
        fflush(stdout);
    }
    msleep(opt.listen_delay_ms);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    if (!opt.ignore_sigterm)
        sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
    inet_pton(AF_INET, opt.host, &sa.sin_addr);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL |
            MHD_USE_ERROR_LOG,
        (uint16_t)opt.port, NULL, NULL, access_cb, NULL, MHD_OPTION_SOCK_ADDR, &sa,
        MHD_OPTION_NOTIFY_COMPLETED, completed_cb, NULL, MHD_OPTION_NOTIFY_CONNECTION, conn_cb,
        NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        (unsigned)4096, MHD_OPTION_CONNECTION_LIMIT, (unsigned)16384, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "fake-engine: error: cannot listen on %s:%d\n", opt.host, opt.port);
        return 1;
    }
    if (opt.port == 0) { /* --port 0: the kernel's choice, told on stdout */
        const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        opt.port = di ? di->port : 0;
    }
    printf("fake-engine: server is listening on http://%s:%d\n", opt.host, opt.port);
    fflush(stdout);
    if (opt.load_delay_ms > 0) {
        pthread_t th;
        pthread_create(&th, NULL, loaded_thread, NULL);
        pthread_detach(th);
    }
    record("listening port=%d", opt.port);
    int sig;
    sigwait(&set, &sig);
    printf("fake-engine: got signal %d, shutting down\n", sig);
    record("stop signal=%d", sig);
    MHD_stop_daemon(d);
    return 0;
}
