/* SPDX-License-Identifier: MIT */
/*
 * store: hermod's memory, an embedded SQLite database of episodes, the
 * entities they mention and the facts learned from them.
 *
 * An *episode* is one thing the user gave the assistant (a photo, a
 * screenshot, a receipt, a transcript, ...) together with what a model made
 * of it: a description, OCR text, a transcript, the raw JSON the model
 * returned and, for receipts, lab reports and whiteboards, typed fields.
 * *Entities* (people, places, merchants, health values, ...) are matched by
 * translit_key() over all their aliases, so "ರಾಜೇಶ್" and "Rajesh" are one
 * person. *Relations* are facts between an entity and another entity or a
 * literal value, bi-temporal as in Graphiti: valid_from/valid_until say
 * when the fact held in the world, learned_at/retracted_at when hermod
 * believed it; each is linked to the episodes that support it.
 *
 * Life of an episode: store_episode_add() records it as pending before the
 * model is called (idempotent on the content hash, so a repeated upload
 * finds the first); store_episode_complete() writes the model's result,
 * its entities and facts and the search index in one transaction and marks
 * it done; store_episode_fail() records a failed attempt and leaves it
 * pending for a retry (or failed, once permanent). Search only ever sees
 * done episodes, so nothing is half-written.
 *
 * Errors: functions return 0 or a negative errno and append a message to
 * the caller's err (which may be NULL): -EINVAL bad argument, -ENOENT no
 * such row, -EBUSY the database stayed locked past the busy timeout,
 * -EPROTO a schema newer than this code, -EIO and others from SQLite.
 * Times are ms since the epoch, UTC; STORE_TIME_NONE means "not known".
 *
 * DESIGN
 * One struct store is shared by every thread. It keeps a small pool of
 * SQLite connections (4 by default): each call takes a free connection,
 * uses it alone and gives it back, so calls from libuv worker threads run
 * in parallel where SQLite allows it (WAL: many readers, one writer) and
 * never share a connection or a transaction. Writes use BEGIN IMMEDIATE,
 * so two writers, in this process or another (the CLI beside the daemon),
 * queue on the busy timeout instead of deadlocking. No call may be made
 * from the libuv loop thread itself: a write can wait for a lock and for
 * fsync. docs/internals/store.md has the schema, the ranking formula, the
 * durability argument and the export mapping.
 */
#ifndef HERMOD_STORE_H
#define HERMOD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/buf.h"

#define STORE_TIME_NONE INT64_MIN

/* The schema version that store_open() migrates a database to. */
#define STORE_SCHEMA_VERSION 3

struct store;

enum store_kind {
    STORE_KIND_PHOTO,
    STORE_KIND_SCREENSHOT,
    STORE_KIND_RECEIPT,
    STORE_KIND_DOCUMENT,
    STORE_KIND_WHITEBOARD,
    STORE_KIND_LAB_REPORT,
    STORE_KIND_MEAL,
    STORE_KIND_VIDEO,
    STORE_KIND_TRANSCRIPT,
    STORE_KIND_OTHER,
    STORE_KIND__COUNT
};
/* "photo", "lab_report", ...: the names the schema and the CLI use. */
const char *store_kind_name(enum store_kind k);
/* Parses a kind name. Returns 0 or -EINVAL. */
int store_kind_parse(const char *s, enum store_kind *out);

enum store_status { STORE_PENDING, STORE_DONE, STORE_FAILED };
const char *store_status_name(enum store_status s);

/* ---- Opening ---------------------------------------------------------- */

struct store_options {
    unsigned max_connections; /* pool size; 0 = 4 */
    int busy_timeout_ms;      /* how long a write waits for the lock; 0 = 5000 */
    bool sync_normal;         /* synchronous=NORMAL instead of FULL (benchmarks only) */
    int tz_min;               /* zone for dates in typed results; see store_open() */
    bool tz_set;              /* tz_min is meant (else the TZ offset at open) */
    /* Wall clock for learned_at/retracted_at/ingested_at; NULL = the real
     * one. For tests. */
    int64_t (*now_ms)(void);
};

/*
 * Opens (creating if needed, with mode 0600) the database at path and
 * migrates it to STORE_SCHEMA_VERSION; the directory must exist. On
 * success *out is a store the caller frees with store_close(). Fails with
 * -EPROTO when the file was written by a newer schema, which it leaves
 * untouched. store_open() uses the default options.
 */
