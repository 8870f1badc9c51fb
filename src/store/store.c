/* SPDX-License-Identifier: MIT */
/*
 * store.c: opening, the connection pool, schema migrations, transactions,
 * and episodes. Entities and relations are in store_graph.c, search in
 * store_search.c, typed results in store_typed.c, export in
 * store_export.c, JSON views in store_json.c; the command line is
 * cli/store_cli.c.
 *
 * DESIGN
 * The schema is versioned with PRAGMA user_version. migrations[v] takes a
 * database from version v to v + 1; store_open() applies the missing ones
 * in one BEGIN IMMEDIATE transaction, re-reading the version inside it, so
 * two processes opening an old database at once migrate it once. A
 * database newer than this code is refused, never downgraded.
 *
 * Durability: WAL with synchronous=FULL, so every commit is fsynced before
 * store_*() returns; see docs/internals/store.md for why not NORMAL.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/clock.h"
#include "lib/xalloc.h"
#include "store/store_int.h"
#include "text/timeparse.h"

static const char *const kind_names[STORE_KIND__COUNT] = {
    [STORE_KIND_PHOTO] = "photo",           [STORE_KIND_SCREENSHOT] = "screenshot",
    [STORE_KIND_RECEIPT] = "receipt",       [STORE_KIND_DOCUMENT] = "document",
    [STORE_KIND_WHITEBOARD] = "whiteboard", [STORE_KIND_LAB_REPORT] = "lab_report",
    [STORE_KIND_MEAL] = "meal",             [STORE_KIND_VIDEO] = "video",
    [STORE_KIND_TRANSCRIPT] = "transcript", [STORE_KIND_OTHER] = "other",
};

const char *store_kind_name(enum store_kind k)
{
    return (unsigned)k < STORE_KIND__COUNT ? kind_names[k] : "other";
}

int store_kind_parse(const char *s, enum store_kind *out)
{
    for (unsigned i = 0; i < STORE_KIND__COUNT; i++)
        if (!strcmp(s, kind_names[i])) {
            *out = (enum store_kind)i;
            return 0;
        }
    return -EINVAL;
}

int store_kinds_parse(const char *arg, unsigned *mask, struct buf *err)
{
    char *copy = xstrdup(arg), *save = NULL;
    int rc = 0;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        enum store_kind k;
        if (store_kind_parse(t, &k)) {
            if (err)
                buf_addf(err, "unknown kind '%s'", t);
            rc = -EINVAL;
            break;
        }
        *mask |= 1u << k;
    }
    free(copy);
    return rc;
}

const char *store_status_name(enum store_status s)
{
    return s == STORE_DONE ? "done" : s == STORE_FAILED ? "failed" : "pending";
}

static enum store_status status_parse(const char *s)
{
    if (s && !strcmp(s, "done"))
        return STORE_DONE;
    if (s && !strcmp(s, "failed"))
        return STORE_FAILED;
    return STORE_PENDING;
}

/* ---- Schema ----------------------------------------------------------- */

/* Version 1: the first schema. The FTS table indexes the three texts and
 * search_keys, the translit keys of every word (see store_search.c); it is
 * an external-content table over episodes, and holds exactly the episodes
 * whose status is done. The tokenizer keeps Kannada vowel signs and virama
 * (categories M*) inside words: unicode61's default would split ಮೈಸೂರು into
 * ಮ, ಸ, ರ. */
static const char schema_v1[] =
    "CREATE TABLE episodes ("
    "  id INTEGER PRIMARY KEY,"
    "  content_hash TEXT NOT NULL UNIQUE,"
    "  kind TEXT NOT NULL CHECK (kind IN ('photo','screenshot','receipt','document',"
    "    'whiteboard','lab_report','meal','video','transcript','other')),"
    "  source TEXT,"
    "  captured_at INTEGER NOT NULL,"
    "  ingested_at INTEGER NOT NULL,"
    "  language TEXT,"
    "  model TEXT,"
    "  engine TEXT,"
    "  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','done','failed')),"
    "  error TEXT,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  raw_json TEXT,"
    "  description TEXT,"
    "  ocr_text TEXT,"
    "  transcript TEXT,"
    "  search_keys TEXT"
    ");"
    "CREATE INDEX episodes_captured ON episodes(captured_at);"
    "CREATE INDEX episodes_pending ON episodes(ingested_at) WHERE status = 'pending';"
    "CREATE TABLE entities ("
    "  id INTEGER PRIMARY KEY,"
    "  type TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  first_seen INTEGER,"
    "  last_seen INTEGER"
    ");"
    "CREATE TABLE entity_aliases ("
    "  entity_id INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,"
    "  alias TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  script TEXT NOT NULL CHECK (script IN ('knda','latn','mixed')),"
    "  PRIMARY KEY (entity_id, alias)"
    ") WITHOUT ROWID;"
    "CREATE INDEX entity_aliases_key ON entity_aliases(key);"
    "CREATE TABLE mentions ("
    "  episode_id INTEGER NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,"
    "  entity_id INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,"
    "  surface TEXT NOT NULL,"
    "  PRIMARY KEY (episode_id, entity_id, surface)"
    ") WITHOUT ROWID;"
    "CREATE INDEX mentions_entity ON mentions(entity_id, episode_id);"
    "CREATE TABLE relations ("
    "  id INTEGER PRIMARY KEY,"
    "  subject_id INTEGER NOT NULL REFERENCES entities(id) ON DELETE CASCADE,"
    "  predicate TEXT NOT NULL,"
    "  object_id INTEGER REFERENCES entities(id) ON DELETE CASCADE,"
    "  object_value TEXT,"
    "  fact TEXT NOT NULL DEFAULT '',"
    "  attrs_json TEXT,"
    "  valid_from INTEGER,"
    "  valid_until INTEGER,"
    "  learned_at INTEGER NOT NULL,"
    "  retracted_at INTEGER,"
    "  replaces_id INTEGER REFERENCES relations(id) ON DELETE SET NULL,"
    "  CHECK ((object_id IS NULL) <> (object_value IS NULL))"
    ");"
    "CREATE INDEX relations_subject ON relations(subject_id, predicate);"
    "CREATE INDEX relations_object ON relations(object_id);"
    "CREATE TABLE relation_episodes ("
    "  relation_id INTEGER NOT NULL REFERENCES relations(id) ON DELETE CASCADE,"
    "  episode_id INTEGER NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,"
    "  PRIMARY KEY (relation_id, episode_id)"
    ") WITHOUT ROWID;"
    "CREATE INDEX relation_episodes_episode ON relation_episodes(episode_id);"
    "CREATE VIRTUAL TABLE episodes_fts USING fts5("
    "  description, ocr_text, transcript, search_keys,"
    "  content='episodes', content_rowid='id',"
    "  tokenize=\"porter unicode61 remove_diacritics 2 categories 'L* N* Co M*'\""
    ");";

