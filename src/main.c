/* SPDX-License-Identifier: MIT */
/*
 * main.c: the hermod command line. Parses the subcommand, loads the config,
 * wires the modules together and runs the loop.
 *
 *   hermod serve [--config FILE] [--listen HOST:PORT] [--log-level L]
 *   hermod COMMAND ...   every other command is in cli/ (cli.h)
 */
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/log.h"
#include "gateway/api.h"
#include "gateway/auth.h"
#include "gateway/proxy.h"
#include "ingest/pipeline.h"
#include "lib/clock.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "model/engine.h"
#include "net/http.h"
#include "net/upstream.h"
#include "sched/sched.h"
#include "store/store.h"

#define HERMOD_VERSION "0.1.0"

struct opts {
    const char *config;
    const char *listen;
    const char *log_level;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: hermod <command> [options]\n"
            "\n"
            "commands:\n"
            "  serve [--config FILE] [--listen HOST:PORT] [--log-level LEVEL]\n"
            "                        run the gateway (default config when no --config)\n"
            "  check-config [FILE]   every problem in a config, files and programs included\n"
            "  config [--config FILE]\n"
            "                        the effective config, every default filled in\n"
            "  models [--config FILE]\n"
            "                        list the configured models and their engines\n"
            "  models --catalog [--json]\n"
            "                        the built-in catalog of the seed's models\n"
            "  langid                language and script of each stdin line, as JSON lines\n"
            "  route --explain [--config FILE] TEXT|FILE|-\n"
            "                        the routing decision for a request body or text\n"
            "  plan [--config FILE] [--budget SIZE] [--seed]\n"
            "                        the memory plan: sizes, what fits together, what is left\n"
            "  estimate FILE|DIR [--ctx N] [--parallel N] [--kv-type T] [--json]\n"
            "                        memory an engine needs for a GGUF or safetensors model\n"
            "  search QUERY [--since T] [--until T] [--kind K] [--entity NAME] [--json]\n"
            "                        search the memory store (\"restaurant last week\")\n"
            "  ingest FILE... [--at T] [--source S] [--model M] [--kind K] [--json]\n"
            "                        send photos, videos, transcripts to a running hermod\n"
            "  export [--store PATH] [--out FILE]\n"
            "                        the memory store as JSON Lines (Graphiti/Neo4j import)\n"
            "  ps [--all]            what the running daemon is doing: models, engines, memory\n"
            "  unload MODEL|all      stop a model's engines in the running daemon\n"
            "  logs MODEL [-f]       an engine's output, followed with -f\n"
            "  chat -m MODEL [TEXT]  ask a model; the answer streams to stdout\n"
            "  import llama-swap FILE\n"
            "                        a llama-swap config as a hermod config\n"
            "  config --default      print the built-in default config\n"
            "  version               print the version\n"
            "\n"
            "Each command explains itself: hermod COMMAND --help. Commands that talk to a\n"
            "running daemon find it by --url, else $HERMOD_URL, else the config's listen.\n");
}

static const char serve_usage[] =
    "usage: hermod serve [--config FILE] [--listen HOST:PORT] [--log-level LEVEL]\n"
    "  Runs the gateway: one OpenAI-compatible API (and a dashboard at /) in\n"
    "  front of the configured engines, started and stopped within the memory\n"
    "  budget. Without --config it runs the built-in config (hermod config\n"
    "  --default prints it). SIGHUP re-reads the config; SIGTERM drains.\n"
    "  --config FILE        the YAML config (check it first: hermod check-config FILE)\n"
    "  --listen HOST:PORT   overrides the config's listen\n"
    "  --log-level LEVEL    error, warn, info or debug\n";

static int parse_opts(int argc, char **argv, int first, struct opts *o)
{
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (!strcmp(a, "--config") || !strcmp(a, "-c"))
            dst = &o->config;
        else if (!strcmp(a, "--listen") || !strcmp(a, "-l"))
            dst = &o->listen;
        else if (!strcmp(a, "--log-level"))
            dst = &o->log_level;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(serve_usage, stdout);
            exit(0);
        } else {
            fprintf(stderr, "hermod serve: unknown option '%s'\n%s", a, serve_usage);
            return -EINVAL;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "hermod: %s needs a value\n", a);
            return -EINVAL;
        }
        *dst = argv[++i];
    }
    return 0;
}

static struct config *load_config(const char *path)
{
    struct config *cfg = NULL;
    struct buf err = BUF_INIT;
    int rc = path ? config_load_file(path, &cfg, &err) : config_load_default(&cfg, &err);
    if (rc) {
        fprintf(stderr, "hermod: %s\n", buf_cstr(&err));
        buf_release(&err);
        return NULL;
    }
    buf_release(&err);
    return cfg;
}

