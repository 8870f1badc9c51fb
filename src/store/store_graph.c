/* SPDX-License-Identifier: MIT */
/*
 * store_graph.c: entities, their aliases, mentions, and bi-temporal
 * relations.
 *
 * DESIGN
 * An entity is found by the translit_key of any of its aliases together
 * with its type, so a person and a shop that share a name stay apart while
 * "ರಾಜೇಶ್" and "Rajesh" meet. The first name seen becomes the entity's
 * name; every later spelling with the same key becomes an alias.
 *
 * A relation row is never edited except to set retracted_at. Ending a fact
 * in world time retracts the row and inserts its successor with
 * valid_until set (replaces_id points back), so the question "what did
 * hermod believe on date X" keeps its answer: rows with learned_at <= X <
 * retracted_at. Facts that arrive out of order (an old photo ingested
 * late) are closed by the next known fact of the same subject and
 * predicate.
 */
#include "store/store.h"

#include <errno.h>

#include <jansson.h>

#include "lib/xalloc.h"
#include "store/store_int.h"
#include "text/translit.h"

static bool valid_type(const char *t)
{
    size_t n = 0;
    if (!t)
        return false;
    for (; t[n]; n++)
        if (!((t[n] >= 'a' && t[n] <= 'z') || t[n] == '_'))
            return false;
    return n > 0 && n <= 32;
}

static const char *script_of(const char *s)
{
    bool kn = translit_has_kannada(s, strlen(s)), latn = false;
    for (const char *p = s; *p; p++)
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
            latn = true;
    return kn && latn ? "mixed" : kn ? "knda" : "latn";
}

static int alias_add(struct conn *c, int64_t id, const char *alias, const char *key,
                     struct buf *err)
{
    sqlite3_stmt *s = store__stmt(c, SQL_ALIAS_INSERT, err);
    if (!s)
        return -EIO;
    sqlite3_bind_int64(s, 1, id);
    store__bind_text(s, 2, alias);
    store__bind_text(s, 3, key);
    store__bind_text(s, 4, script_of(alias));
    int src = sqlite3_step(s);
    return src == SQLITE_DONE ? 0 : store__error(c, src, "add alias", err);
}

/* Finds an entity by key (and type, unless NULL). 0, -ENOENT or error. */
static int find_by_key(struct conn *c, const char *key, const char *type, int64_t *id,
                       struct buf *err)
{
    sqlite3_stmt *s = store__stmt(c, type ? SQL_ENT_BY_KEY_TYPE : SQL_ENT_BY_KEY, err);
    if (!s)
        return -EIO;
    store__bind_text(s, 1, key);
    if (type)
        store__bind_text(s, 2, type);
    int src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        *id = sqlite3_column_int64(s, 0);
        return 0;
    }
    return src == SQLITE_DONE ? -ENOENT : store__error(c, src, "find entity", err);
}

int store__entity_resolve(struct store *st, struct conn *c, const char *type, const char *name,
                          int64_t seen_at, int64_t *id, struct buf *err)
{
    struct buf key = BUF_INIT;
    int rc, src;
    sqlite3_stmt *s;
    if (!valid_type(type) || !name) {
        if (err)
            buf_addf(err, "store: entity type '%s' must be [a-z_]+ and the name set",
                     type ? type : "(null)");
        return -EINVAL;
    }
    translit_key(name, strlen(name), &key);
    if (!key.len) {
        if (err)
            buf_addf(err, "store: entity name '%s' has no letters or digits", name);
        rc = -EINVAL;
        goto out;
    }
    rc = find_by_key(c, key.data, type, id, err);
    if (rc == -ENOENT) {
        s = store__stmt(c, SQL_ENT_INSERT, err);
        if (!s) {
            rc = -EIO;
            goto out;
        }
        store__bind_text(s, 1, type);
        store__bind_text(s, 2, name);
        store__bind_time(s, 3, seen_at);
        if ((src = sqlite3_step(s)) != SQLITE_DONE) {
            rc = store__error(c, src, "insert entity", err);
            goto out;
        }
        *id = sqlite3_last_insert_rowid(c->db);
        rc = 0;
    } else if (rc == 0 && seen_at != STORE_TIME_NONE) {
        s = store__stmt(c, SQL_ENT_SEEN, err);
        if (!s) {
            rc = -EIO;
            goto out;
        }
        sqlite3_bind_int64(s, 1, *id);
        sqlite3_bind_int64(s, 2, seen_at);
        if ((src = sqlite3_step(s)) != SQLITE_DONE) {
            rc = store__error(c, src, "update entity", err);
            goto out;
        }
    }
    if (!rc)
        rc = alias_add(c, *id, name, key.data, err);
out:
    buf_release(&key);
    return rc;
}

