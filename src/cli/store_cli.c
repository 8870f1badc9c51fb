/* SPDX-License-Identifier: MIT */
/*
 * store_cli.c: `hermod search` and `hermod export`, the command-line face
 * of the store. main.c dispatches to store_search_main() and
 * store_export_main() with argv[0] set to the subcommand.
 *
 * DESIGN
 * A short-lived process beside the daemon: it opens the same database
 * (WAL lets it read while the daemon writes), does one thing and exits.
 * Exit codes: 0 done (also when nothing was found), 1 failed, 2 usage.
 */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <unistd.h>

#include <jansson.h>

#include "core/config.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "store/store.h"
#include "text/timeparse.h"

static const char search_usage[] =
    "usage: hermod search WORDS... [--since T] [--until T] [--kind K[,K...]]\n"
    "                     [--entity NAME] [--limit N] [--json] [--tz +05:30]\n"
    "                     [--store PATH | --config FILE]\n"
    "\n"
    "Searches what hermod remembers, in Kannada script or Latin letters. Time words in\n"
    "WORDS (yesterday, last week, ninne, kaLeda vaara, on monday, 3 days ago) narrow the\n"
    "search. T is a date (2026-11-20), a time (2026-11-20T10:00:00+05:30), a span back\n"
    "from now (7d, 12h, 2w) or time words. Kinds: photo screenshot receipt document\n"
    "whiteboard lab_report meal video transcript other. The store is --store PATH,\n"
    "else the config's store (--config FILE), else the default path.\n";

static const char export_usage[] =
    "usage: hermod export [--out FILE] [--store PATH | --config FILE]\n"
    "\n"
    "Writes episodes, entities, mentions and relations as JSON Lines (Graphiti/Neo4j\n"
    "shape, see docs/internals/store.md) to FILE or standard output.\n";

/* Opens --store PATH, else the store of --config FILE, else the default
 * store; prints the error. */
static struct store *open_store(const char *path, const char *config)
{
    struct buf p = BUF_INIT, err = BUF_INIT;
    struct store *st = NULL;
    if (!path && config) {
        struct config *cfg = NULL;
        if (config_load_file(config, &cfg, &err)) {
            fprintf(stderr, "hermod: %s\n", buf_cstr(&err));
            goto out;
        }
        if (cfg->store_path) {
            buf_addstr(&p, cfg->store_path);
            path = p.data;
        }
        config_free(cfg);
    }
    if (!path) {
        if (store_default_path(&p, &err)) {
            fprintf(stderr, "hermod: %s\n", buf_cstr(&err));
            goto out;
        }
        path = p.data;
    }
    if (store_open(path, &st, &err)) {
        fprintf(stderr, "hermod: %s\n", buf_cstr(&err));
        st = NULL;
    }
out:
    buf_release(&err);
    buf_release(&p);
    return st;
}

