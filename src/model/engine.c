/* SPDX-License-Identifier: MIT */
/*
 * engine.c: engine processes and health. See engine.h for the contract.
 *
 * Spawning is fork + execve, not a shell and not uv_spawn, because the
 * child must set PR_SET_PDEATHSIG and its own process group before exec,
 * and libuv offers no hook for that. Only async-signal-safe calls happen
 * between fork and exec: the argv, envp and program path are all built
 * before the fork. An exec failure is reported through a close-on-exec
 * pipe, so "No such file or directory" reaches the user at once instead of
 * as a mysterious exit status 127.
 */
#include "model/engine.h"

#include <errno.h>
#include <fcntl.h>
#include <http_parser.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "core/log.h"
#include "lib/clock.h"
#include "lib/list.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "model/sysmem.h"
#include "net/upstream.h"

extern char **environ;

struct engine {
    struct list link;             /* in the SIGCHLD watch list */
    uv_loop_t *loop;
    struct upstream *up;
    const struct config_engine *cfg;
    const struct config *gcfg;
    char *model_name;
    char *id;
    engine_event_cb *cb;
    void *arg;

    enum engine_state state;
    uint64_t since_wall_ms;
    uint64_t start_mono_ms;
    uint64_t start_took_ms;
    char *last_error;
    char *file_error;             /* the model file failed its full check */
    char *base_url;               /* current base URL */

    /* process */
    pid_t pid;
    int port;
    int own_port;                 /* a loopback port the engine must listen on itself; 0 = none */
    uv_pipe_t *out;               /* captured stdout+stderr; closed async */
    struct buf log;               /* ring of the newest output */
    struct buf partial;           /* an unfinished output line */
    uv_timer_t *timer;            /* start timeout / stop grace; closed async */
    uv_timer_t *probe_timer;      /* readiness / health polling; closed async */
    struct upstream_req *probe;
    long probe_status;
    struct buf probe_body;
    int probe_kind;               /* PROBE_*: what the probe in flight asks */
    /* What an Ollama says of our model: its file size (/api/tags) and, when
     * loaded, the memory it takes (/api/ps; 0 = not loaded). */
    uint64_t api_file_bytes, api_loaded_bytes;
    bool api_known;
    uint64_t api_seq;             /* /api/ps answers read so far */
    struct upstream_req *unload;  /* Ollama: keep_alive 0 in flight */
    char *unload_body;
    unsigned probes;
    unsigned crashes;      /* exits while ready (not asked to stop) */
    uint64_t probe_done_ms;       /* monotonic time of the last finished probe */
};

static struct list watched = {&watched, &watched};
static uv_signal_t *sigchld;

static const char *const state_names[] = {
    [ENGINE_STOPPED] = "stopped", [ENGINE_STARTING] = "starting", [ENGINE_READY] = "ready",
    [ENGINE_STOPPING] = "stopping", [ENGINE_DOWN] = "down",
};

const char *engine_state_name(enum engine_state s)
{
    return state_names[s];
}

static void set_state(struct engine *e, enum engine_state s)
{
    if (e->state != s) {
        e->state = s;
        e->since_wall_ms = clock_wall_ms();
    }
}

static void set_error(struct engine *e, const char *msg)
{
    free(e->last_error);
    e->last_error = msg ? xstrdup(msg) : NULL;
}

static void emit(struct engine *e, enum engine_event ev, const char *reason)
{
    if (e->cb)
        e->cb(e, ev, reason, e->arg);
}

static void handle_free_cb(uv_handle_t *h)
{
    free(h);
}

/* ---- PATH, availability ----------------------------------------------------- */

char *engine_which(const char *prog)
{
    if (!*prog)
        return NULL;
    if (strchr(prog, '/'))
        return access(prog, X_OK) == 0 ? xstrdup(prog) : NULL;
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    const char *p = path;
    while (*p) {
        const char *colon = strchr(p, ':');
        size_t n = colon ? (size_t)(colon - p) : strlen(p);
        char *cand = n ? xasprintf("%.*s/%s", (int)n, p, prog) : xasprintf("./%s", prog);
        struct stat st;
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
            return cand;
        free(cand);
        if (!colon)
            break;
        p = colon + 1;
    }
    return NULL;
}

/*
 * A cheap look at a model file before an engine is started with it: a
 * .gguf file must begin with the GGUF magic and a version llama.cpp reads.
 * (The full check, every tensor against the file, runs in sizing.c on the
 * worker pool; its verdict arrives through engine_set_file_error.) A file
 * that is not a model is refused with a clear reason instead of handing it
 * to the engine to fail on.
 */
static bool model_file_looks_right(const char *file, struct buf *why)
{
    struct stat st;
    if (stat(file, &st) != 0 || S_ISDIR(st.st_mode))
        return true; /* directories: safetensors, the engine's business */
    if (!str_ends_with(file, ".gguf"))
        return true;
    unsigned char head[8];
    FILE *f = fopen(file, "rb");
    size_t n = f ? fread(head, 1, sizeof(head), f) : 0;
    if (f)
        fclose(f);
    if (n < 8 || memcmp(head, "GGUF", 4) != 0) {
        buf_addf(why, "model file %s is not a GGUF model (%s)", file,
                 n < 4 ? "too short" : "no GGUF magic at its start");
        return false;
    }
    uint32_t version = (uint32_t)head[4] | (uint32_t)head[5] << 8 | (uint32_t)head[6] << 16 |
                       (uint32_t)head[7] << 24;
    if (version < 2 || version > 3) {
        buf_addf(why, "model file %s is GGUF version %u; llama.cpp reads versions 2 and 3",
                 file, version);
        return false;
    }
    return true;
}