/* Version 2: typed results. The extractor's typed JSON is kept with the
 * episode, and facts get a numeric value and a unit so that health values
 * can be compared and plotted; numbers already stored as text are carried
 * over. The partial index serves "what is believed now" lookups. */
static const char schema_v2[] =
    "ALTER TABLE episodes ADD COLUMN extract_json TEXT;"
    "ALTER TABLE relations ADD COLUMN value_num REAL;"
    "ALTER TABLE relations ADD COLUMN unit TEXT;"
    "UPDATE relations SET value_num = CAST(object_value AS REAL)"
    "  WHERE object_value IS NOT NULL"
    "    AND (ltrim(object_value) GLOB '[0-9]*' OR ltrim(object_value) GLOB '-[0-9]*');"
    "CREATE INDEX relations_current ON relations(subject_id, predicate)"
    "  WHERE retracted_at IS NULL;";

/* Version 3: the pipeline. media_json keeps what the file said about itself
 * (format, size, duration, and place and camera when the user keeps them);
 * input holds what the model is to be sent (the prepared images or the
 * transcript) while the episode is pending, in the same row and the same
 * transaction, so a pending episode can always be retried and a done one
 * frees the space. */
static const char schema_v3[] =
    "ALTER TABLE episodes ADD COLUMN media_json TEXT;"
    "ALTER TABLE episodes ADD COLUMN input BLOB;";

static const char *const migrations[] = {schema_v1, schema_v2, schema_v3};
_Static_assert(ARRAY_SIZE(migrations) == STORE_SCHEMA_VERSION, "one migration per version");

static int user_version(sqlite3 *db)
{
    sqlite3_stmt *s;
    int v = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return v;
}

static int exec(sqlite3 *db, const char *sql, const char *what, struct buf *err)
{
    char *msg = NULL;
    int src = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (src == SQLITE_OK)
        return 0;
    if (err)
        buf_addf(err, "store: %s: %s", what, msg ? msg : sqlite3_errstr(src));
    sqlite3_free(msg);
    return src == SQLITE_BUSY || src == SQLITE_LOCKED ? -EBUSY : -EIO;
}

int store__migrate(sqlite3 *db, int target, struct buf *err)
{
    int rc = exec(db, "BEGIN IMMEDIATE", "migrate: begin", err);
    if (rc)
        return rc;
    int v = user_version(db);
    if (v < 0) {
        rc = -EIO;
        if (err)
            buf_addf(err, "store: cannot read schema version: %s", sqlite3_errmsg(db));
        goto fail;
    }
    if (v > STORE_SCHEMA_VERSION) {
        rc = -EPROTO;
        if (err)
            buf_addf(err,
                     "store: database schema is version %d, newer than this hermod's %d; "
                     "not touching it",
                     v, STORE_SCHEMA_VERSION);
        goto fail;
    }
    for (; v < target; v++) {
        char what[64], pragma[64];
        snprintf(what, sizeof(what), "migrate to version %d", v + 1);
        rc = exec(db, migrations[v], what, err);
        if (rc)
            goto fail;
        snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", v + 1);
        rc = exec(db, pragma, what, err);
        if (rc)
            goto fail;
    }
    return exec(db, "COMMIT", "migrate: commit", err);
fail:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* ---- Connections ------------------------------------------------------ */

/* The recency factor of the search ranking: 2^(-age / 30 days), 1 for a
 * capture time in the future. hermod_recency(captured_at, now). */
static void recency_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    double age = (double)(sqlite3_value_int64(argv[1]) - sqlite3_value_int64(argv[0]));
    if (age < 0)
        age = 0;
    sqlite3_result_double(ctx, exp2(-age / (30.0 * 86400000.0)));
}

