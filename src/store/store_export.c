/* SPDX-License-Identifier: MIT */
/*
 * store_export.c: the whole store as JSON Lines, for Graphiti and Neo4j.
 *
 * One JSON object per line, nodes before edges so that a line-by-line
 * importer always finds both ends of an edge:
 *
 *   {"type":"episode",  ...}  Graphiti EpisodicNode
 *   {"type":"entity",   ...}  Graphiti EntityNode, with "aliases"
 *   {"type":"mention",  ...}  Graphiti EpisodicEdge (MENTIONS)
 *   {"type":"relation", ...}  Graphiti EntityEdge, both time axes and the
 *                             supporting episodes
 *
 * Field names follow Graphiti where it has one (uuid, name, group_id,
 * valid_at, invalid_at, created_at, expired_at, source_node_uuid,
 * target_node_uuid, episodes); hermod's own fields ride along. Times are
 * RFC 3339 UTC strings, each with an exact *_ms twin. The mapping table and
 * a Cypher import are in docs/internals/store.md, "Export".
 *
 * DESIGN
 * Everything is read inside one read transaction on one connection, so the
 * export is a consistent snapshot even while the daemon writes (WAL lets
 * it); the daemon's writes are not blocked.
 */
#include "store/store.h"

#include <ctype.h>
#include <errno.h>

#include <jansson.h>

#include "lib/clock.h"
#include "lib/xalloc.h"
#include "store/store_int.h"

#define GROUP_ID "hermod"

/* Sets name to the time as RFC 3339 text and name_ms to the ms, both null
 * for an unknown (STORE_TIME_NONE) or negative time. */
static void set_time(json_t *o, const char *name, int64_t ms)
{
    char key[64];
    snprintf(key, sizeof(key), "%s_ms", name);
    json_object_set_new(o, name, ms >= 0 ? store_time_json(ms) : json_null());
    json_object_set_new(o, key, ms >= 0 ? json_integer(ms) : json_null());
}

static json_t *col_str(sqlite3_stmt *s, int i)
{
    const char *t = (const char *)sqlite3_column_text(s, i);
    return t ? json_string(t) : json_null();
}

/* A column holding JSON text as a JSON value (a string if it does not
 * parse, null if NULL). */
static json_t *col_json(sqlite3_stmt *s, int i)
{
    const char *t = (const char *)sqlite3_column_text(s, i);
    if (!t)
        return json_null();
    json_t *j = json_loads(t, JSON_DECODE_ANY, NULL);
    return j ? j : json_string(t);
}

static json_t *uuid(const char *what, int64_t id)
{
    char u[64];
    snprintf(u, sizeof(u), "hermod:%s:%lld", what, (long long)id);
    return json_string(u);
}

static int emit(FILE *out, json_t *o, struct buf *err)
{
    char *line = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!line || fputs(line, out) == EOF || fputc('\n', out) == EOF) {
        free(line);
        if (err)
            buf_addf(err, "store: export: write failed: %s", strerror(errno));
        return -EIO;
    }
    free(line);
    return 0;
}

/* "health_value" -> "HealthValue", the label Neo4j gets. */
static json_t *label_of(const char *type)
{
    struct buf b = BUF_INIT;
    bool up = true;
    for (const char *p = type; *p; p++) {
        if (*p == '_') {
            up = true;
            continue;
        }
        buf_addch(&b, up ? (char)toupper((unsigned char)*p) : *p);
        up = false;
    }
    json_t *j = json_string(buf_cstr(&b));
    buf_release(&b);
    return j;
}