static bool is_file_flag(const char *a)
{
    static const char *const flags[] = {"-m", "--model", "--mmproj", "-mm", "--lora",
                                        "--model-draft", "-md"};
    for (size_t i = 0; i < ARRAY_SIZE(flags); i++)
        if (!strcmp(a, flags[i]))
            return true;
    return false;
}

bool engine_possible(struct engine *e, struct buf *why)
{
    if (!e->cfg->cmd)
        return true;
    char *path = engine_which(e->cfg->cmd[0]);
    if (!path) {
        buf_addf(why, "%s not found%s", e->cfg->cmd[0],
                 strchr(e->cfg->cmd[0], '/') ? "" : " in PATH");
        return false;
    }
    free(path);
    for (size_t i = 1; e->cfg->cmd[i]; i++) {
        const char *a = e->cfg->cmd[i];
        const char *file = NULL;
        if (is_file_flag(a) && e->cfg->cmd[i + 1])
            file = e->cfg->cmd[i + 1];
        else if (a[0] == '/' && (str_ends_with(a, ".gguf") || str_ends_with(a, ".safetensors")))
            file = a;
        if (!file || strstr(file, "${"))
            continue;
        if (access(file, R_OK) != 0) {
            buf_addf(why, "model file %s: %s", file, strerror(errno));
            return false;
        }
        if (!model_file_looks_right(file, why))
            return false;
    }
    if (e->file_error) {
        buf_addstr(why, e->file_error);
        return false;
    }
    return true;
}

void engine_set_file_error(struct engine *e, const char *msg)
{
    free(e->file_error);
    e->file_error = msg ? xstrdup(msg) : NULL;
}

/* ---- captured output -------------------------------------------------------- */

static void log_append(struct engine *e, const char *p, size_t n)
{
    size_t cap = e->gcfg->engine_log_bytes;
    buf_add(&e->log, p, n);
    if (e->log.len > cap + cap / 2)
        buf_consume(&e->log, e->log.len - cap);
}

void engine_log_tail(const struct engine *e, struct buf *out, size_t max)
{
    size_t n = e->log.len < max ? e->log.len : max;
    const char *start = buf_cstr(&e->log) + e->log.len - n;
    /* Start at a line boundary when we cut. */
    if (n < e->log.len) {
        const char *nl = memchr(start, '\n', n);
        if (nl) {
            n -= (size_t)(nl + 1 - start);
            start = nl + 1;
        }
    }
    buf_add(out, start, n);
}

static void probe_now(struct engine *e);

static void on_output(struct engine *e, const char *p, size_t n)
{
    log_append(e, p, n);
    /* Hand complete lines to the scheduler (it reads load reports). */
    buf_add(&e->partial, p, n);
    const char *last_nl = NULL;
    for (const char *q = e->partial.data + e->partial.len; q > e->partial.data; q--)
        if (q[-1] == '\n') {
            last_nl = q - 1;
            break;
        }
    if (last_nl) {
        size_t used = (size_t)(last_nl - e->partial.data) + 1;
        char *lines = xstrndup(e->partial.data, used);
        if (log_level_current >= LOG_DEBUG) {
            const char *s = lines;
            while (*s) {
                const char *nl = strchr(s, '\n');
                size_t len = nl ? (size_t)(nl - s) : strlen(s);
                log_debug("engine %s: %.*s", e->id, (int)len, s);
                s += len + (nl ? 1 : 0);
            }
        }
        emit(e, ENGINE_EV_OUTPUT, lines);
        free(lines);
        buf_consume(&e->partial, used);
    }
    if (e->partial.len > 8192)
        buf_reset(&e->partial);
    /* A starting engine that talks is often one that just became ready. */
    if (e->state == ENGINE_STARTING && !e->probe)
        probe_now(e);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    static char slab[65536];
    b->base = slab;
    b->len = sizeof(slab);
}

static void close_output(struct engine *e)
{
    if (!e->out)
        return;
    uv_read_stop((uv_stream_t *)e->out);
    uv_close((uv_handle_t *)e->out, handle_free_cb);
    e->out = NULL;
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct engine *e = s->data;
    if (n > 0)
        on_output(e, b->base, (size_t)n);
    else if (n < 0)
        close_output(e);
}

/* Reads whatever output is already in the pipe, so that an exit reason can
 * quote the engine's last words. */
static void drain_output(struct engine *e)
{
    if (!e->out)
        return;
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)e->out, &fd) < 0)
        return;
    char b[16384];
    for (int i = 0; i < 64; i++) {
        ssize_t n = read(fd, b, sizeof(b));
        if (n <= 0)
            break;
        on_output(e, b, (size_t)n);
    }
}

