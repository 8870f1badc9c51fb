/* SPDX-License-Identifier: MIT */
/*
 * pipeline.c: ingest jobs, from upload to stored episode. See pipeline.h
 * for the stages; docs/internals/pipeline.md for the reasons.
 *
 * A job is owned by the loop thread and linked in p->jobs from its
 * creation to its end. While a stage runs on the worker pool (j->busy) the
 * loop touches nothing in it but the list link and the client pointer.
 * The HTTP request, if any, belongs to a small struct client, because the
 * http module reports the end of a request after we answered it and the
 * job may be gone by then.
 */
#include "ingest/pipeline.h"

#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <nettle/base64.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ingest/extract.h"
#include "net/http.h"
#include "ingest/image.h"
#include "text/langid.h"
#include "lib/clock.h"
#include "lib/list.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "core/log.h"
#include "store/store.h"
#include "text/timeparse.h"
#include "ingest/transcript.h"
#include "route/router.h"
#include "net/upstream.h"
#include "ingest/video.h"
#include "ingest/vision.h"

/* Episodes taken per retry pass, and the first pass after start. */
#define RETRY_BATCH 8
#define RETRY_FIRST_MS 3000
/* Generation limit for a description; a page of OCR fits. */
#define MAX_TOKENS 4096
/* A transcript larger than this is refused (it is text, not a book). */
#define MAX_TRANSCRIPT (1u << 20)

enum media { MEDIA_IMAGE, MEDIA_VIDEO, MEDIA_TEXT };
static const char *const media_names[] = {"image", "video", "text"};

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

/* ---- small helpers ------------------------------------------------------------- */

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *json_or_null(const char *text)
{
    json_t *j = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
    return j ? j : json_null();
}

/* ---- clients ------------------------------------------------------------------- */

static void client_close_cb(struct http_req *req, bool aborted, void *owner)
{
    struct client *c = owner;
    if (c->job)
        c->job->client = NULL;
    free(c);
}

static struct client *client_new(struct http_req *req, struct job *j)
{
    struct client *c = xcalloc(1, sizeof(*c));
    c->req = req;
    c->job = j;
    http_req_set_owner(req, c, client_close_cb, NULL);
    return c;
}

/* Answers the job's client, if it is still there, and lets it go. */
static void client_answer(struct job *j, int status, json_t *body)
{
    if (j->client) {
        http_respond_json(j->client->req, status, body);
        j->client->job = NULL;
        j->client = NULL;
    }
}

static void client_error(struct job *j, int status, const char *type, const char *code,
                         const char *msg)
{
    if (j->client) {
        struct buf b = BUF_INIT;
        http_error_json(&b, type, code, msg);
        buf_addch(&b, '\n');
        size_t n;
        char *body = buf_detach(&b, &n);
        http_respond(j->client->req, status, "application/json", body, n);
        j->client->job = NULL;
        j->client = NULL;
    }
}

/* ---- jobs ---------------------------------------------------------------------- */

static struct job *job_new(struct pipeline *p)
{
    struct job *j = xcalloc(1, sizeof(*j));
    j->p = p;
    j->at = STORE_TIME_NONE;
    j->captured_at = STORE_TIME_NONE;
    j->work.data = j;
    list_init(&j->followers);
    list_init(&j->follow_link);
    vision_desc_init(&j->desc);
    extract_graph_init(&j->g);
    j->warnings = json_array();
    list_add_tail(&p->jobs, &j->link);
    return j;
}

static void job_free(struct job *j)
{
    if (j->ureq)
        upstream_abort(j->ureq);
    if (j->client)
        j->client->job = NULL;
    list_del(&j->link);
    if (list_linked(&j->follow_link))
        list_del(&j->follow_link);
    free(j->data);
    free(j->filename);
    free(j->source);
    free(j->model);
    free(j->text);
    json_decref(j->input_json);
    buf_release(&j->err);
    buf_release(&j->resp);
    buf_release(&j->call_body);
    free(j->used_model);
    free(j->used_engine);
    free(j->verdict);
    free(j->route);
    json_decref(j->answer);
    vision_desc_release(&j->desc);
    json_decref(j->typed);
    extract_graph_release(&j->g);
    json_decref(j->warnings);
    free(j->raw_text);
    json_decref(j->entity_answer);
    json_decref(j->out);
    struct pipeline *p = j->p;
    free(j);
    /* The last job gone: give back what the worker threads' malloc arenas
     * kept of the pixel buffers (glibc keeps freed memory per arena). A
     * fixed low mmap threshold did the same during bursts too, but cost
     * 8 ms a photo in page faults (bench/ingest.mjs: RSS after 80 photos
     * 95 MiB without either, 37 MiB with the threshold). */
    if (list_empty(&p->jobs))
        malloc_trim(0);
}

static void warn(struct job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct job *j, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_array_append_new(j->warnings, json_string(msg));
}

static void stage_run(struct job *j, enum stage st);
static void call_model(struct job *j);

/* ---- stage 1: prepare (worker) ------------------------------------------------------- */

/* What the upload is: an image format we decode, a video container, or
 * neither. The checks are cheap magic numbers; the decoders decide. */
static enum media sniff(const char *d, size_t n, bool *known)
{
    *known = true;
    if (image_detect(d, n) != IMAGE_FMT_UNKNOWN)
        return MEDIA_IMAGE;
    if (n >= 12 && !memcmp(d + 4, "ftyp", 4))
        return MEDIA_VIDEO; /* MP4/MOV; HEIF brands were taken above */
    if (n >= 4 && (unsigned char)d[0] == 0x1a && (unsigned char)d[1] == 0x45 &&
        (unsigned char)d[2] == 0xdf && (unsigned char)d[3] == 0xa3)
        return MEDIA_VIDEO; /* Matroska/WebM */
    *known = false;
    return MEDIA_IMAGE;
}

static json_t *user_text(const char *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("text"));
    json_object_set_new(o, "text", json_string(s));
    return o;
}

static json_t *user_image(const struct buf *jpeg)
{
    struct buf url = BUF_INIT;
    image_data_url(jpeg->data, jpeg->len, &url);
    json_t *o = json_object(), *iu = json_object();
    json_object_set_new(iu, "url", json_stringn(url.data, url.len));
    json_object_set_new(o, "type", json_string("image_url"));
    json_object_set_new(o, "image_url", iu);
    buf_release(&url);
    return o;
}

/* The instruction goes as the system message and the material (pictures,
 * the transcript) as the user's: the answer checks look for the user's
 * names, and an instruction's examples are not. */
static json_t *chat_request(const char *model, const char *system, json_t *content,
                            json_t *response_format)
{
    json_t *req = json_object(), *msgs = json_array(), *sm = json_object(), *m = json_object();
    json_object_set_new(sm, "role", json_string("system"));
    json_object_set_new(sm, "content", json_string(system));
    json_array_append_new(msgs, sm);
    json_object_set_new(m, "role", json_string("user"));
    json_object_set_new(m, "content", content);
    json_array_append_new(msgs, m);
    json_object_set_new(req, "model", json_string(model));
    json_object_set_new(req, "messages", msgs);
    json_object_set_new(req, "response_format", response_format);
    json_object_set_new(req, "temperature", json_real(0));
    json_object_set_new(req, "max_tokens", json_integer(MAX_TOKENS));
    json_object_set_new(req, "stream", json_false());
    return req;
}

/* The extraction request for a transcript (or the text of a picture):
 * the instruction, in the variant the text's language calls for, as the
 * system message, and the text itself as the user's. */
static json_t *transcript_request(const char *model, const char *text, bool kannada, int64_t at,
                                  int tz_min)
{
    struct buf prompt = BUF_INIT;
    transcript_instruction(at, tz_min, kannada, &prompt);
    json_t *req = chat_request(model, buf_cstr(&prompt), json_string(text),
                               transcript_response_format());
    buf_release(&prompt);
    return req;
}

static void fmt_clock(double t, char *out, size_t n)
{
    unsigned s = (unsigned)lround(t);
    snprintf(out, n, "%u:%02u", s / 60, s % 60);
}

/* Place and camera go into the media facts only when the user keeps them;
 * they never reach the model either way (the JPEGs carry no metadata). */
