/* SPDX-License-Identifier: MIT */
/*
 * daemon_cli.c: the subcommands that ask a running daemon what it is
 * doing or tell it what to do: `hermod ps`, `unload`, `logs` and `chat`.
 * Each is a client of the daemon's HTTP API (/hermod/running,
 * /hermod/unload, /hermod/logs, /v1/chat/completions) through
 * cli_http(); the daemon is found by cli_daemon_url().
 */
#include "cli/cli.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/client.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xalloc.h"

struct common {
    const char *url, *config;
    bool json;
};

/* Takes --url, --config and --json at argv[*i]; returns 1 when taken, 0
 * when not one of them, -1 when its value is missing. */
static int common_opt(int argc, char **argv, int *i, struct common *c)
{
    const char *a = argv[*i];
    const char **dst = NULL;
    if (!strcmp(a, "--url"))
        dst = &c->url;
    else if (!strcmp(a, "--config") || !strcmp(a, "-c"))
        dst = &c->config;
    else if (!strcmp(a, "--json")) {
        c->json = true;
        return 1;
    } else
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "hermod %s: %s needs a value\n", argv[0], a);
        return -1;
    }
    *dst = argv[++*i];
    return 1;
}

#define COMMON_HELP                                                                       \
    "  --url URL       the daemon (default: $HERMOD_URL, else the config's listen)\n"     \
    "  --config FILE   the config whose listen address to use (default: built-in)\n"

/* GET or POST base+path; on success returns the body in resp (status 2xx).
 * Prints the problem and returns 1 otherwise. */
static int call(const struct common *c, const char *method, const char *path,
                const char *body, struct buf *resp, const char *who)
{
    struct buf base = BUF_INIT, err = BUF_INIT, url = BUF_INIT;
    int rc = cli_daemon_url(c->url, c->config, &base, &err);
    long status = 0;
    if (!rc) {
        buf_addf(&url, "%s%s", buf_cstr(&base), path);
        struct cli_call k = {.method = method, .url = buf_cstr(&url), .body = body,
                             .body_len = body ? strlen(body) : 0, .timeout_ms = 30000};
        rc = cli_http(&k, &status, resp, &err);
    }
    if (!rc && (status < 200 || status > 299)) {
        cli_error_message(buf_cstr(resp), resp->len, &err);
        rc = -EIO;
    }
    if (rc)
        fprintf(stderr, "hermod %s: %s\n", who, buf_cstr(&err));
    buf_release(&base);
    buf_release(&err);
    buf_release(&url);
    return rc ? 1 : 0;
}

static void human_bytes(json_t *v, char *out, size_t n)
{
    if (!json_is_integer(v)) {
        snprintf(out, n, "-");
        return;
    }
    str_fmt_size((uint64_t)json_integer_value(v), out, n);
}

/* ---- ps ---------------------------------------------------------------------- */

static const char ps_usage[] =
    "usage: hermod ps [--all] [--json] [--url URL] [--config FILE]\n"
    "  What the running daemon is doing: each model's state (cold, starting,\n"
    "  ready, failed), its engines with pid, memory, requests in flight and\n"
    "  the last error. --all lists stopped engines too.\n" COMMON_HELP
    "  --json          the daemon's /hermod/running answer as it came\n";