/* The last few output lines, for failure reasons. */
static void last_lines(const struct engine *e, struct buf *out, unsigned nlines)
{
    struct buf tail = BUF_INIT;
    engine_log_tail(e, &tail, 2048);
    const char *s = buf_cstr(&tail);
    const char *end = s + tail.len;
    while (end > s && (end[-1] == '\n' || end[-1] == '\r'))
        end--;
    const char *p = end;
    unsigned k = 0;
    while (p > s) {
        if (p[-1] == '\n' && ++k == nlines)
            break;
        p--;
    }
    if (end > p) {
        buf_addstr(out, "; last output: ");
        for (const char *q = p; q < end; q++)
            buf_addch(out, *q == '\n' ? '|' : *q);
    }
    buf_release(&tail);
}

/* ---- readiness and health --------------------------------------------------- */

static void probe_schedule(struct engine *e);
static void fail_start(struct engine *e, const char *why);

enum { PROBE_READY, PROBE_MODELS, PROBE_PS };

static void probe_head(struct upstream_req *r, long status, void *arg)
{
    struct engine *e = arg;
    e->probe_status = status;
}

static int probe_data(struct upstream_req *r, const char *p, size_t n, void *arg)
{
    struct engine *e = arg;
    if (e->probe_body.len + n <= (1u << 20))
        buf_add(&e->probe_body, p, n);
    return 0;
}

/* Whether the id an engine lists is our model: the same, or for Ollama
 * the same with ":latest" added. */
static bool ollama_same(const struct engine *e, const char *id, const char *want)
{
    return !strcmp(id, want) ||
           (e->cfg->kind == ENGINE_KIND_OLLAMA && !strchr(want, ':') &&
            str_starts_with(id, want) && !strcmp(id + strlen(want), ":latest"));
}

/* Ollama's /api/ps: the models loaded now, each with "size" (bytes it
 * takes, weights and context) and "size_vram". Ours absent = not loaded. */
static void read_ps(struct engine *e)
{
    json_t *root = json_loadb(buf_cstr(&e->probe_body), e->probe_body.len, 0, NULL);
    json_t *arr = json_object_get(root, "models"), *m;
    size_t i;
    if (!json_is_array(arr)) {
        json_decref(root);
        return;
    }
    const char *want = engine_upstream_model(e);
    uint64_t loaded = 0;
    json_array_foreach(arr, i, m) {
        const char *id = json_string_value(json_object_get(m, "name"));
        if (!id)
            id = json_string_value(json_object_get(m, "model"));
        json_t *sz = json_object_get(m, "size");
        if (id && ollama_same(e, id, want) && json_is_integer(sz) && json_integer_value(sz) > 0)
            loaded = (uint64_t)json_integer_value(sz);
    }
    e->api_loaded_bytes = loaded;
    e->api_known = true;
    e->api_seq++;
    json_decref(root);
}

/* Does the model list in the probe body name our model? Returns 1 yes,
 * 0 no (with the served ones in `served`), -1 cannot tell. */
static int model_listed(struct engine *e, struct buf *served)
{
    json_t *root = json_loadb(buf_cstr(&e->probe_body), e->probe_body.len, 0, NULL);
    if (!root)
        return -1;
    const char *want = engine_upstream_model(e);
    json_t *arr = json_object_get(root, "data");
    const char *field = "id";
    if (!json_is_array(arr)) {
        arr = json_object_get(root, "models"); /* Ollama /api/tags */
        field = "name";
    }
    int found = -1;
    size_t i;
    json_t *m;
    if (json_is_array(arr)) {
        found = 0;
        json_array_foreach(arr, i, m)
        {
            const char *id = json_string_value(json_object_get(m, field));
            if (!id)
                continue;
            if (ollama_same(e, id, want)) {
                found = 1;
                json_t *sz = json_object_get(m, "size");
                if (json_is_integer(sz) && json_integer_value(sz) > 0)
                    e->api_file_bytes = (uint64_t)json_integer_value(sz);
                break;
            }
            if (served->len < 300)
                buf_addf(served, "%s%s", served->len ? ", " : "", id);
        }
    }
    json_decref(root);
    return found;
}

static void became_ready(struct engine *e)
{
    bool was_ready = e->state == ENGINE_READY;
    if (e->timer)
        uv_timer_stop(e->timer);
    if (e->state == ENGINE_STARTING && e->pid)
        e->start_took_ms = clock_mono_ms() - e->start_mono_ms;
    set_state(e, ENGINE_READY);
    set_error(e, NULL);
    if (!was_ready) {
        if (e->pid)
            log_info("engine ready engine=%s pid=%d port=%d took_ms=%llu", e->id, (int)e->pid,
                     e->port, (unsigned long long)e->start_took_ms);
        else
            log_info("engine ready engine=%s url=%s", e->id, e->base_url);
        emit(e, ENGINE_EV_READY, NULL);
    }
    probe_schedule(e);
}

static void went_down(struct engine *e, const char *why)
{
    if (e->state == ENGINE_STARTING) {
        fail_start(e, why);
        return;
    }
    bool was_down = e->state == ENGINE_DOWN;
    set_state(e, ENGINE_DOWN);
    set_error(e, why);
    if (!was_down) {
        log_warn("engine down engine=%s reason=\"%s\"", e->id, why);
        emit(e, ENGINE_EV_DOWN, why);
    }
    probe_schedule(e);
}