/* ---- serve ------------------------------------------------------------------------ */

struct daemon {
    uv_loop_t *loop;
    struct config *cfg;
    struct upstream *up;
    struct sched *sched;
    struct proxy *proxy;
    struct api *api;
    struct http_server *http;
    struct store *store;
    struct pipeline *pipeline;
    uv_signal_t sigint, sigterm, sighup;
    uv_prepare_t flush;
    uv_timer_t deadline;
    uv_timer_t drain;
    struct config **old_cfgs;   /* replaced by reloads; freed at exit */
    size_t nold, old_cap;
    bool listen_override;
    uint64_t drain_until_ms;
    int signals;
};

/* Creates the directories above path, like mkdir -p, mode 0700. */
static void mkdir_parents(const char *path)
{
    char *d = xstrdup(path);
    for (char *p = d + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        mkdir(d, 0700);
        *p = '/';
    }
    free(d);
}

/* Opens the memory store of the config (or the default one). A store that
 * cannot be opened does not stop the gateway: the pipeline answers 503
 * with the reason, which err keeps. */
static void open_store(struct daemon *d, struct buf *err)
{
    struct buf path = BUF_INIT;
    int rc = 0;
    if (d->cfg->store_path) {
        buf_addstr(&path, d->cfg->store_path);
        mkdir_parents(d->cfg->store_path);
    } else {
        rc = store_default_path(&path, err);
    }
    if (!rc)
        rc = store_open(buf_cstr(&path), &d->store, err);
    if (rc)
        log_warn("memory store %s: %s; ingest and memory search are off", buf_cstr(&path),
                 buf_cstr(err));
    else
        log_info("memory store %s", buf_cstr(&path));
    buf_release(&path);
}

static void close_walk_cb(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void shutdown_done(void *arg)
{
    struct daemon *d = arg;
    log_info("all engines stopped, exiting");
    uv_stop(d->loop);
}

static void deadline_cb(uv_timer_t *t)
{
    struct daemon *d = t->data;
    log_warn("engines did not stop in time, killing them");
    sched_kill_all(d->sched);
    uv_stop(d->loop);
}

static void flush_cb(uv_prepare_t *h)
{
    log_flush();
}

/* After the drain: stop the engines, with a bound on the whole shutdown. */
static void stop_engines(struct daemon *d)
{
    uv_timer_stop(&d->drain);
    pipeline_stop(d->pipeline);
    if (d->http) {
        http_server_free(d->http);
        d->http = NULL;
    }
    /* The engines get their own grace (stop_timeout), then SIGKILL from
     * engine.c; this is the bound on the whole shutdown. */
    uint64_t grace = 0;
    for (size_t i = 0; i < d->cfg->nmodels; i++)
        for (size_t k = 0; k < d->cfg->models[i].nengines; k++)
            if (d->cfg->models[i].engines[k].stop_timeout_ms > grace)
                grace = d->cfg->models[i].engines[k].stop_timeout_ms;
    uv_timer_start(&d->deadline, deadline_cb, grace + 3000, 0);
    sched_shutdown(d->sched, shutdown_done, d);
}

/* Checks, while draining, whether every request in flight has ended. */
static void drain_cb(uv_timer_t *t)
{
    struct daemon *d = t->data;
    unsigned open = d->http ? http_server_active(d->http) : 0;
    if (open && clock_mono_ms() < d->drain_until_ms)
        return;
    if (open)
        log_warn("drain_timeout passed with %u requests still open; ending them", open);
    else
        log_info("every request has ended, stopping engines");
    stop_engines(d);
}

/* Every client connection and engine connection is a descriptor: the
 * soft RLIMIT_NOFILE (often 1024) is raised to the hard one (often
 * 524288), as nginx's worker_rlimit_nofile does, so that max_connections
 * is the limit that bites and not EMFILE at accept. When even the hard
 * limit is below what max_connections can need (a client and an engine
 * connection each, plus the daemon's own files), max_connections is
 * lowered to what fits, and that is said: past it a client gets the 503
 * too_many_connections with its reason, where EMFILE would have had
 * libuv reset the connection without a word to anyone. Returns the
 * max_connections to use. */
#define NOFILE_OWN 64 /* listener, loop, logs, store, engines' pipes: 16 idle */
static unsigned raise_nofile(unsigned max_conns)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return max_conns;
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t was = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
            log_debug("open files limit raised from %llu to %llu", (unsigned long long)was,
                      (unsigned long long)rl.rlim_max);
        else if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
            return max_conns;
    }
    unsigned long long need = 2ULL * max_conns + NOFILE_OWN;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
        return max_conns;
    unsigned long long lim = rl.rlim_cur;
    unsigned fit = (unsigned)(lim > 2 * NOFILE_OWN ? (lim - NOFILE_OWN) / 2 : lim / 4);
    if (!fit)
        fit = 1;
    log_warn("max_connections %u can need %llu open files, but this process may open only "
             "%llu: taking max_connections as %u (more get 503 too_many_connections). "
             "Raise the limit (LimitNOFILE= in the service unit, ulimit -Hn) to serve more",
             max_conns, need, lim, fit);
    return fit;
}