int store__mention_add(struct store *st, struct conn *c, int64_t episode_id, int64_t seen_at,
                       const struct store_mention *m, int64_t *entity, struct buf *err)
{
    int64_t ent;
    int rc = store__entity_resolve(st, c, m->type, m->name, seen_at, &ent, err);
    if (rc)
        return rc;
    if (entity)
        *entity = ent;
    const char *surface = m->surface && *m->surface ? m->surface : m->name;
    if (surface != m->name) {
        /* The surface becomes an alias only when it is the same name in
         * another script or spelling: "him" must not become Rajesh. */
        struct buf a = BUF_INIT, b = BUF_INIT;
        translit_key(surface, strlen(surface), &a);
        translit_key(m->name, strlen(m->name), &b);
        if (a.len && !strcmp(a.data, buf_cstr(&b)))
            rc = alias_add(c, ent, surface, a.data, err);
        buf_release(&a);
        buf_release(&b);
        if (rc)
            return rc;
    }
    sqlite3_stmt *s = store__stmt(c, SQL_MENTION_INSERT, err);
    if (!s)
        return -EIO;
    sqlite3_bind_int64(s, 1, episode_id);
    sqlite3_bind_int64(s, 2, ent);
    store__bind_text(s, 3, surface);
    int src = sqlite3_step(s);
    return src == SQLITE_DONE ? 0 : store__error(c, src, "add mention", err);
}

/* ---- Relations -------------------------------------------------------- */

static void relation_read(sqlite3_stmt *s, struct store_relation *r)
{
    memset(r, 0, sizeof(*r));
    r->id = sqlite3_column_int64(s, 0);
    r->subject_id = sqlite3_column_int64(s, 1);
    r->predicate = store__col_text(s, 2);
    r->object_id = sqlite3_column_int64(s, 3); /* NULL reads as 0 */
    r->value = store__col_text(s, 4);
    r->unit = store__col_text(s, 5);
    r->has_num = sqlite3_column_type(s, 6) != SQLITE_NULL;
    r->num = sqlite3_column_double(s, 6);
    r->fact = store__col_text(s, 7);
    r->attrs_json = store__col_text(s, 8);
    r->valid_from = store__col_time(s, 9);
    r->valid_until = store__col_time(s, 10);
    r->learned_at = sqlite3_column_int64(s, 11);
    r->retracted_at = store__col_time(s, 12);
    r->replaces_id = sqlite3_column_int64(s, 13);
}

static void relation_release(struct store_relation *r)
{
    free(r->predicate);
    free(r->value);
    free(r->unit);
    free(r->fact);
    free(r->attrs_json);
    free(r->episodes);
}

/* Binds r's object entity at i and its literal value at i + 1; the one
 * not set stays NULL (store__stmt cleared the bindings). */
static void bind_object(sqlite3_stmt *s, int i, const struct store_relation_new *r)
{
    if (r->object_id)
        sqlite3_bind_int64(s, i, r->object_id);
    else
        store__bind_text(s, i + 1, r->value);
}