int store_open(const char *path, struct store **out, struct buf *err);
int store_open_opts(const char *path, const struct store_options *opts, struct store **out,
                    struct buf *err);
/* Closes every connection; no call may be in flight. NULL is a no-op. */
void store_close(struct store *st);

/*
 * The default database path, $XDG_DATA_HOME/hermod/memory.db or
 * ~/.local/share/hermod/memory.db, appended to out; its directory is
 * created (mode 0700) if missing. Returns 0 or a negative errno.
 */
int store_default_path(struct buf *out, struct buf *err);

/* ---- Episodes --------------------------------------------------------- */

struct store_episode_new {
    const char *content_hash; /* of the media bytes; required, the idempotence key */
    enum store_kind kind;
    const char *source;       /* where it came from: "whatsapp", "camera", ...; may be NULL */
    int64_t captured_at;      /* when the photo/recording was taken */
    int64_t ingested_at;      /* STORE_TIME_NONE = now */
    const char *media_json;   /* a JSON object: what the file said (format, size, place); may be NULL */
    /* What the model is to be sent, kept with the episode while it is
     * pending so that it can be retried after a restart, and dropped when
     * it is done (store_episode_input). May be NULL. */
    const void *input;
    size_t input_len;
};

/*
 * Records a new episode as pending and sets *id. When an episode with the
 * same content hash exists already, nothing is written: *id is that one
 * and *existed (may be NULL) is set. Borrows e.
 */
int store_episode_add(struct store *st, const struct store_episode_new *e, int64_t *id,
                      bool *existed, struct buf *err);

/* An entity named in an episode. name is resolved to an entity of the
 * given type by translit_key (created if new); surface is how the episode
 * wrote it (NULL = name) and becomes an alias. */
struct store_mention {
    const char *type; /* person, place, organisation, event, item, health_value,
                       * merchant, app, topic, task, ...: [a-z_]+ */
    const char *name;
    const char *surface;
};

/* A fact learned from an episode. Subject and object are entities by type
 * and name (resolved like mentions); a literal object is value (+ unit,
 * + num when numeric) instead. */
struct store_fact {
    const char *subject_type, *subject;
    const char *predicate; /* lives_in, works_at, measured, receipt_total, ... */
    const char *object_type, *object; /* NULL for a literal */
    const char *value, *unit;
    bool has_num;
    double num;
    const char *fact;       /* the sentence, for people and for search */
    const char *attrs_json; /* a JSON object of extra fields, or NULL */
    int64_t valid_from, valid_until; /* world time; STORE_TIME_NONE = unknown */
    bool ends_previous; /* ends current facts with this subject and predicate: moving house */
};

/* What a model made of an episode. Every field may be NULL/0. */
struct store_result {
    bool set_kind;            /* the model said what it is: kind replaces the episode's */
    enum store_kind kind;
    const char *model, *engine, *language;
    const char *raw_json;     /* the model's answer as it came */
    const char *description;  /* scene description */
    const char *ocr_text, *transcript;
    const char *extract_json; /* typed fields of a receipt, lab report or whiteboard */
    const struct store_mention *mentions;
    size_t nmentions;
    const struct store_fact *facts;
    size_t nfacts;
};

/*
 * Writes the result of episode id, its mentions and facts, the facts
 * derived from extract_json (docs/internals/store.md, "Typed results") and
 * its search index entry, and marks it done, all in one transaction: on
 * failure nothing is written and the episode stays as it was. Completing a
 * done episode again replaces its text and index entry and adds the new
 * mentions and facts. -ENOENT: no such episode; -EINVAL: extract_json or
 * attrs_json is not a JSON object, or a mention/fact is incomplete.
 */
int store_episode_complete(struct store *st, int64_t id, const struct store_result *r,
                           struct buf *err);

/*
 * Records a failed attempt at episode id: attempts is incremented and
 * error kept. The episode stays pending (retryable) unless permanent is
 * true or attempts reaches max_attempts (0 = no limit); then it is failed.
 * A done episode is left alone (-EALREADY).
 */
int store_episode_fail(struct store *st, int64_t id, const char *error, bool permanent,
                       unsigned max_attempts, struct buf *err);

/*
 * Sets *ids (caller frees) to up to limit pending episodes, oldest
 * ingestion first, and *n to their number.
 */
int store_episode_pending(struct store *st, unsigned limit, int64_t **ids, size_t *n,
                          struct buf *err);