int ps_main(int argc, char **argv)
{
    struct common c = {0};
    bool all = false;
    for (int i = 1; i < argc; i++) {
        int t = common_opt(argc, argv, &i, &c);
        if (t < 0)
            return 2;
        if (t)
            continue;
        if (!strcmp(argv[i], "--all") || !strcmp(argv[i], "-a"))
            all = true;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(ps_usage, stdout);
            return 0;
        } else {
            fprintf(stderr, "hermod ps: unknown argument '%s'\n%s", argv[i], ps_usage);
            return 2;
        }
    }
    struct buf resp = BUF_INIT;
    int rc = call(&c, "GET", all ? "/hermod/running?all=1" : "/hermod/running", NULL, &resp,
                  "ps");
    if (rc)
        goto out;
    if (c.json) {
        fwrite(resp.data, 1, resp.len, stdout);
        goto out;
    }
    json_t *j = json_loadb(buf_cstr(&resp), resp.len, 0, NULL);
    json_t *models = json_object_get(j, "models"), *engines = json_object_get(j, "engines");
    size_t i, k;
    json_t *m, *e;
    printf("%-24s %-10s %9s %8s\n", "MODEL", "STATE", "IN FLIGHT", "WAITING");
    json_array_foreach(models, i, m)
    {
        printf("%-24s %-10s %9lld %8lld\n", json_string_value(json_object_get(m, "name")),
               json_string_value(json_object_get(m, "state")),
               (long long)json_integer_value(json_object_get(m, "in_flight")),
               (long long)json_integer_value(json_object_get(m, "waiting")));
    }
    if (json_array_size(engines)) {
        printf("\n%-28s %-10s %8s %10s %10s %9s %8s\n", "ENGINE", "STATE", "PID", "MEMORY",
               "ESTIMATE", "REQUESTS", "FAILURES");
        json_array_foreach(engines, k, e)
        {
            json_t *mem = json_object_get(e, "memory");
            char meas[32], est[32];
            human_bytes(json_object_get(mem, "measured"), meas, sizeof(meas));
            human_bytes(json_object_get(mem, "estimate"), est, sizeof(est));
            json_t *pid = json_object_get(e, "pid");
            char pids[24] = "-";
            if (json_is_integer(pid))
                snprintf(pids, sizeof(pids), "%lld", (long long)json_integer_value(pid));
            printf("%-28s %-10s %8s %10s %10s %9lld %8lld\n",
                   json_string_value(json_object_get(e, "id")),
                   json_string_value(json_object_get(e, "state")), pids, meas, est,
                   (long long)json_integer_value(json_object_get(e, "requests")),
                   (long long)json_integer_value(json_object_get(e, "failures")));
            const char *le = json_string_value(json_object_get(e, "last_error"));
            if (le)
                printf("%*s last error: %s\n", 28, "", le);
        }
    } else {
        printf("\nno engine is running%s\n", all ? "" : " (hermod ps --all lists stopped ones)");
    }
    json_decref(j);
out:
    buf_release(&resp);
    return rc;
}

/* ---- unload ------------------------------------------------------------------ */

static const char unload_usage[] =
    "usage: hermod unload MODEL|all [--url URL] [--config FILE]\n"
    "  Stops the engines of MODEL (or of every model) in the running daemon.\n"
    "  Requests in flight finish first; the next request starts it again.\n" COMMON_HELP;

int unload_main(int argc, char **argv)
{
    struct common c = {0};
    const char *model = NULL;
    for (int i = 1; i < argc; i++) {
        int t = common_opt(argc, argv, &i, &c);
        if (t < 0)
            return 2;
        if (t)
            continue;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(unload_usage, stdout);
            return 0;
        }
        if (argv[i][0] == '-' || model) {
            fprintf(stderr, "hermod unload: unexpected '%s'\n%s", argv[i], unload_usage);
            return 2;
        }
        model = argv[i];
    }
    if (!model) {
        fprintf(stderr, "hermod unload: say which model (hermod ps lists them), or 'all'\n%s",
                unload_usage);
        return 2;
    }
    json_t *b = json_pack("{s:s}", "model", model);
    char *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    struct buf resp = BUF_INIT;
    int rc = call(&c, "POST", "/hermod/unload", body, &resp, "unload");
    if (!rc) {
        json_t *j = json_loadb(buf_cstr(&resp), resp.len, 0, NULL);
        long long n = json_integer_value(json_object_get(j, "stopping"));
        if (n)
            printf("%s: stopping %lld engine%s\n", model, n, n == 1 ? "" : "s");
        else
            printf("%s: nothing was running\n", model);
        json_decref(j);
    }
    free(body);
    buf_release(&resp);
    return rc;
}

/* ---- logs -------------------------------------------------------------------- */

static const char logs_usage[] =
    "usage: hermod logs MODEL|ENGINE-ID [-f] [--bytes N] [--url URL] [--config FILE]\n"
    "  The captured output (stdout and stderr) of a managed engine of MODEL.\n"
    "  -f, --follow    keep printing new output until interrupted\n"
    "  --bytes N       how much of the end to show first (default 16384)\n" COMMON_HELP;

/* What of now follows what was printed before: the text after the last
 * place where the end of prev appears in now. The daemon keeps a bounded
 * tail, so the two overlap unless more than its size was written. */
static size_t new_part(const struct buf *prev, const struct buf *now)
{
    if (!prev->len)
        return 0;
    size_t key = prev->len < 512 ? prev->len : 512;
    const char *k = prev->data + prev->len - key;
    for (size_t at = now->len >= key ? now->len - key + 1 : 0; at-- > 0;)
        if (!memcmp(now->data + at, k, key))
            return at + key;
    return 0;
}