static void keep_place(json_t *media, bool keep, bool has_gps, double lat, double lon,
                       const char *make, const char *model)
{
    if (!keep) {
        if (has_gps || make[0])
            json_object_set_new(media, "metadata_dropped", json_true());
        return;
    }
    if (has_gps) {
        json_object_set_new(media, "lat", json_real(lat));
        json_object_set_new(media, "lon", json_real(lon));
    }
    if (make[0])
        json_object_set_new(media, "camera_make", json_string(make));
    if (model[0])
        json_object_set_new(media, "camera_model", json_string(model));
}

static const char frames_note[] =
    "Each frame is labelled with its time from the start of the video. Begin each entry of "
    "actions with the time of the frame where it starts, as \"0:04 \".\n\n";

/*
 * How large a picture the vision model of this job can use: its
 * image_side, or for a route the largest of its image-reading models'
 * (the route picks the model after the picture is made, and none should
 * get less than it can see); pipeline.max_side where none says.
 */
static unsigned image_side(const struct job *j)
{
    const struct config *cfg = j->p->cfg;
    const char *target = j->model ? j->model : j->p->vision;
    const struct config_model *m = target ? config_find_model(cfg, target) : NULL;
    if (m)
        return m->image_side ? m->image_side : cfg->pipeline.max_side;
    const struct config_route *rt = target ? config_find_route(cfg, target) : NULL;
    unsigned side = 0;
    for (size_t r = 0; rt && r < rt->nrules; r++)
        for (int lane = 0; lane < 2; lane++) {
            char **v = lane ? rt->rules[r].escalate : rt->rules[r].models;
            for (size_t k = 0; v && v[k]; k++) {
                const struct config_model *c = config_find_model(cfg, v[k]);
                if (!c || !(router_model_modalities(c) & CONFIG_MOD_IMAGE))
                    continue;
                unsigned cs = c->image_side ? c->image_side : cfg->pipeline.max_side;
                if (cs > side)
                    side = cs;
            }
        }
    return side ? side : cfg->pipeline.max_side;
}

/* The image: prepared, its facts in media, its request in req. */
static int prepare_image(struct job *j, json_t *media, json_t **req)
{
    const struct config_pipeline *pc = &j->p->cfg->pipeline;
    struct image_opts o = {.max_side = image_side(j), .jpeg_quality = (int)pc->jpeg_quality,
                           .max_bytes = j->p->cfg->max_body};
    struct image_info info;
    struct buf jpeg = BUF_INIT;
    int rc = image_prepare(j->data, j->len, &o, &jpeg, &info, &j->err);
    if (rc)
        return rc;
    memcpy(j->hash, info.sha256, sizeof(j->hash));
    json_object_set_new(media, "format", json_string(info.format));
    json_object_set_new(media, "width", json_integer(info.src_w));
    json_object_set_new(media, "height", json_integer(info.src_h));
    json_object_set_new(media, "orientation", json_integer(info.orientation));
    json_object_set_new(media, "sent_width", json_integer(info.out_w));
    json_object_set_new(media, "sent_height", json_integer(info.out_h));
    json_object_set_new(media, "sent_bytes", json_integer((json_int_t)jpeg.len));
    if (info.has_time) {
        json_object_set_new(media, "exif_time", store_time_json(info.captured_unix * 1000));
        json_object_set_new(media, "exif_time_zone_known", json_boolean(info.has_tz));
        if (j->captured_at == STORE_TIME_NONE) {
            /* Without a zone the camera's clock is local time: read it in
             * the user's zone, which is where a phone's clock is set. */
            j->captured_at = info.captured_unix * 1000 -
                             (info.has_tz ? 0 : (int64_t)j->p->tz_min * 60000);
            j->captured_from = "exif";
        }
    }
    keep_place(media, pc->keep_location, info.has_gps, info.lat, info.lon, info.make,
               info.model);
    struct buf prompt = BUF_INIT;
    vision_prompt(VISION_INPUT_PHOTO, &prompt);
    json_t *content = json_array();
    json_array_append_new(content, user_image(&jpeg));
    *req = chat_request(j->model ? j->model : j->p->vision, buf_cstr(&prompt), content,
                        vision_response_format());
    buf_release(&prompt);
    buf_release(&jpeg);
    return 0;
}

static int prepare_video(struct job *j, json_t *media, json_t **req)
{
    const struct config_pipeline *pc = &j->p->cfg->pipeline;
    struct video_opts o = {.fps = pc->video_fps, .max_frames = pc->video_frames,
                           .max_side = image_side(j), .jpeg_quality = (int)pc->jpeg_quality,
                           .dup_threshold = pc->dup_threshold,
                           .max_bytes = j->p->cfg->max_body};
    struct video_result v;
    int rc = video_sample_mem(j->data, j->len, &o, &v, &j->err);
    if (rc)
        return rc;
    image_sha256_hex(j->data, j->len, j->hash);
    json_object_set_new(media, "format", json_string(v.container));
    json_object_set_new(media, "codec", json_string(v.codec));
    json_object_set_new(media, "width", json_integer(v.width));
    json_object_set_new(media, "height", json_integer(v.height));
    json_object_set_new(media, "rotation", json_integer(v.rotation));
    json_object_set_new(media, "duration_s", json_real(v.duration_s));
    json_object_set_new(media, "frame_rate", json_real(v.frame_rate));
    json_object_set_new(media, "frames_decoded", json_integer(v.decoded));
    json_object_set_new(media, "frames_sampled", json_integer(v.sampled));
    json_object_set_new(media, "frames_dropped_duplicate", json_integer(v.dropped_dup));
    json_t *frames = json_array();
    for (size_t i = 0; i < v.nframes; i++) {
        json_t *f = json_object();
        json_object_set_new(f, "t", json_real(v.frames[i].t));
        json_object_set_new(f, "diff", json_real(v.frames[i].diff));
        json_array_append_new(frames, f);
    }
    json_object_set_new(media, "frames", frames);
    if (v.has_creation_time && j->captured_at == STORE_TIME_NONE) {
        j->captured_at = v.creation_unix * 1000;
        j->captured_from = "video";
    }
    keep_place(media, pc->keep_location, v.has_gps, v.lat, v.lon, v.make, v.model);
    struct buf prompt = BUF_INIT;
    vision_prompt(VISION_INPUT_FRAMES, &prompt);
    buf_addstr(&prompt, frames_note);
    json_t *content = json_array();
    for (size_t i = 0; i < v.nframes; i++) {
        char t[16], label[64];
        fmt_clock(v.frames[i].t, t, sizeof(t));
        snprintf(label, sizeof(label), "Frame %zu at %s:", i + 1, t);
        json_array_append_new(content, user_text(label));
        json_array_append_new(content, user_image(&v.frames[i].jpeg));
    }
    *req = chat_request(j->model ? j->model : j->p->vision, buf_cstr(&prompt), content,
                        vision_response_format());
    buf_release(&prompt);
    video_result_release(&v);
    return 0;
}

static int prepare_text(struct job *j, json_t *media, json_t **req)
{
    /* The content hash is of the text as given: the same transcript sent
     * twice is one episode. */
    image_sha256_hex(j->text, strlen(j->text), j->hash);
    struct langid_result lr;
    langid_classify(j->text, strlen(j->text), &lr);
    j->text_lang = langid_label_name(lr.label);
    json_object_set_new(media, "format", json_string("text"));
    json_object_set_new(media, "bytes", json_integer((json_int_t)strlen(j->text)));
    json_object_set_new(media, "language", json_string(j->text_lang));
    int64_t at = j->captured_at != STORE_TIME_NONE ? j->captured_at : (int64_t)clock_wall_ms();
    *req = transcript_request(j->model ? j->model : j->p->extract, j->text, lr.needs_kannada, at,
                              j->p->tz_min);
    return 0;
}