/*
 * SIGHUP re-reads the config file. An invalid file is named with its line
 * and the running config stays. A valid one applies at once: unchanged
 * models keep their engines, changed and removed ones finish their
 * requests (streams included) on their old engines, which then stop, and
 * added ones become available; routes and timeouts are the new ones.
 * `listen`, `max_body`, the memory pools and the pipeline keep their values
 * from the start. Old configs are kept until exit (requests and retired
 * models point into them; a few KB each).
 */
static void hup_cb(uv_signal_t *h, int signum)
{
    struct daemon *d = h->data;
    struct config *cfg = NULL;
    struct buf err = BUF_INIT;
    if (!d->cfg->path || d->cfg->path[0] == '<') {
        log_warn("SIGHUP: running the built-in config; nothing to re-read");
        goto out;
    }
    if (config_load_file(d->cfg->path, &cfg, &err)) {
        /* One log line: the loader's problems (a line each) joined by "; ". */
        struct buf one = BUF_INIT;
        for (size_t i = 0; i < err.len; i++) {
            if (err.data[i] == '\n')
                buf_addstr(&one, "; ");
            else
                buf_addch(&one, err.data[i]);
        }
        log_err("SIGHUP: %s; the running config stays", buf_cstr(&one));
        buf_release(&one);
        goto out;
    }
    if (auth_listen_check(cfg, d->cfg->listen_host, &err)) {
        log_err("SIGHUP: %s; the running config stays", buf_cstr(&err));
        config_free(cfg);
        goto out;
    }
    auth_warn_readable(cfg);
    if (d->listen_override || strcmp(cfg->listen_host, d->cfg->listen_host) ||
        cfg->listen_port != d->cfg->listen_port) {
        if (!d->listen_override)
            log_warn("SIGHUP: listen changes apply at the next start");
        free(cfg->listen_host);
        cfg->listen_host = xstrdup(d->cfg->listen_host);
        cfg->listen_port = d->cfg->listen_port;
    }
    if (cfg->budget != d->cfg->budget || cfg->nreserved != d->cfg->nreserved ||
        cfg->max_body != d->cfg->max_body)
        log_warn("SIGHUP: budget, reserved and max_body changes apply at the next start");
    struct buf rep = BUF_INIT;
    sched_reload(d->sched, cfg, &rep);
    proxy_set_config(d->proxy, cfg);
    api_set_config(d->api, cfg);
    ALLOC_GROW(d->old_cfgs, d->nold + 1, d->old_cap);
    d->old_cfgs[d->nold++] = d->cfg;
    d->cfg = cfg;
    log_info("SIGHUP: config %s reloaded: %s", cfg->path, buf_cstr(&rep));
    buf_release(&rep);
out:
    buf_release(&err);
}

/*
 * SIGTERM and SIGINT drain, as nginx does: the listener closes at once,
 * requests in flight (streams included) run to their end for up to
 * drain_timeout, requests waiting for a cold start get a 503 that says
 * why, and then the engines stop. A second signal stops at once.
 */
static void signal_cb(uv_signal_t *h, int signum)
{
    struct daemon *d = h->data;
    if (++d->signals > 1) {
        log_warn("second signal, killing engines now");
        sched_kill_all(d->sched);
        uv_stop(d->loop);
        return;
    }
    log_info("signal %d: draining (up to %llu ms), then stopping engines", signum,
             (unsigned long long)d->cfg->drain_timeout_ms);
    http_server_drain(d->http);
    proxy_drain(d->proxy);
    d->drain_until_ms = clock_mono_ms() + d->cfg->drain_timeout_ms;
    uv_timer_start(&d->drain, drain_cb, 0, 20);
}

