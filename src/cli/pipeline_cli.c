/* SPDX-License-Identifier: MIT */
/*
 * pipeline_cli.c: `hermod ingest`, a client of a running daemon's POST
 * /hermod/ingest. The daemon does the work (it owns the engines and the
 * store's writer side); this sends each file and prints what came back.
 */
#include "cli/cli.h"
#include "cli/client.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/config.h"
#include "ingest/pipeline.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xalloc.h"

static const char usage_text[] =
    "usage: hermod ingest FILE... [--at TIME] [--source S] [--model NAME] [--kind K]\n"
    "                     [--url URL] [--config FILE] [--json]\n"
    "  Sends photos, screenshots, videos and transcripts (.txt, .md; - for stdin)\n"
    "  to a running hermod, which describes them and keeps them in its memory.\n"
    "  --at TIME     when it was captured: 2026-11-20, 2026-11-20T18:30+05:30, 3h,\n"
    "                yesterday (default: EXIF or video time, else now)\n"
    "  --source S    where it came from: camera, whatsapp, ...\n"
    "  --model NAME  the model or route that describes it (default: the pipeline's)\n"
    "  --kind K      what it is, overriding the model: receipt, lab_report, ...;\n"
    "                transcript reads the file as text\n"
    "  --url URL     the daemon (default: $HERMOD_URL, else the config's listen)\n"
    "                with auth: keys, $HERMOD_API_KEY is sent (an admin key)\n"
    "  --json        print each answer as one JSON line\n"
    "exit status: 0 all described, 3 some stored but pending (hermod retries them),\n"
    "             1 errors, 2 usage\n";

static int read_all(const char *path, struct buf *out, struct buf *err)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        buf_addf(err, "%s: %s", path, strerror(errno));
        return -errno;
    }
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_add(out, chunk, n);
    int bad = ferror(f);
    if (f != stdin)
        fclose(f);
    if (bad) {
        buf_addf(err, "%s: read error", path);
        return -EIO;
    }
    return 0;
}

static void add_param(struct buf *url, const char *name, const char *value)
{
    if (!value)
        return;
    buf_addf(url, "%c%s=", strchr(buf_cstr(url), '?') ? '&' : '?', name);
    str_url_escape(url, value);
}

static const char *or_else(const char *s, const char *d)
{
    return s ? s : d;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static void print_human(const char *path, long status, json_t *o)
{
    const char *st = json_string_value(json_object_get(o, "status"));
    printf("%s: episode %lld %s%s, %s", path, (long long)json_integer_value(json_object_get(o, "id")),
           st ? st : "?", json_is_true(json_object_get(o, "duplicate")) ? " (seen before)" : "",
           json_string_value(json_object_get(o, "kind")));
    const char *model = json_string_value(json_object_get(o, "model"));
    const char *engine = json_string_value(json_object_get(o, "engine"));
    if (model)
        printf(" by %s%s%s", model, engine ? " on " : "", engine ? engine : "");
    const char *at = json_string_value(json_object_get(o, "captured_at"));
    const char *from = json_string_value(
        json_object_get(json_object_get(o, "media"), "captured_from"));
    if (at)
        printf(", captured %s%s%s%s", at, from ? " (" : "", from ? from : "", from ? ")" : "");
    printf("\n");
    const char *d = json_string_value(json_object_get(o, "description"));
    if (d && *d)
        printf("  %s\n", d);
    const json_t *x = json_object_get(o, "extract");
    const char *type = json_string_value(json_object_get(x, "type"));
    if (type && !strcmp(type, "receipt")) {
        const json_t *t = json_object_get(x, "total");
        printf("  receipt: %s, %s, total %s %.2f\n",
               or_else(json_string_value(json_object_get(x, "merchant")), "(merchant?)"),
               or_else(json_string_value(json_object_get(x, "date")), "(date?)"),
               or_else(json_string_value(json_object_get(x, "currency")), ""),
               json_is_number(t) ? json_number_value(t) : 0.0);
    } else if (type && !strcmp(type, "lab_report")) {
        size_t i;
        json_t *t;
        json_array_foreach(json_object_get(x, "tests"), i, t) {
            const json_t *v = json_object_get(t, "value");
            printf("  %s: %s %s%s\n", or_else(json_string_value(json_object_get(t, "test")), "?"),
                   json_is_number(v) ? "" : or_else(json_string_value(json_object_get(t, "value_raw")), ""),
                   or_else(json_string_value(json_object_get(t, "unit")), ""),
                   json_is_true(json_object_get(t, "out_of_range")) ? "  (out of range)" : "");
            if (json_is_number(v))
                printf("    value %g\n", json_number_value(v));
        }
    }
    const json_t *ents = json_object_get(o, "entities");
    if (json_array_size(ents)) {
        printf("  entities:");
        size_t i;
        json_t *e;
        json_array_foreach(ents, i, e)
            printf("%s %s (%s)", i ? "," : "", json_string_value(json_object_get(e, "name")),
                   json_string_value(json_object_get(e, "type")));
        printf("\n");
    }
    const json_t *err = json_object_get(o, "error");
    if (err) {
        const char *m = json_is_string(err) ? json_string_value(err)
                                            : json_string_value(json_object_get(err, "message"));
        printf("  not described yet: %s\n", m ? m : "?");
        if (json_number_value(json_object_get(o, "retry_in_s")) > 0)
            printf("  hermod retries it every %gs\n",
                   json_number_value(json_object_get(o, "retry_in_s")));
    }
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(o, "warnings"), i, w)
        printf("  note: %s\n", json_string_value(w));
    (void)status;
}

