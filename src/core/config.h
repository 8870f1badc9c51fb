/* SPDX-License-Identifier: MIT */
/*
 * config: the YAML configuration, loaded into plain C structs.
 *
 * The loader reads the file with libyaml's document API, walks the node
 * tree against one key table per section, and reports the first problem as
 * "FILE:LINE:COL: what is wrong" in the caller's err buffer. Every key is
 * declared once, with its type, bounds and default, in config.c.
 *
 * Ownership: config_load_*() returns a struct config that owns every string
 * and array inside it; config_free() releases it all. Nothing in it is
 * changed after loading, so the running daemon may keep pointers into it
 * for as long as the config lives.
 *
 * Contract keys relied on from outside: listen, models[].name, aliases,
 * ttl, engines, engines[].kind, url, cmd, model, ready, start_timeout;
 * budget and models[].memory (sizes); routes; store.
 */
#ifndef HERMOD_CONFIG_H
#define HERMOD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/log.h"
#include "lib/buf.h"

enum engine_kind {
    ENGINE_KIND_LLAMA_SERVER,
    ENGINE_KIND_OLLAMA,
    ENGINE_KIND_NIM,
    ENGINE_KIND_VLLM,
    ENGINE_KIND_OPENAI, /* any other OpenAI-compatible server */
};
const char *engine_kind_name(enum engine_kind k);

struct config_engine {
    enum engine_kind kind;
    char *url;            /* base URL; unmanaged unless cmd is also set */
    char **cmd;           /* argv, NULL-terminated; NULL when unmanaged */
    char **env;           /* extra "KEY=VALUE" entries, NULL-terminated, may be NULL */
    char *cwd;            /* working directory for cmd, or NULL */
    char *model;          /* model id sent upstream; NULL = the hermod model name */
    char *ready;          /* readiness path, e.g. "/health" */
    char *api_key;        /* sent as "Authorization: Bearer ..." upstream, or NULL */
    uint64_t start_timeout_ms;
    uint64_t stop_timeout_ms; /* SIGTERM -> SIGKILL grace */
    uint64_t memory;      /* declared bytes, 0 = not declared */
    unsigned line;        /* where it was declared, for messages */
};

struct config_model {
    char *name;
    char **aliases;       /* NULL-terminated, may be empty */
    uint64_t ttl_ms;      /* 0 = never unloaded for idleness */
    unsigned concurrency; /* requests in flight at once; 0 = no limit */
    unsigned queue;       /* requests waiting beyond that */
    struct config_engine *engines;
    size_t nengines;
    uint64_t memory;      /* declared size in bytes, 0 = not declared */
    char *catalog;        /* catalog entry whose facts it inherits, or NULL */
    bool pinned;          /* always resident: never evicted, started at boot */
    char *group;          /* members of a group exclude each other, or NULL */
    int gpu;              /* GPU index it is pinned to, -1 = any */
    unsigned context;     /* context length the engine runs with, 0 = unknown */
    unsigned parallel;    /* parallel slots, 0 = unknown (1) */
    char **languages;     /* ISO codes it reads, overriding the catalog; NULL = catalog */
    unsigned modalities;  /* enum config_modality it takes, overriding the catalog; 0 = catalog */
    unsigned image_side;  /* longest image side worth sending it (pipeline); 0 = pipeline.max_side */
    unsigned line;
};

/* What a route rule looks at. Every condition given must hold; a rule
 * without conditions always matches. */
enum config_modality {
    CONFIG_MOD_TEXT = 1 << 0,
    CONFIG_MOD_IMAGE = 1 << 1,
    CONFIG_MOD_VIDEO = 1 << 2,
    CONFIG_MOD_AUDIO = 1 << 3,
};

struct config_rule {
    char *name;           /* for headers and logs; default "rule N" */
    unsigned modality;    /* any of these input modalities present; 0 = any */
    bool text_only;       /* modality: text — no image, video or audio part */
    char **languages;     /* langid labels, or "kannada" (needs Kannada); NULL = any */
    char **tasks;         /* the client's task (X-Hermod-Task / hermod.task); NULL = any */
    char **keywords;      /* any of these words in the text (case-insensitive) */
    unsigned min_tokens;  /* estimated prompt tokens at least this; 0 = any */
    char **models;        /* candidates, in order (NULL-terminated) */
    char **escalate;      /* the specialist lane, after models (may be NULL) */
    bool prefer_resident; /* ready models first, then the rest in order */
    unsigned line;
};

struct config_route {
    char *name;
    char **aliases;
    struct config_rule *rules;
    size_t nrules;
    unsigned max_attempts;   /* escalation: answers tried at most */
    uint64_t deadline_ms;    /* escalation: total time for all attempts */
    double coverage;         /* escalation: share of Kannada names the answer must have */
    unsigned line;
};