/* An entity as search results and episodes name it. */
struct store_hit_entity {
    char *name, *type;
};

struct store_episode {
    int64_t id;
    char *content_hash;
    enum store_kind kind;
    char *source;
    int64_t captured_at, ingested_at;
    char *language, *model, *engine;
    enum store_status status;
    char *error;
    unsigned attempts;
    char *raw_json, *description, *ocr_text, *transcript, *extract_json, *media_json;
    struct store_hit_entity *entities; /* mentioned, by type then name */
    size_t nentities;
};
/* Fills *out (release with store_episode_release) or returns -ENOENT.
 * Strings that are not set are NULL. */
int store_episode_get(struct store *st, int64_t id, struct store_episode *out, struct buf *err);
void store_episode_release(struct store_episode *e);

/* Appends the input kept with a pending (or failed) episode to out.
 * -ENOENT when there is no such episode or it keeps none (done). */
int store_episode_input(struct store *st, int64_t id, struct buf *out, struct buf *err);

/* Makes a failed episode pending again, its attempts reset. -EALREADY
 * when it is not failed. */
int store_episode_retry(struct store *st, int64_t id, struct buf *err);

/*
 * Records many episodes and their results in one transaction: for bulk
 * imports and benchmarks, where one commit per episode would cost one
 * fsync each. An item whose hash exists already is skipped. All or
 * nothing.
 */
struct store_import_item {
    struct store_episode_new episode;
    struct store_result result;
};
int store_import(struct store *st, const struct store_import_item *items, size_t n,
                 struct buf *err);

/* ---- Entities --------------------------------------------------------- */

/*
 * Finds the entity of this type whose aliases include a name with the same
 * translit_key as name, or creates one; adds name as an alias; widens its
 * first/last seen to seen_at (STORE_TIME_NONE = leave). Sets *id.
 */
int store_entity_resolve(struct store *st, const char *type, const char *name, int64_t seen_at,
                         int64_t *id, struct buf *err);

/*
 * Finds an entity by a name in either script, of any type when type is
 * NULL (the most recently seen wins). Returns 0 and *id, or -ENOENT.
 */
int store_entity_find(struct store *st, const char *name, const char *type, int64_t *id,
                      struct buf *err);

/* Adds another name for entity id ("Bengaluru" for an entity first seen
 * as "Bangalore"). Adding an existing alias is not an error. */
int store_entity_add_alias(struct store *st, int64_t id, const char *alias, struct buf *err);

/* Merges entity drop into keep: aliases, mentions and relations move to
 * keep, drop is deleted. For two names the key cannot match (Kaveri and a
 * nickname). */
int store_entity_merge(struct store *st, int64_t keep, int64_t drop, struct buf *err);

struct store_alias {
    char *alias, *key;
    char *script; /* "knda", "latn" or "mixed" */
};
struct store_entity {
    int64_t id;
    char *type, *name;
    int64_t first_seen, last_seen;
    struct store_alias *aliases;
    size_t naliases;
};
/* Fills *out (release with store_entity_release) or returns -ENOENT. */
int store_entity_get(struct store *st, int64_t id, struct store_entity *out, struct buf *err);
void store_entity_release(struct store_entity *e);

/* ---- Relations (bi-temporal facts) ------------------------------------ */

struct store_relation_new {
    int64_t subject_id;
    const char *predicate;
    int64_t object_id; /* 0 = literal value */
    const char *value, *unit;
    bool has_num;
    double num;
    const char *fact;
    const char *attrs_json;
    int64_t valid_from, valid_until;
};

enum store_rel_flags {
    /* End every current fact with the same subject and predicate and a
     * different object at the new fact's valid_from (or now, if unknown):
     * "lives_in Bengaluru" from June ends "lives_in Mysuru" in June. */
    STORE_REL_END_PREVIOUS = 1 << 0,
};

/*
 * Adds a fact supported by the given episodes and sets *id. When the
 * same fact (subject, predicate, object, value, unit and validity) is
 * already believed, it is not duplicated: the episodes are linked to it
 * and *id is that one.
 */
int store_relation_add(struct store *st, const struct store_relation_new *r,
                       const int64_t *episodes, size_t nepisodes, unsigned flags, int64_t *id,
                       struct buf *err);