int store__error(struct conn *c, int src, const char *what, struct buf *err)
{
    if (err)
        buf_addf(err, "store: %s: %s", what,
                 c && c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(src));
    switch (src & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_READONLY:
        return -EROFS;
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EACCES;
    case SQLITE_CANTOPEN:
        return -ENOENT;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
        return -EINVAL;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return -EBADMSG;
    default:
        return -EIO;
    }
}

static void conn_close(struct conn *c)
{
    for (int i = 0; i < SQL__COUNT; i++) {
        sqlite3_finalize(c->stmt[i]);
        c->stmt[i] = NULL;
    }
    if (c->db)
        sqlite3_close(c->db);
    c->db = NULL;
}

static int conn_open(struct store *st, struct conn *c, bool first, struct buf *err)
{
    int rc;
    memset(c, 0, sizeof(*c));
    int src = sqlite3_open_v2(st->path, &c->db,
                              SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                              NULL);
    if (src != SQLITE_OK) {
        rc = store__error(c, src, st->path, err);
        goto fail;
    }
    sqlite3_busy_timeout(c->db, st->opts.busy_timeout_ms);

    /* journal_mode answers with the mode it ended up in. */
    sqlite3_stmt *s;
    src = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode=WAL", -1, &s, NULL);
    if (src == SQLITE_OK) {
        src = sqlite3_step(s);
        bool wal = src == SQLITE_ROW &&
                   !strcmp((const char *)sqlite3_column_text(s, 0), "wal");
        sqlite3_finalize(s);
        if (!wal) {
            rc = -EIO;
            if (err)
                buf_addf(err, "store: %s: cannot switch to WAL mode: %s", st->path,
                         sqlite3_errmsg(c->db));
            goto fail;
        }
    } else {
        rc = store__error(c, src, "journal_mode", err);
        goto fail;
    }
    /* FULL: a commit is fsynced before it returns (docs/internals/store.md,
     * "Durability"). mmap: searches read pages without a syscall each. */
    rc = exec(c->db, st->opts.sync_normal ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL",
              "pragmas", err);
    if (!rc)
        rc = exec(c->db,
                  "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;"
                  " PRAGMA mmap_size=268435456",
                  "pragmas", err);
    if (rc)
        goto fail;
    src = sqlite3_create_function(c->db, "hermod_recency", 2,
                                  SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                  recency_fn, NULL, NULL);
    if (src != SQLITE_OK) {
        rc = store__error(c, src, "create function", err);
        goto fail;
    }
    if (first && user_version(c->db) != STORE_SCHEMA_VERSION) {
        rc = store__migrate(c->db, STORE_SCHEMA_VERSION, err);
        if (rc)
            goto fail;
    }
    return 0;
fail:
    conn_close(c);
    return rc;
}

struct conn *store__acquire(struct store *st, struct buf *err)
{
    struct conn *c = NULL;
    pthread_mutex_lock(&st->mu);
    for (;;) {
        for (unsigned i = 0; i < st->nconns; i++)
            if (!st->conns[i].busy) {
                c = &st->conns[i];
                goto found;
            }
        if (st->nconns < st->opts.max_connections) {
            /* Opened under the lock: rare, and it keeps the pool dense. */
            c = &st->conns[st->nconns];
            if (conn_open(st, c, false, err)) {
                pthread_mutex_unlock(&st->mu);
                return NULL;
            }
            st->nconns++;
            goto found;
        }
        pthread_cond_wait(&st->cv, &st->mu);
    }
found:
    c->busy = true;
    pthread_mutex_unlock(&st->mu);
    return c;
}

void store__release(struct store *st, struct conn *c)
{
    if (!c)
        return;
    /* A statement left mid-step would hold a read snapshot (and keep the
     * WAL from being checkpointed) until its next use. */
    for (int i = 0; i < SQL__COUNT; i++)
        if (c->stmt[i])
            sqlite3_reset(c->stmt[i]);
    ASSERT(c->depth == 0);
    pthread_mutex_lock(&st->mu);
    c->busy = false;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

int64_t store__now(const struct store *st)
{
    return st->opts.now_ms ? st->opts.now_ms() : (int64_t)clock_wall_ms();
}

int store_open_opts(const char *path, const struct store_options *opts, struct store **out,
                    struct buf *err)
{
    struct store *st = xcalloc(1, sizeof(*st));
    int rc;
    st->path = xstrdup(path);
    if (opts)
        st->opts = *opts;
    if (!st->opts.max_connections)
        st->opts.max_connections = 4;
    if (st->opts.max_connections > STORE_MAX_CONNECTIONS)
        st->opts.max_connections = STORE_MAX_CONNECTIONS;
    if (!st->opts.busy_timeout_ms)
        st->opts.busy_timeout_ms = 5000;
    if (!st->opts.tz_set) {
        st->opts.tz_min = timeparse_local_offset(store__now(st));
        st->opts.tz_set = true;
    }
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);

    if (sqlite3_threadsafe() == 0) {
        rc = -ENOTSUP;
        if (err)
            buf_addstr(err, "store: libsqlite3 was built without thread support");
        goto fail;
    }
    /* Memories are private: create the file 0600 before SQLite does (its
     * -wal and -shm files then get the same mode). */
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    else if (errno != EEXIST) {
        rc = -errno;
        if (err)
            buf_addf(err, "store: %s: %s", path, strerror(errno));
        goto fail;
    }
    rc = conn_open(st, &st->conns[0], true, err);
    if (rc)
        goto fail;
    st->nconns = 1;
    *out = st;
    return 0;
fail:
    store_close(st);
    return rc;
}

