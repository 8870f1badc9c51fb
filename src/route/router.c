/* SPDX-License-Identifier: MIT */
/*
 * router.c: request features and route decisions. See router.h.
 */
#include "route/router.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/catalog.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "model/sizing.h"

/* Text kept for language and keywords; langid needs far less. */
#define TEXT_MAX (256u << 10)

/* Rough token counts, documented in docs/internals/router.md: English is
 * about 4 characters a token; Kannada and Devanagari about one token per
 * character (3 UTF-8 bytes); an image about 1,000 tokens at the 1,024-pixel
 * size hermod sends. */
#define TOKENS_PER_IMAGE 1024
#define TOKENS_PER_VIDEO 4096
#define TOKENS_PER_AUDIO 1500

static uint64_t estimate_tokens(const char *s, size_t n)
{
    uint64_t ascii = 0, other = 0;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x80)
            ascii++;
        else
            other++;
    }
    return ascii / 4 + other / 3 + 1;
}

struct acc {
    struct route_request *rq;
    struct buf text, user;
    bool for_language, from_user;
};

/* Appends s to b, newline-separated, up to TEXT_MAX in all. */
static void join_bounded(struct buf *b, const char *s, size_t n)
{
    if (b->len >= TEXT_MAX)
        return;
    if (n > TEXT_MAX - b->len)
        n = TEXT_MAX - b->len;
    if (b->len)
        buf_addch(b, '\n');
    buf_add(b, s, n);
}

static void add_text(struct acc *a, const char *s, size_t n)
{
    a->rq->est_tokens += estimate_tokens(s, n);
    a->rq->text_bytes += n;
    if (a->for_language)
        join_bounded(&a->text, s, n);
    if (a->from_user)
        join_bounded(&a->user, s, n);
}

static void scan_part(struct acc *a, const json_t *part)
{
    const char *type = json_string_value(json_object_get(part, "type"));
    if (!type)
        return;
    if (!strcmp(type, "text") || !strcmp(type, "input_text")) {
        const json_t *t = json_object_get(part, "text");
        if (json_is_string(t))
            add_text(a, json_string_value(t), json_string_length(t));
    } else if (!strcmp(type, "image_url") || !strcmp(type, "input_image") ||
               !strcmp(type, "image")) {
        a->rq->images++;
        a->rq->modality |= CONFIG_MOD_IMAGE;
        a->rq->est_tokens += TOKENS_PER_IMAGE;
    } else if (!strcmp(type, "video_url") || !strcmp(type, "video") ||
               !strcmp(type, "input_video")) {
        a->rq->videos++;
        a->rq->modality |= CONFIG_MOD_VIDEO;
        a->rq->est_tokens += TOKENS_PER_VIDEO;
    } else if (!strcmp(type, "input_audio") || !strcmp(type, "audio_url") ||
               !strcmp(type, "audio")) {
        a->rq->audios++;
        a->rq->modality |= CONFIG_MOD_AUDIO;
        a->rq->est_tokens += TOKENS_PER_AUDIO;
    }
}

static void scan_content(struct acc *a, const json_t *c)
{
    if (json_is_string(c)) {
        add_text(a, json_string_value(c), json_string_length(c));
    } else if (json_is_array(c)) {
        size_t i;
        const json_t *part;
        json_array_foreach(c, i, part)
        {
            if (json_is_string(part))
                add_text(a, json_string_value(part), json_string_length(part));
            else
                scan_part(a, part);
        }
    }
}

static void finish(struct acc *a)
{
    struct route_request *rq = a->rq;
    if (!rq->modality || rq->text_bytes)
        rq->modality |= CONFIG_MOD_TEXT;
    rq->text = buf_detach(&a->text, &rq->text_len);
    rq->user_text = buf_detach(&a->user, &rq->user_text_len);
    langid_classify(rq->text, rq->text_len, &rq->lang);
}

