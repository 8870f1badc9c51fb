/* SPDX-License-Identifier: MIT */
/*
 * router: which model a request for a route ("auto", "vision", ...) goes to.
 *
 * A route is a virtual model name defined in the config: an ordered list of
 * rules over the request's input modality (image, video, audio parts), its
 * language (langid over all user and system text), its estimated prompt
 * length against each model's context, the task the client names
 * (X-Hermod-Task header or "hermod": {"task": ...} in the body), and what
 * is available. The first rule that matches and has an eligible model wins;
 * its models, in order, are the candidates, and its escalation lane follows.
 *
 * Hard constraints come from the catalog (or the model's own `languages:`
 * and `modalities:`): a model never gets a language or a modality it lacks.
 * Where a model's languages are unknown it is not trusted with Kannada; its
 * modalities unknown, it gets text only. A client that names a model
 * directly bypasses all of this.
 *
 * DESIGN
 * router_features() reads the parsed request (json_t stays at this edge);
 * router_decide() is a pure function of the config, the features and an
 * availability callback, so `hermod route --explain` and the daemon run
 * the same code.
 */
#ifndef HERMOD_ROUTER_H
#define HERMOD_ROUTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "lib/buf.h"
#include "text/langid.h"

#define ROUTER_MAX_CANDS 32

/* What the router knows about a request. */
struct route_request {
    struct langid_result lang;
    unsigned modality;        /* enum config_modality present in the input */
    unsigned images, videos, audios;
    uint64_t text_bytes;
    uint64_t est_tokens;      /* prompt estimate, images included */
    uint64_t max_tokens;      /* the output the client asked for, 0 = not said */
    char task[64];            /* "" = none */
    char *text;               /* user and system text, joined (owned; bounded) */
    size_t text_len;
    char *user_text;          /* the user's text alone, and a completion's prompt (owned;
                               * bounded): the names an answer must keep */
    size_t user_text_len;
    bool structured;          /* response_format json_schema or json_object */
};

/* Fills rq from a request body (chat, completions or embeddings). The task
 * comes from task_header when non-NULL, else from body.hermod.task.
 * Release with router_request_release. */
void router_features(const json_t *body, const char *task_header, struct route_request *rq);
/* The same from plain text (route --explain on a text file). */
void router_features_text(const char *text, size_t len, struct route_request *rq);
void router_request_release(struct route_request *rq);

/* A model's availability as the scheduler sees it: "ready", "starting",
 * "stopped" or "unavailable". */
typedef const char *router_state_cb(const struct config_model *m, void *arg);

struct route_decision {
    const struct config_route *route;
    const struct config_rule *rule;
    const struct config_model *cands[ROUTER_MAX_CANDS];
    size_t ncands;            /* models first, then the escalation lane */
    size_t nprimary;          /* cands[0..nprimary) are the rule's models */
    struct buf why;           /* one sentence: what decided */
    struct buf skipped;       /* rules and models passed over, and why */
};

/*
 * Decides. state may be NULL (no availability known: `route --explain`).
 * Returns 0 with at least one candidate, or -ENOENT with the reasons in
 * d->why (no rule matched, or no model can take the request). Release d
 * with route_decision_release either way.
 */
int router_decide(const struct config *cfg, const struct config_route *rt,
                  const struct route_request *rq, router_state_cb *state, void *arg,
                  struct route_decision *d);
void route_decision_release(struct route_decision *d);

/* Does model m read language `iso`? *known tells whether that is from the
 * config or the catalog (else the answer is a guess: false for "kn"). */
bool router_model_reads(const struct config_model *m, const char *iso, bool *known);
/* The input modalities model m takes (config, else catalog, else text). */
unsigned router_model_modalities(const struct config_model *m);
/* Context length of model m (config, else catalog), 0 = unknown. */
uint64_t router_model_context(const struct config_model *m);

#endif
