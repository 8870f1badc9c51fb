/* SPDX-License-Identifier: MIT */
/*
 * config_cli.c: `hermod check-config`, `hermod config` and `hermod models`:
 * the config as hermod reads it, without starting anything.
 *
 * DESIGN: the loader (core/config.c) reports every schema problem it can,
 * a line each with FILE:LINE:COL (a YAML syntax error stops it). Once a
 * file loads, check-config goes on to
 * what the loader cannot know, and reports all of it: engine programs not
 * found, model files and working directories that do not exist, routes
 * naming no model that can start. Each line says what to do next.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "lib/buf.h"
#include "lib/str.h"
#include "lib/xalloc.h"

static struct config *load(const char *path, const char *who)
{
    struct config *cfg = NULL;
    struct buf err = BUF_INIT;
    int rc = path ? config_load_file(path, &cfg, &err) : config_load_default(&cfg, &err);
    if (rc)
        fprintf(stderr, "hermod%s%s: %s\n", who ? " " : "", who ? who : "", buf_cstr(&err));
    buf_release(&err);
    return rc ? NULL : cfg;
}

/* Is prog an executable, by path or in $PATH? */
static bool find_program(const char *prog)
{
    if (strchr(prog, '/'))
        return access(prog, X_OK) == 0;
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    struct buf b = BUF_INIT;
    bool ok = false;
    for (const char *p = path; !ok;) {
        const char *e = strchr(p, ':');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        buf_reset(&b);
        buf_addf(&b, "%.*s/%s", (int)n, n ? p : ".", prog);
        struct stat st;
        ok = !stat(buf_cstr(&b), &st) && S_ISREG(st.st_mode) && !access(buf_cstr(&b), X_OK);
        if (!e)
            break;
        p = e + 1;
    }
    buf_release(&b);
    return ok;
}

/* Does this argument name a model file? After -m/--model/--mmproj/
 * --model-draft (llama-server's flags), or ends in .gguf. */
static bool is_model_arg(char **cmd, size_t i)
{
    static const char *const flags[] = {"-m", "--model", "--mmproj", "-md", "--model-draft",
                                        "--lora"};
    const char *a = cmd[i];
    if (strstr(a, "${"))
        return false; /* ${PORT}, ${HOST}: known only at spawn time */
    size_t n = strlen(a);
    if (n > 5 && !strcmp(a + n - 5, ".gguf"))
        return true;
    if (i == 0)
        return false;
    for (size_t k = 0; k < ARRAY_SIZE(flags); k++)
        if (!strcmp(cmd[i - 1], flags[k]))
            return a[0] == '/' || a[0] == '.';
    return false;
}

/* Checks what a loaded config refers to on this machine. Appends one line
 * per problem to out and returns how many. */
static unsigned check_files(const struct config *cfg, struct buf *out)
{
    unsigned n = 0;
    for (size_t i = 0; i < cfg->nmodels; i++) {
        const struct config_model *m = &cfg->models[i];
        for (size_t k = 0; k < m->nengines; k++) {
            const struct config_engine *e = &m->engines[k];
            if (!e->cmd)
                continue;
            if (!find_program(e->cmd[0])) {
                buf_addf(out,
                         "%s:%u: model '%s', engine %zu: the program '%s' is not found%s; "
                         "install it or write its full path as cmd's first item\n",
                         cfg->path, e->line, m->name, k + 1, e->cmd[0],
                         strchr(e->cmd[0], '/') ? "" : " in $PATH");
                n++;
            }
            for (size_t a = 1; e->cmd[a]; a++) {
                if (!is_model_arg(e->cmd, a) || !access(e->cmd[a], R_OK))
                    continue;
                buf_addf(out,
                         "%s:%u: model '%s', engine %zu: the model file %s %s; download it "
                         "there, or set model_dir (or $HERMOD_MODEL_DIR) to where it is\n",
                         cfg->path, e->line, m->name, k + 1, e->cmd[a],
                         errno == ENOENT ? "does not exist" : "cannot be read");
                n++;
            }
            struct stat st;
            if (e->cwd && (stat(e->cwd, &st) || !S_ISDIR(st.st_mode))) {
                buf_addf(out,
                         "%s:%u: model '%s', engine %zu: the working directory %s does not "
                         "exist; create it or fix cwd\n",
                         cfg->path, e->line, m->name, k + 1, e->cwd);
                n++;
            }
        }
    }
    return n;
}