static void prepare_work(uv_work_t *w)
{
    struct job *j = w->data;
    struct pipeline *p = j->p;
    json_t *media = json_object(), *req = NULL;
    int rc;

    if (j->at != STORE_TIME_NONE) {
        j->captured_at = j->at;
        j->captured_from = "request";
    }
    if (j->text_given) {
        j->media = MEDIA_TEXT;
        rc = prepare_text(j, media, &req);
    } else {
        bool known;
        j->media = sniff(j->data, j->len, &known);
        /* Neither: the image module says what it is ("not an image:
         * starts with 25 50 44 46 '%PDF'"). */
        rc = j->media == MEDIA_VIDEO ? prepare_video(j, media, &req)
                                     : prepare_image(j, media, &req);
        if (rc == -ENOTSUP && !known) {
            struct buf m = BUF_INIT;
            buf_addf(&m, "%s (hermod reads JPEG, PNG, WebP and HEIC pictures, MP4, MOV, MKV "
                     "and WebM videos, and text transcripts)", buf_cstr(&j->err));
            buf_reset(&j->err);
            buf_add(&j->err, m.data, m.len);
            buf_release(&m);
        }
    }
    free(j->data);
    j->data = NULL;
    if (rc) {
        j->unstored = true;
        switch (rc) {
        case -E2BIG:
            j->http_status = 413;
            j->err_code = "too_large";
            break;
        case -ENOTSUP:
            j->http_status = 415;
            j->err_code = "unsupported_media";
            break;
        case -EBADMSG:
            j->http_status = 422;
            j->err_code = "unreadable_media";
            break;
        default:
            j->http_status = 400;
            j->err_code = "bad_media";
        }
        j->err_type = "invalid_request_error";
        json_decref(media);
        return;
    }
    if (j->filename)
        json_object_set_new(media, "filename", json_string(j->filename));
    if (j->captured_at == STORE_TIME_NONE) {
        j->captured_at = (int64_t)clock_wall_ms();
        j->captured_from = "now";
    }
    json_object_set_new(media, "captured_from", json_string(j->captured_from));

    /* The input kept while the episode is pending: everything a retry
     * needs, so that it does not depend on the upload any more. */
    json_t *in = json_object();
    json_object_set_new(in, "media", json_string(media_names[j->media]));
    json_object_set_new(in, "request", req);
    json_object_set_new(in, "kind", j->kind_forced ? json_string(store_kind_name(j->kind))
                                                   : json_null());
    if (j->text)
        json_object_set_new(in, "text", json_string(j->text));
    char *input = json_dumps(in, JSON_COMPACT);
    j->input_json = in;
    char *ms = json_dumps(media, JSON_COMPACT);
    json_decref(media);

    struct store_episode_new e = {
        .content_hash = j->hash,
        .kind = j->media == MEDIA_VIDEO  ? STORE_KIND_VIDEO
                : j->media == MEDIA_TEXT ? STORE_KIND_TRANSCRIPT
                : j->kind_forced         ? j->kind
                                         : STORE_KIND_PHOTO,
        .source = j->source,
        .captured_at = j->captured_at,
        .ingested_at = STORE_TIME_NONE,
        .media_json = ms,
        .input = input,
        .input_len = strlen(input),
    };
    rc = store_episode_add(p->st, &e, &j->id, &j->existed, &j->err);
    free(ms);
    free(input);
    if (rc) {
        j->unstored = true;
        j->http_status = rc == -EBUSY ? 503 : 500;
        j->err_type = "server_error";
        j->err_code = "store_error";
        return;
    }
    if (j->existed) {
        struct store_episode ep;
        if (!store_episode_get(p->st, j->id, &ep, &j->err)) {
            j->prior = ep.status;
            j->captured_at = ep.captured_at;
            store_episode_release(&ep);
        }
        if (j->prior == STORE_FAILED && !store_episode_retry(p->st, j->id, NULL))
            j->prior = STORE_PENDING; /* the same file again: try again */
    }
}

/* ---- retry: load a pending episode (worker) --------------------------------------------- */

static void load_work(uv_work_t *w)
{
    struct job *j = w->data;
    struct store_episode ep;
    if (store_episode_get(j->p->st, j->id, &ep, &j->err)) {
        j->failed = j->unstored = true;
        return;
    }
    memcpy(j->hash, ep.content_hash, strnlen(ep.content_hash, 64));
    j->captured_at = ep.captured_at;
    j->captured_from = "store";
    j->source = ep.source ? xstrdup(ep.source) : NULL;
    j->prior = ep.status;
    store_episode_release(&ep);
    if (j->prior != STORE_PENDING) {
        j->unstored = true; /* nothing to do: done meanwhile */
        return;
    }
    struct buf input = BUF_INIT;
    int rc = store_episode_input(j->p->st, j->id, &input, &j->err);
    json_error_t jerr;
    if (!rc) {
        j->input_json = json_loadb(input.data, input.len, 0, &jerr);
        if (!json_is_object(j->input_json) ||
            !json_is_object(json_object_get(j->input_json, "request"))) {
            buf_addf(&j->err, "the stored input is not readable: %s", jerr.text);
            rc = -EPROTO;
        }
    }
    buf_release(&input);
    if (rc) {
        /* Without its input the episode cannot be described, ever. */
        j->failed = j->permanent = true;
        return;
    }
    const char *m = json_string_value(json_object_get(j->input_json, "media"));
    j->media = m && !strcmp(m, "video") ? MEDIA_VIDEO
               : m && !strcmp(m, "text") ? MEDIA_TEXT
                                         : MEDIA_IMAGE;
    const char *k = json_string_value(json_object_get(j->input_json, "kind"));
    if (k && !store_kind_parse(k, &j->kind))
        j->kind_forced = true;
    const char *t = json_string_value(json_object_get(j->input_json, "text"));
    if (t)
        j->text = xstrdup(t);
}

/* ---- stage 3: digest the answer (worker) ----------------------------------------------- */

/* The text of choices[0].message.content, or NULL with err set. */
static const char *answer_content(struct job *j, json_t **resp)
{
    json_error_t jerr;
    *resp = json_loadb(j->resp.data ? j->resp.data : "", j->resp.len, 0, &jerr);
    if (!*resp) {
        buf_addf(&j->err, "the model's reply is not JSON: %s", jerr.text);
        return NULL;
    }
    json_t *c = json_object_get(
        json_object_get(json_array_get(json_object_get(*resp, "choices"), 0), "message"),
        "content");
    if (!json_is_string(c)) {
        buf_addstr(&j->err, "the model's reply has no choices[0].message.content");
        return NULL;
    }
    return json_string_value(c);
}

/* An error reply: its message, and whether trying again can help. */
static void call_error(struct job *j)
{
    json_t *r = json_loadb(j->resp.data ? j->resp.data : "", j->resp.len, 0, NULL);
    const char *msg = json_string_value(json_object_get(json_object_get(r, "error"), "message"));
    if (j->status)
        buf_addf(&j->err, "%s call failed: HTTP %ld: %s", j->entity_call ? "entity" : "model",
                 j->status, msg ? msg : "(no message)");
    /* 400 and 404 say the request itself is wrong (a model that does not
     * exist, a request the engine refuses): retrying cannot help. 413 too. */
    j->permanent = j->status == 400 || j->status == 404 || j->status == 413;
    json_decref(r);
}

/* "0:04 walks in" -> 4 and "walks in". */
static json_t *timeline(const json_t *answer)
{
    json_t *tl = json_array(), *x;
    size_t i;
    json_array_foreach(json_object_get(answer, "actions"), i, x) {
        const char *s = json_string_value(x);
        if (!s || !*s)
            continue;
        while (*s == '(' || *s == '[' || *s == ' ')
            s++;
        unsigned m, sec;
        int used = 0;
        json_t *e = json_object();
        if (sscanf(s, "%u:%2u%n", &m, &sec, &used) == 2 && used > 0) {
            json_object_set_new(e, "t", json_real(m * 60.0 + sec));
            s += used;
            while (*s == ')' || *s == ']' || *s == ' ' || *s == '-' || *s == ':')
                s++;
        } else {
            json_object_set_new(e, "t", json_null());
        }
        json_object_set_new(e, "what", json_string(s));
        json_array_append_new(tl, e);
    }
    return tl;
}

static bool has_letters(const char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s >= 0x80 || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'))
            return true;
    return false;
}