int store_open(const char *path, struct store **out, struct buf *err)
{
    return store_open_opts(path, NULL, out, err);
}

void store_close(struct store *st)
{
    if (!st)
        return;
    for (unsigned i = 0; i < st->nconns; i++) {
        ASSERT(!st->conns[i].busy);
        conn_close(&st->conns[i]);
    }
    pthread_cond_destroy(&st->cv);
    pthread_mutex_destroy(&st->mu);
    free(st->path);
    free(st);
}

int store_default_path(struct buf *out, struct buf *err)
{
    struct buf dir = BUF_INIT;
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    int rc = 0;
    if (xdg && xdg[0] == '/') {
        buf_addstr(&dir, xdg);
    } else if (home && *home) {
        buf_addf(&dir, "%s/.local/share", home);
    } else {
        if (err)
            buf_addstr(err, "store: neither XDG_DATA_HOME nor HOME is set; use --store PATH");
        rc = -ENOENT;
        goto out;
    }
    buf_addstr(&dir, "/hermod");
    /* mkdir -p, the last level private */
    for (size_t i = 1; i <= dir.len; i++) {
        if (i < dir.len && dir.data[i] != '/')
            continue;
        char save = dir.data[i];
        dir.data[i] = '\0';
        if (mkdir(dir.data, i == dir.len ? 0700 : 0755) && errno != EEXIST) {
            rc = -errno;
            if (err)
                buf_addf(err, "store: mkdir %s: %s", dir.data, strerror(errno));
            dir.data[i] = save;
            goto out;
        }
        dir.data[i] = save;
    }
    buf_addf(out, "%s/memory.db", dir.data);
out:
    buf_release(&dir);
    return rc;
}

/* ---- Statements and transactions ------------------------------------- */