static int relation_insert(struct store *st, struct conn *c, const struct store_relation_new *r,
                           int64_t replaces, int64_t *id, struct buf *err)
{
    sqlite3_stmt *s = store__stmt(c, SQL_REL_INSERT, err);
    if (!s)
        return -EIO;
    sqlite3_bind_int64(s, 1, r->subject_id);
    store__bind_text(s, 2, r->predicate);
    bind_object(s, 3, r);
    store__bind_text(s, 5, r->unit);
    if (r->has_num)
        sqlite3_bind_double(s, 6, r->num);
    store__bind_text(s, 7, r->fact ? r->fact : "");
    store__bind_text(s, 8, r->attrs_json);
    store__bind_time(s, 9, r->valid_from);
    store__bind_time(s, 10, r->valid_until);
    sqlite3_bind_int64(s, 11, store__now(st));
    if (replaces)
        sqlite3_bind_int64(s, 12, replaces);
    int src = sqlite3_step(s);
    if (src != SQLITE_DONE)
        return store__error(c, src, "insert relation", err);
    *id = sqlite3_last_insert_rowid(c->db);
    return 0;
}

static int link_episodes(struct conn *c, int64_t rel, const int64_t *episodes, size_t n,
                         struct buf *err)
{
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *s = store__stmt(c, SQL_REL_LINK, err);
        if (!s)
            return -EIO;
        sqlite3_bind_int64(s, 1, rel);
        sqlite3_bind_int64(s, 2, episodes[i]);
        int src = sqlite3_step(s);
        if (src != SQLITE_DONE)
            return store__error(c, src, "link relation to episode", err);
    }
    return 0;
}

/* Sets retracted_at of relation id to now unless it is set already;
 * sqlite3_changes() then tells which. */
static int relation_retract(struct store *st, struct conn *c, int64_t id, struct buf *err)
{
    sqlite3_stmt *s = store__stmt(c, SQL_REL_RETRACT, err);
    if (!s)
        return -EIO;
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, store__now(st));
    int src = sqlite3_step(s);
    return src == SQLITE_DONE ? 0 : store__error(c, src, "retract relation", err);
}

static int relation_end(struct store *st, struct conn *c, int64_t id, int64_t until,
                        int64_t *new_id, struct buf *err)
{
    struct store_relation old;
    int rc = 0, src;
    sqlite3_stmt *s = store__stmt(c, SQL_REL_GET, err);
    if (!s)
        return -EIO;
    sqlite3_bind_int64(s, 1, id);
    src = sqlite3_step(s);
    if (src == SQLITE_DONE) {
        if (err)
            buf_addf(err, "store: no relation %lld", (long long)id);
        return -ENOENT;
    }
    if (src != SQLITE_ROW)
        return store__error(c, src, "read relation", err);
    relation_read(s, &old);
    sqlite3_reset(s);

    if (old.retracted_at != STORE_TIME_NONE) {
        if (err)
            buf_addf(err, "store: relation %lld was retracted already", (long long)id);
        rc = -ESTALE;
        goto out;
    }
    if (until == STORE_TIME_NONE ||
        (old.valid_from != STORE_TIME_NONE && until < old.valid_from)) {
        if (err)
            buf_addf(err, "store: relation %lld cannot end before it began", (long long)id);
        rc = -EINVAL;
        goto out;
    }
    if (old.valid_until != STORE_TIME_NONE && old.valid_until <= until) {
        if (new_id) /* it ended by then already */
            *new_id = id;
        goto out;
    }
    rc = relation_retract(st, c, id, err);
    if (rc)
        goto out;
    if (until == old.valid_from) { /* it never held: a retraction, no successor */
        if (new_id)
            *new_id = 0;
        goto out;
    }
    struct store_relation_new nr = {
        .subject_id = old.subject_id,
        .predicate = old.predicate,
        .object_id = old.object_id,
        .value = old.value,
        .unit = old.unit,
        .has_num = old.has_num,
        .num = old.num,
        .fact = old.fact,
        .attrs_json = old.attrs_json,
        .valid_from = old.valid_from,
        .valid_until = until,
    };
    int64_t nid;
    rc = relation_insert(st, c, &nr, id, &nid, err);
    if (rc)
        goto out;
    s = store__stmt(c, SQL_REL_COPY_LINKS, err);
    if (!s) {
        rc = -EIO;
        goto out;
    }
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int64(s, 2, nid);
    if ((src = sqlite3_step(s)) != SQLITE_DONE) {
        rc = store__error(c, src, "copy relation links", err);
        goto out;
    }
    if (new_id)
        *new_id = nid;
out:
    relation_release(&old);
    return rc;
}