void router_features(const json_t *body, const char *task_header, struct route_request *rq)
{
    memset(rq, 0, sizeof(*rq));
    struct acc a = {.rq = rq};
    const json_t *msgs = json_object_get(body, "messages");
    if (json_is_array(msgs)) {
        size_t i;
        const json_t *m;
        json_array_foreach(msgs, i, m)
        {
            const char *role = json_string_value(json_object_get(m, "role"));
            /* language comes from what the user and the system say */
            a.from_user = role && !strcmp(role, "user");
            a.for_language = a.from_user || (role && (!strcmp(role, "system") ||
                                                      !strcmp(role, "developer")));
            scan_content(&a, json_object_get(m, "content"));
        }
    }
    a.for_language = a.from_user = true;
    scan_content(&a, json_object_get(body, "prompt"));
    scan_content(&a, json_object_get(body, "input"));
    const json_t *mt = json_object_get(body, "max_completion_tokens");
    if (!json_is_integer(mt))
        mt = json_object_get(body, "max_tokens");
    if (json_is_integer(mt) && json_integer_value(mt) > 0)
        rq->max_tokens = (uint64_t)json_integer_value(mt);
    const char *rf = json_string_value(json_object_get(json_object_get(body, "response_format"),
                                                       "type"));
    rq->structured = rf && (!strcmp(rf, "json_schema") || !strcmp(rf, "json_object"));
    const char *task = task_header;
    if (!task)
        task = json_string_value(json_object_get(json_object_get(body, "hermod"), "task"));
    if (task)
        snprintf(rq->task, sizeof(rq->task), "%s", task);
    finish(&a);
}

void router_features_text(const char *text, size_t len, struct route_request *rq)
{
    memset(rq, 0, sizeof(*rq));
    struct acc a = {.rq = rq, .for_language = true, .from_user = true};
    add_text(&a, text, len);
    finish(&a);
}

void router_request_release(struct route_request *rq)
{
    free(rq->text);
    free(rq->user_text);
    rq->text = rq->user_text = NULL;
}

/* ---- model facts -------------------------------------------------------------- */

bool router_model_reads(const struct config_model *m, const char *iso, bool *known)
{
    if (m->languages) {
        *known = true;
        for (size_t i = 0; m->languages[i]; i++)
            if (!strcmp(m->languages[i], iso))
                return true;
        return false;
    }
    const struct catalog_entry *c = sizing_catalog_entry(m);
    if (c) {
        *known = true;
        return catalog_has_language(c, iso);
    }
    *known = false;
    /* Unknown: trusted with English only. */
    return !strcmp(iso, "en");
}

unsigned router_model_modalities(const struct config_model *m)
{
    if (m->modalities)
        return m->modalities;
    const struct catalog_entry *c = sizing_catalog_entry(m);
    if (!c)
        return CONFIG_MOD_TEXT;
    unsigned v = 0;
    if (catalog_has_modality(c, CATALOG_IN_TEXT))
        v |= CONFIG_MOD_TEXT;
    if (catalog_has_modality(c, CATALOG_IN_IMAGE))
        v |= CONFIG_MOD_IMAGE;
    if (catalog_has_modality(c, CATALOG_IN_VIDEO))
        v |= CONFIG_MOD_VIDEO;
    if (catalog_has_modality(c, CATALOG_IN_AUDIO))
        v |= CONFIG_MOD_AUDIO;
    return v;
}

uint64_t router_model_context(const struct config_model *m)
{
    if (m->context)
        return m->context;
    const struct catalog_entry *c = sizing_catalog_entry(m);
    return c ? c->context : 0;
}

/* ---- decisions --------------------------------------------------------------------- */

static const char *needed_language(const struct route_request *rq)
{
    if (rq->lang.needs_kannada)
        return "kn";
    if (rq->lang.label == LANGID_HI || rq->lang.label == LANGID_HI_LATN)
        return "hi";
    return NULL;
}