static void digest_vision(struct job *j, const char *content)
{
    const struct config_pipeline *pc = &j->p->cfg->pipeline;
    struct buf notes = BUF_INIT;
    if (vision_parse(content, strlen(content), &j->answer, &j->err))
        return; /* j->err says why; the attempt failed */
    /* A broken answer can still hold a well-formed inner object (one of
     * its "objects"); that is not a description. */
    static const char *const keys[] = {"scene", "objects", "text", "kind"};
    bool any = false;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        any |= json_object_get(j->answer, keys[i]) != NULL;
    if (!any) {
        buf_addf(&j->err, "the model's answer is not a description (no scene, objects, text or "
                 "kind): %.200s", content);
        json_decref(j->answer);
        j->answer = NULL;
        return;
    }
    vision_desc_release(&j->desc); /* vision_normalize() starts afresh */
    vision_normalize(j->answer, &j->desc, &notes);
    if (j->desc.repairs)
        warn(j, "the description was incomplete (%u fields repaired): %s", j->desc.repairs,
             buf_cstr(&notes));
    buf_release(&notes);
    enum store_kind kind = j->kind_forced ? j->kind : j->desc.kind;
    if (j->media == MEDIA_VIDEO) {
        j->typed = json_object();
        json_object_set_new(j->typed, "type", json_string("video"));
        json_object_set_new(j->typed, "seen_as", json_string(store_kind_name(j->desc.kind)));
        json_object_set_new(j->typed, "timeline", timeline(j->answer));
        kind = STORE_KIND_VIDEO;
    } else {
        struct extract_opts o = {.now_ms = j->captured_at, .tz_min = j->p->tz_min};
        struct buf e = BUF_INIT;
        if (extract_typed(j->answer, kind, j->desc.ocr_text, &o, &j->typed, &e))
            warn(j, "typed extraction: %s", buf_cstr(&e));
        buf_release(&e);
        extract_mentions(j->typed, &j->g);
    }
    j->kind = kind;
    j->kind_forced = true;
    j->want_entities = pc->entities && j->p->extract && has_letters(j->desc.ocr_text) &&
                       kind != STORE_KIND_RECEIPT && kind != STORE_KIND_LAB_REPORT;
    if (j->want_entities) {
        /* The text the entity model reads: what the picture shows and the
         * words in it, as a transcript of the picture. */
        struct buf text = BUF_INIT;
        buf_addf(&text, "(A %s.) %s\nText in it:\n%s", store_kind_name(kind),
                 j->desc.scene, j->desc.ocr_text);
        json_t *req = transcript_request(j->p->extract, buf_cstr(&text),
                                         transcript_needs_kannada(buf_cstr(&text)), j->captured_at,
                                         j->p->tz_min);
        char *s = json_dumps(req, JSON_COMPACT);
        buf_reset(&j->call_body);
        buf_addstr(&j->call_body, s);
        free(s);
        json_decref(req);
        buf_release(&text);
    }
}

static void digest_transcript(struct job *j, const char *content)
{
    if (vision_parse(content, strlen(content), &j->answer, &j->err))
        return;
    if (!json_object_get(j->answer, "entities") && !json_object_get(j->answer, "relations")) {
        buf_addf(&j->err, "the model's answer has no entities or relations: %.200s", content);
        json_decref(j->answer);
        j->answer = NULL;
        return;
    }
    struct buf notes = BUF_INIT;
    int n = transcript_convert(j->answer, j->captured_at, j->p->tz_min, &j->g, &notes);
    if (n < 0) {
        buf_addf(&j->err, "the extraction is not a JSON object");
        json_decref(j->answer);
        j->answer = NULL;
    } else if (notes.len) {
        warn(j, "some entries were skipped: %s", buf_cstr(&notes));
    }
    buf_release(&notes);
    j->kind = STORE_KIND_TRANSCRIPT;
    j->kind_forced = true;
}

static void finish_store(struct job *j);

static void digest_work(uv_work_t *w)
{
    struct job *j = w->data;
    json_t *resp = NULL;
    if (j->status != 200) {
        call_error(j);
        j->failed = true;
        goto fail;
    }
    const char *content = answer_content(j, &resp);
    if (!content) {
        j->failed = true;
        goto fail;
    }
    j->raw_text = xstrdup(content);
    if (j->media == MEDIA_TEXT)
        digest_transcript(j, content);
    else
        digest_vision(j, content);
    if (!j->answer) {
        j->failed = true;
        goto fail;
    }
    json_decref(resp);
    if (!j->want_entities)
        finish_store(j);
    return;
fail:
    json_decref(resp);
    if (!j->err.len)
        buf_addstr(&j->err, "the model call failed");
    store_episode_fail(j->p->st, j->id, buf_cstr(&j->err), j->permanent,
                       j->p->cfg->pipeline.max_attempts, NULL);
}

/* ---- stage 4: store (worker) ------------------------------------------------------------- */

static json_t *episode_json(const struct store_episode *ep)
{
    json_t *o = json_object(), *ents = json_array();
    json_object_set_new(o, "id", json_integer(ep->id));
    json_object_set_new(o, "status", json_string(store_status_name(ep->status)));
    json_object_set_new(o, "kind", json_string(store_kind_name(ep->kind)));
    json_object_set_new(o, "source", str_or_null(ep->source));
    json_object_set_new(o, "content_hash", str_or_null(ep->content_hash));
    json_object_set_new(o, "captured_at", store_time_json(ep->captured_at));
    json_object_set_new(o, "captured_at_ms", json_integer(ep->captured_at));
    json_object_set_new(o, "ingested_at", store_time_json(ep->ingested_at));
    json_object_set_new(o, "language", str_or_null(ep->language));
    json_object_set_new(o, "model", str_or_null(ep->model));
    json_object_set_new(o, "engine", str_or_null(ep->engine));
    json_object_set_new(o, "attempts", json_integer(ep->attempts));
    if (ep->error && ep->status != STORE_DONE)
        json_object_set_new(o, "error", json_string(ep->error));
    json_object_set_new(o, "description", str_or_null(ep->description));
    json_object_set_new(o, "ocr_text", str_or_null(ep->ocr_text));
    json_object_set_new(o, "transcript", str_or_null(ep->transcript));
    json_object_set_new(o, "extract", json_or_null(ep->extract_json));
    json_object_set_new(o, "answer", json_or_null(ep->raw_json));
    json_object_set_new(o, "media", json_or_null(ep->media_json));
    for (size_t i = 0; i < ep->nentities; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "type", json_string(ep->entities[i].type));
        json_object_set_new(e, "name", json_string(ep->entities[i].name));
        json_array_append_new(ents, e);
    }
    json_object_set_new(o, "entities", ents);
    return o;
}

static json_t *facts_json(const struct extract_graph *g)
{
    json_t *a = json_array();
    for (size_t i = 0; i < g->nfacts; i++) {
        const struct store_fact *f = &g->facts[i];
        json_t *o = json_object();
        json_object_set_new(o, "subject", json_string(f->subject));
        json_object_set_new(o, "predicate", json_string(f->predicate));
        if (f->object)
            json_object_set_new(o, "object", json_string(f->object));
        else
            json_object_set_new(o, "value", str_or_null(f->value));
        if (f->unit)
            json_object_set_new(o, "unit", json_string(f->unit));
        json_object_set_new(o, "valid_from", store_time_json(f->valid_from));
        if (f->fact)
            json_object_set_new(o, "fact", json_string(f->fact));
        json_array_append_new(a, o);
    }
    return a;
}

/* Reads the episode back into j->out; on failure j->out stays NULL. */
static void read_back(struct job *j)
{
    struct store_episode ep;
    if (store_episode_get(j->p->st, j->id, &ep, &j->err))
        return;
    j->out = episode_json(&ep);
    store_episode_release(&ep);
}

static void finish_store(struct job *j)
{
    if (j->entity_answer) {
        struct buf notes = BUF_INIT;
        if (transcript_convert(j->entity_answer, j->captured_at, j->p->tz_min, &j->g, &notes) < 0)
            warn(j, "the entity answer is not a JSON object");
        else if (notes.len)
            warn(j, "some entity entries were skipped: %s", buf_cstr(&notes));
        buf_release(&notes);
    }
    char *extract = extract_dumps(j->typed);
    const char *lang = j->media == MEDIA_TEXT ? j->text_lang : j->desc.language;
    if (j->media == MEDIA_TEXT && !lang && j->text) { /* a retry: not classified yet */
        struct langid_result lr;
        langid_classify(j->text, strlen(j->text), &lr);
        lang = langid_label_name(lr.label);
    }
    struct store_result r = {
        .set_kind = j->kind_forced,
        .kind = j->kind,
        .model = j->used_model,
        .engine = j->used_engine,
        .language = lang,
        .raw_json = j->raw_text,
        .description = j->media == MEDIA_TEXT ? NULL : j->desc.description,
        .ocr_text = j->media == MEDIA_TEXT ? NULL : j->desc.ocr_text,
        .transcript = j->media == MEDIA_TEXT ? j->text : NULL,
        .extract_json = extract,
        .mentions = j->g.mentions,
        .nmentions = j->g.nmentions,
        .facts = j->g.facts,
        .nfacts = j->g.nfacts,
    };
    int rc = store_episode_complete(j->p->st, j->id, &r, &j->err);
    free(extract);
    if (rc) {
        /* The answer cannot be stored (a fact the store refuses): an
         * attempt that failed, kept pending for a later try. */
        j->failed = true;
        store_episode_fail(j->p->st, j->id, buf_cstr(&j->err), false,
                           j->p->cfg->pipeline.max_attempts, NULL);
        return;
    }
    read_back(j);
    if (j->out) {
        json_object_set_new(j->out, "facts", facts_json(&j->g));
        json_object_set(j->out, "warnings", j->warnings);
    }
}

