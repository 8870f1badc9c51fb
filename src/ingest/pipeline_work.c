/* SPDX-License-Identifier: MIT */
/*
 * pipeline_work.c: the pipeline's stages that run on libuv's worker pool:
 * prepare an upload (decode, downscale, build the model request, record
 * the pending episode), load a pending episode for a retry, digest the
 * model's answer, and store the result. Each touches only its own job and
 * the store; the loop side is in pipeline.c (see pipeline_int.h).
 */
#include "ingest/pipeline_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <nettle/base64.h>

#include "ingest/extract.h"
#include "ingest/image.h"
#include "ingest/ocr.h"
#include "ingest/transcript.h"
#include "ingest/video.h"
#include "ingest/vision.h"
#include "lib/clock.h"
#include "lib/xalloc.h"
#include "route/router.h"
#include "store/store.h"
#include "text/langid.h"

/* Generation limit for a description; a page of OCR fits. */
#define MAX_TOKENS 4096

static const char *const media_names[] = {"image", "video", "text"};

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

void pipeline__prepare_work(uv_work_t *w)
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

void pipeline__load_work(uv_work_t *w)
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
const char *pipeline__answer_content(struct job *j, json_t **resp)
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
void pipeline__call_error(struct job *j)
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

/*
 * The picture the model was sent (a JPEG), from the stored request: the
 * first image_url of the user's message. The upload itself is gone by now
 * (and a retry never had it); this is the same picture, upright, at the
 * model's image_side.
 */
static int sent_picture(const struct job *j, struct buf *jpeg, struct buf *err)
{
    static const char prefix[] = "data:image/jpeg;base64,";
    const json_t *msgs = json_object_get(json_object_get(j->input_json, "request"), "messages");
    const json_t *content = json_object_get(json_array_get(msgs, json_array_size(msgs) - 1),
                                            "content"), *part;
    size_t i;
    json_array_foreach(content, i, part) {
        const char *url =
            json_string_value(json_object_get(json_object_get(part, "image_url"), "url"));
        if (!url || strncmp(url, prefix, sizeof(prefix) - 1))
            continue;
        const char *b64 = url + sizeof(prefix) - 1;
        size_t n = strlen(b64), len = BASE64_DECODE_LENGTH(n);
        struct base64_decode_ctx ctx;
        uint8_t *bytes = xmalloc(len ? len : 1);
        base64_decode_init(&ctx);
        int ok = base64_decode_update(&ctx, &len, bytes, n, b64) && base64_decode_final(&ctx);
        if (ok)
            buf_add(jpeg, bytes, len);
        free(bytes);
        if (!ok) {
            buf_addstr(err, "the stored picture is not valid base64");
            return -EPROTO;
        }
        return 0;
    }
    buf_addstr(err, "the stored request holds no picture");
    return -ENOENT;
}

/*
 * Kannada OCR fallback (ingest/ocr.h): when the answer says or suggests
 * Kannada text, Tesseract reads the picture too and its lines join the
 * answer's text, marked as OCR's. A picture Tesseract cannot read (no
 * library, no language data) keeps the model's text, with a warning.
 */
static void ocr_fallback(struct job *j)
{
    const char *why = ocr_wanted(j->answer);
    if (!why)
        return;
    struct buf jpeg = BUF_INIT, err = BUF_INIT;
    struct ocr_result r = {0};
    int rc = sent_picture(j, &jpeg, &err);
    if (!rc)
        rc = ocr_read_image(jpeg.data, jpeg.len, NULL, &r, &err);
    if (rc) {
        pipeline__warn(j, "OCR did not run (%s): %s", why, buf_cstr(&err));
    } else {
        ocr_merge(j->answer, &r, NULL, why);
        /* What is stored as the answer is the merged one: each text entry
         * says where it came from. */
        free(j->raw_text);
        j->raw_text = json_dumps(j->answer, JSON_COMPACT);
    }
    ocr_result_release(&r);
    buf_release(&jpeg);
    buf_release(&err);
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
    if (j->media == MEDIA_IMAGE && pc->ocr)
        ocr_fallback(j);
    vision_desc_release(&j->desc); /* vision_normalize() starts afresh */
    vision_normalize(j->answer, &j->desc, &notes);
    if (j->desc.repairs)
        pipeline__warn(j, "the description was incomplete (%u fields repaired): %s", j->desc.repairs,
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
            pipeline__warn(j, "typed extraction: %s", buf_cstr(&e));
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
        pipeline__warn(j, "some entries were skipped: %s", buf_cstr(&notes));
    }
    buf_release(&notes);
    j->kind = STORE_KIND_TRANSCRIPT;
    j->kind_forced = true;
}