static const char *language_name(const char *iso)
{
    return !strcmp(iso, "kn") ? "Kannada" : !strcmp(iso, "hi") ? "Hindi" : iso;
}

static bool list_has(char *const *v, const char *s)
{
    for (size_t i = 0; v && v[i]; i++)
        if (!strcasecmp(v[i], s))
            return true;
    return false;
}

static bool rule_language(const struct config_rule *r, const struct route_request *rq)
{
    if (!r->languages)
        return true;
    if (list_has(r->languages, "any"))
        return true;
    if (rq->lang.needs_kannada && list_has(r->languages, "kannada"))
        return true;
    return list_has(r->languages, langid_label_name(rq->lang.label));
}

/* Does the rule match? If not, says why into `why`. */
static bool rule_matches(const struct config_rule *r, const struct route_request *rq,
                         struct buf *why)
{
    static const char *const mods[] = {"text", "image", "video", "audio"};
    if (r->text_only && (rq->modality & ~CONFIG_MOD_TEXT)) {
        buf_addstr(why, "the request has media, the rule wants text only");
        return false;
    }
    if (r->modality && !r->text_only && !(rq->modality & r->modality)) {
        buf_addstr(why, "no");
        bool first = true;
        for (size_t i = 0; i < ARRAY_SIZE(mods); i++)
            if (r->modality & (1u << i)) {
                buf_addf(why, "%s %s", first ? "" : " or", mods[i]);
                first = false;
            }
        buf_addstr(why, " input");
        return false;
    }
    if (!rule_language(r, rq)) {
        buf_addf(why, "language %s%s", langid_label_name(rq->lang.label),
                 rq->lang.needs_kannada ? " (needs Kannada)" : "");
        return false;
    }
    if (r->tasks && !list_has(r->tasks, rq->task)) {
        buf_addf(why, "task '%s'", rq->task[0] ? rq->task : "(none)");
        return false;
    }
    if (r->keywords) {
        bool hit = false;
        for (size_t i = 0; r->keywords[i] && !hit; i++)
            hit = rq->text && strcasestr(rq->text, r->keywords[i]);
        if (!hit) {
            buf_addstr(why, "none of its keywords");
            return false;
        }
    }
    if (r->min_tokens && rq->est_tokens < r->min_tokens) {
        buf_addf(why, "~%llu tokens < %u", (unsigned long long)rq->est_tokens, r->min_tokens);
        return false;
    }
    return true;
}

/* Can model m take the request? If not, says why. */
static bool eligible(const struct config_model *m, const struct route_request *rq,
                     router_state_cb *state, void *arg, struct buf *why)
{
    const char *need = needed_language(rq);
    bool known;
    if (need && !router_model_reads(m, need, &known)) {
        buf_addf(why, "no %s%s", language_name(need),
                 known ? "" : " (its languages are unknown: set languages: or catalog:)");
        return false;
    }
    unsigned media = rq->modality & ~CONFIG_MOD_TEXT;
    unsigned takes = router_model_modalities(m);
    if (media & ~takes) {
        buf_addf(why, "takes no %s", (media & ~takes & CONFIG_MOD_IMAGE)   ? "images"
                                     : (media & ~takes & CONFIG_MOD_VIDEO) ? "video"
                                                                            : "audio");
        return false;
    }
    uint64_t ctx = router_model_context(m);
    if (ctx && rq->est_tokens + rq->max_tokens > ctx) {
        buf_addf(why, "context %llu < ~%llu tokens", (unsigned long long)ctx,
                 (unsigned long long)(rq->est_tokens + rq->max_tokens));
        return false;
    }
    if (state) {
        const char *st = state(m, arg);
        if (st && !strcmp(st, "unavailable")) {
            buf_addstr(why, "unavailable now");
            return false;
        }
    }
    return true;
}