/* The earliest start of a believed fact with this subject and predicate
 * and another object that begins after `after`, or STORE_TIME_NONE. */
static int next_start(struct conn *c, const struct store_relation_new *r, int64_t after,
                      int64_t *out, struct buf *err)
{
    sqlite3_stmt *s = store__stmt(c, SQL_REL_NEXT_START, err);
    if (!s)
        return -EIO;
    sqlite3_bind_int64(s, 1, r->subject_id);
    store__bind_text(s, 2, r->predicate);
    sqlite3_bind_int64(s, 3, after);
    bind_object(s, 4, r);
    int src = sqlite3_step(s);
    *out = src == SQLITE_ROW ? store__col_time(s, 0) : STORE_TIME_NONE;
    return src == SQLITE_ROW ? 0 : store__error(c, src, "find next fact", err);
}

int store__relation_add(struct store *st, struct conn *c, const struct store_relation_new *in,
                        const int64_t *episodes, size_t nepisodes, unsigned flags, int64_t *id,
                        struct buf *err)
{
    struct store_relation_new r = *in;
    int64_t *ends = NULL;
    size_t nends = 0, cap = 0;
    int rc = 0, src;
    sqlite3_stmt *s;

    if (r.subject_id <= 0 || !r.predicate || !*r.predicate || (r.object_id == 0) != !!r.value ||
        r.object_id < 0) {
        if (err)
            buf_addstr(err, "store: a relation needs a subject, a predicate, and an object "
                            "entity or a value (not both)");
        return -EINVAL;
    }
    if (r.valid_from != STORE_TIME_NONE && r.valid_until != STORE_TIME_NONE &&
        r.valid_until < r.valid_from) {
        if (err)
            buf_addstr(err, "store: a relation cannot end before it begins");
        return -EINVAL;
    }
    if (!store__json_object_or_null(r.attrs_json)) {
        if (err)
            buf_addstr(err, "store: relation attributes are not a JSON object");
        return -EINVAL;
    }

    /* Believed already: only add the support. */
    s = store__stmt(c, SQL_REL_SAME, err);
    if (!s)
        return -EIO;
    sqlite3_bind_int64(s, 1, r.subject_id);
    store__bind_text(s, 2, r.predicate);
    bind_object(s, 3, &r);
    store__bind_text(s, 5, r.unit);
    store__bind_time(s, 6, r.valid_from);
    store__bind_time(s, 7, r.valid_until);
    src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        *id = sqlite3_column_int64(s, 0);
        sqlite3_reset(s);
        return link_episodes(c, *id, episodes, nepisodes, err);
    }
    if (src != SQLITE_DONE)
        return store__error(c, src, "find relation", err);

    if (flags & STORE_REL_END_PREVIOUS) {
        if (r.valid_from == STORE_TIME_NONE)
            r.valid_from = store__now(st);
        /* Collect first: ending uses statements of its own. */
        s = store__stmt(c, SQL_REL_CURRENT, err);
        if (!s)
            return -EIO;
        sqlite3_bind_int64(s, 1, r.subject_id);
        store__bind_text(s, 2, r.predicate);
        sqlite3_bind_int64(s, 3, r.valid_from);
        bind_object(s, 4, &r);
        while ((src = sqlite3_step(s)) == SQLITE_ROW) {
            ALLOC_GROW(ends, nends + 1, cap);
            ends[nends++] = sqlite3_column_int64(s, 0);
        }
        if (src != SQLITE_DONE) {
            rc = store__error(c, src, "find current facts", err);
            goto out;
        }
        for (size_t i = 0; i < nends && !rc; i++)
            rc = relation_end(st, c, ends[i], r.valid_from, NULL, err);
        if (rc)
            goto out;
        /* Arriving late: a newer fact already follows this one. */
        if (r.valid_until == STORE_TIME_NONE) {
            rc = next_start(c, &r, r.valid_from, &r.valid_until, err);
            if (rc)
                goto out;
        }
    }
    rc = relation_insert(st, c, &r, 0, id, err);
    if (!rc)
        rc = link_episodes(c, *id, episodes, nepisodes, err);
out:
    free(ends);
    return rc;
}