static void finish_work(uv_work_t *w)
{
    finish_store(w->data);
}

/* After a failure was recorded, or for a duplicate: the episode as it is. */
static void readback_work(uv_work_t *w)
{
    struct job *j = w->data;
    if (j->failed && j->stage == ST_FAIL)
        store_episode_fail(j->p->st, j->id, buf_cstr(&j->err), j->permanent,
                           j->p->cfg->pipeline.max_attempts, NULL);
    read_back(j);
}

/* ---- the loop side ---------------------------------------------------------------------- */

static void job_end(struct job *j);

static void answer_followers(struct job *j, int status)
{
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &j->followers) {
        struct job *f = container_of(pos, struct job, follow_link);
        list_del(&f->follow_link);
        list_init(&f->follow_link);
        if (j->out) {
            /* "duplicate": whether the content was there before this
             * upload arrived; the first of two concurrent uploads may be
             * the one that waited. */
            json_t *o = json_deep_copy(j->out);
            json_object_set_new(o, "duplicate", json_boolean(f->existed));
            client_answer(f, status, o);
            json_decref(o);
        } else {
            client_error(f, 500, "server_error", "store_error", buf_cstr(&j->err));
        }
        job_free(f);
    }
}

/* Answers the client and everyone waiting on the same content, counts,
 * logs, frees. */
static void job_end(struct job *j)
{
    struct pipeline *p = j->p;
    int status;
    if (j->unstored && !j->id) {
        status = j->http_status ? j->http_status : 500;
        p->refused++;
        client_error(j, status, j->err_type ? j->err_type : "server_error",
                     j->err_code ? j->err_code : "ingest_failed", buf_cstr(&j->err));
        job_free(j);
        return;
    }
    const char *st = j->out ? json_string_value(json_object_get(j->out, "status")) : NULL;
    if (!j->out) {
        status = 500;
        log_err("ingest: episode %lld: %s", (long long)j->id, buf_cstr(&j->err));
        client_error(j, status, "server_error", "store_error", buf_cstr(&j->err));
    } else {
        if (j->failed) {
            /* The error object of http_error_json(), beside the episode. */
            json_object_set_new(j->out, "error",
                                json_pack("{s:s,s:s,s:n,s:s}", "message", buf_cstr(&j->err),
                                          "type", "upstream_error", "param", "code",
                                          j->permanent ? "model_failed" : "model_unavailable"));
            if (st && !strcmp(st, "pending") && p->cfg->pipeline.retry_interval_ms)
                json_object_set_new(j->out, "retry_in_s",
                                    json_real((double)p->cfg->pipeline.retry_interval_ms / 1000));
        }
        json_object_set_new(j->out, "duplicate", json_boolean(j->existed));
        if (j->route)
            json_object_set_new(j->out, "route", json_string(j->route));
        if (j->verdict)
            json_object_set_new(j->out, "answer_check", json_string(j->verdict));
        status = st && !strcmp(st, "done") ? 200 : st && !strcmp(st, "pending") ? 202 : 502;
        if (status == 200 && !j->existed)
            p->done++;
        else if (status == 200)
            p->duplicates++;
        else if (status == 202)
            p->pending++;
        else
            p->failed++;
        log_info("ingest: episode %lld %s%s kind=%s model=%s%s%s", (long long)j->id,
                 st ? st : "?", j->existed ? " (same content as before)" : "",
                 json_string_value(json_object_get(j->out, "kind")),
                 j->used_model ? j->used_model : "-", j->failed ? " error: " : "",
                 j->failed ? buf_cstr(&j->err) : "");
        client_answer(j, status, j->out);
    }
    answer_followers(j, status);
    job_free(j);
}

static void after_work(uv_work_t *w, int status)
{
    struct job *j = w->data;
    j->busy = false;
    if (j->p->stopping) {
        client_error(j, 503, "server_error", "shutting_down", "hermod is shutting down; "
                     "the episode stays pending and is retried at the next start");
        answer_followers(j, 503);
        job_free(j);
        return;
    }
    struct pipeline *p = j->p;
    switch (j->stage) {
    case ST_PREPARE:
        if (j->unstored) {
            job_end(j);
            return;
        }
        if (j->existed && j->prior == STORE_DONE) {
            stage_run(j, ST_FOLLOW); /* read it back */
            return;
        }
        /* The same content being described right now: wait for that. */
        struct list *pos;
        list_for_each(pos, &p->jobs) {
            struct job *o = container_of(pos, struct job, link);
            if (o != j && o->id == j->id && o->stage >= ST_CALL && o->stage != ST_FOLLOW) {
                j->stage = ST_FOLLOW;
                list_add_tail(&o->followers, &j->follow_link);
                return;
            }
        }
        call_model(j);
        return;
    case ST_LOAD:
        if (j->unstored && !j->failed) { /* done meanwhile */
            job_free(j);
            return;
        }
        if (j->failed) {
            log_warn("ingest: episode %lld cannot be retried: %s", (long long)j->id,
                     buf_cstr(&j->err));
            if (j->permanent)
                stage_run(j, ST_FAIL);
            else
                job_free(j);
            return;
        }
        p->retried++;
        call_model(j);
        return;
    case ST_DIGEST:
        if (j->failed || !j->want_entities) {
            if (j->failed) {
                stage_run(j, ST_FOLLOW); /* the failure is recorded: read it back */
                return;
            }
            job_end(j);
            return;
        }
        /* the entity call */
        j->entity_call = true;
        j->stage = ST_ENTITIES;
        call_model(j);
        return;
    case ST_FINISH:
    case ST_FOLLOW:
    case ST_FAIL:
        job_end(j);
        return;
    default:
        BUG("pipeline: after_work in stage %d", j->stage);
    }
}

static void stage_run(struct job *j, enum stage st)
{
    static const uv_work_cb fns[] = {
        [ST_PREPARE] = prepare_work, [ST_LOAD] = load_work, [ST_DIGEST] = digest_work,
        [ST_FINISH] = finish_work,   [ST_FAIL] = readback_work, [ST_FOLLOW] = readback_work,
    };
    j->stage = st;
    j->busy = true;
    uv_queue_work(j->p->loop, &j->work, fns[st], after_work);
}

/* ---- the model call (loop) ---------------------------------------------------------- */

static void keep_header(struct upstream_req *r, const char *name, char **slot)
{
    const char *v = upstream_req_header(r, name);
    if (v && *v) {
        free(*slot);
        *slot = xstrdup(v);
    }
}

static void call_head(struct upstream_req *r, long status, void *arg)
{
    struct job *j = arg;
    j->status = status;
    if (!j->entity_call) {
        keep_header(r, "X-Hermod-Model", &j->used_model);
        keep_header(r, "X-Hermod-Engine", &j->used_engine);
        keep_header(r, "X-Hermod-Answer", &j->verdict);
        keep_header(r, "X-Hermod-Route", &j->route);
    }
}

static int call_data(struct upstream_req *r, const char *p, size_t n, void *arg)
{
    struct job *j = arg;
    if (j->resp.len + n > j->p->cfg->max_response) {
        j->too_big = true;
        return 0;
    }
    buf_add(&j->resp, p, n);
    return 0;
}

static void call_done(struct upstream_req *r, int rc, const char *msg, void *arg)
{
    struct job *j = arg;
    j->ureq = NULL;
    if (rc || j->too_big) {
        if (j->too_big)
            buf_addf(&j->err, "the model's reply is larger than max_response");
        else
            buf_addf(&j->err, "%s call to %s failed: %s", j->entity_call ? "entity" : "model",
                     j->p->self_url, msg);
        if (j->entity_call) {
            /* The description is there; the names are a bonus. */
            warn(j, "entities were not extracted: %s", buf_cstr(&j->err));
            buf_reset(&j->err);
            stage_run(j, ST_FINISH);
            return;
        }
        j->failed = true;
        stage_run(j, ST_FAIL);
        return;
    }
    if (j->entity_call) {
        json_t *resp = NULL;
        const char *content = NULL;
        if (j->status == 200)
            content = answer_content(j, &resp);
        json_t *ans = NULL;
        if (j->status != 200)
            call_error(j);
        if (content && !vision_parse(content, strlen(content), &ans, &j->err))
            j->entity_answer = ans;
        else
            warn(j, "entities were not extracted: %s", buf_cstr(&j->err));
        buf_reset(&j->err);
        j->permanent = false;
        json_decref(resp);
        stage_run(j, ST_FINISH);
        return;
    }
    stage_run(j, ST_DIGEST);
}