static void start_probe(struct engine *e, int kind);

/*
 * A managed engine's port answers: is the engine we started the one
 * listening there? hermod checks that its port is free and then starts
 * the engine, which binds it when it is ready to; another program can take
 * the port in between, and would then get the requests meant for the
 * engine (a user's prompts). So the listener must belong to the engine's
 * process tree, by /proc. A container's listener (a runtime's port
 * forwarder, or a process under a container shim) is taken for its engine,
 * and one whose holder cannot be seen (another user's, or in another
 * network namespace) cannot be judged: both pass. Fails the start and
 * returns false when the port is someone else's.
 */
static bool listener_is_ours(struct engine *e)
{
    int other = 0;
    char comm[32];
    if (!e->pid || !e->own_port ||
        sysmem_port_owner(e->own_port, (int)e->pid, &other, comm, sizeof(comm)) !=
            SYSMEM_PORT_OTHER)
        return true;
    char *why = xasprintf("port %d answers, but the program listening there is not the engine "
                          "hermod started: it is pid %d (%s), which took the port before the "
                          "engine could; stop that program or give engines ports no other "
                          "program uses (engine_ports)",
                          e->own_port, other, comm);
    fail_start(e, why);
    free(why);
    return false;
}

static void probe_done(struct upstream_req *r, int rc, const char *msg, void *arg)
{
    struct engine *e = arg;
    int kind = e->probe_kind;
    bool models = kind == PROBE_MODELS;
    e->probe = NULL;
    e->probes++;
    e->probe_done_ms = clock_mono_ms();
    if (e->state != ENGINE_STARTING && e->state != ENGINE_READY && e->state != ENGINE_DOWN)
        return;
    bool managed = e->pid != 0;
    if (kind == PROBE_PS) {
        /* Only what the model takes: a failure here says nothing of the
         * engine's health, which the other probes judged. */
        if (rc == 0 && e->probe_status == 200)
            read_ps(e);
        became_ready(e);
        return;
    }
    if (models) {
        struct buf served = BUF_INIT;
        int listed = rc == 0 && e->probe_status == 200 ? model_listed(e, &served) : -1;
        if (listed == 0) {
            char *why = xasprintf("%s does not serve model '%s' (it serves: %s)", e->base_url,
                                  engine_upstream_model(e),
                                  served.len ? buf_cstr(&served) : "none");
            went_down(e, why);
            free(why);
        } else if (e->cfg->kind == ENGINE_KIND_OLLAMA && listed == 1) {
            start_probe(e, PROBE_PS);
        } else {
            became_ready(e);
        }
        buf_release(&served);
        return;
    }
    if (rc == 0 && e->probe_status == 200) {
        if (e->state == ENGINE_STARTING && !listener_is_ours(e))
            return;
        /* An unmanaged engine must also serve the model we route to it. */
        if (!managed && e->cfg->kind != ENGINE_KIND_LLAMA_SERVER) {
            start_probe(e, PROBE_MODELS);
            return;
        }
        became_ready(e);
        return;
    }
    if (managed) {
        if (e->state == ENGINE_STARTING) {
            probe_schedule(e);
        } else if (e->state == ENGINE_READY) {
            /* A running engine that stops answering: note it, keep it. */
            probe_schedule(e);
        }
        return;
    }
    char *why = rc ? xasprintf("%s: %s", e->base_url, msg)
                   : xasprintf("%s%s answered HTTP %ld", e->base_url, e->cfg->ready,
                               e->probe_status);
    went_down(e, why);
    free(why);
}

static void start_probe(struct engine *e, int kind)
{
    if (e->probe)
        return;
    char *url;
    if (kind == PROBE_MODELS)
        url = xasprintf("%s%s", e->base_url,
                        e->cfg->kind == ENGINE_KIND_OLLAMA ? "/api/tags" : "/v1/models");
    else if (kind == PROBE_PS)
        url = xasprintf("%s/api/ps", e->base_url);
    else
        url = xasprintf("%s%s", e->base_url, e->cfg->ready);
    buf_reset(&e->probe_body);
    e->probe_status = 0;
    e->probe_kind = kind;
    struct upstream_opts o = {
        .method = "GET",
        .url = url,
        .auth_bearer = e->cfg->api_key,
        .connect_timeout_ms = 2000,
        .total_timeout_ms = 5000,
        .probe = true,
        .on_head = probe_head,
        .on_data = probe_data,
        .on_done = probe_done,
        .arg = e,
    };
    e->probe = upstream_start(e->up, &o);
    free(url);
}

static void probe_now(struct engine *e)
{
    if (e->probe_timer)
        uv_timer_stop(e->probe_timer);
    start_probe(e, PROBE_READY);
}

static void probe_timer_cb(uv_timer_t *t)
{
    probe_now(t->data);
}

/* Polls fast while an engine starts (its readiness is on every request's
 * critical path), then slower; unmanaged engines every health interval. */