static const char check_usage[] =
    "usage: hermod check-config [FILE] [--no-files]\n"
    "  Reads FILE (default: the built-in config) as hermod serve would, without\n"
    "  starting anything, and reports every problem, each with FILE:LINE:COL:\n"
    "  every unknown key, bad value and name that refers to nothing (a YAML\n"
    "  syntax error stops the reading there), then, for a file that loads,\n"
    "  every engine program not found, model file missing and working\n"
    "  directory absent.\n"
    "  --no-files      check the file only, not what it refers to on this machine\n"
    "exit status: 0 no problem, 1 problems, 2 usage\n";

int check_config_main(int argc, char **argv)
{
    const char *file = NULL;
    bool files = true;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(check_usage, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--no-files"))
            files = false;
        else if ((!strcmp(argv[i], "--config") || !strcmp(argv[i], "-c")) && i + 1 < argc &&
                 !file)
            file = argv[++i];
        else if (argv[i][0] == '-' || file) {
            fprintf(stderr, "hermod check-config: unexpected '%s'\n%s", argv[i], check_usage);
            return 2;
        } else
            file = argv[i];
    }
    struct config *cfg = NULL;
    struct buf err = BUF_INIT;
    int rc = file ? config_load_file(file, &cfg, &err) : config_load_default(&cfg, &err);
    if (rc) {
        /* One problem a line, as the loader found them. */
        unsigned n = 1;
        for (size_t i = 0; i < err.len; i++)
            n += err.data[i] == '\n';
        fprintf(stderr, "%s\n%s: %u problem%s; fix %s and run hermod check-config again\n",
                buf_cstr(&err), file ? file : "the built-in config", n, n == 1 ? "" : "s",
                n == 1 ? "it" : "them");
        buf_release(&err);
        return 1;
    }
    buf_release(&err);
    struct buf out = BUF_INIT;
    unsigned problems = files ? check_files(cfg, &out) : 0;
    size_t engines = 0;
    for (size_t i = 0; i < cfg->nmodels; i++)
        engines += cfg->models[i].nengines;
    int status = 0;
    if (problems) {
        fputs(buf_cstr(&out), stderr);
        fprintf(stderr,
                "%s: %u problem%s (%zu models, %zu engines); hermod serve starts all the same "
                "and reports those engines as unavailable\n",
                cfg->path, problems, problems == 1 ? "" : "s", cfg->nmodels, engines);
        status = 1;
    } else {
        printf("%s: ok (%zu models, %zu engines, listen %s:%d)\n", cfg->path, cfg->nmodels,
               engines, cfg->listen_host, cfg->listen_port);
    }
    buf_release(&out);
    config_free(cfg);
    return status;
}

/* ---- hermod config: the effective config as YAML ------------------------------ */

/* A YAML scalar: JSON's double-quoted strings are YAML's too. */
static void q(const char *s)
{
    struct buf b = BUF_INIT;
    buf_add_json_str(&b, s ? s : "");
    fputs(buf_cstr(&b), stdout);
    buf_release(&b);
}

static void list(char **v)
{
    fputc('[', stdout);
    for (size_t i = 0; v && v[i]; i++) {
        if (i)
            fputs(", ", stdout);
        q(v[i]);
    }
    fputc(']', stdout);
}

static void dur(const char *indent, const char *key, uint64_t ms)
{
    if (ms % 1000)
        printf("%s%s: %llums\n", indent, key, (unsigned long long)ms);
    else
        printf("%s%s: %llus\n", indent, key, (unsigned long long)(ms / 1000));
}

static void mods(const char *indent, const char *key, unsigned m)
{
    static const char *const names[] = {"text", "image", "video", "audio"};
    printf("%s%s: [", indent, key);
    for (unsigned i = 0, n = 0; i < 4; i++)
        if (m & (1u << i))
            printf("%s%s", n++ ? ", " : "", names[i]);
    printf("]\n");
}

static void print_engine(const struct config_engine *e)
{
    printf("      - kind: %s\n", engine_kind_name(e->kind));
    if (e->url)
        printf("        url: "), q(e->url), printf("\n");
    if (e->cmd)
        printf("        cmd: "), list(e->cmd), printf("\n");
    if (e->env)
        printf("        env: "), list(e->env), printf("\n");
    if (e->cwd)
        printf("        cwd: "), q(e->cwd), printf("\n");
    if (e->model)
        printf("        model: "), q(e->model), printf("\n");
    if (e->ready)
        printf("        ready: "), q(e->ready), printf("\n");
    if (e->api_key)
        printf("        api_key: \"(set)\"\n");
    dur("        ", "start_timeout", e->start_timeout_ms);
    dur("        ", "stop_timeout", e->stop_timeout_ms);
    if (e->memory)
        printf("        memory: %llu\n", (unsigned long long)e->memory);
}