static const char *const sql_text[SQL__COUNT] = {
    [SQL_EP_FIND_HASH] = "SELECT id FROM episodes WHERE content_hash = ?1",
    [SQL_EP_INSERT] = "INSERT INTO episodes(content_hash, kind, source, captured_at, ingested_at,"
                      " media_json, input) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [SQL_EP_GET_STATUS] = "SELECT status, kind, captured_at FROM episodes WHERE id = ?1",
    [SQL_EP_FTS_DELETE] =
        "INSERT INTO episodes_fts(episodes_fts, rowid, description, ocr_text, transcript,"
        " search_keys) SELECT 'delete', id, description, ocr_text, transcript, search_keys"
        " FROM episodes WHERE id = ?1 AND status = 'done'",
    [SQL_EP_COMPLETE] =
        "UPDATE episodes SET status = 'done', error = NULL, attempts = attempts + 1,"
        " language = ?2, model = ?3, engine = ?4, raw_json = ?5, description = ?6,"
        " ocr_text = ?7, transcript = ?8, extract_json = ?9, search_keys = ?10,"
        " kind = coalesce(?11, kind), input = NULL WHERE id = ?1",
    [SQL_EP_FTS_INSERT] =
        "INSERT INTO episodes_fts(rowid, description, ocr_text, transcript, search_keys)"
        " SELECT id, description, ocr_text, transcript, search_keys FROM episodes WHERE id = ?1",
    [SQL_EP_FAIL] =
        "UPDATE episodes SET attempts = attempts + 1, error = ?2,"
        " status = CASE WHEN ?3 OR (?4 > 0 AND attempts + 1 >= ?4) THEN 'failed'"
        " ELSE 'pending' END WHERE id = ?1 AND status <> 'done'",
    [SQL_EP_GET] = "SELECT id, content_hash, kind, source, captured_at, ingested_at, language,"
                   " model, engine, status, error, attempts, raw_json, description, ocr_text,"
                   " transcript, extract_json, media_json FROM episodes WHERE id = ?1",
    [SQL_EP_INPUT] = "SELECT input FROM episodes WHERE id = ?1",
    [SQL_EP_RETRY] = "UPDATE episodes SET status = 'pending', attempts = 0"
                     " WHERE id = ?1 AND status = 'failed'",
    [SQL_EP_ENTITIES] = "SELECT DISTINCT e.name, e.type FROM mentions m"
                        " JOIN entities e ON e.id = m.entity_id WHERE m.episode_id = ?1"
                        " ORDER BY e.type, e.name",
    [SQL_EP_PENDING] =
        "SELECT id FROM episodes WHERE status = 'pending' ORDER BY ingested_at, id LIMIT ?1",
    [SQL_ENT_BY_KEY_TYPE] =
        "SELECT e.id FROM entity_aliases a JOIN entities e ON e.id = a.entity_id"
        " WHERE a.key = ?1 AND e.type = ?2 ORDER BY e.last_seen DESC, e.id LIMIT 1",
    [SQL_ENT_BY_KEY] = "SELECT e.id FROM entity_aliases a JOIN entities e ON e.id = a.entity_id"
                       " WHERE a.key = ?1 ORDER BY e.last_seen DESC, e.id LIMIT 1",
    [SQL_ENT_INSERT] =
        "INSERT INTO entities(type, name, first_seen, last_seen) VALUES (?1, ?2, ?3, ?3)",
    [SQL_ENT_SEEN] =
        "UPDATE entities SET first_seen = min(coalesce(first_seen, ?2), ?2),"
        " last_seen = max(coalesce(last_seen, ?2), ?2) WHERE id = ?1",
    [SQL_ALIAS_INSERT] = "INSERT OR IGNORE INTO entity_aliases(entity_id, alias, key, script)"
                         " VALUES (?1, ?2, ?3, ?4)",
    [SQL_ENT_GET] = "SELECT id, type, name, first_seen, last_seen FROM entities WHERE id = ?1",
    [SQL_ALIAS_LIST] = "SELECT alias, key, script FROM entity_aliases WHERE entity_id = ?1"
                       " ORDER BY alias",
    [SQL_MENTION_INSERT] =
        "INSERT OR IGNORE INTO mentions(episode_id, entity_id, surface) VALUES (?1, ?2, ?3)",
    [SQL_REL_SAME] =
        "SELECT id FROM relations WHERE subject_id = ?1 AND predicate = ?2"
        " AND object_id IS ?3 AND object_value IS ?4 AND unit IS ?5"
        " AND valid_from IS ?6 AND valid_until IS ?7 AND retracted_at IS NULL LIMIT 1",
    [SQL_REL_INSERT] =
        "INSERT INTO relations(subject_id, predicate, object_id, object_value, unit, value_num,"
        " fact, attrs_json, valid_from, valid_until, learned_at, replaces_id)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [SQL_REL_LINK] =
        "INSERT OR IGNORE INTO relation_episodes(relation_id, episode_id) VALUES (?1, ?2)",
    [SQL_REL_CURRENT] =
        "SELECT id FROM relations WHERE subject_id = ?1 AND predicate = ?2"
        " AND retracted_at IS NULL AND (valid_until IS NULL OR valid_until > ?3)"
        " AND (valid_from IS NULL OR valid_from < ?3)"
        " AND NOT (object_id IS ?4 AND object_value IS ?5)",
    [SQL_REL_GET] =
        "SELECT id, subject_id, predicate, object_id, object_value, unit, value_num, fact,"
        " attrs_json, valid_from, valid_until, learned_at, retracted_at, replaces_id"
        " FROM relations WHERE id = ?1",
    [SQL_REL_RETRACT] =
        "UPDATE relations SET retracted_at = ?2 WHERE id = ?1 AND retracted_at IS NULL",
    [SQL_REL_COPY_LINKS] =
        "INSERT OR IGNORE INTO relation_episodes(relation_id, episode_id)"
        " SELECT ?2, episode_id FROM relation_episodes WHERE relation_id = ?1",
    [SQL_REL_EPISODES] =
        "SELECT episode_id FROM relation_episodes WHERE relation_id = ?1 ORDER BY episode_id",
    [SQL_REL_NEXT_START] =
        "SELECT min(valid_from) FROM relations WHERE subject_id = ?1 AND predicate = ?2"
        " AND retracted_at IS NULL AND valid_from > ?3"
        " AND NOT (object_id IS ?4 AND object_value IS ?5)",
};

sqlite3_stmt *store__stmt(struct conn *c, enum store_sql id, struct buf *err)
{
    sqlite3_stmt *s = c->stmt[id];
    if (!s) {
        int src = sqlite3_prepare_v3(c->db, sql_text[id], -1, SQLITE_PREPARE_PERSISTENT, &s,
                                     NULL);
        if (src != SQLITE_OK) {
            store__error(c, src, "prepare", err);
            return NULL;
        }
        c->stmt[id] = s;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

int store__begin(struct conn *c, struct buf *err)
{
    int rc = exec(c->db, c->depth ? "SAVEPOINT w" : "BEGIN IMMEDIATE", "begin", err);
    if (!rc)
        c->depth++;
    return rc;
}

int store__commit(struct conn *c, struct buf *err)
{
    ASSERT(c->depth > 0);
    int rc = exec(c->db, c->depth > 1 ? "RELEASE w" : "COMMIT", "commit", err);
    if (!rc)
        c->depth--;
    return rc;
}

void store__rollback(struct conn *c)
{
    ASSERT(c->depth > 0);
    if (c->depth > 1)
        sqlite3_exec(c->db, "ROLLBACK TO w; RELEASE w", NULL, NULL, NULL);
    else
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    c->depth--;
}

struct conn *store__write_begin(struct store *st, int *rc, struct buf *err)
{
    struct conn *c = store__acquire(st, err);
    if (!c) {
        *rc = -EIO;
        return NULL;
    }
    *rc = store__begin(c, err);
    if (*rc) {
        store__release(st, c);
        return NULL;
    }
    return c;
}

int store__write_end(struct store *st, struct conn *c, int rc, struct buf *err)
{
    if (!rc)
        rc = store__commit(c, err);
    if (rc)
        store__rollback(c);
    store__release(st, c);
    return rc;
}

void store__bind_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

void store__bind_time(sqlite3_stmt *s, int i, int64_t v)
{
    if (v == STORE_TIME_NONE)
        sqlite3_bind_null(s, i);
    else
        sqlite3_bind_int64(s, i, v);
}

char *store__col_text(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? xmemdup(t, (size_t)sqlite3_column_bytes(s, i)) : NULL;
}

int64_t store__col_time(sqlite3_stmt *s, int i)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL ? STORE_TIME_NONE
                                                    : sqlite3_column_int64(s, i);
}

enum store_kind store__col_kind(sqlite3_stmt *s, int i)
{
    enum store_kind k;
    return store_kind_parse((const char *)sqlite3_column_text(s, i), &k) ? STORE_KIND_OTHER : k;
}

bool store__json_object_or_null(const char *s)
{
    if (!s)
        return true;
    json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);
    bool ok = j && json_is_object(j);
    json_decref(j);
    return ok;
}