static void probe_schedule(struct engine *e)
{
    uint64_t delay;
    if (e->state == ENGINE_STARTING) {
        uint64_t age = clock_mono_ms() - e->start_mono_ms;
        delay = age < 2000 ? 10 : age < 10000 ? 50 : 200;
    } else if (e->state == ENGINE_READY || e->state == ENGINE_DOWN) {
        delay = e->gcfg->health_interval_ms;
    } else {
        return;
    }
    if (!e->probe_timer) {
        e->probe_timer = xmalloc(sizeof(*e->probe_timer));
        uv_timer_init(e->loop, e->probe_timer);
        e->probe_timer->data = e;
    }
    uv_timer_start(e->probe_timer, probe_timer_cb, delay, 0);
}

static void stop_probing(struct engine *e)
{
    if (e->probe_timer)
        uv_timer_stop(e->probe_timer);
    if (e->probe) {
        upstream_abort(e->probe);
        e->probe = NULL;
    }
}

/* ---- processes ---------------------------------------------------------------- */

static void kill_group(struct engine *e, int sig)
{
    if (e->pid > 0 && kill(-e->pid, sig) < 0 && errno == ESRCH)
        kill(e->pid, sig);
}

static void ensure_timer(struct engine *e)
{
    if (!e->timer) {
        e->timer = xmalloc(sizeof(*e->timer));
        uv_timer_init(e->loop, e->timer);
        e->timer->data = e;
    }
}

static void grace_cb(uv_timer_t *t)
{
    struct engine *e = t->data;
    if (e->pid > 0) {
        log_warn("engine did not stop in time, killing engine=%s pid=%d", e->id, (int)e->pid);
        kill_group(e, SIGKILL);
    }
}

static void begin_stop(struct engine *e)
{
    stop_probing(e);
    set_state(e, ENGINE_STOPPING);
    kill_group(e, SIGTERM);
    ensure_timer(e);
    uv_timer_start(e->timer, grace_cb, e->cfg->stop_timeout_ms ? e->cfg->stop_timeout_ms : 1, 0);
}

static void fail_start(struct engine *e, const char *why)
{
    struct buf msg = BUF_INIT;
    if (!e->cfg->cmd) {
        /* Not ours to start: it is simply not there (yet). */
        /* The client's reason often starts with the URL already. */
        size_t ul = strlen(e->base_url);
        if (!strncmp(why, e->base_url, ul) && !strncmp(why + ul, ": ", 2))
            why += ul + 2;
        buf_addf(&msg, "not reachable at %s (%s); is it running? hermod starts only engines "
                 "that have a 'cmd'", e->base_url, why);
        why = buf_cstr(&msg);
        log_warn("engine not reachable engine=%s url=%s reason=\"%s\"; is it running?", e->id,
                 e->base_url, why);
    } else {
        log_warn("engine failed to start engine=%s reason=\"%s\"", e->id, why);
    }
    set_error(e, why);
    if (e->pid > 0) {
        begin_stop(e);
    } else {
        stop_probing(e);
        set_state(e, e->cfg->cmd ? ENGINE_STOPPED : ENGINE_DOWN);
        if (!e->cfg->cmd)
            probe_schedule(e);
    }
    emit(e, ENGINE_EV_START_FAILED, why);
    buf_release(&msg);
}

static void start_timeout_cb(uv_timer_t *t)
{
    struct engine *e = t->data;
    if (e->state != ENGINE_STARTING)
        return;
    struct buf why = BUF_INIT;
    buf_addf(&why, "not ready after %.0f s (start_timeout)", e->cfg->start_timeout_ms / 1000.0);
    if (e->pid)
        last_lines(e, &why, 3);
    fail_start(e, buf_cstr(&why));
    buf_release(&why);
}