/* "2026-11-21 20:14 +05:30" */
static void fmt_local(int64_t ms, int tz_min, char *out, size_t n)
{
    time_t t = (time_t)((ms + tz_min * 60000LL) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    int a = tz_min < 0 ? -tz_min : tz_min;
    snprintf(out, n, "%04d-%02d-%02d %02d:%02d %c%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tz_min < 0 ? '-' : '+', a / 60, a % 60);
}

static void print_json(const char *text, const struct store_hits *h)
{
    json_t *o = store_hits_json(text, h);
    json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    fputc('\n', stdout);
    json_decref(o);
}

static void print_human(const struct store_hits *h, int tz)
{
    char a[48], b[48];
    printf("%zu result%s", h->n, h->n == 1 ? "" : "s");
    if (h->words && *h->words)
        printf(" for \"%s\"", h->words);
    if (h->since != STORE_TIME_NONE || h->until != STORE_TIME_NONE) {
        if (h->since != STORE_TIME_NONE)
            fmt_local(h->since, tz, a, sizeof(a));
        if (h->until != STORE_TIME_NONE)
            fmt_local(h->until, tz, b, sizeof(b));
        printf(" captured %s .. %s", h->since != STORE_TIME_NONE ? a : "(any)",
               h->until != STORE_TIME_NONE ? b : "(now)");
    }
    printf("\n");
    for (size_t i = 0; i < h->n; i++) {
        const struct store_hit *x = &h->v[i];
        fmt_local(x->captured_at, tz, a, sizeof(a));
        printf("\n%2zu. %-10s %s  #%lld", i + 1, store_kind_name(x->kind), a, (long long)x->id);
        if (x->source)
            printf("  from %s", x->source);
        if (x->relevance > 0)
            printf("  score %.3g", x->score);
        printf("\n    %s\n", x->snippet);
        if (x->nentities) {
            printf("    ");
            for (size_t k = 0; k < x->nentities; k++)
                printf("%s%s (%s)", k ? ", " : "", x->entities[k].name, x->entities[k].type);
            printf("\n");
        }
    }
}

static int parse_kinds(const char *arg, unsigned *mask)
{
    struct buf err = BUF_INIT;
    int rc = store_kinds_parse(arg, mask, &err);
    if (rc)
        fprintf(stderr, "hermod search: %s\n", buf_cstr(&err));
    buf_release(&err);
    return rc;
}

int store_search_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"since", required_argument, NULL, 's'}, {"until", required_argument, NULL, 'u'},
        {"kind", required_argument, NULL, 'k'},  {"entity", required_argument, NULL, 'e'},
        {"store", required_argument, NULL, 'S'}, {"json", no_argument, NULL, 'j'},
        {"limit", required_argument, NULL, 'n'}, {"tz", required_argument, NULL, 'z'},
        {"config", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *since = NULL, *until = NULL, *path = NULL, *config = NULL;
    struct store_query q = {.since = STORE_TIME_NONE, .until = STORE_TIME_NONE};
    struct buf text = BUF_INIT, err = BUF_INIT;
    struct store_hits hits = {0};
    struct store *st = NULL;
    bool json = false;
    int64_t now = (int64_t)clock_wall_ms();
    int c, ret = 2;
    uint64_t v;

    q.now = now;
    q.tz_min = timeparse_local_offset(now);
    optind = 0; /* glibc: start over, whatever parsed argv before */
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            since = optarg;
            break;
        case 'u':
            until = optarg;
            break;
        case 'k':
            if (parse_kinds(optarg, &q.kinds))
                goto out;
            break;
        case 'e':
            q.entity = optarg;
            break;
        case 'S':
            path = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'n':
            if (str_parse_uint(optarg, 1, 1000, &v)) {
                fprintf(stderr, "hermod search: --limit wants 1..1000, not '%s'\n", optarg);
                goto out;
            }
            q.limit = (unsigned)v;
            break;
        case 'z':
            if (timeparse_tz_parse(optarg, &q.tz_min)) {
                fprintf(stderr, "hermod search: --tz wants an offset like +05:30, not '%s'\n",
                        optarg);
                goto out;
            }
            break;
        case 'h':
            fputs(search_usage, stdout);
            ret = 0;
            goto out;
        default:
            fprintf(stderr, "hermod search: bad option '%s'\n%s", argv[optind - 1],
                    search_usage);
            goto out;
        }
    }
    for (int i = optind; i < argc; i++)
        buf_addf(&text, "%s%s", text.len ? " " : "", argv[i]);
    if (since && timeparse_point(since, now, q.tz_min, false, &q.since, &err)) {
        fprintf(stderr, "hermod search: --since: %s\n", buf_cstr(&err));
        goto out;
    }
    if (until && timeparse_point(until, now, q.tz_min, true, &q.until, &err)) {
        fprintf(stderr, "hermod search: --until: %s\n", buf_cstr(&err));
        goto out;
    }
    q.text = text.len ? text.data : NULL;

    ret = 1;
    st = open_store(path, config);
    if (!st)
        goto out;
    if (store_search(st, &q, &hits, &err)) {
        fprintf(stderr, "hermod search: %s\n", buf_cstr(&err));
        goto out;
    }
    if (json)
        print_json(q.text, &hits);
    else
        print_human(&hits, q.tz_min);
    ret = fflush(stdout) == 0 ? 0 : 1;
out:
    store_hits_release(&hits);
    store_close(st);
    buf_release(&err);
    buf_release(&text);
    return ret;
}

int store_export_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"store", required_argument, NULL, 'S'},
        {"out", required_argument, NULL, 'o'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL, *outpath = NULL, *config = NULL;
    struct buf err = BUF_INIT, tmp = BUF_INIT;
    struct store *st = NULL;
    FILE *f = NULL;
    int c, ret = 2;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'S':
            path = optarg;
            break;
        case 'o':
            outpath = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'h':
            fputs(export_usage, stdout);
            ret = 0;
            goto out;
        default:
            fprintf(stderr, "hermod export: bad option '%s'\n%s", argv[optind - 1],
                    export_usage);
            goto out;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hermod export: unexpected '%s'\n%s", argv[optind], export_usage);
        goto out;
    }
    ret = 1;
    st = open_store(path, config);
    if (!st)
        goto out;
    if (outpath && strcmp(outpath, "-")) {
        /* Written beside the target and renamed, so FILE is never half. */
        buf_addf(&tmp, "%s.tmp.%ld", outpath, (long)getpid());
        f = fopen(tmp.data, "w");
        if (!f) {
            fprintf(stderr, "hermod export: %s: %s\n", tmp.data, strerror(errno));
            goto out;
        }
    }
    if (store_export_jsonl(st, f ? f : stdout, &err)) {
        fprintf(stderr, "hermod export: %s\n", buf_cstr(&err));
        goto out;
    }
    if (f) {
        int failed = fflush(f) || fsync(fileno(f));
        failed |= fclose(f);
        f = NULL;
        if (failed || rename(tmp.data, outpath)) {
            fprintf(stderr, "hermod export: %s: %s\n", outpath, strerror(errno));
            goto out;
        }
        buf_reset(&tmp);
    }
    ret = 0;
out:
    if (f)
        fclose(f);
    if (tmp.len)
        unlink(tmp.data);
    store_close(st);
    buf_release(&tmp);
    buf_release(&err);
    return ret;
}