/* ---- Episodes --------------------------------------------------------- */

static int episode_add(struct store *st, struct conn *c, const struct store_episode_new *e,
                       int64_t *id, bool *existed, struct buf *err)
{
    if (!e->content_hash || !*e->content_hash || (unsigned)e->kind >= STORE_KIND__COUNT ||
        e->captured_at == STORE_TIME_NONE) {
        if (err)
            buf_addstr(err, "store: an episode needs a content hash, a kind and a capture time");
        return -EINVAL;
    }
    sqlite3_stmt *s = store__stmt(c, SQL_EP_FIND_HASH, err);
    if (!s)
        return -EIO;
    store__bind_text(s, 1, e->content_hash);
    int src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        *id = sqlite3_column_int64(s, 0);
        if (existed)
            *existed = true;
        return 0;
    }
    if (src != SQLITE_DONE)
        return store__error(c, src, "find episode", err);

    s = store__stmt(c, SQL_EP_INSERT, err);
    if (!s)
        return -EIO;
    store__bind_text(s, 1, e->content_hash);
    store__bind_text(s, 2, store_kind_name(e->kind));
    store__bind_text(s, 3, e->source);
    sqlite3_bind_int64(s, 4, e->captured_at);
    sqlite3_bind_int64(s, 5, e->ingested_at == STORE_TIME_NONE || e->ingested_at == 0
                                 ? store__now(st)
                                 : e->ingested_at);
    store__bind_text(s, 6, e->media_json);
    if (e->input)
        sqlite3_bind_blob64(s, 7, e->input, e->input_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 7);
    src = sqlite3_step(s);
    if (src != SQLITE_DONE)
        return store__error(c, src, "insert episode", err);
    *id = sqlite3_last_insert_rowid(c->db);
    if (existed)
        *existed = false;
    return 0;
}

int store_episode_add(struct store *st, const struct store_episode_new *e, int64_t *id,
                      bool *existed, struct buf *err)
{
    int rc;
    struct conn *c = store__write_begin(st, &rc, err);
    if (!c)
        return rc;
    rc = episode_add(st, c, e, id, existed, err);
    return store__write_end(st, c, rc, err);
}

static void add_text(struct buf *b, const char *s)
{
    if (s && *s) {
        if (b->len)
            buf_addch(b, '\n');
        buf_addstr(b, s);
    }
}