int store__fact_add(struct store *st, struct conn *c, int64_t episode_id, int64_t seen_at,
                    const struct store_fact *f, struct buf *err)
{
    struct store_relation_new r = {
        .predicate = f->predicate,
        .value = f->value,
        .unit = f->unit,
        .has_num = f->has_num,
        .num = f->num,
        .fact = f->fact,
        .attrs_json = f->attrs_json,
        .valid_from = f->valid_from,
        .valid_until = f->valid_until,
    };
    struct store_mention m = {.type = f->subject_type, .name = f->subject};
    int rc;
    if (!f->subject) {
        if (err)
            buf_addstr(err, "store: a fact needs a subject");
        return -EINVAL;
    }
    /* What a fact is about is mentioned by its episode. */
    rc = store__mention_add(st, c, episode_id, seen_at, &m, &r.subject_id, err);
    if (!rc && f->object) {
        m.type = f->object_type;
        m.name = f->object;
        rc = store__mention_add(st, c, episode_id, seen_at, &m, &r.object_id, err);
    }
    if (!rc) {
        int64_t id;
        rc = store__relation_add(st, c, &r, &episode_id, 1,
                                 f->ends_previous ? STORE_REL_END_PREVIOUS : 0, &id, err);
    }
    return rc;
}

/* ---- Public wrappers ---------------------------------------------------- */

int store_entity_resolve(struct store *st, const char *type, const char *name, int64_t seen_at,
                         int64_t *id, struct buf *err)
{
    int rc;
    struct conn *c = store__write_begin(st, &rc, err);
    if (!c)
        return rc;
    rc = store__entity_resolve(st, c, type, name, seen_at, id, err);
    return store__write_end(st, c, rc, err);
}

int store_entity_find(struct store *st, const char *name, const char *type, int64_t *id,
                      struct buf *err)
{
    struct buf key = BUF_INIT;
    struct conn *c = store__acquire(st, err);
    if (!c)
        return -EIO;
    translit_key(name, strlen(name), &key);
    int rc = key.len ? find_by_key(c, key.data, type, id, err) : -ENOENT;
    if (rc == -ENOENT && err)
        buf_addf(err, "store: no entity named '%s'", name);
    buf_release(&key);
    store__release(st, c);
    return rc;
}

int store_entity_add_alias(struct store *st, int64_t id, const char *alias, struct buf *err)
{
    struct buf key = BUF_INIT;
    struct conn *c = store__acquire(st, err);
    if (!c)
        return -EIO;
    int rc = 0;
    translit_key(alias, strlen(alias), &key);
    if (!key.len) {
        if (err)
            buf_addf(err, "store: alias '%s' has no letters or digits", alias);
        rc = -EINVAL;
        goto out;
    }
    rc = alias_add(c, id, alias, key.data, err);
    if (rc == -EINVAL && err) /* the foreign key */
        buf_addf(err, " (entity %lld)", (long long)id);
out:
    buf_release(&key);
    store__release(st, c);
    return rc;
}