static bool already(const struct route_decision *d, const struct config_model *m)
{
    for (size_t i = 0; i < d->ncands; i++)
        if (d->cands[i] == m)
            return true;
    return false;
}

static void describe_request(struct buf *b, const struct route_request *rq)
{
    buf_addf(b, "%s%s", langid_label_name(rq->lang.label),
             rq->lang.needs_kannada && rq->lang.label != LANGID_KN &&
                     rq->lang.label != LANGID_KN_LATN && rq->lang.label != LANGID_MIXED_SCRIPT
                 ? " (may be Kannada)"
                 : "");
    if (rq->images)
        buf_addf(b, ", %u image%s", rq->images, rq->images == 1 ? "" : "s");
    if (rq->videos)
        buf_addf(b, ", %u video%s", rq->videos, rq->videos == 1 ? "" : "s");
    if (rq->audios)
        buf_addf(b, ", audio");
    buf_addf(b, ", ~%llu tokens", (unsigned long long)rq->est_tokens);
    if (rq->task[0])
        buf_addf(b, ", task %s", rq->task);
}

int router_decide(const struct config *cfg, const struct config_route *rt,
                  const struct route_request *rq, router_state_cb *state, void *arg,
                  struct route_decision *d)
{
    memset(d, 0, sizeof(*d));
    d->route = rt;
    for (size_t ri = 0; ri < rt->nrules; ri++) {
        const struct config_rule *r = &rt->rules[ri];
        struct buf why = BUF_INIT;
        if (!rule_matches(r, rq, &why)) {
            buf_addf(&d->skipped, "%s%s: %s", d->skipped.len ? "; " : "", r->name,
                     buf_cstr(&why));
            buf_release(&why);
            continue;
        }
        d->ncands = d->nprimary = 0;
        for (int lane = 0; lane < 2; lane++) {
            char **names = lane ? r->escalate : r->models;
            for (size_t k = 0; names && names[k] && d->ncands < ROUTER_MAX_CANDS; k++) {
                const struct config_model *m = config_find_model(cfg, names[k]);
                if (!m || already(d, m))
                    continue;
                buf_reset(&why);
                if (!eligible(m, rq, state, arg, &why)) {
                    buf_addf(&d->skipped, "%s%s: %s", d->skipped.len ? "; " : "", m->name,
                             buf_cstr(&why));
                    continue;
                }
                d->cands[d->ncands++] = m;
                if (!lane)
                    d->nprimary = d->ncands;
            }
        }
        buf_release(&why);
        if (!d->ncands) {
            buf_addf(&d->skipped, "%s%s: no eligible model", d->skipped.len ? "; " : "",
                     r->name);
            continue;
        }
        if (r->prefer_resident && state && d->nprimary > 1) {
            /* stable: ready ones first, the rest in their order */
            const struct config_model *tmp[ROUTER_MAX_CANDS] = {NULL};
            size_t n = 0;
            for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < d->nprimary; i++) {
                    const char *st = state(d->cands[i], arg);
                    bool ready = st && !strcmp(st, "ready");
                    if (ready == (pass == 0))
                        tmp[n++] = d->cands[i];
                }
            memcpy(d->cands, tmp, n * sizeof(*tmp));
        }
        d->rule = r;
        buf_addf(&d->why, "route %s, rule '%s' (", rt->name, r->name);
        describe_request(&d->why, rq);
        buf_addf(&d->why, ") -> %s", d->cands[0]->name);
        if (d->ncands > d->nprimary)
            buf_addf(&d->why, ", escalating to %s", d->cands[d->nprimary]->name);
        return 0;
    }
    buf_addf(&d->why, "route %s: no model can take this request (", rt->name);
    describe_request(&d->why, rq);
    buf_addf(&d->why, "): %s", d->skipped.len ? buf_cstr(&d->skipped) : "no rules");
    return -ENOENT;
}

void route_decision_release(struct route_decision *d)
{
    buf_release(&d->why);
    buf_release(&d->skipped);
}