/* Sends one file. Returns 0 done, 3 pending, 1 error. */
static int send_one(const char *base, const char *path, const char *at,
                    const char *source, const char *model, const char *kind, bool as_json)
{
    struct buf data = BUF_INIT, err = BUF_INIT, url = BUF_INIT, answer = BUF_INIT;
    int ret = 1;
    if (read_all(path, &data, &err)) {
        fprintf(stderr, "hermod ingest: %s\n", buf_cstr(&err));
        goto out;
    }
    bool text = (kind && !strcmp(kind, "transcript")) || str_ends_with(path, ".txt") ||
                str_ends_with(path, ".md");
    buf_addf(&url, "%s/hermod/ingest", base);
    add_param(&url, "filename", strcmp(path, "-") ? base_name(path) : NULL);
    add_param(&url, "at", at);
    add_param(&url, "source", source);
    add_param(&url, "model", model);
    add_param(&url, "kind", kind);
    struct cli_call call = {
        .method = "POST",
        .url = buf_cstr(&url),
        .body = data.data ? data.data : "",
        .body_len = data.len,
        .content_type = text ? "text/plain; charset=utf-8" : "application/octet-stream",
    };
    long status = 0;
    if (cli_http(&call, &status, &answer, &err)) {
        fprintf(stderr, "hermod ingest: %s: %s\n", path, buf_cstr(&err));
        goto out;
    }
    json_t *o = json_loadb(answer.data ? answer.data : "", answer.len, 0, NULL);
    if (!json_is_object(o)) {
        fprintf(stderr, "hermod ingest: %s: HTTP %ld, not JSON: %.200s\n", path, status,
                buf_cstr(&answer));
        json_decref(o);
        goto out;
    }
    if (as_json) {
        json_object_set_new(o, "file", json_string(path));
        json_object_set_new(o, "http_status", json_integer(status));
        char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
        printf("%s\n", s);
        free(s);
    }
    const json_t *e = json_object_get(o, "error");
    if (status >= 400 && !json_object_get(o, "id")) {
        if (!as_json)
            fprintf(stderr, "hermod ingest: %s: %s\n", path,
                    or_else(json_string_value(json_object_get(e, "message")), buf_cstr(&answer)));
        ret = 1;
    } else {
        if (!as_json)
            print_human(path, status, o);
        ret = status == 200 ? 0 : status == 202 ? 3 : 1;
    }
    json_decref(o);
out:
    buf_release(&data);
    buf_release(&err);
    buf_release(&url);
    buf_release(&answer);
    return ret;
}

int pipeline_ingest_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"at", required_argument, NULL, 'a'},     {"source", required_argument, NULL, 's'},
        {"model", required_argument, NULL, 'm'},  {"kind", required_argument, NULL, 'k'},
        {"url", required_argument, NULL, 'u'},    {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},         {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *at = NULL, *source = NULL, *model = NULL, *kind = NULL, *url = NULL,
               *config = NULL;
    bool as_json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'a': at = optarg; break;
        case 's': source = optarg; break;
        case 'm': model = optarg; break;
        case 'k': kind = optarg; break;
        case 'u': url = optarg; break;
        case 'c': config = optarg; break;
        case 'j': as_json = true; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: fputs(usage_text, stderr); return 2;
        }
    }
    if (optind >= argc) {
        fputs(usage_text, stderr);
        return 2;
    }
    struct buf based = BUF_INIT, err = BUF_INIT;
    if (cli_daemon_url(url, config, &based, &err)) {
        fprintf(stderr, "hermod ingest: %s\n", buf_cstr(&err));
        buf_release(&err);
        buf_release(&based);
        return 1;
    }
    buf_release(&err);
    const char *base = buf_cstr(&based);
    int worst = 0;
    for (int i = optind; i < argc; i++) {
        int r = send_one(base, argv[i], at, source, model, kind, as_json);
        if (r == 1 || (r == 3 && worst == 0))
            worst = r;
    }
    buf_release(&based);
    return worst;
}
