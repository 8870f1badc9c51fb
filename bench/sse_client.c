/* SPDX-License-Identifier: MIT */
/*
 * bench/sse_client: measures a streamed completion as a client sees it.
 *
 *   sse_client URL MODEL N_REQUESTS
 *
 * The fake engine, run with --bench, writes into every chunk the
 * CLOCK_MONOTONIC time at which it sent it ("t=NANOSECONDS"). This client
 * runs on the same machine, so the difference between that time and the
 * moment the chunk arrives here is the delay added on the way (zero-copy
 * direct connection, or through a proxy). It also measures time to first
 * byte from the moment the request is sent. Prints percentiles in µs.
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct samples {
    double *v;
    size_t n, cap;
};

static void add(struct samples *s, double x)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->v = realloc(s->v, s->cap * sizeof(double));
        if (!s->v)
            abort();
    }
    s->v[s->n++] = x;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(struct samples *s, double p)
{
    if (!s->n)
        return 0;
    size_t i = (size_t)(p / 100.0 * (double)(s->n - 1) + 0.5);
    return s->v[i];
}

struct req {
    uint64_t sent_ns;
    uint64_t first_ns;
    struct samples *delays;
    char tail[32];
    size_t taillen;
    size_t events;
};

/* Finds every "t=DIGITS" in the new bytes (a marker split across two
 * writes is found through the kept tail). */
static size_t write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
    struct req *r = arg;
    size_t n = size * nmemb;
    uint64_t t = now_ns();
    if (!r->first_ns)
        r->first_ns = t;
    char buf[65536 + 32];
    size_t take = n > 65536 ? 65536 : n;
    memcpy(buf, r->tail, r->taillen);
    memcpy(buf + r->taillen, p, take);
    size_t len = r->taillen + take;
    size_t i = 0, last_end = 0;
    while (i + 2 < len) {
        if (buf[i] == 't' && buf[i + 1] == '=' && buf[i + 2] >= '0' && buf[i + 2] <= '9') {
            size_t j = i + 2;
            uint64_t v = 0;
            while (j < len && buf[j] >= '0' && buf[j] <= '9')
                v = v * 10 + (uint64_t)(buf[j++] - '0');
            if (j == len)
                break; /* may continue in the next write */
            if (v && v <= t)
                add(r->delays, (double)(t - v) / 1000.0);
            r->events++;
            i = j;
            last_end = j;
            continue;
        }
        i++;
    }
    size_t keep_from = last_end;
    if (len - keep_from > 24)
        keep_from = len - 24;
    size_t keep = len - keep_from;
    memcpy(r->tail, buf + keep_from, keep);
    r->taillen = keep;
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: sse_client URL MODEL N\n");
        return 2;
    }
    const char *url = argv[1];
    int n = (int)strtol(argv[3], NULL, 10);
    char body[512];
    snprintf(body, sizeof(body),
             "{\"model\":\"%s\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
             argv[2]);
    struct samples delays = {0}, ttfb = {0};
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *e = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    size_t events = 0;
    for (int k = 0; k < n; k++) {
        struct req r = {.delays = &delays};
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &r);
        curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(e, CURLOPT_PROXY, "");
        r.sent_ns = now_ns();
        CURLcode rc = curl_easy_perform(e);
        if (rc != CURLE_OK) {
            fprintf(stderr, "sse_client: %s\n", curl_easy_strerror(rc));
            return 1;
        }
        long status = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200 || !r.events) {
            fprintf(stderr, "sse_client: %s answered %ld with %zu events\n", url, status, r.events);
            return 1;
        }
        add(&ttfb, (double)(r.first_ns - r.sent_ns) / 1000.0);
        events += r.events;
    }
    qsort(delays.v, delays.n, sizeof(double), cmp);
    qsort(ttfb.v, ttfb.n, sizeof(double), cmp);
    printf("chunks=%zu chunk_p50_us=%.1f chunk_p90_us=%.1f chunk_p99_us=%.1f ttfb_p50_us=%.1f "
           "ttfb_p99_us=%.1f\n",
           events, pct(&delays, 50), pct(&delays, 90), pct(&delays, 99), pct(&ttfb, 50),
           pct(&ttfb, 99));
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    curl_global_cleanup();
    free(delays.v);
    free(ttfb.v);
    return 0;
}
