/* SPDX-License-Identifier: MIT */
/*
 * engine: one inference engine of one model, as hermod sees it.
 *
 * A managed engine (config `cmd`) is a child process that hermod starts on
 * a free loopback port, in its own process group, with its stdout and
 * stderr captured into a bounded log; it is ready when its `ready` path
 * answers 200, and it is stopped with SIGTERM to the group, then SIGKILL
 * after the grace period. An unmanaged engine (only `url`) is never
 * spawned: "starting" it means checking its health, and it is re-checked
 * every health interval while hermod runs.
 *
 * The engine decides nothing: the scheduler (sched.c) says when to start
 * and stop, and hears back through one event callback.
 *
 * DESIGN
 * States: STOPPED -> STARTING -> READY -> STOPPING -> STOPPED, and DOWN for
 * an unmanaged engine whose health check failed. A child is reaped from
 * the loop's SIGCHLD watcher with waitpid() on its own pid only, so hermod
 * never reaps a child that is not an engine. Children get PR_SET_PDEATHSIG,
 * so even a hermod killed with SIGKILL leaves no engine behind.
 */
#ifndef HERMOD_ENGINE_H
#define HERMOD_ENGINE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "core/config.h"
#include "lib/buf.h"

struct engine;
struct upstream;

enum engine_state {
    ENGINE_STOPPED,
    ENGINE_STARTING,
    ENGINE_READY,
    ENGINE_STOPPING,
    ENGINE_DOWN,
};
const char *engine_state_name(enum engine_state s);

enum engine_event {
    ENGINE_EV_READY,        /* started, or an unmanaged engine came back */
    ENGINE_EV_START_FAILED, /* reason says why: exit, timeout, spawn error, health */
    ENGINE_EV_EXITED,       /* the process ended (crash, or after a stop) */
    ENGINE_EV_DOWN,         /* an unmanaged engine failed a health check */
    ENGINE_EV_OUTPUT,       /* new output lines were captured (reason = the lines) */
};

typedef void engine_event_cb(struct engine *e, enum engine_event ev, const char *reason,
                             void *arg);

/*
 * Creates an engine for model `model_name`; `cfg` is borrowed and must
 * outlive the engine. `id` names it in logs and headers ("model@kind").
 */
struct engine *engine_new(uv_loop_t *loop, struct upstream *up, const struct config_engine *cfg,
                          const struct config *gcfg, const char *model_name, const char *id,
                          engine_event_cb *cb, void *arg);
/* A reload's config, equal to the old one for this engine: the engine
 * reads its settings from here on. Both borrowed, as in engine_new. */
void engine_set_config(struct engine *e, const struct config_engine *cfg,
                       const struct config *gcfg);
/* Kills the process group (SIGKILL) if one still runs, and frees. */
void engine_free(struct engine *e);

/* Managed: spawn; unmanaged: check health. The outcome comes as an event.
 * Returns 0, or a negative code with err set when nothing could start
 * (then no event follows). */
int engine_start(struct engine *e, struct buf *err);
/* Managed: SIGTERM, then SIGKILL after stop_timeout; EXITED follows.
 * An unmanaged Ollama that holds the model is asked to unload it
 * (keep_alive 0): STOPPING until it answers, then STOPPED and EXITED.
 * Other unmanaged engines: forgets their health (state STOPPED). */
void engine_stop(struct engine *e);
/* SIGKILL to the whole group now (shutdown's second signal). */
void engine_kill(struct engine *e);
/* Checks, without starting anything, whether the engine could run: its
 * program on PATH, its model files present. Returns true, or false with
 * the reason in `why`. Unmanaged engines are always "possible". */
bool engine_possible(struct engine *e, struct buf *why);

/* Marks the engine's model file as bad (msg copied; NULL clears): the
 * engine is then not possible, with msg as the reason. */
void engine_set_file_error(struct engine *e, const char *msg);

enum engine_state engine_state(const struct engine *e);
bool engine_managed(const struct engine *e);
const char *engine_id(const struct engine *e);
const char *engine_model_name(const struct engine *e);
const struct config_engine *engine_config(const struct engine *e);
/* "http://127.0.0.1:PORT" for a running managed engine, the url otherwise. */
const char *engine_base_url(const struct engine *e);
/* The model id to send upstream. */
const char *engine_upstream_model(const struct engine *e);
int engine_pid(const struct engine *e);
int engine_port(const struct engine *e);
/* Wall-clock ms when the current state began. */
uint64_t engine_since(const struct engine *e);
/* Why it last failed or went down, or NULL. */
const char *engine_last_error(const struct engine *e);
/* How long ago the last health check finished (UINT64_MAX: never). */
uint64_t engine_health_age_ms(const struct engine *e);
/* Monotonic ms the last start took to become ready (0 if never). */
uint64_t engine_start_ms(const struct engine *e);
/* How many times the process ended on its own once ready (a crash, not a
 * stop hermod asked for), since hermod started. */
unsigned engine_crashes(const struct engine *e);
/*
 * What the engine's own API says of the model's memory, for engines that
 * say it (Ollama: /api/ps while loaded, /api/tags for the file): loaded =
 * bytes it takes now (0 = not loaded), file = the model file's size (0 =
 * not known), seq = how many /api/ps answers were read (a newer one than
 * a mark taken earlier has seen what happened since). Any pointer may be
 * NULL. Returns false until the engine has answered /api/ps once.
 */
bool engine_api_memory(const struct engine *e, uint64_t *loaded, uint64_t *file, uint64_t *seq);
/* Asks an unmanaged Ollama for /api/ps now (after a request ended). */
void engine_refresh_usage(struct engine *e);
/* Appends up to max of the newest captured output to out. */
void engine_log_tail(const struct engine *e, struct buf *out, size_t max);

/* Installs the SIGCHLD watcher; call once per loop before starting engines. */
void engine_init_loop(uv_loop_t *loop);
void engine_fini_loop(void);

/* Resolves a program name through PATH as execvp would. Returns an
 * allocated path, or NULL. Exposed for tests. */
char *engine_which(const char *prog);

#endif
