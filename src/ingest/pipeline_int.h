/* SPDX-License-Identifier: MIT */
/*
 * pipeline_int.h: what the pipeline's files share, and nobody else.
 *
 *   pipeline.c       jobs and clients, the loop side (stage to stage, the
 *                    model call, answers, retries), life and metrics
 *   pipeline_work.c  the stages that run on the worker pool: prepare,
 *                    load a pending episode, digest the answer, store
 *   pipeline_http.c  the endpoints: POST /hermod/ingest, the episode, the
 *                    search, retry and revive
 *
 * DESIGN: a job is owned by the loop thread and linked in p->jobs from its
 * creation to its end. While a stage runs on the worker pool (j->busy) the
 * loop touches nothing in it but the list link and the client pointer;
 * the pipeline__*_work functions touch nothing but their job (and the
 * store, which is thread-safe). The HTTP request, if any, belongs to a
 * small struct client, because the http module reports the end of a
 * request after we answered it and the job may be gone by then.
 */
#ifndef HERMOD_PIPELINE_INT_H
#define HERMOD_PIPELINE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "ingest/extract.h"
#include "ingest/pipeline.h"
#include "ingest/vision.h"
#include "lib/buf.h"
#include "lib/list.h"
#include "store/store.h"

enum media { MEDIA_IMAGE, MEDIA_VIDEO, MEDIA_TEXT };

enum stage {
    ST_PREPARE,  /* worker: decode, build the request, record the episode */
    ST_LOAD,     /* worker: a retry: read the pending episode and its input */
    ST_CALL,     /* loop: the model call */
    ST_DIGEST,   /* worker: read the answer */
    ST_ENTITIES, /* loop: the entity call for a picture with text */
    ST_FINISH,   /* worker: store the result, read the episode back */
    ST_FAIL,     /* worker: record a failed attempt */
    ST_FOLLOW,   /* waiting for another job with the same content */
};

struct client {
    struct http_req *req;
    struct job *job; /* NULL once answered */
};

struct job {
    struct list link;
    struct pipeline *p;
    struct client *client;
    enum stage stage;
    bool busy; /* on the worker pool */
    uv_work_t work;

    /* the upload (ST_PREPARE) */
    char *data;
    size_t len;
    char *filename, *source, *model, *text;
    bool kind_forced;
    enum store_kind kind;
    const char *text_lang; /* langid's label of the transcript (static), once classified */
    int64_t at; /* STORE_TIME_NONE: not given */
    bool text_given;

    /* the episode */
    enum media media;
    char hash[65];
    int64_t id;
    bool existed;
    enum store_status prior;
    int64_t captured_at;
    const char *captured_from; /* "request", "exif", "video", "now", "store" */
    json_t *input_json;        /* the stored input: {"request":..., "media", "kind", "text"} */
    struct buf err;
    int http_status;           /* of an error answer before anything was stored */
    const char *err_type, *err_code;
    bool unstored;             /* the error came before the episode existed */

    /* the model call */
    struct upstream_req *ureq;
    struct buf resp;
    long status;
    bool too_big;
    char *used_model, *used_engine, *verdict, *route;
    struct buf call_body; /* the entity request */
    bool entity_call;

    /* the answer */
    json_t *answer;
    struct vision_desc desc;
    json_t *typed;
    struct extract_graph g;
    json_t *warnings;
    char *raw_text;
    bool want_entities;
    json_t *entity_answer;

    /* the result */
    bool failed;      /* the attempt failed; the episode stays pending (or failed) */
    bool permanent;
    json_t *out;      /* the answer to the client */
    struct list followers;
    struct list follow_link;
};

struct pipeline {
    uv_loop_t *loop;
    const struct config *cfg;
    const char *vision, *extract; /* the models or routes used; NULL = none */
    struct upstream *up;
    struct store *st;
    char *store_error;
    char *self_url;
    char *api_key;              /* the daemon's own key for its model calls, or NULL */
    int tz_min;
    bool stopping;
    struct list jobs;
    uv_timer_t retry_timer;
    bool retry_scan_busy;
    uv_work_t scan_work;
    int64_t *scan_ids;
    size_t scan_n;
    struct buf scan_err;
    /* metrics */
    uint64_t done, pending, failed, duplicates, retried, refused;
};

/* ---- pipeline.c ------------------------------------------------------------------ */

/* A JSON string of s, or JSON null for NULL (new reference). */
json_t *pipeline__str_or_null(const char *s);
/* The JSON text parsed (any value), or JSON null when NULL or unparsable. */
json_t *pipeline__json_or_null(const char *text);

/* Takes the request for job j: the client answers it later, or lets it go
 * when the http module reports its end. */
struct client *pipeline__client_new(struct http_req *req, struct job *j);
/* Answers j's client, if it is still there, with an error object. */
void pipeline__client_error(struct job *j, int status, const char *type, const char *code,
                            const char *msg);

/* A new job, linked in p->jobs. */
struct job *pipeline__job_new(struct pipeline *p);
/* Unlinks and frees a job that is not on the worker pool. */
void pipeline__job_free(struct job *j);
/* Adds a warning to the job's answer. */
void pipeline__warn(struct job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Runs stage st of j on the worker pool; the loop side takes over after. */
void pipeline__stage_run(struct job *j, enum stage st);

/* Whether a job for episode id is under way. */
bool pipeline__in_flight(struct pipeline *p, int64_t id);
/* Starts a retry pass over the pending episodes now, unless one is running,
 * the pipeline is stopping, or it has no store or no URL of its own yet. */
void pipeline__retry_now(struct pipeline *p);

/* ---- pipeline_work.c: the stages on the worker pool ----------------------------- */

void pipeline__prepare_work(uv_work_t *w);   /* ST_PREPARE */
void pipeline__load_work(uv_work_t *w);      /* ST_LOAD */
void pipeline__digest_work(uv_work_t *w);    /* ST_DIGEST */
void pipeline__finish_work(uv_work_t *w);    /* ST_FINISH */
void pipeline__readback_work(uv_work_t *w);  /* ST_FAIL, ST_FOLLOW */

/* The text of choices[0].message.content of the reply in j->resp, which
 * *resp (set to the parsed reply or NULL; the caller decrefs) owns; NULL
 * with j->err set when the reply is not JSON or has no content. */
const char *pipeline__answer_content(struct job *j, json_t **resp);
/* An error reply in j: its message in j->err, and whether trying again
 * can help (j->permanent). */
void pipeline__call_error(struct job *j);

/* An episode as the endpoints answer it (new reference). */
json_t *pipeline__episode_json(const struct store_episode *ep);

#endif