/*
 * Ends fact id in world time at valid_until. Nothing is overwritten: the
 * old version is retracted (retracted_at = now) and a new version with
 * valid_until set replaces it (replaces_id = id, same episodes), so what
 * hermod believed before stays answerable. *new_id (may be NULL) is the
 * new version, or 0 when valid_until equals valid_from and the fact is
 * only retracted. -EINVAL if it would end before it began; -ESTALE if id
 * is retracted already.
 */
int store_relation_end(struct store *st, int64_t id, int64_t valid_until, int64_t *new_id,
                       struct buf *err);

/* Retracts fact id: hermod no longer believes it was ever true. */
int store_relation_retract(struct store *st, int64_t id, struct buf *err);

struct store_relation {
    int64_t id, subject_id, object_id; /* object_id 0 = literal */
    char *predicate, *value, *unit, *fact, *attrs_json;
    bool has_num;
    double num;
    int64_t valid_from, valid_until, learned_at, retracted_at, replaces_id;
    int64_t *episodes;
    size_t nepisodes;
};

struct store_relq {
    int64_t subject_id;    /* 0 = any */
    const char *predicate; /* NULL = any */
    /* World time: facts that held at this instant; STORE_TIME_NONE = any. */
    int64_t world_at;
    /* Belief time: facts hermod believed at this instant; STORE_TIME_NONE =
     * what it believes now (not retracted). */
    int64_t known_at;
};
/*
 * Sets *out (free with store_relations_free) to the matching facts,
 * ordered by valid_from then id, and *n to their number.
 */
int store_relations(struct store *st, const struct store_relq *q, struct store_relation **out,
                    size_t *n, struct buf *err);
void store_relations_free(struct store_relation *v, size_t n);

/* ---- Search ----------------------------------------------------------- */

struct store_query {
    const char *text;     /* words in any script, may hold time words; NULL = all */
    int64_t since, until; /* captured_at range [since, until); STORE_TIME_NONE = open */
    unsigned kinds;       /* mask of 1 << enum store_kind; 0 = any */
    const char *entity;   /* a name in either script; NULL = any */
    unsigned limit;       /* 0 = 10 */
    int64_t now;          /* for time words and recency; 0 = the store's clock */
    int tz_min;           /* the user's zone, for time words */
    bool keep_time_words; /* search "last week" as words instead of a range */
};

struct store_hit {
    int64_t id;
    enum store_kind kind;
    char *source;
    int64_t captured_at;
    double score;     /* the ranking score, higher is better */
    double relevance; /* -bm25, before the recency factor; 0 without query words */
    char *snippet;    /* matching words in [brackets]; never NULL */
    char *description;
    struct store_hit_entity *entities;
    size_t nentities;
};

struct store_hits {
    struct store_hit *v;
    size_t n;
    int64_t since, until; /* the range applied, time words included */
    char *words;          /* the query words searched for, after time words and stopwords */
};

/*
 * Searches done episodes: the query words (in either script, spelling
 * variants folded) ranked by BM25 with a recency boost, or, without
 * words, the newest first; filtered by captured time (the query's own time
 * words narrow since/until), kinds and entity. Fills *out (release with
 * store_hits_release), which may be empty.
 */
int store_search(struct store *st, const struct store_query *q, struct store_hits *out,
                 struct buf *err);
void store_hits_release(struct store_hits *h);

/* ---- Export ----------------------------------------------------------- */

/*
 * Writes the whole store as JSON Lines to out: episodes, entities with
 * their aliases, mentions, and relations with both time axes and their
 * supporting episodes, one JSON object per line, in a shape Graphiti and
 * Neo4j import (docs/internals/store.md, "Export"). Reads one consistent
 * snapshot. Returns 0, or -EIO when out fails.
 */
int store_export_jsonl(struct store *st, FILE *out, struct buf *err);

/* The search result as JSON (new reference): query, words, since, until,
 * results [{id, kind, source, captured_at, score, snippet, description,
 * entities}]. The CLI's --json and GET /hermod/memories/search use it
 * (store_json.c). */
struct json_t;
struct json_t *store_hits_json(const char *text, const struct store_hits *h);
/* A store time as RFC 3339 text in UTC (new reference), or JSON null for
 * STORE_TIME_NONE. */
struct json_t *store_time_json(int64_t ms);
/* Parses "receipt,photo" into a mask of 1 << enum store_kind. Returns 0 or
 * -EINVAL with err set. */
int store_kinds_parse(const char *arg, unsigned *mask, struct buf *err);

#endif