int store_entity_merge(struct store *st, int64_t keep, int64_t drop, struct buf *err)
{
    if (keep == drop) {
        if (err)
            buf_addstr(err, "store: cannot merge an entity into itself");
        return -EINVAL;
    }
    int rc, src;
    struct conn *c = store__write_begin(st, &rc, err);
    if (!c)
        return rc;
    static const char *const steps[] = {
        "UPDATE OR IGNORE entity_aliases SET entity_id = ?1 WHERE entity_id = ?2",
        "UPDATE OR IGNORE mentions SET entity_id = ?1 WHERE entity_id = ?2",
        "UPDATE relations SET subject_id = ?1 WHERE subject_id = ?2",
        "UPDATE relations SET object_id = ?1 WHERE object_id = ?2",
        "UPDATE entities SET"
        " first_seen = (SELECT min(coalesce(a.first_seen, b.first_seen),"
        "   coalesce(b.first_seen, a.first_seen)) FROM entities a, entities b"
        "   WHERE a.id = ?1 AND b.id = ?2),"
        " last_seen = (SELECT max(coalesce(a.last_seen, b.last_seen),"
        "   coalesce(b.last_seen, a.last_seen)) FROM entities a, entities b"
        "   WHERE a.id = ?1 AND b.id = ?2)"
        " WHERE id = ?1 AND EXISTS (SELECT 1 FROM entities WHERE id = ?2)",
        "DELETE FROM entities WHERE id = ?2",
    };
    for (size_t i = 0; i < ARRAY_SIZE(steps) && !rc; i++) {
        sqlite3_stmt *s;
        src = sqlite3_prepare_v2(c->db, steps[i], -1, &s, NULL);
        if (src != SQLITE_OK) {
            rc = store__error(c, src, "merge", err);
            break;
        }
        sqlite3_bind_int64(s, 1, keep);
        sqlite3_bind_int64(s, 2, drop);
        src = sqlite3_step(s);
        if (src != SQLITE_DONE)
            rc = store__error(c, src, "merge", err);
        else if (i == ARRAY_SIZE(steps) - 1 && sqlite3_changes(c->db) == 0) {
            rc = -ENOENT;
            if (err)
                buf_addf(err, "store: no entity %lld", (long long)drop);
        }
        sqlite3_finalize(s);
    }
    return store__write_end(st, c, rc, err);
}

int store_entity_get(struct store *st, int64_t id, struct store_entity *e, struct buf *err)
{
    struct conn *c = store__acquire(st, err);
    if (!c)
        return -EIO;
    int rc = 0, src;
    size_t cap = 0;
    memset(e, 0, sizeof(*e));
    sqlite3_stmt *s = store__stmt(c, SQL_ENT_GET, err);
    if (!s) {
        rc = -EIO;
        goto out;
    }
    sqlite3_bind_int64(s, 1, id);
    src = sqlite3_step(s);
    if (src != SQLITE_ROW) {
        rc = src == SQLITE_DONE ? -ENOENT : store__error(c, src, "read entity", err);
        if (rc == -ENOENT && err)
            buf_addf(err, "store: no entity %lld", (long long)id);
        goto out;
    }
    e->id = sqlite3_column_int64(s, 0);
    e->type = store__col_text(s, 1);
    e->name = store__col_text(s, 2);
    e->first_seen = store__col_time(s, 3);
    e->last_seen = store__col_time(s, 4);
    s = store__stmt(c, SQL_ALIAS_LIST, err);
    if (!s) {
        rc = -EIO;
        goto out;
    }
    sqlite3_bind_int64(s, 1, id);
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        ALLOC_GROW(e->aliases, e->naliases + 1, cap);
        struct store_alias *a = &e->aliases[e->naliases++];
        a->alias = store__col_text(s, 0);
        a->key = store__col_text(s, 1);
        a->script = store__col_text(s, 2);
    }
    if (src != SQLITE_DONE)
        rc = store__error(c, src, "read aliases", err);
out:
    if (rc)
        store_entity_release(e);
    store__release(st, c);
    return rc;
}

void store_entity_release(struct store_entity *e)
{
    for (size_t i = 0; i < e->naliases; i++) {
        free(e->aliases[i].alias);
        free(e->aliases[i].key);
        free(e->aliases[i].script);
    }
    free(e->aliases);
    free(e->type);
    free(e->name);
    memset(e, 0, sizeof(*e));
}

int store_relation_add(struct store *st, const struct store_relation_new *r,
                       const int64_t *episodes, size_t nepisodes, unsigned flags, int64_t *id,
                       struct buf *err)
{
    int rc;
    struct conn *c = store__write_begin(st, &rc, err);
    if (!c)
        return rc;
    rc = store__relation_add(st, c, r, episodes, nepisodes, flags, id, err);
    return store__write_end(st, c, rc, err);
}

int store_relation_end(struct store *st, int64_t id, int64_t valid_until, int64_t *new_id,
                       struct buf *err)
{
    int rc;
    struct conn *c = store__write_begin(st, &rc, err);
    if (!c)
        return rc;
    rc = relation_end(st, c, id, valid_until, new_id, err);
    return store__write_end(st, c, rc, err);
}