static void describe_status(struct buf *b, int status)
{
    if (WIFEXITED(status))
        buf_addf(b, "exit status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        buf_addf(b, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        buf_addf(b, "status %d", status);
}

static void child_exited(struct engine *e, int status)
{
    drain_output(e);
    /* Whatever the leader left in its group goes too: no orphans. */
    kill_group(e, SIGKILL);
    e->pid = 0;
    list_del(&e->link);
    if (e->timer)
        uv_timer_stop(e->timer);
    stop_probing(e);
    enum engine_state was = e->state;
    struct buf why = BUF_INIT;
    set_state(e, ENGINE_STOPPED);
    if (was == ENGINE_STARTING) {
        buf_addstr(&why, "exited before becoming ready: ");
        describe_status(&why, status);
        last_lines(e, &why, 3);
        log_warn("engine failed to start engine=%s reason=\"%s\"", e->id, buf_cstr(&why));
        set_error(e, buf_cstr(&why));
        emit(e, ENGINE_EV_START_FAILED, buf_cstr(&why));
    } else {
        if (was == ENGINE_STOPPING) {
            buf_addstr(&why, "stopped");
            log_info("engine stopped engine=%s", e->id);
        } else {
            e->crashes++;
            buf_addstr(&why, "crashed: ");
            describe_status(&why, status);
            last_lines(e, &why, 3);
            log_warn("engine exited engine=%s reason=\"%s\"", e->id, buf_cstr(&why));
            set_error(e, buf_cstr(&why));
        }
        emit(e, ENGINE_EV_EXITED, buf_cstr(&why));
    }
    buf_release(&why);
}

static void sigchld_cb(uv_signal_t *h, int signum)
{
    struct list *p, *tmp;
    list_for_each_safe(p, tmp, &watched)
    {
        struct engine *e = container_of(p, struct engine, link);
        int status;
        pid_t r = waitpid(e->pid, &status, WNOHANG);
        if (r == e->pid)
            child_exited(e, status);
    }
}

void engine_init_loop(uv_loop_t *loop)
{
    if (sigchld)
        return;
    sigchld = xmalloc(sizeof(*sigchld));
    uv_signal_init(loop, sigchld);
    uv_signal_start(sigchld, sigchld_cb, SIGCHLD);
}

void engine_fini_loop(void)
{
    if (!sigchld)
        return;
    uv_signal_stop(sigchld);
    uv_close((uv_handle_t *)sigchld, handle_free_cb);
    sigchld = NULL;
}

/* Binds host:port for a moment: 0 if it is free, else a negative errno. */
static int try_port(const char *host, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    /* As the engine will bind it: TIME_WAIT leftovers do not count. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

/*
 * A loopback port for a managed engine: from `engine_ports` when set
 * (taking turns through the range, skipping ports in use), else any free
 * port the kernel gives.
 */
static int free_port(const struct config *g)
{
    if (g && g->engine_port_lo) {
        static int next;
        int lo = g->engine_port_lo, hi = g->engine_port_hi, span = hi - lo + 1;
        for (int i = 0; i < span; i++) {
            int p = lo + (next + i) % span;
            if (try_port("127.0.0.1", p) == 0) {
                next = (p - lo + 1) % span;
                return p;
            }
        }
        return -EADDRINUSE;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    int rc = 0;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
        rc = -errno;
    close(fd);
    return rc ? rc : ntohs(sa.sin_port);
}

/*
 * A managed engine with a fixed url: its port must be free before the
 * spawn, or whatever already listens there would pass for the engine.
 * Only loopback and wildcard hosts can be checked from here.
 */
static int check_fixed_port(const char *url, struct buf *err, int *own_port)
{
    struct http_parser_url pu;
    http_parser_url_init(&pu);
    if (http_parser_parse_url(url, strlen(url), 0, &pu) || !(pu.field_set & (1 << UF_HOST)))
        return 0; /* config.c checked it; nothing to say here */
    char host[64];
    size_t hl = pu.field_data[UF_HOST].len;
    if (hl >= sizeof(host))
        return 0;
    memcpy(host, url + pu.field_data[UF_HOST].off, hl);
    host[hl] = '\0';
    if (strcmp(host, "127.0.0.1") && strcmp(host, "localhost") && strcmp(host, "0.0.0.0"))
        return 0; /* only loopback and wildcard hosts can be checked from here */
    int p = pu.field_set & (1 << UF_PORT) ? pu.port : 80;
    int rc = try_port("127.0.0.1", p);
    *own_port = p;
    if (rc == -EADDRINUSE)
        buf_addf(err,
                 "port %d of %s is already in use by another program, so the engine could "
                 "not listen there; stop that program, or give the engine another port",
                 p, url);
    else if (rc)
        buf_addf(err, "cannot check port %d of %s: %s", p, url, strerror(-rc));
    return rc;
}

static char *subst(const char *s, const char *port, const char *host)
{
    struct buf b = BUF_INIT;
    while (*s) {
        if (!strncmp(s, "${PORT}", 7)) {
            buf_addstr(&b, port);
            s += 7;
        } else if (!strncmp(s, "${HOST}", 7)) {
            buf_addstr(&b, host);
            s += 7;
        } else {
            buf_addch(&b, *s++);
        }
    }
    return buf_detach(&b, NULL);
}

static void strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static char **build_env(const struct config_engine *c, const char *port, const char *host)
{
    size_t n = 0, extra = 0;
    while (environ[n])
        n++;
    while (c->env && c->env[extra])
        extra++;
    char **v = xcalloc(n + extra + 1, sizeof(char *));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t kl = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        bool overridden = false;
        for (size_t j = 0; j < extra; j++)
            if (!strncmp(c->env[j], environ[i], kl) && c->env[j][kl] == '=')
                overridden = true;
        if (!overridden)
            v[k++] = xstrdup(environ[i]);
    }
    for (size_t j = 0; j < extra; j++)
        v[k++] = subst(c->env[j], port, host);
    return v;
}

static int spawn(struct engine *e, struct buf *err)
{
    const struct config_engine *c = e->cfg;
    char port[16], host[] = "127.0.0.1";
    int rc = 0;
    char *path = NULL, **argv = NULL, **envp = NULL;
    int outp[2] = {-1, -1}, errp[2] = {-1, -1};

    e->own_port = 0;
    if (c->url) {
        rc = check_fixed_port(c->url, err, &e->own_port);
        if (rc)
            return rc;
        e->port = 0;
        snprintf(port, sizeof(port), "0");
        free(e->base_url);
        e->base_url = xstrdup(c->url);
    } else {
        int p = free_port(e->gcfg);
        if (p < 0) {
            if (e->gcfg && e->gcfg->engine_port_lo)
                buf_addf(err, "no free loopback port in engine_ports %d-%d",
                         e->gcfg->engine_port_lo, e->gcfg->engine_port_hi);
            else
                buf_addf(err, "no free loopback port: %s", strerror(-p));
            return p;
        }
        e->port = e->own_port = p;
        snprintf(port, sizeof(port), "%d", p);
        free(e->base_url);
        e->base_url = xasprintf("http://%s:%d", host, p);
    }
    path = engine_which(c->cmd[0]);
    if (!path) {
        buf_addf(err, "%s not found%s", c->cmd[0], strchr(c->cmd[0], '/') ? "" : " in PATH");
        return -ENOENT;
    }
    size_t argc = 0;
    while (c->cmd[argc])
        argc++;
    argv = xcalloc(argc + 1, sizeof(char *));
    for (size_t i = 0; i < argc; i++)
        argv[i] = subst(c->cmd[i], port, host);
    envp = build_env(c, port, host);

    if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
        rc = -errno;
        buf_addf(err, "pipe: %s", strerror(errno));
        goto out;
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        rc = -errno;
        buf_addf(err, "fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        /* Child: async-signal-safe calls only. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(127);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(outp[1], 1);
        dup2(outp[1], 2);
        int ef = errp[1];
        if (ef > 3)
            close_range(3, (unsigned)ef - 1, 0);
        close_range((unsigned)ef + 1, ~0u, 0);
        if (c->cwd && chdir(c->cwd) < 0) {
            int en = errno;
            ssize_t w = write(ef, &en, sizeof(en));
            (void)w;
            _exit(127);
        }
        execve(path, argv, envp);
        int en = errno;
        ssize_t w = write(ef, &en, sizeof(en));
        (void)w;
        _exit(127);
    }
    close(outp[1]);
    outp[1] = -1;
    close(errp[1]);
    errp[1] = -1;
    int child_errno = 0;
    ssize_t nr;
    do
        nr = read(errp[0], &child_errno, sizeof(child_errno));
    while (nr < 0 && errno == EINTR);
    if (nr == (ssize_t)sizeof(child_errno)) {
        int status;
        waitpid(pid, &status, 0);
        rc = -child_errno;
        buf_addf(err, "cannot run %s: %s", path, strerror(child_errno));
        goto out;
    }
    /* Also set in the parent: no window where the child is in our group. */
    setpgid(pid, pid);
    e->pid = pid;
    e->out = xmalloc(sizeof(*e->out));
    uv_pipe_init(e->loop, e->out, 0);
    e->out->data = e;
    fcntl(outp[0], F_SETFL, fcntl(outp[0], F_GETFL) | O_NONBLOCK);
    uv_pipe_open(e->out, outp[0]);
    outp[0] = -1;
    uv_read_start((uv_stream_t *)e->out, alloc_cb, read_cb);
    list_add_tail(&watched, &e->link);
    {
        struct buf cmdline = BUF_INIT;
        for (size_t i = 0; argv[i]; i++)
            buf_addf(&cmdline, "%s%s", i ? " " : "", argv[i]);
        log_info("engine spawned engine=%s pid=%d port=%d cmd=\"%s\"", e->id, (int)pid, e->port,
                 buf_cstr(&cmdline));
        buf_release(&cmdline);
    }
out:
    if (outp[0] >= 0)
        close(outp[0]);
    if (outp[1] >= 0)
        close(outp[1]);
    if (errp[0] >= 0)
        close(errp[0]);
    if (errp[1] >= 0)
        close(errp[1]);
    free(path);
    strv_free(argv);
    strv_free(envp);
    return rc;
}

/* ---- public ------------------------------------------------------------------- */

struct engine *engine_new(uv_loop_t *loop, struct upstream *up, const struct config_engine *cfg,
                          const struct config *gcfg, const char *model_name, const char *id,
                          engine_event_cb *cb, void *arg)
{
    struct engine *e = xcalloc(1, sizeof(*e));
    list_init(&e->link);
    e->loop = loop;
    e->up = up;
    e->cfg = cfg;
    e->gcfg = gcfg;
    e->model_name = xstrdup(model_name);
    e->id = xstrdup(id);
    e->cb = cb;
    e->arg = arg;
    e->state = ENGINE_STOPPED;
    e->since_wall_ms = clock_wall_ms();
    e->base_url = cfg->url ? xstrdup(cfg->url) : xstrdup("");
    return e;
}

void engine_set_config(struct engine *e, const struct config_engine *cfg,
                       const struct config *gcfg)
{
    e->cfg = cfg;
    e->gcfg = gcfg;
}

void engine_free(struct engine *e)
{
    if (!e)
        return;
    if (e->pid > 0) {
        kill_group(e, SIGKILL);
        int status;
        waitpid(e->pid, &status, 0);
        list_del(&e->link);
    }
    stop_probing(e);
    if (e->unload)
        upstream_abort(e->unload);
    free(e->unload_body);
    close_output(e);
    if (e->timer)
        uv_close((uv_handle_t *)e->timer, handle_free_cb);
    if (e->probe_timer)
        uv_close((uv_handle_t *)e->probe_timer, handle_free_cb);
    buf_release(&e->log);
    buf_release(&e->partial);
    buf_release(&e->probe_body);
    free(e->last_error);
    free(e->file_error);
    free(e->base_url);
    free(e->model_name);
    free(e->id);
    free(e);
}

int engine_start(struct engine *e, struct buf *err)
{
    if (e->state == ENGINE_STARTING || e->state == ENGINE_READY)
        return 0;
    if (e->state == ENGINE_STOPPING) {
        buf_addstr(err, "engine is still stopping");
        return -EBUSY;
    }
    e->start_mono_ms = clock_mono_ms();
    if (e->cfg->cmd) {
        /* A fresh log per run keeps failure reasons about this run. */
        buf_reset(&e->log);
        buf_reset(&e->partial);
        int rc = spawn(e, err);
        if (rc) {
            set_error(e, buf_cstr(err));
            log_warn("engine failed to start engine=%s reason=\"%s\"", e->id, buf_cstr(err));
            return rc;
        }
        ensure_timer(e);
        uv_timer_start(e->timer, start_timeout_cb, e->cfg->start_timeout_ms, 0);
    }
    set_state(e, ENGINE_STARTING);
    start_probe(e, PROBE_READY);
    return 0;
}

static void unload_done(struct upstream_req *r, int rc, const char *msg, void *arg)
{
    struct engine *e = arg;
    e->unload = NULL;
    if (rc)
        log_warn("engine unload failed engine=%s reason=\"%s\"", e->id, msg);
    else
        log_info("engine unloaded engine=%s", e->id);
    /* Failed or not, hermod stops counting it: the next /api/ps says
     * what Ollama really holds. */
    e->api_loaded_bytes = 0;
    set_state(e, ENGINE_STOPPED);
    emit(e, ENGINE_EV_EXITED, NULL);
}

void engine_stop(struct engine *e)
{
    if (e->pid > 0) {
        if (e->state != ENGINE_STOPPING)
            begin_stop(e);
        return;
    }
    stop_probing(e);
    if (e->cfg->kind == ENGINE_KIND_OLLAMA && e->api_known && !e->unload &&
        e->state == ENGINE_READY) {
        /* An Ollama we do not run, holding our model: ask it to let go
         * (keep_alive 0 unloads at once) and count the memory as held
         * until it answers, like a process that has not exited yet. */
        char *url = xasprintf("%s/api/generate", e->base_url);
        json_t *b = json_pack("{s:s,s:i}", "model", engine_upstream_model(e), "keep_alive", 0);
        char *body = json_dumps(b, JSON_COMPACT);
        json_decref(b);
        free(e->unload_body);
        e->unload_body = body;
        struct upstream_opts o = {
            .method = "POST",
            .url = url,
            .body = body,
            .body_len = strlen(body),
            .auth_bearer = e->cfg->api_key,
            .connect_timeout_ms = 2000,
            .total_timeout_ms = 30000,
            .on_done = unload_done,
            .arg = e,
        };
        set_state(e, ENGINE_STOPPING);
        log_info("engine unloading engine=%s (Ollama keep_alive 0)", e->id);
        e->unload = upstream_start(e->up, &o);
        free(url);
        return;
    }
    set_state(e, ENGINE_STOPPED);
}

void engine_refresh_usage(struct engine *e)
{
    if (e->pid <= 0 && e->cfg->kind == ENGINE_KIND_OLLAMA && e->state == ENGINE_READY &&
        !e->probe)
        start_probe(e, PROBE_PS);
}

void engine_kill(struct engine *e)
{
    kill_group(e, SIGKILL);
}

enum engine_state engine_state(const struct engine *e)
{
    return e->state;
}

bool engine_api_memory(const struct engine *e, uint64_t *loaded, uint64_t *file, uint64_t *seq)
{
    if (loaded)
        *loaded = e->api_loaded_bytes;
    if (file)
        *file = e->api_file_bytes;
    if (seq)
        *seq = e->api_seq;
    return e->api_known;
}

bool engine_managed(const struct engine *e)
{
    return e->cfg->cmd != NULL;
}

const char *engine_id(const struct engine *e)
{
    return e->id;
}

const char *engine_model_name(const struct engine *e)
{
    return e->model_name;
}

const struct config_engine *engine_config(const struct engine *e)
{
    return e->cfg;
}

const char *engine_base_url(const struct engine *e)
{
    return e->base_url;
}

const char *engine_upstream_model(const struct engine *e)
{
    return e->cfg->model ? e->cfg->model : e->model_name;
}

int engine_pid(const struct engine *e)
{
    return (int)e->pid;
}

int engine_port(const struct engine *e)
{
    return e->port;
}

uint64_t engine_since(const struct engine *e)
{
    return e->since_wall_ms;
}

const char *engine_last_error(const struct engine *e)
{
    return e->last_error;
}

uint64_t engine_health_age_ms(const struct engine *e)
{
    return e->probe_done_ms ? clock_mono_ms() - e->probe_done_ms : UINT64_MAX;
}

unsigned engine_crashes(const struct engine *e)
{
    return e->crashes;
}

uint64_t engine_start_ms(const struct engine *e)
{
    return e->start_took_ms;
}