int logs_main(int argc, char **argv)
{
    struct common c = {0};
    const char *who = NULL;
    bool follow = false;
    uint64_t bytes = 16384;
    for (int i = 1; i < argc; i++) {
        int t = common_opt(argc, argv, &i, &c);
        if (t < 0)
            return 2;
        if (t)
            continue;
        if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--follow"))
            follow = true;
        else if (!strcmp(argv[i], "--bytes") && i + 1 < argc) {
            if (str_parse_uint(argv[++i], 1, 1u << 30, &bytes)) {
                fprintf(stderr, "hermod logs: --bytes must be a positive number\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(logs_usage, stdout);
            return 0;
        } else if (argv[i][0] == '-' || who) {
            fprintf(stderr, "hermod logs: unexpected '%s'\n%s", argv[i], logs_usage);
            return 2;
        } else
            who = argv[i];
    }
    if (!who) {
        fprintf(stderr, "hermod logs: say which model or engine (hermod ps lists them)\n%s",
                logs_usage);
        return 2;
    }
    /* An engine id has an @ in it ("m@llama-server"); else it is a model. */
    struct buf path = BUF_INIT, prev = BUF_INIT, now = BUF_INIT;
    bool engine = strchr(who, '@') != NULL;
    buf_addf(&path, "/hermod/logs?%s=", engine ? "engine" : "model");
    for (const char *p = who; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p))
            buf_addch(&path, *p);
        else
            buf_addf(&path, "%%%02X", (unsigned char)*p);
    }
    buf_addf(&path, "&bytes=%llu", (unsigned long long)bytes);
    int rc;
    for (;;) {
        buf_reset(&now);
        rc = call(&c, "GET", buf_cstr(&path), NULL, &now, "logs");
        if (rc)
            break;
        size_t from = new_part(&prev, &now);
        fwrite(now.data + from, 1, now.len - from, stdout);
        fflush(stdout);
        if (!follow)
            break;
        if (now.len)
            buf_reset(&prev), buf_add(&prev, now.data, now.len);
        /* Polling, at the pace a person reads; the daemon keeps the tail. */
        struct timespec ts = {0, 500 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    buf_release(&path);
    buf_release(&prev);
    buf_release(&now);
    return rc;
}

/* ---- chat -------------------------------------------------------------------- */

static const char chat_usage[] =
    "usage: hermod chat -m MODEL [TEXT...] [--system TEXT] [--max-tokens N]\n"
    "                   [--url URL] [--config FILE]\n"
    "  Sends TEXT (or stdin when no TEXT) to MODEL, a model or a route such as\n"
    "  auto, and streams the answer to stdout. While the model starts, its\n"
    "  progress is shown on stderr.\n"
    "  -m, --model M   the model or route (hermod models lists them)\n"
    "  --system TEXT   a system message first\n"
    "  --max-tokens N  the longest answer\n" COMMON_HELP;

struct chat {
    struct buf line;      /* an SSE line being assembled */
    struct buf raw;       /* the first 64 KiB, for an error answer */
    bool any, failed, tty;
    struct buf err;
};

static void chat_line(struct chat *s, const char *l, size_t n)
{
    if (n && l[0] == ':') {
        /* ": hermod: loading m (12 s, 40%)" keepalives while it starts. */
        const char *p = l + 1;
        while (*p == ' ')
            p++;
        if (!strncmp(p, "hermod: ", 8))
            fprintf(stderr, "%s%.*s\n", s->tty ? "\r" : "", (int)(n - (size_t)(p + 8 - l)),
                    p + 8);
        return;
    }
    if (n < 5 || strncmp(l, "data:", 5))
        return;
    const char *d = l + 5;
    size_t dn = n - 5;
    while (dn && *d == ' ')
        d++, dn--;
    if (dn == 6 && !memcmp(d, "[DONE]", 6))
        return;
    json_t *j = json_loadb(d, dn, 0, NULL);
    json_t *e = json_object_get(j, "error");
    if (e) {
        const char *m = json_string_value(json_object_get(e, "message"));
        buf_addstr(&s->err, m ? m : "the stream ended with an error");
        s->failed = true;
    }
    json_t *ch = json_array_get(json_object_get(j, "choices"), 0);
    const char *txt = json_string_value(json_object_get(json_object_get(ch, "delta"), "content"));
    if (!txt)
        txt = json_string_value(json_object_get(ch, "text"));
    if (txt && *txt) {
        fputs(txt, stdout);
        fflush(stdout);
        s->any = true;
    }
    json_decref(j);
}

static int chat_data_cb(const char *p, size_t n, void *arg)
{
    struct chat *s = arg;
    if (s->raw.len < 65536)
        buf_add(&s->raw, p, n);
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n') {
            size_t ln = s->line.len;
            if (ln && s->line.data[ln - 1] == '\r')
                ln--;
            chat_line(s, s->line.data ? s->line.data : "", ln);
            buf_reset(&s->line);
        } else if (s->line.len < (16u << 20)) {
            buf_addch(&s->line, p[i]);
        }
    }
    return 0;
}