int store_relation_retract(struct store *st, int64_t id, struct buf *err)
{
    struct conn *c = store__acquire(st, err);
    if (!c)
        return -EIO;
    int rc = relation_retract(st, c, id, err);
    if (!rc && sqlite3_changes(c->db) == 0) {
        /* Nothing changed: retracted already, or no such relation. */
        sqlite3_stmt *s = store__stmt(c, SQL_REL_GET, err);
        if (!s) {
            rc = -EIO;
            goto out;
        }
        sqlite3_bind_int64(s, 1, id);
        rc = sqlite3_step(s) == SQLITE_ROW ? -ESTALE : -ENOENT;
        if (err)
            buf_addf(err, "store: relation %lld %s", (long long)id,
                     rc == -ESTALE ? "was retracted already" : "does not exist");
    }
out:
    store__release(st, c);
    return rc;
}

int store_relations(struct store *st, const struct store_relq *q, struct store_relation **out,
                    size_t *n, struct buf *err)
{
    struct buf sql = BUF_INIT;
    sqlite3_stmt *s = NULL;
    size_t cap = 0;
    int rc = 0, src, i = 1;
    *out = NULL;
    *n = 0;
    struct conn *c = store__acquire(st, err);
    if (!c)
        return -EIO;

    buf_addstr(&sql, "SELECT id, subject_id, predicate, object_id, object_value, unit,"
                     " value_num, fact, attrs_json, valid_from, valid_until, learned_at,"
                     " retracted_at, replaces_id FROM relations WHERE 1");
    if (q->subject_id)
        buf_addstr(&sql, " AND subject_id = :subject");
    if (q->predicate)
        buf_addstr(&sql, " AND predicate = :predicate");
    if (q->known_at == STORE_TIME_NONE)
        buf_addstr(&sql, " AND retracted_at IS NULL");
    else
        buf_addstr(&sql, " AND learned_at <= :known AND (retracted_at IS NULL OR"
                         " retracted_at > :known)");
    if (q->world_at != STORE_TIME_NONE)
        buf_addstr(&sql, " AND (valid_from IS NULL OR valid_from <= :world)"
                         " AND (valid_until IS NULL OR valid_until > :world)");
    buf_addstr(&sql, " ORDER BY coalesce(valid_from, learned_at), id");
    src = sqlite3_prepare_v2(c->db, sql.data, -1, &s, NULL);
    if (src != SQLITE_OK) {
        rc = store__error(c, src, "prepare relations query", err);
        goto out;
    }
    if ((i = sqlite3_bind_parameter_index(s, ":subject")))
        sqlite3_bind_int64(s, i, q->subject_id);
    if ((i = sqlite3_bind_parameter_index(s, ":predicate")))
        store__bind_text(s, i, q->predicate);
    if ((i = sqlite3_bind_parameter_index(s, ":known")))
        sqlite3_bind_int64(s, i, q->known_at);
    if ((i = sqlite3_bind_parameter_index(s, ":world")))
        sqlite3_bind_int64(s, i, q->world_at);
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        ALLOC_GROW(*out, *n + 1, cap);
        relation_read(s, &(*out)[(*n)++]);
    }
    if (src != SQLITE_DONE) {
        rc = store__error(c, src, "query relations", err);
        goto out;
    }
    for (size_t k = 0; k < *n && !rc; k++) {
        struct store_relation *r = &(*out)[k];
        size_t ecap = 0;
        sqlite3_stmt *e = store__stmt(c, SQL_REL_EPISODES, err);
        if (!e) {
            rc = -EIO;
            break;
        }
        sqlite3_bind_int64(e, 1, r->id);
        while ((src = sqlite3_step(e)) == SQLITE_ROW) {
            ALLOC_GROW(r->episodes, r->nepisodes + 1, ecap);
            r->episodes[r->nepisodes++] = sqlite3_column_int64(e, 0);
        }
        if (src != SQLITE_DONE)
            rc = store__error(c, src, "relation episodes", err);
    }
out:
    if (rc) {
        store_relations_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    sqlite3_finalize(s);
    buf_release(&sql);
    store__release(st, c);
    return rc;
}

void store_relations_free(struct store_relation *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        relation_release(&v[i]);
    free(v);
}