static void finish_store(struct job *j);

void pipeline__digest_work(uv_work_t *w)
{
    struct job *j = w->data;
    json_t *resp = NULL;
    if (j->status != 200) {
        pipeline__call_error(j);
        j->failed = true;
        goto fail;
    }
    const char *content = pipeline__answer_content(j, &resp);
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

json_t *pipeline__episode_json(const struct store_episode *ep)
{
    json_t *o = json_object(), *ents = json_array();
    json_object_set_new(o, "id", json_integer(ep->id));
    json_object_set_new(o, "status", json_string(store_status_name(ep->status)));
    json_object_set_new(o, "kind", json_string(store_kind_name(ep->kind)));
    json_object_set_new(o, "source", pipeline__str_or_null(ep->source));
    json_object_set_new(o, "content_hash", pipeline__str_or_null(ep->content_hash));
    json_object_set_new(o, "captured_at", store_time_json(ep->captured_at));
    json_object_set_new(o, "captured_at_ms", json_integer(ep->captured_at));
    json_object_set_new(o, "ingested_at", store_time_json(ep->ingested_at));
    json_object_set_new(o, "language", pipeline__str_or_null(ep->language));
    json_object_set_new(o, "model", pipeline__str_or_null(ep->model));
    json_object_set_new(o, "engine", pipeline__str_or_null(ep->engine));
    json_object_set_new(o, "attempts", json_integer(ep->attempts));
    if (ep->error && ep->status != STORE_DONE)
        json_object_set_new(o, "error", json_string(ep->error));
    json_object_set_new(o, "description", pipeline__str_or_null(ep->description));
    json_object_set_new(o, "ocr_text", pipeline__str_or_null(ep->ocr_text));
    json_object_set_new(o, "transcript", pipeline__str_or_null(ep->transcript));
    json_object_set_new(o, "extract", pipeline__json_or_null(ep->extract_json));
    json_object_set_new(o, "answer", pipeline__json_or_null(ep->raw_json));
    json_object_set_new(o, "media", pipeline__json_or_null(ep->media_json));
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
            json_object_set_new(o, "value", pipeline__str_or_null(f->value));
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
    j->out = pipeline__episode_json(&ep);
    store_episode_release(&ep);
}

static void finish_store(struct job *j)
{
    if (j->entity_answer) {
        struct buf notes = BUF_INIT;
        if (transcript_convert(j->entity_answer, j->captured_at, j->p->tz_min, &j->g, &notes) < 0)
            pipeline__warn(j, "the entity answer is not a JSON object");
        else if (notes.len)
            pipeline__warn(j, "some entity entries were skipped: %s", buf_cstr(&notes));
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

void pipeline__finish_work(uv_work_t *w)
{
    finish_store(w->data);
}

/* After a failure was recorded, or for a duplicate: the episode as it is. */
void pipeline__readback_work(uv_work_t *w)
{
    struct job *j = w->data;
    if (j->failed && j->stage == ST_FAIL)
        store_episode_fail(j->p->st, j->id, buf_cstr(&j->err), j->permanent,
                           j->p->cfg->pipeline.max_attempts, NULL);
    read_back(j);
}
