/* SPDX-License-Identifier: MIT */
/*
 * store_int.h: what the store's files share and nothing else includes
 * (tests excepted).
 *
 * A struct conn is one SQLite connection with its cache of prepared
 * statements. A call borrows one from the pool with store__acquire() and
 * gives it back with store__release(), which also resets every cached
 * statement, so an early return cannot leave a statement holding a read
 * snapshot open.
 */
#ifndef HERMOD_STORE_INT_H
#define HERMOD_STORE_INT_H

#include <pthread.h>
#include <sqlite3.h>

#include "lib/buf.h"
#include "store/store.h"

/* Statements prepared once per connection. */
enum store_sql {
    SQL_EP_FIND_HASH,
    SQL_EP_INSERT,
    SQL_EP_GET_STATUS,
    SQL_EP_FTS_DELETE,
    SQL_EP_COMPLETE,
    SQL_EP_FTS_INSERT,
    SQL_EP_FAIL,
    SQL_EP_GET,
    SQL_EP_PENDING,
    SQL_EP_INPUT,
    SQL_EP_RETRY,
    SQL_EP_ENTITIES,
    SQL_ENT_BY_KEY_TYPE,
    SQL_ENT_BY_KEY,
    SQL_ENT_INSERT,
    SQL_ENT_SEEN,
    SQL_ALIAS_INSERT,
    SQL_ENT_GET,
    SQL_ALIAS_LIST,
    SQL_MENTION_INSERT,
    SQL_REL_SAME,
    SQL_REL_INSERT,
    SQL_REL_LINK,
    SQL_REL_CURRENT,
    SQL_REL_GET,
    SQL_REL_RETRACT,
    SQL_REL_COPY_LINKS,
    SQL_REL_EPISODES,
    SQL_REL_NEXT_START,
    SQL__COUNT
};

struct conn {
    sqlite3 *db;
    sqlite3_stmt *stmt[SQL__COUNT];
    unsigned depth; /* open store__begin() levels */
    bool busy;      /* lent out */
};

#define STORE_MAX_CONNECTIONS 16

struct store {
    char *path;
    struct store_options opts;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct conn conns[STORE_MAX_CONNECTIONS];
    unsigned nconns; /* opened so far, up to opts.max_connections */
};

/* Takes a free connection, opening one if the pool is not full, or waits.
 * Returns NULL (and a message) only when opening one fails. */
struct conn *store__acquire(struct store *st, struct buf *err);
void store__release(struct store *st, struct conn *c);

/* The cached statement for id, reset and unbound; NULL on prepare failure
 * (which is a bug in the SQL: the message goes to err). */
sqlite3_stmt *store__stmt(struct conn *c, enum store_sql id, struct buf *err);

/* A write transaction: BEGIN IMMEDIATE at the outermost level, a
 * savepoint inside. commit/rollback close the innermost level. */
int store__begin(struct conn *c, struct buf *err);
int store__commit(struct conn *c, struct buf *err);
void store__rollback(struct conn *c);

/* What every public write does around its work: store__write_begin()
 * borrows a connection and opens a transaction on it, or returns NULL with
 * the error in *rc; store__write_end() commits when rc is 0, else rolls
 * back, gives the connection back and returns rc or the commit's error. */
struct conn *store__write_begin(struct store *st, int *rc, struct buf *err);
int store__write_end(struct store *st, struct conn *c, int rc, struct buf *err);

/* Maps a SQLite result code to a negative errno and appends
 * "what: sqlite message" to err. */
int store__error(struct conn *c, int src, const char *what, struct buf *err);

/* Applies migrations until the schema is at version target (for tests
 * that build an old database). The caller holds no transaction. */
int store__migrate(sqlite3 *db, int target, struct buf *err);

int64_t store__now(const struct store *st);

/* Binding helpers: NULL strings and STORE_TIME_NONE bind as SQL NULL. */
void store__bind_text(sqlite3_stmt *s, int i, const char *v);
void store__bind_time(sqlite3_stmt *s, int i, int64_t v);
/* A column as a malloc'd string or NULL; as a time or STORE_TIME_NONE. */
char *store__col_text(sqlite3_stmt *s, int i);
int64_t store__col_time(sqlite3_stmt *s, int i);
/* A kind column; STORE_KIND_OTHER for a name this code does not know. */
enum store_kind store__col_kind(sqlite3_stmt *s, int i);

/* Whether s is NULL or parses as a JSON object. */
bool store__json_object_or_null(const char *s);

/* Fills *v and *n (empty on entry) with the entities episode id mentions,
 * by type then name, for store_episode_get and search hits; what names a
 * failure in err. store__entities_free frees such a list. */
int store__episode_entities(struct conn *c, int64_t id, struct store_hit_entity **v, size_t *n,
                            const char *what, struct buf *err);
void store__entities_free(struct store_hit_entity *v, size_t n);

/* Entities and facts inside an open transaction (store_graph.c). */
int store__entity_resolve(struct store *st, struct conn *c, const char *type, const char *name,
                          int64_t seen_at, int64_t *id, struct buf *err);
int store__relation_add(struct store *st, struct conn *c, const struct store_relation_new *r,
                        const int64_t *episodes, size_t nepisodes, unsigned flags, int64_t *id,
                        struct buf *err);
int store__fact_add(struct store *st, struct conn *c, int64_t episode_id, int64_t seen_at,
                    const struct store_fact *f, struct buf *err);
/* Resolves m's entity (sets *entity unless NULL) and records the mention. */
int store__mention_add(struct store *st, struct conn *c, int64_t episode_id, int64_t seen_at,
                       const struct store_mention *m, int64_t *entity, struct buf *err);

/* Facts and mentions derived from a typed result (store_typed.c): parses
 * extract_json of an episode of kind k and adds them. -EINVAL when the
 * JSON is not an object. Kinds without typed fields add nothing. */
int store__typed_add(struct store *st, struct conn *c, int64_t episode_id, enum store_kind k,
                     int64_t captured_at, const char *extract_json, struct buf *err);

/* The words of text as search keys, space-separated (store_search.c). */
void store__search_keys(const char *text, struct buf *out);

#endif