static void call_model(struct job *j)
{
    struct pipeline *p = j->p;
    char url[300];
    snprintf(url, sizeof(url), "%s/v1/chat/completions", p->self_url);
    const char *body;
    size_t len;
    if (j->entity_call) {
        body = j->call_body.data;
        len = j->call_body.len;
    } else {
        /* The request as stored: what a retry sends too. */
        json_t *req = json_object_get(j->input_json, "request");
        char *s = json_dumps(req, JSON_COMPACT);
        buf_reset(&j->call_body);
        buf_addstr(&j->call_body, s);
        free(s);
        body = j->call_body.data;
        len = j->call_body.len;
    }
    buf_reset(&j->resp);
    j->status = 0;
    j->too_big = false;
    j->stage = j->entity_call ? ST_ENTITIES : ST_CALL;
    struct upstream_opts o = {
        .method = "POST",
        .url = url,
        .body = body,
        .body_len = len,
        .connect_timeout_ms = 5000,
        .total_timeout_ms = p->cfg->pipeline.timeout_ms,
        .keep_headers = true,
        .on_head = call_head,
        .on_data = call_data,
        .on_done = call_done,
        .arg = j,
    };
    j->ureq = upstream_start(p->up, &o);
}

/* ---- retry ------------------------------------------------------------------------------ */

static bool in_flight(struct pipeline *p, int64_t id)
{
    struct list *pos;
    list_for_each(pos, &p->jobs) {
        struct job *j = container_of(pos, struct job, link);
        if (j->id == id)
            return true;
    }
    return false;
}

static void scan_work(uv_work_t *w)
{
    struct pipeline *p = w->data;
    buf_reset(&p->scan_err);
    store_episode_pending(p->st, RETRY_BATCH * 4, &p->scan_ids, &p->scan_n, &p->scan_err);
}

static void scan_after(uv_work_t *w, int status)
{
    struct pipeline *p = w->data;
    p->retry_scan_busy = false;
    unsigned started = 0;
    for (size_t i = 0; i < p->scan_n && !p->stopping && started < RETRY_BATCH; i++) {
        if (in_flight(p, p->scan_ids[i]))
            continue;
        struct job *j = job_new(p);
        j->id = p->scan_ids[i];
        stage_run(j, ST_LOAD);
        started++;
    }
    if (started)
        log_info("ingest: retrying %u pending episode%s", started, started == 1 ? "" : "s");
    if (p->scan_err.len)
        log_warn("ingest: cannot list pending episodes: %s", buf_cstr(&p->scan_err));
    free(p->scan_ids);
    p->scan_ids = NULL;
    p->scan_n = 0;
}

static void retry_now(struct pipeline *p)
{
    if (p->stopping || !p->st || p->retry_scan_busy || !p->self_url)
        return;
    p->retry_scan_busy = true;
    p->scan_work.data = p;
    uv_queue_work(p->loop, &p->scan_work, scan_work, scan_after);
}

static void retry_cb(uv_timer_t *t)
{
    retry_now(t->data);
}

/* ---- HTTP endpoints ---------------------------------------------------------------------- */

static bool decode_base64(const char *s, char **out, size_t *len)
{
    const char *comma;
    if (!strncmp(s, "data:", 5) && (comma = strchr(s, ',')))
        s = comma + 1;
    size_t n = strlen(s);
    struct base64_decode_ctx ctx;
    uint8_t *dst = xmalloc(BASE64_DECODE_LENGTH(n) + 1);
    size_t dl = BASE64_DECODE_LENGTH(n) + 1;
    base64_decode_init(&ctx);
    if (!base64_decode_update(&ctx, &dl, dst, n, s) || !base64_decode_final(&ctx)) {
        free(dst);
        return false;
    }
    *out = (char *)dst;
    *len = dl;
    return true;
}

static void set_str(char **slot, const char *v)
{
    if (v && *v) {
        free(*slot);
        *slot = xstrdup(v);
    }
}

/* Reads the fields of an upload (query string, then JSON fields over
 * them). Returns false after answering the client. */
static bool read_fields(struct job *j, struct http_req *req, const json_t *body)
{
    struct pipeline *p = j->p;
    const char *source = http_req_query(req, "source"), *at = http_req_query(req, "at"),
               *model = http_req_query(req, "model"), *kind = http_req_query(req, "kind"),
               *filename = http_req_query(req, "filename"), *tz = http_req_query(req, "tz");
    if (body) {
        const char *v;
#define FIELD(name, var)                                                                      \
    if ((v = json_string_value(json_object_get(body, name))))                                \
        var = v;
        FIELD("source", source);
        FIELD("at", at);
        FIELD("model", model);
        FIELD("kind", kind);
        FIELD("filename", filename);
        FIELD("tz", tz);
#undef FIELD
    }
    set_str(&j->source, source);
    set_str(&j->filename, filename);
    char msg[512];
    int tzm = p->tz_min;
    if (tz && timeparse_tz_parse(tz, &tzm)) {
        snprintf(msg, sizeof(msg), "tz must be an offset like +05:30, got \"%s\"", tz);
        client_error(j, 400, "invalid_request_error", "bad_tz", msg);
        return false;
    }
    if (at && *at) {
        struct buf e = BUF_INIT;
        int64_t t;
        if (timeparse_point(at, (int64_t)clock_wall_ms(), tzm, false, &t, &e)) {
            snprintf(msg, sizeof(msg), "at: %s (give a date, an ISO time or a span like 2h)",
                     buf_cstr(&e));
            buf_release(&e);
            client_error(j, 400, "invalid_request_error", "bad_time", msg);
            return false;
        }
        buf_release(&e);
        j->at = t;
    }
    if (model && *model) {
        if (!config_find_model(p->cfg, model) && !config_find_route(p->cfg, model)) {
            snprintf(msg, sizeof(msg), "model '%.200s' is neither a model nor a route of this "
                     "hermod (see GET /v1/models)", model);
            client_error(j, 404, "invalid_request_error", "model_not_found", msg);
            return false;
        }
        set_str(&j->model, model);
    }
    if (kind && *kind) {
        if (!strcmp(kind, "transcript") || !strcmp(kind, "text")) {
            j->text_given = true;
        } else if (!strcmp(kind, "video") || !strcmp(kind, "image")) {
            /* the content says which */
        } else if (vision_kind_parse(kind, &j->kind)) {
            snprintf(msg, sizeof(msg), "kind '%.100s' is not one of photo, screenshot, receipt, "
                     "document, whiteboard, lab_report, meal, other, video, transcript", kind);
            client_error(j, 400, "invalid_request_error", "bad_kind", msg);
            return false;
        } else {
            j->kind_forced = true;
        }
    }
    return true;
}

static bool is_text_type(const char *ct)
{
    return ct && (str_starts_with(ct, "text/plain") || str_starts_with(ct, "text/markdown"));
}

static bool valid_utf8(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    bool ok = j != NULL;
    json_decref(j);
    return ok;
}