static int episode_complete(struct store *st, struct conn *c, int64_t id,
                            const struct store_result *r, struct buf *err)
{
    struct buf text = BUF_INIT, keys = BUF_INIT;
    enum store_kind kind;
    int64_t captured;
    int rc = 0, src;

    sqlite3_stmt *s = store__stmt(c, SQL_EP_GET_STATUS, err);
    if (!s)
        return -EIO;
    sqlite3_bind_int64(s, 1, id);
    src = sqlite3_step(s);
    if (src == SQLITE_DONE) {
        if (err)
            buf_addf(err, "store: no episode %lld", (long long)id);
        return -ENOENT;
    }
    if (src != SQLITE_ROW)
        return store__error(c, src, "read episode", err);
    bool done = !strcmp((const char *)sqlite3_column_text(s, 0), "done");
    kind = store__col_kind(s, 1);
    captured = sqlite3_column_int64(s, 2);
    sqlite3_reset(s);

    if (!store__json_object_or_null(r->extract_json)) {
        if (err)
            buf_addstr(err, "store: extract_json is not a JSON object");
        return -EINVAL;
    }
    if (r->set_kind) {
        if ((unsigned)r->kind >= STORE_KIND__COUNT) {
            if (err)
                buf_addstr(err, "store: bad kind in result");
            return -EINVAL;
        }
        kind = r->kind;
    }

    /* Done already: take the old text out of the index before replacing it. */
    if (done) {
        s = store__stmt(c, SQL_EP_FTS_DELETE, err);
        if (!s)
            return -EIO;
        sqlite3_bind_int64(s, 1, id);
        if ((src = sqlite3_step(s)) != SQLITE_DONE)
            return store__error(c, src, "unindex episode", err);
    }

    /* The words people may search for: the texts, plus the names of the
     * entities mentioned (so "Rajesh" finds an episode that said "him"). */
    add_text(&text, r->description);
    add_text(&text, r->ocr_text);
    add_text(&text, r->transcript);
    for (size_t i = 0; i < r->nmentions; i++) {
        add_text(&text, r->mentions[i].name);
        add_text(&text, r->mentions[i].surface);
    }
    store__search_keys(buf_cstr(&text), &keys);

    s = store__stmt(c, SQL_EP_COMPLETE, err);
    if (!s) {
        rc = -EIO;
        goto out;
    }
    sqlite3_bind_int64(s, 1, id);
    store__bind_text(s, 2, r->language);
    store__bind_text(s, 3, r->model);
    store__bind_text(s, 4, r->engine);
    store__bind_text(s, 5, r->raw_json);
    store__bind_text(s, 6, r->description);
    store__bind_text(s, 7, r->ocr_text);
    store__bind_text(s, 8, r->transcript);
    store__bind_text(s, 9, r->extract_json);
    store__bind_text(s, 10, buf_cstr(&keys));
    store__bind_text(s, 11, r->set_kind ? store_kind_name(r->kind) : NULL);
    if ((src = sqlite3_step(s)) != SQLITE_DONE) {
        rc = store__error(c, src, "complete episode", err);
        goto out;
    }
    s = store__stmt(c, SQL_EP_FTS_INSERT, err);
    if (!s) {
        rc = -EIO;
        goto out;
    }
    sqlite3_bind_int64(s, 1, id);
    if ((src = sqlite3_step(s)) != SQLITE_DONE) {
        rc = store__error(c, src, "index episode", err);
        goto out;
    }

    for (size_t i = 0; i < r->nmentions && !rc; i++)
        rc = store__mention_add(st, c, id, captured, &r->mentions[i], NULL, err);
    for (size_t i = 0; i < r->nfacts && !rc; i++)
        rc = store__fact_add(st, c, id, captured, &r->facts[i], err);
    if (!rc && r->extract_json)
        rc = store__typed_add(st, c, id, kind, captured, r->extract_json, err);
out:
    buf_release(&keys);
    buf_release(&text);
    return rc;
}

int store_episode_complete(struct store *st, int64_t id, const struct store_result *r,
                           struct buf *err)
{
    int rc;
    struct conn *c = store__write_begin(st, &rc, err);
    if (!c)
        return rc;
    rc = episode_complete(st, c, id, r, err);
    return store__write_end(st, c, rc, err);
}

int store_episode_fail(struct store *st, int64_t id, const char *error, bool permanent,
                       unsigned max_attempts, struct buf *err)
{
    struct conn *c = store__acquire(st, err);
    if (!c)
        return -EIO;
    int rc = 0, src;
    sqlite3_stmt *s = store__stmt(c, SQL_EP_FAIL, err);
    if (!s) {
        rc = -EIO;
        goto out;
    }
    sqlite3_bind_int64(s, 1, id);
    store__bind_text(s, 2, error ? error : "unknown error");
    sqlite3_bind_int(s, 3, permanent);
    sqlite3_bind_int64(s, 4, max_attempts);
    if ((src = sqlite3_step(s)) != SQLITE_DONE) {
        rc = store__error(c, src, "record failure", err);
        goto out;
    }
    if (sqlite3_changes(c->db) == 0) {
        /* Either it does not exist or it is done. */
        s = store__stmt(c, SQL_EP_GET_STATUS, err);
        if (!s) {
            rc = -EIO;
            goto out;
        }
        sqlite3_bind_int64(s, 1, id);
        rc = sqlite3_step(s) == SQLITE_ROW ? -EALREADY : -ENOENT;
        if (err)
            buf_addf(err, "store: episode %lld %s", (long long)id,
                     rc == -ENOENT ? "does not exist" : "is done already");
    }
out:
    store__release(st, c);
    return rc;
}

int store_episode_pending(struct store *st, unsigned limit, int64_t **ids, size_t *n,
                          struct buf *err)
{
    struct conn *c = store__acquire(st, err);
    if (!c)
        return -EIO;
    int rc = 0, src;
    size_t cap = 0;
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *s = store__stmt(c, SQL_EP_PENDING, err);
    if (!s) {
        rc = -EIO;
        goto out;
    }
    sqlite3_bind_int64(s, 1, limit);
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        ALLOC_GROW(*ids, *n + 1, cap);
        (*ids)[(*n)++] = sqlite3_column_int64(s, 0);
    }
    if (src != SQLITE_DONE) {
        rc = store__error(c, src, "list pending", err);
        free(*ids);
        *ids = NULL;
        *n = 0;
    }
out:
    store__release(st, c);
    return rc;
}

