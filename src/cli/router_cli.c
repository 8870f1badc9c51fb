/* SPDX-License-Identifier: MIT */
/*
 * router_cli.c: `hermod route --explain` — reads a request body (JSON) or
 * plain text from a file or stdin and prints what the router decides and
 * why, without calling any engine. See router.h.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/catalog.h"
#include "core/config.h"
#include "lib/xalloc.h"
#include "model/engine.h"
#include "route/router.h"

static int read_all(FILE *f, struct buf *out)
{
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        buf_add(out, chunk, n);
        if (out->len > (256u << 20))
            return -EFBIG;
    }
    return ferror(f) ? -EIO : 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: hermod route --explain [--config FILE] [--route NAME] [--task T] "
               "[--json] TEXT|FILE|-\n"
               "Reads a request body (an OpenAI chat/completions JSON) or plain text: TEXT\n"
               "given on the command line (several words are joined), or the FILE of that\n"
               "name, or stdin (- or nothing), and prints the routing decision: language\n"
               "and script, modality,\n"
               "estimated tokens, the rule that matched, the candidates in order and why\n"
               "others were passed over. No engine is called.\n");
}

int router_main(int argc, char **argv)
{
    const char *config = NULL, *route = NULL, *task = NULL, *file = NULL;
    struct buf words = BUF_INIT; /* TEXT on the command line */
    bool json_out = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--explain"))
            continue;
        if ((!strcmp(argv[i], "--config") || !strcmp(argv[i], "-c")) && i + 1 < argc)
            config = argv[++i];
        else if (!strcmp(argv[i], "--route") && i + 1 < argc)
            route = argv[++i];
        else if (!strcmp(argv[i], "--task") && i + 1 < argc)
            task = argv[++i];
        else if (!strcmp(argv[i], "--json"))
            json_out = true;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' && strcmp(argv[i], "-")) {
            fprintf(stderr, "hermod route: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else {
            /* A word that names a readable file is the file, as before;
             * anything else is the text itself. */
            if (!file && !words.len && (!strcmp(argv[i], "-") || !access(argv[i], R_OK)))
                file = argv[i];
            else {
                if (file && strcmp(file, "-"))
                    buf_addf(&words, "%s", file);
                file = NULL;
                buf_addf(&words, "%s%s", words.len ? " " : "", argv[i]);
            }
        }
    }
    struct config *cfg = NULL;
    struct buf err = BUF_INIT, in = BUF_INIT;
    int rc = config ? config_load_file(config, &cfg, &err) : config_load_default(&cfg, &err);
    if (rc) {
        fprintf(stderr, "hermod: %s\n", buf_cstr(&err));
        buf_release(&err);
        buf_release(&words);
        return 1;
    }
    FILE *f = NULL;
    if (words.len)
        buf_add(&in, words.data, words.len);
    else if (!(f = file && strcmp(file, "-") ? fopen(file, "rb") : stdin)) {
        fprintf(stderr, "hermod route: %s: %s\n", file, strerror(errno));
        config_free(cfg);
        return 1;
    }
    rc = f ? read_all(f, &in) : 0;
    if (f && f != stdin)
        fclose(f);
    if (rc) {
        fprintf(stderr, "hermod route: cannot read the input: %s\n", strerror(-rc));
        config_free(cfg);
        buf_release(&in);
        buf_release(&words);
        return 1;
    }
    struct route_request rq;
    json_t *body = json_loadb(buf_cstr(&in), in.len, 0, NULL);
    const char *model = NULL;
    if (json_is_object(body)) {
        router_features(body, task, &rq);
        model = json_string_value(json_object_get(body, "model"));
    } else {
        router_features_text(buf_cstr(&in), in.len, &rq);
        if (task)
            snprintf(rq.task, sizeof(rq.task), "%s", task);
    }
    if (route)
        model = route;
    const struct config_route *rt = model ? config_find_route(cfg, model) : NULL;
    if (!rt && !model && cfg->nroutes)
        rt = &cfg->routes[0];
    int status = 0;
    json_t *out = json_object();
    json_t *scores = json_object();
    for (int l = 0; l < LANGID_NLABELS; l++)
        json_object_set_new(scores, langid_label_name((enum langid_label)l),
                            json_real(rq.lang.scores[l]));
    json_object_set_new(out, "language",
                        json_pack("{s:s,s:b,s:b,s:o}", "label", langid_label_name(rq.lang.label),
                                  "needs_kannada", rq.lang.needs_kannada, "uncertain",
                                  rq.lang.uncertain, "scores", scores));
    json_object_set_new(out, "images", json_integer(rq.images));
    json_object_set_new(out, "videos", json_integer(rq.videos));
    json_object_set_new(out, "audio", json_integer(rq.audios));
    json_object_set_new(out, "est_tokens", json_integer((json_int_t)rq.est_tokens));
    json_object_set_new(out, "task", json_string(rq.task));
    if (!rt) {
        const struct config_model *m = model ? config_find_model(cfg, model) : NULL;
        if (m) {
            json_object_set_new(out, "model", json_string(m->name));
            json_object_set_new(out, "why", json_string("the request names the model directly: "
                                                        "no routing, no constraints"));
        } else {
            json_object_set_new(out, "error",
                                json_string(model ? "no such model or route"
                                                  : "the config defines no routes"));
            status = 1;
        }
    } else {
        struct route_decision d;
        rc = router_decide(cfg, rt, &rq, NULL, NULL, &d);
        json_object_set_new(out, "route", json_string(rt->name));
        if (rc == 0) {
            json_t *cands = json_array();
            for (size_t i = 0; i < d.ncands; i++)
                json_array_append_new(cands, json_string(d.cands[i]->name));
            json_object_set_new(out, "rule", json_string(d.rule->name));
            json_object_set_new(out, "model", json_string(d.cands[0]->name));
            json_object_set_new(out, "candidates", cands);
            json_object_set_new(out, "escalation_from", json_integer((json_int_t)d.nprimary));
        } else {
            status = 1;
        }
        json_object_set_new(out, "why", json_string(buf_cstr(&d.why)));
        json_object_set_new(out, "skipped", json_string(buf_cstr(&d.skipped)));
        route_decision_release(&d);
    }
    if (json_out) {
        char *s = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(10));
        printf("%s\n", s);
        free(s);
    } else {
        printf("language   %s%s%s\n", json_string_value(json_object_get(
                                              json_object_get(out, "language"), "label")),
               rq.lang.needs_kannada ? ", needs Kannada" : "",
               rq.lang.uncertain ? " (uncertain)" : "");
        printf("input      %u image(s), %u video(s), ~%llu tokens%s%s\n", rq.images, rq.videos,
               (unsigned long long)rq.est_tokens, rq.task[0] ? ", task " : "", rq.task);
        const char *k;
        json_t *v;
        json_object_foreach(out, k, v)
        {
            if (!strcmp(k, "route") || !strcmp(k, "rule") || !strcmp(k, "model") ||
                !strcmp(k, "why") || !strcmp(k, "skipped") || !strcmp(k, "error"))
                printf("%-10s %s\n", k, json_string_value(v));
            else if (!strcmp(k, "candidates")) {
                printf("%-10s", "candidates");
                size_t i;
                json_t *c;
                json_array_foreach(v, i, c) printf(" %s", json_string_value(c));
                printf("\n");
            }
        }
    }
    json_decref(out);
    json_decref(body);
    router_request_release(&rq);
    buf_release(&in);
    buf_release(&words);
    buf_release(&err);
    config_free(cfg);
    return status;
}