static void post_ingest(struct pipeline *p, struct http_req *req)
{
    size_t len;
    const char *body = http_req_body(req, &len);
    const char *ct = http_req_header(req, "Content-Type");
    struct job *j = job_new(p);
    j->client = client_new(req, j);
    json_t *jb = NULL;
    if (ct && str_starts_with(ct, "multipart/")) {
        client_error(j, 415, "invalid_request_error", "unsupported_media",
                     "send the file itself as the body (curl --data-binary @photo.jpg), or JSON "
                     "{\"data\": \"<base64>\"}; multipart forms are not read");
        job_free(j);
        return;
    }
    if (ct && str_starts_with(ct, "application/json")) {
        json_error_t jerr;
        jb = json_loadb(body ? body : "", len, 0, &jerr);
        if (!json_is_object(jb)) {
            char msg[300];
            snprintf(msg, sizeof(msg), "the body is not a JSON object: %s (line %d, column %d)",
                     jb ? "another JSON value" : jerr.text, jerr.line, jerr.column);
            client_error(j, 400, "invalid_request_error", "invalid_json", msg);
            goto drop;
        }
    }
    if (!read_fields(j, req, jb))
        goto drop;
    if (jb) {
        const json_t *text = json_object_get(jb, "text"), *data = json_object_get(jb, "data");
        if (json_is_string(text) && !data) {
            j->text = xstrndup(json_string_value(text), json_string_length(text));
            j->text_given = true;
        } else if (json_is_string(data) && !text) {
            if (!decode_base64(json_string_value(data), &j->data, &j->len)) {
                client_error(j, 400, "invalid_request_error", "bad_base64",
                             "'data' is not base64 (nor a data: URL with base64)");
                goto drop;
            }
            if (j->text_given) { /* kind: transcript with base64 text */
                j->text = xstrndup(j->data, j->len);
                free(j->data);
                j->data = NULL;
            }
        } else {
            client_error(j, 400, "invalid_request_error", "missing_field",
                         "give either 'text' (a transcript) or 'data' (a file, base64) as a "
                         "string");
            goto drop;
        }
    } else if (j->text_given || is_text_type(ct)) {
        j->text = xstrndup(body ? body : "", len);
        j->text_given = true;
    } else {
        j->data = xmemdup(body ? body : "", len);
        j->len = len;
    }
    const char *need = j->model                         ? NULL
                       : j->text_given && !p->extract  ? "no model or route extracts from text"
                       : !j->text_given && !p->vision ? "no model or route reads images"
                                                       : NULL;
    if (need) {
        char msg[300];
        snprintf(msg, sizeof(msg), "%s: set pipeline.%s in the config, or give a model that "
                 "can (model=NAME)", need, j->text_given ? "extract" : "vision");
        client_error(j, 503, "server_error", "no_pipeline_model", msg);
        goto drop;
    }
    if (j->text_given) {
        size_t tl = strlen(j->text);
        const char *why = !tl ? "the transcript is empty"
                          : tl > MAX_TRANSCRIPT ? "the transcript is over 1 MiB"
                          : !valid_utf8(j->text, tl) ? "the transcript is not valid UTF-8"
                                                     : NULL;
        if (why) {
            client_error(j, tl > MAX_TRANSCRIPT ? 413 : 400, "invalid_request_error",
                         "bad_transcript", why);
            goto drop;
        }
    } else if (!j->len) {
        client_error(j, 400, "invalid_request_error", "empty_body",
                     "the body is empty: send a photo, screenshot, video or transcript");
        goto drop;
    }
    json_decref(jb);
    stage_run(j, ST_PREPARE);
    return;
drop:
    json_decref(jb);
    p->refused++;
    job_free(j);
}

struct getjob;
/* The HTTP side of a getjob, freed when the http module is done with the
 * request (which may be after the getjob). */
struct gclient {
    struct http_req *req;
    struct getjob *g;
};

struct getjob {
    struct pipeline *p;
    struct gclient *client;
    uv_work_t work;
    int64_t id;
    struct store_query q;
    char *text, *entity;
    struct buf err;
    json_t *out;
    int status;
};

static void getjob_close(struct http_req *req, bool aborted, void *owner)
{
    struct gclient *c = owner;
    if (c->g)
        c->g->client = NULL;
    free(c);
}

static void episode_work(uv_work_t *w)
{
    struct getjob *g = w->data;
    struct store_episode ep;
    int rc = store_episode_get(g->p->st, g->id, &ep, &g->err);
    if (rc) {
        g->status = rc == -ENOENT ? 404 : 500;
        return;
    }
    g->out = episode_json(&ep);
    store_episode_release(&ep);
    g->status = 200;
}

static void search_work(uv_work_t *w)
{
    struct getjob *g = w->data;
    struct store_hits h;
    if (store_search(g->p->st, &g->q, &h, &g->err)) {
        g->status = 500;
        return;
    }
    g->out = store_hits_json(g->text, &h);
    store_hits_release(&h);
    g->status = 200;
}

static void getjob_after(uv_work_t *w, int status)
{
    struct getjob *g = w->data;
    if (g->client) {
        struct http_req *req = g->client->req;
        g->client->g = NULL;
        if (g->out) {
            http_respond_json(req, g->status, g->out);
        } else {
            http_respond_error(req, g->status, g->status == 404 ? "invalid_request_error"
                                                                : "server_error",
                               g->status == 404 ? "not_found" : "store_error", "%s",
                               buf_cstr(&g->err));
        }
    }
    json_decref(g->out);
    buf_release(&g->err);
    free(g->text);
    free(g->entity);
    free(g);
}

static void getjob_queue(struct pipeline *p, struct http_req *req, struct getjob *g,
                         uv_work_cb fn, uv_after_work_cb after)
{
    g->p = p;
    struct gclient *c = xcalloc(1, sizeof(*c));
    c->req = req;
    c->g = g;
    http_req_set_owner(req, c, getjob_close, NULL);
    g->client = c;
    g->work.data = g;
    uv_queue_work(p->loop, &g->work, fn, after ? after : getjob_after);
}

static void get_search(struct pipeline *p, struct http_req *req)
{
    struct getjob *g = xcalloc(1, sizeof(*g));
    int64_t now = (int64_t)clock_wall_ms();
    const char *q = http_req_query(req, "q"), *since = http_req_query(req, "since"),
               *until = http_req_query(req, "until"), *kind = http_req_query(req, "kind"),
               *entity = http_req_query(req, "entity"), *limit = http_req_query(req, "limit"),
               *tz = http_req_query(req, "tz");
    struct buf e = BUF_INIT;
    g->q.since = g->q.until = STORE_TIME_NONE;
    g->q.now = now;
    g->q.tz_min = p->tz_min;
    const char *param = NULL;
    uint64_t lim = 10;
    if (tz && *tz && timeparse_tz_parse(tz, &g->q.tz_min)) {
        param = "tz";
        buf_addf(&e, "must be an offset like +05:30, got \"%s\"", tz);
    } else if (since && *since && timeparse_point(since, now, g->q.tz_min, false, &g->q.since,
                                                 &e)) {
        param = "since";
    } else if (until && *until && timeparse_point(until, now, g->q.tz_min, true, &g->q.until,
                                                 &e)) {
        param = "until";
    } else if (kind && *kind && store_kinds_parse(kind, &g->q.kinds, &e)) {
        param = "kind";
    } else if (limit && *limit && str_parse_uint(limit, 1, 1000, &lim)) {
        param = "limit";
        buf_addstr(&e, "must be a number from 1 to 1000");
    }
    if (param) {
        http_respond_error(req, 400, "invalid_request_error", "invalid_parameter", "%s: %s",
                           param, buf_cstr(&e));
        buf_release(&e);
        free(g);
        return;
    }
    buf_release(&e);
    g->q.limit = (unsigned)lim;
    if (q && *q)
        g->text = xstrdup(q);
    if (entity && *entity)
        g->entity = xstrdup(entity);
    g->q.text = g->text;
    g->q.entity = g->entity;
    getjob_queue(p, req, g, search_work, NULL);
}

static void get_episode(struct pipeline *p, struct http_req *req, const char *idstr)
{
    uint64_t id;
    if (str_parse_uint(idstr, 1, INT64_MAX, &id)) {
        http_respond_error(req, 404, "invalid_request_error", "not_found",
                           "no such episode: '%s' (episode ids are numbers)", idstr);
        return;
    }
    struct getjob *g = xcalloc(1, sizeof(*g));
    g->id = (int64_t)id;
    getjob_queue(p, req, g, episode_work, NULL);
}

static void revive_work(uv_work_t *w)
{
    struct getjob *g = w->data;
    int rc = store_episode_retry(g->p->st, g->id, &g->err);
    if (rc == -EALREADY) {
        struct store_episode ep;
        if (store_episode_get(g->p->st, g->id, &ep, NULL)) {
            g->status = 404;
            buf_reset(&g->err);
            buf_addf(&g->err, "no episode %lld", (long long)g->id);
            return;
        }
        if (ep.status == STORE_PENDING)
            rc = 0; /* pending already: the pass below takes it */
        store_episode_release(&ep);
    }
    if (rc) {
        g->status = rc == -EALREADY ? 409 : 500;
        return;
    }
    g->out = json_object();
    json_object_set_new(g->out, "id", json_integer(g->id));
    json_object_set_new(g->out, "status", json_string("pending"));
    g->status = 200;
}

