/* SPDX-License-Identifier: MIT */
/*
 * proxy_int.h: what proxy.c (the relay's state machine) and proxy_stats.c
 * (its metrics and the ring of recent requests) share. Nothing outside
 * the proxy includes this.
 */
#ifndef HERMOD_PROXY_INT_H
#define HERMOD_PROXY_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/config.h"
#include "gateway/proxy.h"
#include "lib/buf.h"
#include "lib/list.h"
#include "lib/prom.h"
#include "net/sse.h"
#include "route/router.h"

struct http_req;
struct sched;
struct sched_model;
struct sched_ticket;
struct engine;
struct upstream;
struct upstream_req;
struct answer_spec;

/* One entry of the ring: what readers see, and the strings it points to. */
struct recent {
    struct proxy_recent pub;
    struct buf strs;            /* pub's strings, each NUL-terminated; kept for the next use */
};

struct proxy {
    uv_loop_t *loop;
    const struct config *cfg;
    struct sched *sched;
    struct upstream *up;
    struct list relays;
    unsigned active;
    bool draining;
    /* metrics (proxy_metrics) */
    struct prom_family *m_requests;     /* model, route, status */
    struct prom_family *m_duration;     /* model */
    struct prom_family *m_ttfb;         /* model */
    struct prom_family *m_tokens_in;    /* model */
    struct prom_family *m_tokens_out;   /* model */
    struct prom_family *m_fallbacks;    /* model: to the model's next engine */
    struct prom_family *m_passed_over;  /* route, model: to the route's next model */
    struct prom_family *m_escalations;  /* route, model: an answer that failed its check */
    /* recent requests (proxy_recent_at): a ring; each entry owns its strings */
    struct recent recent[PROXY_RECENT_MAX];
    size_t recent_next, recent_n;
    uint64_t recent_seq;
};

/* Where the relay's output goes: the client, or a filter (proxy_filter). */
struct sink {
    struct http_req *req;
    const struct proxy_filter *f;
    void *arg;
    struct sink_refusal *refusal; /* where an error answer is noted, or NULL */
};

/* An error answer, as the recent-requests ring shows a refused request. */
struct sink_refusal {
    int status;
    struct buf why;               /* "code: message" */
};

enum relay_state {
    RELAY_ROUTING,
    RELAY_WAITING,
    RELAY_CONNECTING,
    RELAY_STREAMING,
    RELAY_COLLECTING,
    RELAY_CHECKING,
    RELAY_ESCALATING,
    RELAY_DONE,
    RELAY_ABORTED,
    RELAY_NSTATES
};

/* What kind of body a request has: decides how the model is read and
 * whether the engine gets the client's bytes. */
enum body_kind { BODY_JSON, BODY_FORM };

/* How a stream goes to the client. */
enum stream_kind { STREAM_SSE, STREAM_RAW };

struct relay {
    struct list link;
    struct proxy *px;
    const struct config *cfg;     /* the config this request started under */
    struct http_req *req;
    struct sink sink;             /* where the answer goes */
    char *in_body;                /* a filtered request's OpenAI body (owned), or NULL: req's */
    size_t in_len;
    const char *endpoint;
    enum relay_state state;
    enum body_kind body_kind;
    enum stream_kind stream_kind; /* in STREAMING */
    json_t *body;                 /* BODY_JSON: the parsed request, or NULL: read by jreq_scan */
    size_t model_off, model_end;  /* no tree: the "model" value's bytes in the client's body */
    char *client_model;           /* the name the client sent */
    bool stream;                  /* the client asked for an event stream */
    struct sched_model *model;
    struct sched_ticket *ticket;  /* until DONE */
    struct engine *engine;        /* granted; valid while the ticket holds it */
    struct upstream_req *up;      /* the one transfer running, or NULL */
    const char *up_body;          /* the client's request body, or up_owned */
    char *up_owned;               /* the body rebuilt for this engine, or NULL */
    bool body_changed;            /* body differs from the client's bytes */
    size_t up_len;
    long up_status;
    char *up_ct;                  /* the answer's Content-Type (copied at the head) */
    char *up_retry_after;
    bool sse_begun;               /* our 200 + event-stream headers are out */
    bool sent;                    /* engine bytes reached the client: no fallback now */
    bool fresh_retry;             /* already retried on a fresh connection */
    bool gone_waited;             /* waited once for an ended engine's restart (fall_back) */
    struct buf resp;              /* COLLECTING: the answer so far */
    struct buf out;               /* STREAMING: renamed bytes on their way */
    struct sse_scan scan;
    struct sse_rename rename;
    uv_timer_t *ka;               /* keepalive comments; closed async */
    uint64_t ttfb_ns;
    struct buf uline;             /* a streamed event line that may carry usage */
    bool uline_skip;              /* the current line is not one */
    int64_t tokens_in, tokens_out; /* from the answer's usage; -1 = not said */
    int status;                   /* what we answered, for the log */
    char *engine_id;              /* the engine that answered, for the log */
    unsigned attempts;            /* engines tried over all tickets */
    /* routing: the candidates, tried in order */
    bool routed;
    struct route_decision dec;
    size_t cand;
    struct buf tried;             /* why earlier candidates could not serve */
    bool nospc;                   /* one failed for memory */
    /* escalation: structured answers judged, the best one kept */
    struct answer_spec *spec;
    unsigned answers;             /* answers judged */
    bool retried_same;            /* the current candidate was given a second try */
    uint64_t deadline_ms;         /* monotonic */
    json_t *report;               /* [{model, engine, ok, problems}] */
    char *best;                   /* the best answer's body so far, or NULL */
    size_t best_len;
    int64_t best_score;
    char *best_model, *best_engine;
};

/* proxy_stats.c */
void proxy__stats_init(struct proxy *p);
void proxy__stats_release(struct proxy *p);
/* The relay's metrics for one request that is over. */
void proxy__count(struct relay *r, bool aborted, uint64_t took_ns);
/* Counts a request refused before it had a relay. */
void proxy__count_refused(struct proxy *px, int status);
/* A request refused before it reached an engine, into the recent ring. */
void proxy__remember_refused(struct proxy *px, const char *endpoint, const char *client_model,
                             const struct sink_refusal *why, uint64_t took_ns);
/* Puts a request that is over into the ring of recent ones. */
void proxy__remember(struct relay *r, bool aborted, uint64_t took_ns);

#endif