int chat_main(int argc, char **argv)
{
    struct common c = {0};
    const char *model = NULL, *system = NULL;
    uint64_t max_tokens = 0;
    struct buf text = BUF_INIT;
    for (int i = 1; i < argc; i++) {
        int t = common_opt(argc, argv, &i, &c);
        if (t < 0)
            return 2;
        if (t)
            continue;
        if ((!strcmp(argv[i], "-m") || !strcmp(argv[i], "--model")) && i + 1 < argc)
            model = argv[++i];
        else if (!strcmp(argv[i], "--system") && i + 1 < argc)
            system = argv[++i];
        else if (!strcmp(argv[i], "--max-tokens") && i + 1 < argc) {
            if (str_parse_uint(argv[++i], 1, 1u << 24, &max_tokens)) {
                fprintf(stderr, "hermod chat: --max-tokens must be a positive number\n");
                return 2;
            }
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(chat_usage, stdout);
            buf_release(&text);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "hermod chat: unknown option '%s'\n%s", argv[i], chat_usage);
            buf_release(&text);
            return 2;
        } else
            buf_addf(&text, "%s%s", text.len ? " " : "", argv[i]);
    }
    if (!model) {
        fprintf(stderr, "hermod chat: say which model with -m MODEL (hermod models lists "
                        "them; 'auto' routes by language)\n");
        buf_release(&text);
        return 2;
    }
    if (!text.len) {
        char chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0 && text.len < (64u << 20))
            buf_add(&text, chunk, n);
    }
    json_t *msgs = json_array();
    if (system)
        json_array_append_new(msgs, json_pack("{s:s,s:s}", "role", "system", "content", system));
    json_array_append_new(msgs, json_pack("{s:s,s:s%}", "role", "user", "content",
                                          buf_cstr(&text), text.len));
    json_t *b = json_pack("{s:s,s:o,s:b}", "model", model, "messages", msgs, "stream", 1);
    if (max_tokens)
        json_object_set_new(b, "max_tokens", json_integer((json_int_t)max_tokens));
    char *body = json_dumps(b, JSON_COMPACT);
    json_decref(b);

    struct buf base = BUF_INIT, err = BUF_INIT, url = BUF_INIT, resp = BUF_INIT;
    struct chat s = {.line = BUF_INIT, .raw = BUF_INIT, .err = BUF_INIT, .tty = isatty(2)};
    long status = 0;
    int rc = cli_daemon_url(c.url, c.config, &base, &err);
    if (!rc) {
        buf_addf(&url, "%s/v1/chat/completions", buf_cstr(&base));
        struct cli_call k = {.method = "POST", .url = buf_cstr(&url), .body = body,
                             .body_len = strlen(body), .on_data = chat_data_cb, .arg = &s};
        rc = cli_http(&k, &status, &resp, &err);
    }
    if (!rc && s.line.len)
        chat_line(&s, s.line.data, s.line.len);
    if (!rc && status != 200) {
        /* Errors come as an OpenAI error JSON, not SSE. */
        buf_reset(&s.err);
        cli_error_message(buf_cstr(&s.raw), s.raw.len, &s.err);
        rc = -EIO;
    }
    if (rc == -EIO && !s.err.len)
        buf_addf(&s.err, "the daemon answered %ld", status);
    if (rc && rc != -EIO)
        fprintf(stderr, "hermod chat: %s\n", buf_cstr(&err));
    else if (s.failed || rc) {
        if (s.any)
            fputc('\n', stdout);
        fprintf(stderr, "hermod chat: %s\n", buf_cstr(&s.err));
        rc = -EIO;
    } else if (s.any)
        fputc('\n', stdout);
    free(body);
    buf_release(&text);
    buf_release(&base);
    buf_release(&err);
    buf_release(&url);
    buf_release(&resp);
    buf_release(&s.line);
    buf_release(&s.err);
    buf_release(&s.raw);
    return rc ? 1 : 0;
}