/* The ingest pipelines (pipeline.c). */
struct config_pipeline {
    char *vision;            /* model or route that describes images and video; NULL = pick */
    char *extract;           /* model or route that extracts entities from text; NULL = pick */
    unsigned max_side;       /* images are downscaled to this many pixels */
    unsigned jpeg_quality;
    double video_fps;        /* frames sampled per second at most */
    unsigned video_frames;   /* frames at most */
    double dup_threshold;    /* near-duplicate frames below this difference are dropped */
    bool keep_location;      /* keep GPS and camera data in the store */
    bool entities;           /* run entity extraction on descriptions with text */
    bool ocr;                /* Tesseract on pictures whose text may be Kannada (ingest/ocr.h) */
    uint64_t retry_interval_ms; /* pending episodes are retried this often (0 = never) */
    unsigned max_attempts;   /* then they are failed */
    uint64_t timeout_ms;     /* one model call */
    char *timezone;          /* for dates in receipts and time words: "+05:30"; NULL = TZ */
    unsigned line;
};

struct config_reserved {
    char *name;
    uint64_t bytes;
};

/* One inbound API key (auth.keys[]). The key itself is never logged. */
struct config_key {
    char *name;           /* in logs and messages instead of the key */
    char *key;            /* the secret, from key, key_file or key_env */
    char *key_file;       /* where it was read from, or NULL */
    char **models;        /* models and routes it may use (names as written); NULL = all */
    bool admin;           /* may use the /hermod/ paths and /metrics */
    unsigned line;
};

/* auth: who may call the API. No keys and not open: only a loopback
 * listen address starts (protected mode, main.c). */
struct config_auth {
    struct config_key *keys;
    size_t nkeys;
    bool open;            /* auth: {open: true}: no key needed, on any address */
    bool inline_keys;     /* a key is written in the file itself (key:) */
    unsigned line;
};

struct config {
    char *path;           /* file name used in messages */
    char *listen_host;
    int listen_port;
    char *model_dir;      /* ${MODEL_DIR} in engine commands */
    int engine_port_lo, engine_port_hi; /* managed engines' ports; 0 = any free port */
    uint64_t drain_timeout_ms;  /* shutdown: how long requests in flight may finish */
    uint64_t max_body;    /* largest request body accepted (413 beyond) */
    uint64_t max_response;/* largest buffered (non-streamed) upstream reply */
    uint64_t connect_timeout_ms;
    uint64_t request_timeout_ms; /* whole upstream request; 504 beyond */
    uint64_t first_byte_timeout_ms; /* upstream silence before the first byte; 504 */
    uint64_t stall_timeout_ms;  /* upstream silence between body bytes */
    uint64_t cooldown_ms;       /* how long a failed engine is skipped */
    uint64_t keepalive_ms;      /* SSE comment interval while a stream waits */
    uint64_t health_interval_ms;/* unmanaged engines' health checks */
    uint64_t engine_log_bytes;  /* per-engine captured output kept */
    unsigned default_concurrency;
    unsigned default_queue;
    enum log_level log_level;
    bool log_prompts;
    /* memory budget */
    uint64_t budget;            /* 0 = auto-detect */
    struct config_reserved *reserved;
    size_t nreserved;
    double load_factor;         /* peak while loading / steady size; 0 = auto */
    bool swap_fifo;             /* swap_policy: fifo (naive) instead of batch */
    uint64_t swap_quantum_ms;   /* batch: a model's turn before others get theirs */
    bool serialize_loads;       /* one engine loading at a time */
    uint64_t measure_interval_ms; /* sampling engines' real memory use */
    struct config_model *models;
    size_t nmodels;
    struct config_route *routes;
    size_t nroutes;
    char *store_path;           /* the memory store; NULL = the default path */
    struct config_pipeline pipeline;
    /* inbound: keys, CORS, the HTTP server's limits */
    struct config_auth auth;
    char **cors_origins;        /* origins browsers may call from; NULL = none */
    uint64_t max_header;        /* request head (line and headers); 431 beyond */
    uint64_t header_timeout_ms; /* a request not read whole in this long: 408 */
    uint64_t idle_timeout_ms;   /* a kept-alive connection idle this long is closed */
    unsigned max_connections;   /* beyond, new connections get 503 and are closed */
};

/* Loads and validates a config file. On failure returns a negative errno
 * code, leaves *out untouched and writes every problem found into err
 * (replacing what it held), one "FILE:LINE:COL: ..." line each, at most 50
 * and then how many more. */
int config_load_file(const char *path, struct config **out, struct buf *err);
/* The same from memory; `name` stands for the file name in messages. */
int config_load_string(const char *name, const char *text, size_t len, struct config **out,
                       struct buf *err);
/* The built-in default config (etc/hermod.yaml, compiled in). */
int config_load_default(struct config **out, struct buf *err);
const char *config_default_text(size_t *len);
void config_free(struct config *cfg);

/* Do two models have the same definition (everything but where it was
 * written)? A reload keeps the engines of a model that compares equal. */
bool config_model_equal(const struct config_model *a, const struct config_model *b);

/* Finds a model by name or alias; NULL if none. */
const struct config_model *config_find_model(const struct config *cfg, const char *name);
/* Finds a route by name or alias; NULL if none. */
const struct config_route *config_find_route(const struct config *cfg, const char *name);

#endif
