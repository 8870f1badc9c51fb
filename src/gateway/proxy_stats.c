/* SPDX-License-Identifier: MIT */
/*
 * proxy_stats.c: the relay's metrics (Prometheus families it owns, STYLE
 * rule 37) and the ring of recent requests the dashboard reads. See
 * proxy.h and proxy_int.h.
 */
#include "gateway/proxy_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "lib/xalloc.h"
#include "net/http.h"
#include "sched/sched.h"

static void recent_release(struct recent *e);

void proxy__stats_init(struct proxy *p)
{
    /* Seconds: a cached answer in milliseconds, a long generation in minutes. */
    static const double dur[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
    p->m_requests = prom_family_new(PROM_COUNTER, "hermod_requests_total",
                                    "Requests relayed to a model, by the model that served (empty "
                                    "when none did), the route that chose it and the HTTP status "
                                    "answered (client_gone: the client left first).",
                                    "model,route,status", NULL, 0);
    p->m_duration = prom_family_new(PROM_HISTOGRAM, "hermod_request_duration_seconds",
                                    "Time from a request's first byte to the end of its answer.",
                                    "model", dur, ARRAY_SIZE(dur));
    p->m_ttfb = prom_family_new(PROM_HISTOGRAM, "hermod_time_to_first_byte_seconds",
                                "Time from a request's first byte to the first byte of the "
                                "model's answer sent on (a stream's first event, or the whole "
                                "answer), cold starts included.",
                                "model", dur, ARRAY_SIZE(dur));
    p->m_tokens_in = prom_family_new(PROM_COUNTER, "hermod_prompt_tokens_total",
                                     "Prompt tokens (in), from the answers' usage; streams count "
                                     "when their chunks carry usage.",
                                     "model", NULL, 0);
    p->m_tokens_out = prom_family_new(PROM_COUNTER, "hermod_completion_tokens_total",
                                      "Completion tokens (out), from the answers' usage; streams "
                                      "count when their chunks carry usage.",
                                      "model", NULL, 0);
    p->m_fallbacks = prom_family_new(PROM_COUNTER, "hermod_fallbacks_total",
                                     "Requests moved to the model's next engine after a failure "
                                     "that the client did not see.",
                                     "model", NULL, 0);
    p->m_passed_over = prom_family_new(PROM_COUNTER, "hermod_route_fallbacks_total",
                                       "Requests a route moved from this model to its next "
                                       "candidate (no engine, no memory, queue full, or a "
                                       "failed answer).",
                                       "route,model", NULL, 0);
    p->m_escalations = prom_family_new(PROM_COUNTER, "hermod_escalations_total",
                                       "Structured answers of this model that failed their check "
                                       "and were asked again (same model or the next).",
                                       "route,model", NULL, 0);
}

void proxy__stats_release(struct proxy *p)
{
    prom_family_free(p->m_requests);
    prom_family_free(p->m_duration);
    prom_family_free(p->m_ttfb);
    prom_family_free(p->m_tokens_in);
    prom_family_free(p->m_tokens_out);
    prom_family_free(p->m_fallbacks);
    prom_family_free(p->m_passed_over);
    prom_family_free(p->m_escalations);
    for (size_t i = 0; i < PROXY_RECENT_MAX; i++)
        recent_release(&p->recent[i]);
}

/* ---- metrics ----------------------------------------------------------------------- */

void proxy__count(struct relay *r, bool aborted, uint64_t took_ns)
{
    struct proxy *px = r->px;
    const char *model = sched_model_config(r->model)->name;
    char st[16];
    if (r->status > 0 && r->status < 1000) {
        st[0] = (char)('0' + r->status / 100);
        st[1] = (char)('0' + r->status / 10 % 10);
        st[2] = (char)('0' + r->status % 10);
        st[3] = '\0';
    } else if (r->status) {
        snprintf(st, sizeof(st), "%d", r->status);
    } else {
        snprintf(st, sizeof(st), "%s", aborted ? "client_gone" : "0");
    }
    prom_add(px->m_requests,
             (const char *[]){model, r->routed ? r->dec.route->name : "", st}, 1);
    prom_observe(px->m_duration, (const char *[]){model}, (double)took_ns / 1e9);
    if (r->ttfb_ns)
        prom_observe(px->m_ttfb, (const char *[]){model},
                     (double)(r->ttfb_ns - http_req_start_ns(r->req)) / 1e9);
    if (r->tokens_in >= 0)
        prom_add(px->m_tokens_in, (const char *[]){model}, (double)r->tokens_in);
    if (r->tokens_out >= 0)
        prom_add(px->m_tokens_out, (const char *[]){model}, (double)r->tokens_out);
}

void proxy__count_refused(struct proxy *px, int status)
{
    char st[16];
    snprintf(st, sizeof(st), "%d", status);
    prom_add(px->m_requests, (const char *[]){"", "", st}, 1);
}

void proxy_metrics(const struct proxy *p, struct buf *out)
{
    prom_write_single(out, PROM_GAUGE, "hermod_relays_active", "Requests being relayed now.",
                      p->active);
    prom_family_write(p->m_requests, out);
    prom_family_write(p->m_duration, out);
    prom_family_write(p->m_ttfb, out);
    prom_family_write(p->m_tokens_in, out);
    prom_family_write(p->m_tokens_out, out);
    prom_family_write(p->m_fallbacks, out);
    prom_family_write(p->m_passed_over, out);
    prom_family_write(p->m_escalations, out);
}

/* ---- recent requests ------------------------------------------------------------ */


/* The strings of one entry go into its buffer, one after the other; the
 * pointers are set once all are in (the buffer may move as it grows). */
struct recent_fill {
    struct recent *e;
    struct {
        const char **field;
        size_t off;
    } at[8 + 3 * PROXY_RECENT_CHECKS];
    size_t n;
};

/* *field becomes a copy of s, cut to PROXY_RECENT_STR bytes (on a UTF-8
 * boundary), or NULL. */
static void recent_str(struct recent_fill *f, const char **field, const char *s)
{
    *field = NULL;
    if (!s)
        return;
    ASSERT(f->n < ARRAY_SIZE(f->at));
    struct buf *b = &f->e->strs;
    f->at[f->n].field = field;
    f->at[f->n].off = b->len;
    f->n++;
    size_t n = strlen(s);
    if (n <= PROXY_RECENT_STR) {
        buf_add(b, s, n + 1);
        return;
    }
    n = PROXY_RECENT_STR;
    while (n && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    buf_add(b, s, n);
    buf_add(b, "...", 4);
}

static void recent_fill_done(struct recent_fill *f)
{
    for (size_t i = 0; i < f->n; i++)
        *f->at[i].field = f->e->strs.data + f->at[i].off;
}

static void recent_release(struct recent *e)
{
    buf_release(&e->strs);
    memset(e, 0, sizeof(*e));
}

/* The ring's next entry, in place of the oldest, emptied (its buffer kept). */
static struct proxy_recent *recent_take(struct proxy *px, struct recent_fill *f, uint64_t took_ns)
{
    struct recent *slot = &px->recent[px->recent_next];
    struct buf strs = slot->strs;
    buf_reset(&strs);
    memset(slot, 0, sizeof(*slot));
    slot->strs = strs;
    f->e = slot;
    f->n = 0;
    struct proxy_recent *e = &slot->pub;
    px->recent_next = (px->recent_next + 1) % PROXY_RECENT_MAX;
    if (px->recent_n < PROXY_RECENT_MAX)
        px->recent_n++;
    e->seq = ++px->recent_seq;
    e->time_ms = clock_wall_ms();
    e->ms = took_ns / 1000000;
    return e;
}

/* Puts a request that is over into the ring, in place of the oldest. */
void proxy__remember(struct relay *r, bool aborted, uint64_t took_ns)
{
    struct proxy *px = r->px;
    struct recent_fill f;
    struct proxy_recent *e = recent_take(px, &f, took_ns);
    recent_str(&f, &e->path, r->endpoint);
    recent_str(&f, &e->client_model, r->client_model);
    recent_str(&f, &e->model, r->best_model ? r->best_model : sched_model_config(r->model)->name);
    recent_str(&f, &e->engine, r->best_engine ? r->best_engine : r->engine_id);
    if (r->routed) {
        recent_str(&f, &e->route, r->dec.route->name);
        recent_str(&f, &e->rule, r->dec.rule->name);
        recent_str(&f, &e->reason, buf_cstr(&r->dec.why));
    }
    if (r->tried.len)
        recent_str(&f, &e->passed_over, buf_cstr(&r->tried));
    e->status = r->status;
    e->aborted = aborted;
    e->stream = r->stream;
    e->attempts = r->attempts;
    e->tokens_in = r->tokens_in;
    e->tokens_out = r->tokens_out;
    for (size_t i = 0; i < json_array_size(r->report) && i < PROXY_RECENT_CHECKS; i++) {
        json_t *c = json_array_get(r->report, i);
        recent_str(&f, &e->checks[i].model, json_string_value(json_object_get(c, "model")));
        recent_str(&f, &e->checks[i].engine, json_string_value(json_object_get(c, "engine")));
        recent_str(&f, &e->checks[i].problems,
                   json_string_value(json_object_get(c, "problems")));
        e->checks[i].ok = json_is_true(json_object_get(c, "ok"));
        e->nchecks++;
    }
    recent_fill_done(&f);
}

void proxy__remember_refused(struct proxy *px, const char *endpoint, const char *client_model,
                             const struct sink_refusal *why, uint64_t took_ns)
{
    struct recent_fill f;
    struct proxy_recent *e = recent_take(px, &f, took_ns);
    recent_str(&f, &e->path, endpoint);
    recent_str(&f, &e->client_model, client_model);
    recent_str(&f, &e->refused, why->why.len ? buf_cstr(&why->why) : "refused");
    e->status = why->status;
    e->tokens_in = e->tokens_out = -1;
    recent_fill_done(&f);
}

size_t proxy_recent_count(const struct proxy *p)
{
    return p->recent_n;
}

const struct proxy_recent *proxy_recent_at(const struct proxy *p, size_t i)
{
    ASSERT(i < p->recent_n);
    size_t oldest = (p->recent_next + PROXY_RECENT_MAX - p->recent_n) % PROXY_RECENT_MAX;
    return &p->recent[(oldest + i) % PROXY_RECENT_MAX].pub;
}