int store_episode_get(struct store *st, int64_t id, struct store_episode *e, struct buf *err)
{
    struct conn *c = store__acquire(st, err);
    if (!c)
        return -EIO;
    int rc = 0, src;
    memset(e, 0, sizeof(*e));
    sqlite3_stmt *s = store__stmt(c, SQL_EP_GET, err);
    if (!s) {
        rc = -EIO;
        goto out;
    }
    sqlite3_bind_int64(s, 1, id);
    src = sqlite3_step(s);
    if (src == SQLITE_DONE) {
        rc = -ENOENT;
        if (err)
            buf_addf(err, "store: no episode %lld", (long long)id);
        goto out;
    }
    if (src != SQLITE_ROW) {
        rc = store__error(c, src, "read episode", err);
        goto out;
    }
    e->id = sqlite3_column_int64(s, 0);
    e->content_hash = store__col_text(s, 1);
    e->kind = store__col_kind(s, 2);
    e->source = store__col_text(s, 3);
    e->captured_at = sqlite3_column_int64(s, 4);
    e->ingested_at = sqlite3_column_int64(s, 5);
    e->language = store__col_text(s, 6);
    e->model = store__col_text(s, 7);
    e->engine = store__col_text(s, 8);
    e->status = status_parse((const char *)sqlite3_column_text(s, 9));
    e->error = store__col_text(s, 10);
    e->attempts = (unsigned)sqlite3_column_int(s, 11);
    e->raw_json = store__col_text(s, 12);
    e->description = store__col_text(s, 13);
    e->ocr_text = store__col_text(s, 14);
    e->transcript = store__col_text(s, 15);
    e->extract_json = store__col_text(s, 16);
    e->media_json = store__col_text(s, 17);
    sqlite3_reset(s);
    rc = store__episode_entities(c, id, &e->entities, &e->nentities, "episode entities", err);
out:
    if (rc)
        store_episode_release(e);
    store__release(st, c);
    return rc;
}

int store_episode_input(struct store *st, int64_t id, struct buf *out, struct buf *err)
{
    struct conn *c = store__acquire(st, err);
    if (!c)
        return -EIO;
    int rc = 0, src;
    sqlite3_stmt *s = store__stmt(c, SQL_EP_INPUT, err);
    if (!s) {
        rc = -EIO;
        goto out;
    }
    sqlite3_bind_int64(s, 1, id);
    src = sqlite3_step(s);
    if (src == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
        const void *p = sqlite3_column_blob(s, 0);
        buf_add(out, p, (size_t)sqlite3_column_bytes(s, 0));
    } else if (src == SQLITE_ROW || src == SQLITE_DONE) {
        rc = -ENOENT;
        if (err)
            buf_addf(err, "store: episode %lld %s", (long long)id,
                     src == SQLITE_DONE ? "does not exist" : "keeps no input");
    } else {
        rc = store__error(c, src, "read episode input", err);
    }
out:
    store__release(st, c);
    return rc;
}

int store_episode_retry(struct store *st, int64_t id, struct buf *err)
{
    struct conn *c = store__acquire(st, err);
    if (!c)
        return -EIO;
    int rc = 0, src;
    sqlite3_stmt *s = store__stmt(c, SQL_EP_RETRY, err);
    if (!s) {
        rc = -EIO;
        goto out;
    }
    sqlite3_bind_int64(s, 1, id);
    if ((src = sqlite3_step(s)) != SQLITE_DONE)
        rc = store__error(c, src, "retry episode", err);
    else if (sqlite3_changes(c->db) == 0) {
        rc = -EALREADY;
        if (err)
            buf_addf(err, "store: episode %lld is not failed", (long long)id);
    }
out:
    store__release(st, c);
    return rc;
}

void store_episode_release(struct store_episode *e)
{
    free(e->content_hash);
    free(e->source);
    free(e->language);
    free(e->model);
    free(e->engine);
    free(e->error);
    free(e->raw_json);
    free(e->description);
    free(e->ocr_text);
    free(e->transcript);
    free(e->extract_json);
    free(e->media_json);
    store__entities_free(e->entities, e->nentities);
    memset(e, 0, sizeof(*e));
}

int store__episode_entities(struct conn *c, int64_t id, struct store_hit_entity **v, size_t *n,
                            const char *what, struct buf *err)
{
    size_t cap = 0;
    int src;
    sqlite3_stmt *s = store__stmt(c, SQL_EP_ENTITIES, err);
    if (!s)
        return -EIO;
    sqlite3_bind_int64(s, 1, id);
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        ALLOC_GROW(*v, *n + 1, cap);
        (*v)[*n].name = store__col_text(s, 0);
        (*v)[*n].type = store__col_text(s, 1);
        (*n)++;
    }
    return src == SQLITE_DONE ? 0 : store__error(c, src, what, err);
}

void store__entities_free(struct store_hit_entity *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].type);
    }
    free(v);
}

int store_import(struct store *st, const struct store_import_item *items, size_t n,
                 struct buf *err)
{
    int rc;
    struct conn *c = store__write_begin(st, &rc, err);
    if (!c)
        return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        int64_t id;
        bool existed;
        rc = episode_add(st, c, &items[i].episode, &id, &existed, err);
        if (!rc && !existed)
            rc = episode_complete(st, c, id, &items[i].result, err);
    }
    return store__write_end(st, c, rc, err);
}