static void revive_after(uv_work_t *w, int status)
{
    struct getjob *g = w->data;
    if (g->out)
        retry_now(g->p);
    getjob_after(w, status);
}

static void post_retry(struct pipeline *p, struct http_req *req)
{
    const char *ids = http_req_query(req, "id");
    uint64_t id;
    if (ids && *ids) {
        if (str_parse_uint(ids, 1, INT64_MAX, &id)) {
            http_respond_error(req, 400, "invalid_request_error", "invalid_parameter",
                               "id must be an episode number, got '%s'", ids);
            return;
        }
        struct getjob *g = xcalloc(1, sizeof(*g));
        g->id = (int64_t)id;
        getjob_queue(p, req, g, revive_work, revive_after);
        return;
    }
    bool was_busy = p->retry_scan_busy;
    retry_now(p);
    json_t *o = json_object();
    json_object_set_new(o, "retrying", json_boolean(!was_busy));
    json_object_set_new(o, "in_flight", json_integer((json_int_t)list_count(&p->jobs)));
    http_respond_json(req, 202, o);
    json_decref(o);
}

bool pipeline_handle(struct pipeline *p, struct http_req *req)
{
    const char *path = http_req_path(req), *method = http_req_method(req);
    bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    bool post = !strcmp(method, "POST");
    enum { E_INGEST, E_RETRY, E_SEARCH, E_EPISODE } e;
    const char *allow;
    size_t pl = strlen(path);
    while (pl > 1 && path[pl - 1] == '/')
        pl--;
#define IS(lit) (pl == sizeof(lit) - 1 && !strncmp(path, lit, pl))
    if (IS("/hermod/ingest")) {
        e = E_INGEST;
        allow = "POST";
    } else if (IS("/hermod/ingest/retry")) {
        e = E_RETRY;
        allow = "POST";
    } else if (IS("/hermod/memories/search")) {
        e = E_SEARCH;
        allow = "GET";
    } else if (str_starts_with(path, "/hermod/episodes/")) {
        e = E_EPISODE;
        allow = "GET";
    } else {
        return false;
    }
#undef IS
    if ((!strcmp(allow, "POST") && !post) || (!strcmp(allow, "GET") && !get)) {
        http_req_add_header(req, "Allow", allow);
        http_respond_error(req, 405, "invalid_request_error", "method_not_allowed",
                           "%s is not allowed on %.*s", method, (int)pl, path);
        return true;
    }
    if (!p->st) {
        http_respond_error(req, 503, "server_error", "store_unavailable",
                           "the memory store is not available: %s",
                           p->store_error ? p->store_error : "not opened");
        return true;
    }
    if (p->stopping || !p->self_url) {
        http_respond_error(req, 503, "server_error", "shutting_down", "hermod is shutting down");
        return true;
    }
    switch (e) {
    case E_INGEST:
        post_ingest(p, req);
        break;
    case E_RETRY:
        post_retry(p, req);
        break;
    case E_SEARCH:
        get_search(p, req);
        break;
    case E_EPISODE: {
        char id[32];
        size_t n = pl - strlen("/hermod/episodes/");
        snprintf(id, sizeof(id), "%.*s", (int)(n < sizeof(id) - 1 ? n : sizeof(id) - 1),
                 path + strlen("/hermod/episodes/"));
        get_episode(p, req, id);
        break;
    }
    }
    return true;
}

/* ---- life --------------------------------------------------------------------------------- */

struct pipeline *pipeline_new(uv_loop_t *loop, const struct config *cfg, struct upstream *up,
                              struct store *st, const char *store_error)
{
    struct pipeline *p = xcalloc(1, sizeof(*p));
    p->loop = loop;
    p->cfg = cfg;
    p->up = up;
    p->st = st;
    p->store_error = store_error ? xstrdup(store_error) : NULL;
    list_init(&p->jobs);
    /* Unnamed in the config: the route called vision (or extract), else
     * the first model that reads images (or any model). */
    p->vision = cfg->pipeline.vision;
    if (!p->vision && config_find_route(cfg, "vision"))
        p->vision = "vision";
    for (size_t i = 0; !p->vision && i < cfg->nmodels; i++)
        if (router_model_modalities(&cfg->models[i]) & CONFIG_MOD_IMAGE)
            p->vision = cfg->models[i].name;
    p->extract = cfg->pipeline.extract;
    if (!p->extract && config_find_route(cfg, "extract"))
        p->extract = "extract";
    if (!p->extract && cfg->nroutes)
        p->extract = cfg->routes[0].name;
    if (!p->extract && cfg->nmodels)
        p->extract = cfg->models[0].name;
    if (!cfg->pipeline.timezone || timeparse_tz_parse(cfg->pipeline.timezone, &p->tz_min))
        p->tz_min = timeparse_local_offset((int64_t)clock_wall_ms());
    uv_timer_init(loop, &p->retry_timer);
    p->retry_timer.data = p;
    return p;
}

void pipeline_local_url(const char *host, int port, char *out, size_t n)
{
    /* A wildcard listen address is reached on loopback. */
    if (!*host || !strcmp(host, "0.0.0.0"))
        host = "127.0.0.1";
    else if (!strcmp(host, "::"))
        host = "::1";
    snprintf(out, n, strchr(host, ':') ? "http://[%s]:%d" : "http://%s:%d", host, port);
}

void pipeline_start(struct pipeline *p, int port)
{
    char url[300];
    pipeline_local_url(p->cfg->listen_host, port, url, sizeof(url));
    free(p->self_url);
    p->self_url = xstrdup(url);
    uint64_t iv = p->cfg->pipeline.retry_interval_ms;
    if (p->st && iv)
        uv_timer_start(&p->retry_timer, retry_cb, iv < RETRY_FIRST_MS ? iv : RETRY_FIRST_MS, iv);
}

void pipeline_stop(struct pipeline *p)
{
    if (p->stopping)
        return;
    p->stopping = true;
    uv_timer_stop(&p->retry_timer);
    uv_close((uv_handle_t *)&p->retry_timer, NULL);
    /* Jobs waiting on the model or on another job: the episode stays
     * pending. Jobs on the worker pool end in after_work. First every
     * waiting client is answered and every follower let go of its
     * leader, then the jobs are freed, so no free reaches into a job
     * freed before it. */
    struct list *pos, *tmp;
    list_for_each(pos, &p->jobs) {
        struct job *j = container_of(pos, struct job, link);
        if (list_linked(&j->follow_link))
            list_del(&j->follow_link);
        if (!j->busy)
            client_error(j, 503, "server_error", "shutting_down",
                         "hermod is shutting down; the episode stays pending and is retried at "
                         "the next start");
    }
    list_for_each_safe(pos, tmp, &p->jobs) {
        struct job *j = container_of(pos, struct job, link);
        if (!j->busy)
            job_free(j);
    }
}

void pipeline_free(struct pipeline *p)
{
    if (!p)
        return;
    if (!p->stopping)
        pipeline_stop(p);
    struct list *pos, *tmp;
    list_for_each_safe(pos, tmp, &p->jobs)
        job_free(container_of(pos, struct job, link));
    buf_release(&p->scan_err);
    free(p->scan_ids);
    free(p->self_url);
    free(p->store_error);
    free(p);
}

void pipeline_metrics(const struct pipeline *p, struct buf *b)
{
    unsigned active = (unsigned)list_count(&p->jobs);
    buf_addf(b,
             "# TYPE hermod_ingest_total counter\n"
             "hermod_ingest_total{result=\"done\"} %llu\n"
             "hermod_ingest_total{result=\"duplicate\"} %llu\n"
             "hermod_ingest_total{result=\"pending\"} %llu\n"
             "hermod_ingest_total{result=\"failed\"} %llu\n"
             "hermod_ingest_total{result=\"refused\"} %llu\n"
             "# TYPE hermod_ingest_retries_total counter\nhermod_ingest_retries_total %llu\n"
             "# TYPE hermod_ingest_active gauge\nhermod_ingest_active %u\n"
             "# TYPE hermod_store_up gauge\nhermod_store_up %d\n",
             (unsigned long long)p->done, (unsigned long long)p->duplicates,
             (unsigned long long)p->pending, (unsigned long long)p->failed,
             (unsigned long long)p->refused, (unsigned long long)p->retried, active,
             p->st != NULL);
}