static void print_config(const struct config *c)
{
    printf("# the effective config of %s, every default filled in\n", c->path);
    printf("listen: \"%s:%d\"\n", c->listen_host, c->listen_port);
    printf("log_level: %s\n", log_level_name(c->log_level));
    printf("log_prompts: %s\n", c->log_prompts ? "true" : "false");
    if (c->model_dir)
        printf("model_dir: "), q(c->model_dir), printf("\n");
    if (c->store_path)
        printf("store: "), q(c->store_path), printf("\n");
    if (c->engine_port_lo)
        printf("engine_ports: %d-%d\n", c->engine_port_lo, c->engine_port_hi);
    printf("max_body: %llu\nmax_response: %llu\nengine_log: %llu\n",
           (unsigned long long)c->max_body, (unsigned long long)c->max_response,
           (unsigned long long)c->engine_log_bytes);
    dur("", "drain_timeout", c->drain_timeout_ms);
    dur("", "connect_timeout", c->connect_timeout_ms);
    dur("", "request_timeout", c->request_timeout_ms);
    dur("", "first_byte_timeout", c->first_byte_timeout_ms);
    dur("", "stall_timeout", c->stall_timeout_ms);
    dur("", "cooldown", c->cooldown_ms);
    dur("", "keepalive", c->keepalive_ms);
    dur("", "health_interval", c->health_interval_ms);
    printf("concurrency: %u\nqueue: %u\n", c->default_concurrency, c->default_queue);
    if (c->budget)
        printf("budget: %llu\n", (unsigned long long)c->budget);
    else
        printf("budget: auto\n");
    if (c->nreserved) {
        printf("reserved:\n");
        for (size_t i = 0; i < c->nreserved; i++)
            printf("  "), q(c->reserved[i].name),
                printf(": %llu\n", (unsigned long long)c->reserved[i].bytes);
    }
    if (c->load_factor > 0)
        printf("load_factor: %g\n", c->load_factor);
    printf("swap_policy: %s\n", c->swap_fifo ? "fifo" : "batch");
    dur("", "swap_quantum", c->swap_quantum_ms);
    printf("serialize_loads: %s\n", c->serialize_loads ? "true" : "false");
    dur("", "measure_interval", c->measure_interval_ms);
    printf("models:\n");
    for (size_t i = 0; i < c->nmodels; i++) {
        const struct config_model *m = &c->models[i];
        printf("  - name: "), q(m->name), printf("\n");
        if (m->aliases[0])
            printf("    aliases: "), list(m->aliases), printf("\n");
        if (m->catalog)
            printf("    catalog: "), q(m->catalog), printf("\n");
        dur("    ", "ttl", m->ttl_ms);
        printf("    concurrency: %u\n    queue: %u\n", m->concurrency, m->queue);
        if (m->memory)
            printf("    memory: %llu\n", (unsigned long long)m->memory);
        if (m->pinned)
            printf("    pinned: true\n");
        if (m->group)
            printf("    group: "), q(m->group), printf("\n");
        if (m->gpu >= 0)
            printf("    gpu: %d\n", m->gpu);
        if (m->context)
            printf("    context: %u\n", m->context);
        if (m->parallel)
            printf("    parallel: %u\n", m->parallel);
        if (m->languages)
            printf("    languages: "), list(m->languages), printf("\n");
        if (m->modalities)
            mods("    ", "modalities", m->modalities);
        if (m->image_side)
            printf("    image_side: %u\n", m->image_side);
        printf("    engines:\n");
        for (size_t k = 0; k < m->nengines; k++)
            print_engine(&m->engines[k]);
    }
    if (c->nroutes)
        printf("routes:\n");
    for (size_t i = 0; i < c->nroutes; i++) {
        const struct config_route *r = &c->routes[i];
        printf("  - name: "), q(r->name), printf("\n");
        if (r->aliases && r->aliases[0])
            printf("    aliases: "), list(r->aliases), printf("\n");
        printf("    escalation: {attempts: %u, deadline: %llums, coverage: %g}\n",
               r->max_attempts, (unsigned long long)r->deadline_ms, r->coverage);
        printf("    rules:\n");
        for (size_t k = 0; k < r->nrules; k++) {
            const struct config_rule *u = &r->rules[k];
            printf("      - name: "), q(u->name), printf("\n");
            bool when = u->modality || u->text_only || u->languages || u->tasks ||
                        u->keywords || u->min_tokens;
            if (when)
                printf("        when:\n");
            if (u->text_only)
                printf("          modality: text\n");
            else if (u->modality)
                mods("          ", "modality", u->modality);
            if (u->languages)
                printf("          language: "), list(u->languages), printf("\n");
            if (u->tasks)
                printf("          task: "), list(u->tasks), printf("\n");
            if (u->keywords)
                printf("          keywords: "), list(u->keywords), printf("\n");
            if (u->min_tokens)
                printf("          min_tokens: %u\n", u->min_tokens);
            printf("        models: "), list(u->models), printf("\n");
            if (u->escalate)
                printf("        escalate: "), list(u->escalate), printf("\n");
            printf("        prefer: %s\n", u->prefer_resident ? "resident" : "order");
        }
    }
    const struct config_pipeline *p = &c->pipeline;
    printf("pipeline:\n");
    if (p->vision)
        printf("  vision: "), q(p->vision), printf("\n");
    if (p->extract)
        printf("  extract: "), q(p->extract), printf("\n");
    printf("  max_side: %u\n  jpeg_quality: %u\n  video_fps: %g\n  video_frames: %u\n"
           "  dup_threshold: %g\n  keep_location: %s\n  entities: %s\n",
           p->max_side, p->jpeg_quality, p->video_fps, p->video_frames, p->dup_threshold,
           p->keep_location ? "true" : "false", p->entities ? "true" : "false");
    dur("  ", "retry_interval", p->retry_interval_ms);
    printf("  max_attempts: %u\n", p->max_attempts);
    dur("  ", "timeout", p->timeout_ms);
    if (p->timezone)
        printf("  timezone: "), q(p->timezone), printf("\n");
}