static json_t *upper(const char *s)
{
    char *u = xstrdup(s);
    for (char *p = u; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    json_t *j = json_string(u);
    free(u);
    return j;
}

static int prepare(struct conn *c, const char *sql, sqlite3_stmt **s, struct buf *err)
{
    int src = sqlite3_prepare_v2(c->db, sql, -1, s, NULL);
    return src == SQLITE_OK ? 0 : store__error(c, src, "export: prepare", err);
}

static int episodes(struct conn *c, FILE *out, struct buf *err)
{
    sqlite3_stmt *s;
    int rc = prepare(c,
                     "SELECT id, content_hash, kind, source, captured_at, ingested_at, language,"
                     " model, engine, status, error, attempts, raw_json, description, ocr_text,"
                     " transcript, extract_json, media_json FROM episodes ORDER BY id",
                     &s, err),
        src;
    if (rc)
        return rc;
    while (!rc && (src = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(s, 0);
        const char *kind = (const char *)sqlite3_column_text(s, 2);
        const char *source = (const char *)sqlite3_column_text(s, 3);
        const char *model = (const char *)sqlite3_column_text(s, 7);
        const char *raw = (const char *)sqlite3_column_text(s, 12);
        char t[40], name[96], desc[256];
        clock_fmt_rfc3339((uint64_t)sqlite3_column_int64(s, 4), t, sizeof(t));
        snprintf(name, sizeof(name), "%s %s", kind, t);
        snprintf(desc, sizeof(desc), "hermod %s%s%s%s%s", kind, source ? " from " : "",
                 source ? source : "", model ? " via " : "", model ? model : "");
        struct buf content = BUF_INIT;
        for (int i = 13; i <= 15; i++) {
            const char *x = (const char *)sqlite3_column_text(s, i);
            if (x && *x)
                buf_addf(&content, "%s%s", content.len ? "\n" : "", x);
        }

        json_t *o = json_object();
        json_object_set_new(o, "type", json_string("episode"));
        json_object_set_new(o, "uuid", uuid("episode", id));
        json_object_set_new(o, "id", json_integer(id));
        json_object_set_new(o, "name", json_string(name));
        json_object_set_new(o, "group_id", json_string(GROUP_ID));
        /* Graphiti: source is the episode type, content its body. */
        json_object_set_new(o, "source", json_string(raw ? "json" : "text"));
        json_object_set_new(o, "source_description", json_string(desc));
        json_object_set_new(o, "content", json_string(raw ? raw : buf_cstr(&content)));
        set_time(o, "valid_at", sqlite3_column_int64(s, 4));
        set_time(o, "created_at", sqlite3_column_int64(s, 5));
        json_object_set_new(o, "kind", json_string(kind));
        json_object_set_new(o, "content_hash", col_str(s, 1));
        json_object_set_new(o, "source_label", col_str(s, 3));
        json_object_set_new(o, "language", col_str(s, 6));
        json_object_set_new(o, "model", col_str(s, 7));
        json_object_set_new(o, "engine", col_str(s, 8));
        json_object_set_new(o, "status", col_str(s, 9));
        json_object_set_new(o, "error", col_str(s, 10));
        json_object_set_new(o, "attempts", json_integer(sqlite3_column_int(s, 11)));
        json_object_set_new(o, "description", col_str(s, 13));
        json_object_set_new(o, "ocr_text", col_str(s, 14));
        json_object_set_new(o, "transcript", col_str(s, 15));
        json_object_set_new(o, "extract", col_json(s, 16));
        json_object_set_new(o, "media", col_json(s, 17));
        buf_release(&content);
        rc = emit(out, o, err);
    }
    if (!rc && src != SQLITE_DONE)
        rc = store__error(c, src, "export episodes", err);
    sqlite3_finalize(s);
    return rc;
}

static int entities(struct conn *c, FILE *out, struct buf *err)
{
    sqlite3_stmt *s, *a = store__stmt(c, SQL_ALIAS_LIST, err);
    if (!a)
        return -EIO;
    int rc = prepare(c, "SELECT id, type, name, first_seen, last_seen FROM entities ORDER BY id",
                     &s, err),
        src;
    if (rc)
        return rc;
    while (!rc && (src = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(s, 0);
        const char *type = (const char *)sqlite3_column_text(s, 1);
        json_t *o = json_object(), *labels = json_array(), *aliases = json_array();
        json_array_append_new(labels, json_string("Entity"));
        json_array_append_new(labels, label_of(type));
        sqlite3_reset(a);
        sqlite3_bind_int64(a, 1, id);
        while ((src = sqlite3_step(a)) == SQLITE_ROW) {
            json_t *al = json_object();
            json_object_set_new(al, "alias", col_str(a, 0));
            json_object_set_new(al, "key", col_str(a, 1));
            json_object_set_new(al, "script", col_str(a, 2));
            json_array_append_new(aliases, al);
        }
        json_object_set_new(o, "type", json_string("entity"));
        json_object_set_new(o, "uuid", uuid("entity", id));
        json_object_set_new(o, "id", json_integer(id));
        json_object_set_new(o, "name", col_str(s, 2));
        json_object_set_new(o, "group_id", json_string(GROUP_ID));
        json_object_set_new(o, "labels", labels);
        json_object_set_new(o, "entity_type", json_string(type));
        json_object_set_new(o, "summary", json_string(""));
        set_time(o, "created_at", store__col_time(s, 3));
        set_time(o, "first_seen", store__col_time(s, 3));
        set_time(o, "last_seen", store__col_time(s, 4));
        json_object_set_new(o, "aliases", aliases);
        if (src != SQLITE_DONE) {
            json_decref(o);
            rc = store__error(c, src, "export aliases", err);
            break;
        }
        rc = emit(out, o, err);
    }
    if (!rc && src != SQLITE_DONE)
        rc = store__error(c, src, "export entities", err);
    sqlite3_finalize(s);
    return rc;
}

static int mentions(struct conn *c, FILE *out, struct buf *err)
{
    sqlite3_stmt *s;
    int rc = prepare(c,
                     "SELECT m.episode_id, m.entity_id, m.surface, e.ingested_at FROM mentions m"
                     " JOIN episodes e ON e.id = m.episode_id ORDER BY m.episode_id, m.entity_id,"
                     " m.surface",
                     &s, err),
        src;
    if (rc)
        return rc;
    json_t *o = NULL, *surfaces = NULL;
    int64_t ep = -1, ent = -1;
    while (!rc && (src = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t e1 = sqlite3_column_int64(s, 0), e2 = sqlite3_column_int64(s, 1);
        if (o && (e1 != ep || e2 != ent)) {
            rc = emit(out, o, err);
            o = NULL;
        }
        if (!o) {
            char u[96];
            ep = e1;
            ent = e2;
            snprintf(u, sizeof(u), "hermod:mention:%lld:%lld", (long long)ep, (long long)ent);
            o = json_object();
            surfaces = json_array();
            json_object_set_new(o, "type", json_string("mention"));
            json_object_set_new(o, "uuid", json_string(u));
            json_object_set_new(o, "name", json_string("MENTIONS"));
            json_object_set_new(o, "group_id", json_string(GROUP_ID));
            json_object_set_new(o, "source_node_uuid", uuid("episode", ep));
            json_object_set_new(o, "target_node_uuid", uuid("entity", ent));
            json_object_set_new(o, "episode_id", json_integer(ep));
            json_object_set_new(o, "entity_id", json_integer(ent));
            set_time(o, "created_at", sqlite3_column_int64(s, 3));
            json_object_set_new(o, "surfaces", surfaces);
        }
        json_array_append_new(surfaces, col_str(s, 2));
    }
    if (!rc && o)
        rc = emit(out, o, err);
    else
        json_decref(o);
    if (!rc && src != SQLITE_DONE)
        rc = store__error(c, src, "export mentions", err);
    sqlite3_finalize(s);
    return rc;
}

static int relations(struct conn *c, FILE *out, struct buf *err)
{
    sqlite3_stmt *s, *e = store__stmt(c, SQL_REL_EPISODES, err);
    if (!e)
        return -EIO;
    int rc = prepare(c,
                     "SELECT id, subject_id, predicate, object_id, object_value, unit, value_num,"
                     " fact, attrs_json, valid_from, valid_until, learned_at, retracted_at,"
                     " replaces_id FROM relations ORDER BY id",
                     &s, err),
        src;
    if (rc)
        return rc;
    while (!rc && (src = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(s, 0);
        json_t *o = json_object(), *eps = json_array(), *epids = json_array();
        sqlite3_reset(e);
        sqlite3_bind_int64(e, 1, id);
        while ((src = sqlite3_step(e)) == SQLITE_ROW) {
            int64_t ep = sqlite3_column_int64(e, 0);
            json_array_append_new(eps, uuid("episode", ep));
            json_array_append_new(epids, json_integer(ep));
        }
        json_object_set_new(o, "type", json_string("relation"));
        json_object_set_new(o, "uuid", uuid("relation", id));
        json_object_set_new(o, "id", json_integer(id));
        json_object_set_new(o, "name", upper((const char *)sqlite3_column_text(s, 2)));
        json_object_set_new(o, "predicate", col_str(s, 2));
        json_object_set_new(o, "group_id", json_string(GROUP_ID));
        json_object_set_new(o, "fact", col_str(s, 7));
        json_object_set_new(o, "source_node_uuid", uuid("entity", sqlite3_column_int64(s, 1)));
        json_object_set_new(o, "subject_id", json_integer(sqlite3_column_int64(s, 1)));
        if (sqlite3_column_type(s, 3) != SQLITE_NULL) {
            json_object_set_new(o, "target_node_uuid",
                                uuid("entity", sqlite3_column_int64(s, 3)));
            json_object_set_new(o, "object_id", json_integer(sqlite3_column_int64(s, 3)));
        } else {
            json_object_set_new(o, "target_node_uuid", json_null());
            json_object_set_new(o, "object_id", json_null());
        }
        json_object_set_new(o, "value", col_str(s, 4));
        json_object_set_new(o, "unit", col_str(s, 5));
        json_object_set_new(o, "value_num", sqlite3_column_type(s, 6) == SQLITE_NULL
                                                ? json_null()
                                                : json_real(sqlite3_column_double(s, 6)));
        json_object_set_new(o, "attributes", col_json(s, 8));
        /* world time */
        set_time(o, "valid_at", store__col_time(s, 9));
        set_time(o, "invalid_at", store__col_time(s, 10));
        /* belief time */
        set_time(o, "created_at", store__col_time(s, 11));
        set_time(o, "expired_at", store__col_time(s, 12));
        json_object_set_new(o, "replaces_uuid", sqlite3_column_type(s, 13) == SQLITE_NULL
                                                    ? json_null()
                                                    : uuid("relation",
                                                           sqlite3_column_int64(s, 13)));
        json_object_set_new(o, "episodes", eps);
        json_object_set_new(o, "episode_ids", epids);
        if (src != SQLITE_DONE) {
            json_decref(o);
            rc = store__error(c, src, "export relation episodes", err);
            break;
        }
        rc = emit(out, o, err);
    }
    if (!rc && src != SQLITE_DONE)
        rc = store__error(c, src, "export relations", err);
    sqlite3_finalize(s);
    return rc;
}

int store_export_jsonl(struct store *st, FILE *out, struct buf *err)
{
    struct conn *c = store__acquire(st, err);
    if (!c)
        return -EIO;
    /* A read transaction: one snapshot for all four passes. */
    int src = sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL);
    int rc = src == SQLITE_OK ? 0 : store__error(c, src, "export: begin", err);
    if (!rc)
        rc = episodes(c, out, err);
    if (!rc)
        rc = entities(c, out, err);
    if (!rc)
        rc = mentions(c, out, err);
    if (!rc)
        rc = relations(c, out, err);
    if (src == SQLITE_OK)
        sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
    if (!rc && fflush(out) == EOF) {
        rc = -EIO;
        if (err)
            buf_addf(err, "store: export: %s", strerror(errno));
    }
    store__release(st, c);
    return rc;
}