static int cmd_serve(struct opts *o)
{
    struct daemon d = {0};
    d.cfg = load_config(o->config);
    if (!d.cfg)
        return 1;
    if (o->listen) {
        free(d.cfg->listen_host);
        if (str_parse_hostport(o->listen, &d.cfg->listen_host, &d.cfg->listen_port))
            fatal("--listen must be HOST:PORT, got '%s'", o->listen);
        d.listen_override = true;
    }
    if (o->log_level) {
        enum log_level l;
        if (log_level_parse(o->log_level, &l))
            fatal("--log-level must be error, warn, info or debug");
        log_set_level(l);
    }
    struct buf aerr = BUF_INIT;
    if (auth_listen_check(d.cfg, d.cfg->listen_host, &aerr))
        fatal("%s", buf_cstr(&aerr)); /* protected mode (gateway/auth.h) */
    buf_release(&aerr);
    auth_warn_readable(d.cfg);
    signal(SIGPIPE, SIG_IGN);
    /* A file size limit (RLIMIT_FSIZE) makes a write fail with EFBIG, which
     * the store reports, instead of killing the daemon. */
    signal(SIGXFSZ, SIG_IGN);
    unsigned max_conns = raise_nofile(d.cfg->max_connections);
    d.loop = uv_default_loop();
    d.up = upstream_new(d.loop);
    d.sched = sched_new(d.loop, d.up, d.cfg);
    d.proxy = proxy_new(d.loop, d.cfg, d.sched, d.up);
    d.api = api_new(d.loop, d.cfg, d.sched, d.proxy, d.up);
    struct buf err = BUF_INIT;
    open_store(&d, &err);
    d.pipeline = pipeline_new(d.loop, d.cfg, d.up, d.store, d.store ? NULL : buf_cstr(&err));
    buf_reset(&err);
    api_set_pipeline(d.api, d.pipeline);
    pipeline_set_api_key(d.pipeline, api_internal_key(d.api));
    struct http_limits lim = {
        .max_body = d.cfg->max_body,
        .max_head = d.cfg->max_header,
        .read_timeout_ms = d.cfg->header_timeout_ms,
        .idle_timeout_ms = d.cfg->idle_timeout_ms,
        .max_conns = max_conns,
    };
    d.http = http_server_new(d.loop, d.cfg->listen_host, d.cfg->listen_port, &lim, api_handle,
                             d.api, &err);
    if (!d.http)
        fatal("%s", buf_cstr(&err));
    http_server_set_cors(d.http, (const char *const *)d.cfg->cors_origins);
    buf_release(&err);
    uv_signal_init(d.loop, &d.sigint);
    uv_signal_init(d.loop, &d.sigterm);
    d.sigint.data = d.sigterm.data = &d;
    uv_signal_start(&d.sigint, signal_cb, SIGINT);
    uv_signal_start(&d.sigterm, signal_cb, SIGTERM);
    uv_signal_init(d.loop, &d.sighup);
    d.sighup.data = &d;
    uv_signal_start(&d.sighup, hup_cb, SIGHUP);
    uv_timer_init(d.loop, &d.deadline);
    d.deadline.data = &d;
    uv_timer_init(d.loop, &d.drain);
    d.drain.data = &d;
    uv_prepare_init(d.loop, &d.flush);
    uv_prepare_start(&d.flush, flush_cb);
    log_set_buffered(true);
    /* Written whatever log_level says: the line that tells an operator, a
     * script or a test that the daemon is up, and on which port when
     * listen asked for any (port 0). */
    log_write(LOG_INFO, "hermod %s listening on http://%s:%d config=%s models=%zu", HERMOD_VERSION,
              d.cfg->listen_host, http_server_port(d.http), d.cfg->path, d.cfg->nmodels);
    sched_start(d.sched);
    pipeline_start(d.pipeline, http_server_port(d.http));

    uv_run(d.loop, UV_RUN_DEFAULT);

    pipeline_stop(d.pipeline);
    http_server_free(d.http);
    api_free(d.api);
    proxy_free(d.proxy);
    sched_free(d.sched);
    upstream_free(d.up);
    uv_walk(d.loop, close_walk_cb, NULL);
    uv_run(d.loop, UV_RUN_DEFAULT);
    /* Only now: jobs on the worker pool have ended. */
    pipeline_free(d.pipeline);
    store_close(d.store);
    uv_loop_close(d.loop);
    config_free(d.cfg);
    for (size_t i = 0; i < d.nold; i++)
        config_free(d.old_cfgs[i]);
    free(d.old_cfgs);
    log_set_buffered(false);
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "serve")) {
        if (parse_opts(argc, argv, 2, &o))
            return 2;
        return cmd_serve(&o);
    }
    static const struct {
        const char *name;
        int (*fn)(int argc, char **argv);
    } cmds[] = {
        {"check-config", check_config_main}, {"config", config_main},
        {"models", models_main},             {"langid", langid_main},
        {"route", router_main},              {"plan", plan_main},
        {"estimate", estimate_main},         {"search", store_search_main},
        {"export", store_export_main},       {"ingest", pipeline_ingest_main},
        {"ps", ps_main},                     {"unload", unload_main},
        {"logs", logs_main},                 {"chat", chat_main},
        {"import", import_main},
    };
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (!strcmp(cmd, cmds[i].name))
            return cmds[i].fn(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("hermod %s\n", HERMOD_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "hermod: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