static const char config_usage[] =
    "usage: hermod config [--config FILE] | hermod config --default\n"
    "  Prints the effective config: FILE (default: the built-in one) as hermod\n"
    "  reads it, with every default filled in and ${MODEL_DIR} expanded, as\n"
    "  YAML that hermod serve accepts. --default prints the built-in file as\n"
    "  written, comments included: a starting point for your own.\n";

int config_main(int argc, char **argv)
{
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(config_usage, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--default")) {
            size_t len;
            const char *t = config_default_text(&len);
            fwrite(t, 1, len, stdout);
            return 0;
        }
        if ((!strcmp(argv[i], "--config") || !strcmp(argv[i], "-c")) && i + 1 < argc)
            file = argv[++i];
        else if (argv[i][0] != '-' && !file)
            file = argv[i];
        else {
            fprintf(stderr, "hermod config: unexpected '%s'\n%s", argv[i], config_usage);
            return 2;
        }
    }
    struct config *cfg = load(file, "config");
    if (!cfg)
        return 1;
    print_config(cfg);
    config_free(cfg);
    return 0;
}

/* ---- hermod models ------------------------------------------------------------ */

static const char models_usage[] =
    "usage: hermod models [--config FILE] | hermod models --catalog [--json]\n"
    "  Lists the configured models (FILE, default: the built-in config), their\n"
    "  aliases and engines in order of preference. --catalog lists the built-in\n"
    "  catalog of models hermod knows facts about. What is running: hermod ps.\n";

int models_main(int argc, char **argv)
{
    const char *file = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(models_usage, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--catalog"))
            return catalog_main(argc, argv);
        if ((!strcmp(argv[i], "--config") || !strcmp(argv[i], "-c")) && i + 1 < argc)
            file = argv[++i];
        else {
            fprintf(stderr, "hermod models: unexpected '%s'\n%s", argv[i], models_usage);
            return 2;
        }
    }
    struct config *cfg = load(file, "models");
    if (!cfg)
        return 1;
    for (size_t i = 0; i < cfg->nmodels; i++) {
        const struct config_model *m = &cfg->models[i];
        printf("%s", m->name);
        for (size_t k = 0; m->aliases[k]; k++)
            printf("%s%s", k ? ", " : " (aliases: ", m->aliases[k]);
        printf("%s\n", m->aliases[0] ? ")" : "");
        for (size_t k = 0; k < m->nengines; k++) {
            const struct config_engine *e = &m->engines[k];
            printf("  %zu. %-12s %s%s\n", k + 1, engine_kind_name(e->kind),
                   e->cmd ? "managed: " : "", e->cmd ? e->cmd[0] : e->url);
        }
    }
    config_free(cfg);
    return 0;
}
