/* Unit tests for the store: schema and migrations, episodes and their
 * status, cross-script entities, bi-temporal relations, typed results,
 * search (ranking, time words, filters, both scripts), export, the CLI,
 * threads, and durability across kill -9. Each test gets a fresh database
 * in its own temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/xalloc.h"
#include "store/store.h"
#include "store/store_int.h"
#include "text/timeparse.h"

#define MIN 60000LL
#define HOUR 3600000LL
#define DAY 86400000LL
#define IST 330
/* Wednesday 2026-11-25 15:30 IST */
#define NOW 1795600800000LL

static int64_t fake_now = NOW;
static int64_t test_clock(void)
{
    return fake_now;
}

/* ms of a local IST time */
static int64_t ist(int y, unsigned m, unsigned d, int h, int mi)
{
    return timeparse_days_from_civil(y, m, d) * DAY + h * HOUR + mi * MIN - IST * MIN;
}

struct fx {
    char dir[64];
    char path[128];
    struct store *st;
};

static void rm_rf(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char *p = xasprintf("%s/%s", path, e->d_name);
            rm_rf(p);
            free(p);
        }
        closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static struct store *open_test_store(const char *path)
{
    struct store_options o = {.now_ms = test_clock, .tz_min = IST, .tz_set = true};
    struct store *st = NULL;
    struct buf err = BUF_INIT;
    int rc = store_open_opts(path, &o, &st, &err);
    if (rc)
        print_error("store_open: %s\n", buf_cstr(&err));
    assert_int_equal(rc, 0);
    buf_release(&err);
    return st;
}

static int setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof(*f));
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof(f->dir), "%s/hermod-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof(f->path), "%s/memory.db", f->dir);
    fake_now = NOW;
    f->st = open_test_store(f->path);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    store_close(f->st);
    rm_rf(f->dir);
    free(f);
    return 0;
}

/* Adds a done episode. */
static int64_t add_done(struct store *st, const char *hash, enum store_kind kind,
                        int64_t captured, const char *description, const char *ocr,
                        const struct store_mention *m, size_t nm)
{
    struct store_episode_new e = {
        .content_hash = hash, .kind = kind, .source = "test", .captured_at = captured,
        .ingested_at = STORE_TIME_NONE,
    };
    struct store_result r = {
        .model = "qwen3.5-vl", .engine = "llama-server", .language = "en",
        .description = description, .ocr_text = ocr, .mentions = m, .nmentions = nm,
    };
    struct buf err = BUF_INIT;
    int64_t id;
    int rc = store_episode_add(st, &e, &id, NULL, &err);
    if (!rc)
        rc = store_episode_complete(st, id, &r, &err);
    if (rc)
        print_error("add_done %s: %s\n", hash, buf_cstr(&err));
    assert_int_equal(rc, 0);
    buf_release(&err);
    return id;
}

/* Unrelated episodes, so that BM25 has document frequencies to work with. */
static void add_filler(struct store *st, int n)
{
    static const char *const texts[] = {
        "A screenshot of a chat about the cricket match score",
        "Receipt from the pharmacy for cough syrup and vitamins",
        "Whiteboard with the sprint plan and three boxes",
        "Photo of a cat sleeping on the sofa near the window",
        "Video of kids playing in the rain on the terrace",
        "Lab report page with blood sugar values",
        "Screenshot of a train ticket to Hubballi",
        "Photo of the new bicycle in the parking lot",
    };
    for (int i = 0; i < n; i++) {
        char h[32];
        snprintf(h, sizeof(h), "filler-%d", i);
        add_done(st, h, STORE_KIND_OTHER, NOW - (40 + i) * DAY, texts[i % 8], NULL, NULL, 0);
    }
}

static void search(struct store *st, const char *text, struct store_query *q,
                   struct store_hits *h)
{
    struct buf err = BUF_INIT;
    struct store_query dq = {.since = STORE_TIME_NONE, .until = STORE_TIME_NONE};
    if (!q)
        q = &dq;
    q->text = text;
    q->now = NOW;
    q->tz_min = IST;
    int rc = store_search(st, q, h, &err);
    if (rc)
        print_error("search '%s': %s\n", text ? text : "(none)", buf_cstr(&err));
    assert_int_equal(rc, 0);
    buf_release(&err);
}

static bool hits_have(const struct store_hits *h, int64_t id)
{
    for (size_t i = 0; i < h->n; i++)
        if (h->v[i].id == id)
            return true;
    return false;
}

/* ---- Schema ------------------------------------------------------------ */

static void test_open_schema(void **state)
{
    struct fx *f = *state;
    sqlite3 *db;
    sqlite3_stmt *s;
    struct stat sb;
    assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), STORE_SCHEMA_VERSION);
    sqlite3_finalize(s);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    sqlite3_close(db);
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* a second handle on the same file opens without migrating again */
    struct store *two = open_test_store(f->path);
    store_close(two);
    store_close(NULL);
}

static void test_kind_names(void **state)
{
    enum store_kind k;
    for (unsigned i = 0; i < STORE_KIND__COUNT; i++) {
        assert_int_equal(store_kind_parse(store_kind_name(i), &k), 0);
        assert_int_equal(k, i);
    }
    assert_int_equal(store_kind_parse("selfie", &k), -EINVAL);
    assert_string_equal(store_kind_name(STORE_KIND_LAB_REPORT), "lab_report");
}

/* ---- Episodes ----------------------------------------------------------- */

static void test_idempotent_hash(void **state)
{
    struct fx *f = *state;
    struct store_episode_new e = {.content_hash = "sha256:aa", .kind = STORE_KIND_PHOTO,
                                  .captured_at = NOW, .ingested_at = STORE_TIME_NONE};
    int64_t a, b;
    bool existed = true;
    assert_int_equal(store_episode_add(f->st, &e, &a, &existed, NULL), 0);
    assert_false(existed);
    e.kind = STORE_KIND_VIDEO; /* the hash decides, nothing else */
    assert_int_equal(store_episode_add(f->st, &e, &b, &existed, NULL), 0);
    assert_true(existed);
    assert_true(a == b);
    struct store_episode ep;
    assert_int_equal(store_episode_get(f->st, a, &ep, NULL), 0);
    assert_int_equal(ep.kind, STORE_KIND_PHOTO);
    assert_true(ep.ingested_at == NOW);
    store_episode_release(&ep);

    struct buf err = BUF_INIT;
    e.content_hash = "";
    assert_int_equal(store_episode_add(f->st, &e, &a, NULL, &err), -EINVAL);
    assert_true(err.len > 0);
    buf_release(&err);
}

static void test_status_transitions(void **state)
{
    struct fx *f = *state;
    struct store_episode_new e = {.content_hash = "h1", .kind = STORE_KIND_RECEIPT,
                                  .captured_at = NOW - HOUR, .ingested_at = STORE_TIME_NONE};
    struct store_episode ep;
    struct store_hits h;
    int64_t id, *ids;
    size_t n;
    assert_int_equal(store_episode_add(f->st, &e, &id, NULL, NULL), 0);
    assert_int_equal(store_episode_get(f->st, id, &ep, NULL), 0);
    assert_int_equal(ep.status, STORE_PENDING);
    assert_int_equal(ep.attempts, 0);
    assert_null(ep.description);
    store_episode_release(&ep);

    /* the model call fails: still pending, retryable */
    assert_int_equal(store_episode_fail(f->st, id, "engine timed out", false, 3, NULL), 0);
    assert_int_equal(store_episode_get(f->st, id, &ep, NULL), 0);
    assert_int_equal(ep.status, STORE_PENDING);
    assert_int_equal(ep.attempts, 1);
    assert_string_equal(ep.error, "engine timed out");
    store_episode_release(&ep);
    assert_int_equal(store_episode_pending(f->st, 10, &ids, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_true(ids[0] == id);
    free(ids);

    /* a failed result that cannot be stored leaves it as it was */
    struct store_result bad = {.description = "Bill from Mylari", .extract_json = "[1,2]"};
    assert_int_equal(store_episode_complete(f->st, id, &bad, NULL), -EINVAL);
    assert_int_equal(store_episode_get(f->st, id, &ep, NULL), 0);
    assert_int_equal(ep.status, STORE_PENDING);
    assert_null(ep.description);
    store_episode_release(&ep);
    search(f->st, "Mylari", NULL, &h);
    assert_int_equal(h.n, 0);
    store_hits_release(&h);

    /* a half-valid fact rolls back the whole result, index included */
    struct store_fact half = {.subject_type = "person", .subject = "Rajesh",
                              .predicate = "paid", .valid_from = STORE_TIME_NONE,
                              .valid_until = STORE_TIME_NONE}; /* no object, no value */
    struct store_result r2 = {.description = "Bill from Mylari", .facts = &half, .nfacts = 1};
    assert_int_equal(store_episode_complete(f->st, id, &r2, NULL), -EINVAL);
    int64_t ent;
    assert_int_equal(store_entity_find(f->st, "Rajesh", NULL, &ent, NULL), -ENOENT);
    search(f->st, "Mylari", NULL, &h);
    assert_int_equal(h.n, 0);
    store_hits_release(&h);

    /* the retry succeeds */
    struct store_result ok = {.model = "m", .description = "Bill from Mylari for two dosas"};
    assert_int_equal(store_episode_complete(f->st, id, &ok, NULL), 0);
    assert_int_equal(store_episode_get(f->st, id, &ep, NULL), 0);
    assert_int_equal(ep.status, STORE_DONE);
    assert_int_equal(ep.attempts, 2);
    assert_null(ep.error);
    assert_string_equal(ep.model, "m");
    store_episode_release(&ep);
    search(f->st, "Mylari", NULL, &h);
    assert_int_equal(h.n, 1);
    store_hits_release(&h);
    assert_int_equal(store_episode_pending(f->st, 10, &ids, &n, NULL), 0);
    assert_int_equal(n, 0);
    free(ids);

    /* done stays done */
    assert_int_equal(store_episode_fail(f->st, id, "late", false, 0, NULL), -EALREADY);
    assert_int_equal(store_episode_fail(f->st, 999, "x", false, 0, NULL), -ENOENT);

    /* re-completing replaces the text in the index */
    struct store_result again = {.description = "Bill from Vidyarthi Bhavan"};
    assert_int_equal(store_episode_complete(f->st, id, &again, NULL), 0);
    search(f->st, "Mylari", NULL, &h);
    assert_int_equal(h.n, 0);
    store_hits_release(&h);
    search(f->st, "Vidyarthi", NULL, &h);
    assert_int_equal(h.n, 1);
    store_hits_release(&h);

    /* attempts run out, or a permanent error: failed */
    e.content_hash = "h2";
    assert_int_equal(store_episode_add(f->st, &e, &id, NULL, NULL), 0);
    assert_int_equal(store_episode_fail(f->st, id, "e1", false, 2, NULL), 0);
    assert_int_equal(store_episode_fail(f->st, id, "e2", false, 2, NULL), 0);
    assert_int_equal(store_episode_get(f->st, id, &ep, NULL), 0);
    assert_int_equal(ep.status, STORE_FAILED);
    store_episode_release(&ep);
    e.content_hash = "h3";
    assert_int_equal(store_episode_add(f->st, &e, &id, NULL, NULL), 0);
    assert_int_equal(store_episode_fail(f->st, id, "unsupported image", true, 0, NULL), 0);
    assert_int_equal(store_episode_get(f->st, id, &ep, NULL), 0);
    assert_int_equal(ep.status, STORE_FAILED);
    store_episode_release(&ep);
    assert_int_equal(store_episode_get(f->st, 12345, &ep, NULL), -ENOENT);
}

/* ---- Entities ----------------------------------------------------------- */

static void test_cross_script_entity(void **state)
{
    struct fx *f = *state;
    struct store_mention m1 = {.type = "person", .name = "ರಾಜೇಶ್"};
    struct store_mention m2 = {.type = "person", .name = "Rajesh", .surface = "RAJESH"};
    struct store_mention m3 = {.type = "merchant", .name = "Rajesh"}; /* a shop */
    struct store_mention m4 = {.type = "person", .name = "Rajesh", .surface = "him"};
    add_done(f->st, "e1", STORE_KIND_SCREENSHOT, NOW - 3 * DAY, "Chat with ರಾಜೇಶ್", NULL, &m1,
             1);
    add_done(f->st, "e2", STORE_KIND_PHOTO, NOW - DAY, "Rajesh at the office", NULL, &m2, 1);
    add_done(f->st, "e3", STORE_KIND_RECEIPT, NOW, "Rajesh Stores bill", NULL, &m3, 1);
    add_done(f->st, "e4", STORE_KIND_PHOTO, NOW, "Lunch with him", NULL, &m4, 1);

    int64_t a, b, shop;
    assert_int_equal(store_entity_find(f->st, "Rajesh", "person", &a, NULL), 0);
    assert_int_equal(store_entity_find(f->st, "ರಾಜೇಶ", "person", &b, NULL), 0);
    assert_true(a == b);
    assert_int_equal(store_entity_find(f->st, "Rajesha", "merchant", &shop, NULL), 0);
    assert_true(shop != a);
    assert_int_equal(store_entity_find(f->st, "Ramesh", NULL, &b, NULL), -ENOENT);

    struct store_entity e;
    assert_int_equal(store_entity_get(f->st, a, &e, NULL), 0);
    assert_string_equal(e.type, "person");
    assert_string_equal(e.name, "ರಾಜೇಶ್"); /* the first name seen */
    assert_true(e.first_seen == NOW - 3 * DAY);
    assert_true(e.last_seen == NOW);
    /* both scripts, the upper-case surface, but not "him" */
    assert_int_equal(e.naliases, 3);
    bool knda = false, latn = false;
    for (size_t i = 0; i < e.naliases; i++) {
        assert_string_equal(e.aliases[i].key, "rajes");
        knda |= !strcmp(e.aliases[i].script, "knda");
        latn |= !strcmp(e.aliases[i].script, "latn");
        assert_string_not_equal(e.aliases[i].alias, "him");
    }
    assert_true(knda && latn);
    store_entity_release(&e);

    /* Bangalore is another name; the key knows it, the alias table too */
    int64_t p1, p2;
    assert_int_equal(store_entity_resolve(f->st, "place", "ಬೆಂಗಳೂರು", NOW, &p1, NULL), 0);
    assert_int_equal(store_entity_resolve(f->st, "place", "Bangalore", NOW, &p2, NULL), 0);
    assert_true(p1 == p2);
    /* a nickname the key cannot know: merge by hand */
    assert_int_equal(store_entity_resolve(f->st, "place", "Namma Ooru", NOW, &p2, NULL), 0);
    assert_true(p1 != p2);
    assert_int_equal(store_entity_merge(f->st, p1, p2, NULL), 0);
    assert_int_equal(store_entity_find(f->st, "namma ooru", "place", &b, NULL), 0);
    assert_true(b == p1);
    assert_int_equal(store_entity_merge(f->st, p1, p2, NULL), -ENOENT);
    assert_int_equal(store_entity_add_alias(f->st, p1, "Silicon City", NULL), 0);
    assert_int_equal(store_entity_find(f->st, "silicon city", NULL, &b, NULL), 0);
    assert_true(b == p1);
    assert_int_equal(store_entity_resolve(f->st, "Place!", "x", NOW, &b, NULL), -EINVAL);
    assert_int_equal(store_entity_resolve(f->st, "place", "...", NOW, &b, NULL), -EINVAL);
}

/* ---- Relations ---------------------------------------------------------- */

static void test_relation_bitemporal(void **state)
{
    struct fx *f = *state;
    int64_t ep1 = add_done(f->st, "r1", STORE_KIND_TRANSCRIPT, ist(2026, 1, 5, 10, 0),
                           "Rajesh says he has lived in Mysuru since 2020", NULL, NULL, 0);
    int64_t ep2 = add_done(f->st, "r2", STORE_KIND_TRANSCRIPT, ist(2026, 7, 1, 10, 0),
                           "Rajesh moved to Bengaluru in June", NULL, NULL, 0);
    int64_t raj, mys, blr, hub, r1, r2, r3;
    assert_int_equal(store_entity_resolve(f->st, "person", "Rajesh", NOW, &raj, NULL), 0);
    assert_int_equal(store_entity_resolve(f->st, "place", "ಮೈಸೂರು", NOW, &mys, NULL), 0);
    assert_int_equal(store_entity_resolve(f->st, "place", "Bengaluru", NOW, &blr, NULL), 0);
    assert_int_equal(store_entity_resolve(f->st, "place", "Hubballi", NOW, &hub, NULL), 0);

    /* learned in January */
    fake_now = ist(2026, 1, 5, 10, 5);
    int64_t learned1 = fake_now;
    struct store_relation_new lives = {
        .subject_id = raj, .predicate = "lives_in", .object_id = mys,
        .fact = "Rajesh lives in Mysuru", .valid_from = ist(2020, 1, 1, 0, 0),
        .valid_until = STORE_TIME_NONE,
    };
    assert_int_equal(store_relation_add(f->st, &lives, &ep1, 1, STORE_REL_END_PREVIOUS, &r1,
                                        NULL),
                     0);
    /* said again: no duplicate, one more supporting episode */
    assert_int_equal(store_relation_add(f->st, &lives, &ep2, 1, 0, &r2, NULL), 0);
    assert_true(r1 == r2);

    /* learned in July: he moved in June */
    fake_now = ist(2026, 7, 1, 10, 5);
    int64_t learned2 = fake_now;
    struct store_relation_new moved = {
        .subject_id = raj, .predicate = "lives_in", .object_id = blr,
        .fact = "Rajesh lives in Bengaluru", .valid_from = ist(2026, 6, 1, 0, 0),
        .valid_until = STORE_TIME_NONE,
    };
    assert_int_equal(store_relation_add(f->st, &moved, &ep2, 1, STORE_REL_END_PREVIOUS, &r3,
                                        NULL),
                     0);

    struct store_relation *v;
    size_t n;
    struct store_relq q = {.subject_id = raj, .predicate = "lives_in",
                           .world_at = ist(2023, 3, 1, 0, 0), .known_at = STORE_TIME_NONE};
    /* where did he live in 2023, as we know now? Mysuru, until June 2026 */
    assert_int_equal(store_relations(f->st, &q, &v, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_true(v[0].object_id == mys);
    assert_true(v[0].valid_until == ist(2026, 6, 1, 0, 0));
    assert_true(v[0].replaces_id == r1);
    assert_true(v[0].learned_at == learned2);
    assert_int_equal(v[0].nepisodes, 2); /* the support moved with it */
    int64_t successor = v[0].id;
    store_relations_free(v, n);

    /* and now? Bengaluru */
    q.world_at = NOW;
    assert_int_equal(store_relations(f->st, &q, &v, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_true(v[0].object_id == blr);
    assert_true(v[0].id == r3);
    assert_true(v[0].valid_until == STORE_TIME_NONE);
    store_relations_free(v, n);

    /* what did hermod believe in March 2026 about now? still Mysuru */
    q.known_at = ist(2026, 3, 1, 0, 0);
    assert_int_equal(store_relations(f->st, &q, &v, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_true(v[0].id == r1);
    assert_true(v[0].valid_until == STORE_TIME_NONE);
    assert_true(v[0].retracted_at == learned2);
    assert_true(v[0].learned_at == learned1);
    store_relations_free(v, n);

    /* the whole history as believed now: Mysuru (ended), Bengaluru */
    q.world_at = STORE_TIME_NONE;
    q.known_at = STORE_TIME_NONE;
    assert_int_equal(store_relations(f->st, &q, &v, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_true(v[0].id == successor && v[1].id == r3);
    store_relations_free(v, n);

    /* an old fact arriving late is closed by the next one */
    fake_now = ist(2026, 8, 1, 0, 0);
    struct store_relation_new old = {
        .subject_id = raj, .predicate = "lives_in", .object_id = hub,
        .valid_from = ist(2012, 1, 1, 0, 0), .valid_until = STORE_TIME_NONE,
    };
    int64_t r4;
    assert_int_equal(store_relation_add(f->st, &old, &ep1, 1, STORE_REL_END_PREVIOUS, &r4, NULL),
                     0);
    q.world_at = ist(2015, 1, 1, 0, 0);
    assert_int_equal(store_relations(f->st, &q, &v, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_true(v[0].object_id == hub);
    assert_true(v[0].valid_until == ist(2020, 1, 1, 0, 0));
    store_relations_free(v, n);

    /* ending, retracting, and their errors */
    int64_t nid;
    assert_int_equal(store_relation_end(f->st, r1, NOW, &nid, NULL), -ESTALE);
    assert_int_equal(store_relation_end(f->st, r3, ist(2020, 1, 1, 0, 0), &nid, NULL), -EINVAL);
    assert_int_equal(store_relation_end(f->st, 999, NOW, &nid, NULL), -ENOENT);
    assert_int_equal(store_relation_end(f->st, r3, ist(2026, 11, 1, 0, 0), &nid, NULL), 0);
    assert_true(nid > r3);
    assert_int_equal(store_relation_retract(f->st, nid, NULL), 0);
    assert_int_equal(store_relation_retract(f->st, nid, NULL), -ESTALE);
    q.world_at = NOW;
    assert_int_equal(store_relations(f->st, &q, &v, &n, NULL), 0);
    assert_int_equal(n, 0); /* nothing believed about where he lives now */
    store_relations_free(v, n);

    struct store_relation_new bad = {.subject_id = raj, .predicate = "age",
                                     .valid_from = STORE_TIME_NONE,
                                     .valid_until = STORE_TIME_NONE};
    assert_int_equal(store_relation_add(f->st, &bad, NULL, 0, 0, &r4, NULL), -EINVAL);
    bad.value = "41";
    bad.attrs_json = "not json";
    assert_int_equal(store_relation_add(f->st, &bad, NULL, 0, 0, &r4, NULL), -EINVAL);
}

static void test_facts_and_typed(void **state)
{
    struct fx *f = *state;
    struct store_fact works = {
        .subject_type = "person", .subject = "ಶ್ರೀನಿವಾಸ್", .predicate = "works_at",
        .object_type = "organisation", .object = "Infosys", .fact = "Srinivas works at Infosys",
        .valid_from = STORE_TIME_NONE, .valid_until = STORE_TIME_NONE,
    };
    struct store_episode_new e = {.content_hash = "t1", .kind = STORE_KIND_RECEIPT,
                                  .captured_at = ist(2026, 11, 20, 21, 0),
                                  .ingested_at = STORE_TIME_NONE};
    struct store_result r = {
        .description = "Restaurant bill",
        .ocr_text = "MYLARI HOTEL Masala Dosa 2 x 60 Coffee 1 x 30 TOTAL 150.00",
        .extract_json = "{\"merchant\":\"Mylari Hotel\",\"date\":\"2026-11-20\","
                        "\"currency\":\"INR\",\"total\":150,\"items\":["
                        "{\"name\":\"Masala Dosa\",\"qty\":2,\"price\":60},"
                        "{\"name\":\"Coffee\",\"qty\":1,\"price\":30}]}",
        .facts = &works, .nfacts = 1,
    };
    struct buf err = BUF_INIT;
    int64_t id, merchant, person, tsh;
    assert_int_equal(store_episode_add(f->st, &e, &id, NULL, NULL), 0);
    assert_int_equal(store_episode_complete(f->st, id, &r, &err), 0);

    assert_int_equal(store_entity_find(f->st, "ಮೈಲಾರಿ ಹೋಟೆಲ್", "merchant", &merchant, NULL), 0);
    struct store_relation *v;
    size_t n;
    struct store_relq q = {.subject_id = merchant, .predicate = "receipt_total",
                           .world_at = STORE_TIME_NONE, .known_at = STORE_TIME_NONE};
    assert_int_equal(store_relations(f->st, &q, &v, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].value, "150.00");
    assert_string_equal(v[0].unit, "INR");
    assert_true(v[0].has_num && v[0].num == 150.0);
    assert_true(v[0].valid_from == ist(2026, 11, 20, 0, 0)); /* the bill's date, in IST */
    assert_int_equal(v[0].nepisodes, 1);
    assert_true(v[0].episodes[0] == id);
    store_relations_free(v, n);
    q.predicate = "sold";
    assert_int_equal(store_relations(f->st, &q, &v, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_non_null(strstr(v[0].attrs_json, "\"qty\""));
    store_relations_free(v, n);

    assert_int_equal(store_entity_find(f->st, "Srinivas", "person", &person, NULL), 0);
    q.subject_id = person;
    q.predicate = "works_at";
    assert_int_equal(store_relations(f->st, &q, &v, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_true(v[0].object_id > 0);
    store_relations_free(v, n);

    /* a lab report: health values with units and ranges */
    struct store_episode_new lab = {.content_hash = "t2", .kind = STORE_KIND_LAB_REPORT,
                                    .captured_at = ist(2026, 11, 12, 9, 0),
                                    .ingested_at = STORE_TIME_NONE};
    struct store_result lr = {
        .description = "Thyroid profile",
        .extract_json = "{\"lab\":\"Anand Diagnostics\",\"date\":\"2026-11-10\",\"tests\":["
                        "{\"test\":\"TSH\",\"value\":6.5,\"unit\":\"mIU/L\","
                        "\"reference_range\":\"0.4-4.0\",\"out_of_range\":true},"
                        "{\"test\":\"T4\",\"value\":\"8.1\",\"unit\":\"ug/dL\"},"
                        "{\"value\":1}]}",
    };
    assert_int_equal(store_episode_add(f->st, &lab, &id, NULL, NULL), 0);
    assert_int_equal(store_episode_complete(f->st, id, &lr, &err), 0);
    assert_int_equal(store_entity_find(f->st, "tsh", "health_value", &tsh, NULL), 0);
    q.subject_id = tsh;
    q.predicate = "measured";
    assert_int_equal(store_relations(f->st, &q, &v, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(v[0].value, "6.5");
    assert_string_equal(v[0].unit, "mIU/L");
    assert_true(v[0].num == 6.5);
    assert_non_null(strstr(v[0].attrs_json, "\"out_of_range\":true"));
    assert_true(v[0].valid_from == ist(2026, 11, 10, 0, 0));
    store_relations_free(v, n);

    /* a whiteboard: tasks, owners, due dates */
    struct store_episode_new wb = {.content_hash = "t3", .kind = STORE_KIND_PHOTO,
                                   .captured_at = NOW, .ingested_at = STORE_TIME_NONE};
    struct store_result wr = {
        .description = "Whiteboard after the planning meeting",
        .extract_json = "{\"type\":\"whiteboard\",\"action_items\":["
                        "{\"text\":\"Send the deck\",\"owner\":\"ರಾಜೇಶ್\",\"due\":\"2026-11-28\"},"
                        "{\"text\":\"Book the hall\"}]}",
    };
    int64_t task, raj;
    assert_int_equal(store_episode_add(f->st, &wb, &id, NULL, NULL), 0);
    assert_int_equal(store_episode_complete(f->st, id, &wr, &err), 0);
    assert_int_equal(store_entity_find(f->st, "Send the deck", "task", &task, NULL), 0);
    assert_int_equal(store_entity_find(f->st, "Rajesh", "person", &raj, NULL), 0);
    q.subject_id = task;
    q.predicate = "assigned_to";
    assert_int_equal(store_relations(f->st, &q, &v, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_true(v[0].object_id == raj);
    store_relations_free(v, n);
    assert_int_equal(store_entity_find(f->st, "Book the hall", "task", &task, NULL), 0);

    /* and the receipt is found by its merchant, in Kannada script */
    struct store_hits h;
    struct store_query sq = {.since = STORE_TIME_NONE, .until = STORE_TIME_NONE,
                             .entity = "ಮೈಲಾರಿ ಹೋಟೆಲ್"};
    search(f->st, NULL, &sq, &h);
    assert_int_equal(h.n, 1);
    assert_int_equal(h.v[0].kind, STORE_KIND_RECEIPT);
    store_hits_release(&h);
    buf_release(&err);
}

/* ---- Search ------------------------------------------------------------- */

static void test_search_ranking(void **state)
{
    struct fx *f = *state;
    add_filler(f->st, 16);
    int64_t a = add_done(f->st, "a", STORE_KIND_PHOTO, NOW - 20 * DAY,
                         "Dinner at Mylari restaurant, the best restaurant for dosa in town",
                         NULL, NULL, 0);
    int64_t b = add_done(f->st, "b", STORE_KIND_PHOTO, NOW - DAY,
                         "Long walk in the park with trees, birds and joggers; passed a "
                         "restaurant on the way home and took photos of the lake at sunset",
                         NULL, NULL, 0);
    int64_t c = add_done(f->st, "c", STORE_KIND_PHOTO, NOW - 3 * DAY,
                         "Filter coffee at the Brahmins coffee bar", NULL, NULL, 0);
    int64_t d = add_done(f->st, "d", STORE_KIND_PHOTO, NOW - 10 * DAY,
                         "Filter coffee at the Brahmins coffee bar", NULL, NULL, 0);
    struct store_hits h;

    /* the better match wins although it is older */
    search(f->st, "restaurant", NULL, &h);
    assert_int_equal(h.n, 2);
    assert_true(h.v[0].id == a);
    assert_true(h.v[1].id == b);
    assert_true(h.v[0].score > h.v[1].score);
    assert_true(h.v[0].relevance > h.v[1].relevance);
    assert_non_null(strstr(h.v[0].snippet, "[restaurant],"));
    store_hits_release(&h);

    /* all words first, then any word */
    search(f->st, "show me the restaurant with dosa", NULL, &h);
    assert_string_equal(h.words, "restaurant dosa");
    assert_int_equal(h.n, 2);
    assert_true(h.v[0].id == a);
    store_hits_release(&h);

    /* equal matches: the newer first */
    search(f->st, "coffee", NULL, &h);
    assert_int_equal(h.n, 2);
    assert_true(h.v[0].id == c && h.v[1].id == d);
    assert_true(h.v[0].relevance == h.v[1].relevance);
    store_hits_release(&h);

    /* plural and prefix forms */
    search(f->st, "restaurants", NULL, &h);
    assert_int_equal(h.n, 2);
    store_hits_release(&h);

    /* no words: newest first; the limit holds */
    struct store_query q = {.since = STORE_TIME_NONE, .until = STORE_TIME_NONE, .limit = 3};
    search(f->st, NULL, &q, &h);
    assert_int_equal(h.n, 3);
    assert_true(h.v[0].id == b && h.v[1].id == c && h.v[2].id == d);
    store_hits_release(&h);

    /* FTS syntax in the query is just text */
    search(f->st, "\"restaurant\" OR NEAR(x* -", NULL, &h);
    store_hits_release(&h);
    search(f->st, "zzzz", NULL, &h);
    assert_int_equal(h.n, 0);
    store_hits_release(&h);
}

static void test_search_scripts(void **state)
{
    struct fx *f = *state;
    add_filler(f->st, 8);
    int64_t e = add_done(f->st, "k1", STORE_KIND_MEAL, NOW - 2 * DAY,
                         "ಮೈಸೂರಿನಲ್ಲಿ ಮಸಾಲೆ ದೋಸೆ ತಿಂದೆವು", NULL, NULL, 0);
    int64_t p = add_done(f->st, "k2", STORE_KIND_PHOTO, NOW - 5 * DAY,
                         "Evening at Mysore Palace with the lights on", NULL, NULL, 0);
    int64_t s = add_done(f->st, "k3", STORE_KIND_SCREENSHOT, NOW - DAY, NULL,
                         "Booking confirmed: ಬೆಂಗಳೂರು to Mysuru, seat 14", NULL, 0);
    struct store_hits h;

    search(f->st, "mysuru", NULL, &h);
    assert_int_equal(h.n, 3);
    assert_true(hits_have(&h, e) && hits_have(&h, p) && hits_have(&h, s));
    store_hits_release(&h);

    search(f->st, "ಮೈಸೂರು", NULL, &h);
    assert_int_equal(h.n, 3);
    for (size_t i = 0; i < h.n; i++)
        if (h.v[i].id == p)
            assert_string_equal(h.v[i].snippet,
                                "Evening at [Mysore] Palace with the lights on");
        else if (h.v[i].id == e)
            assert_non_null(strstr(h.v[i].snippet, "[ಮೈಸೂರಿನಲ್ಲಿ]"));
    store_hits_release(&h);

    /* Bangalore finds ಬೆಂಗಳೂರು in OCR text */
    search(f->st, "Bangalore", NULL, &h);
    assert_int_equal(h.n, 1);
    assert_true(h.v[0].id == s);
    assert_non_null(strstr(h.v[0].snippet, "[ಬೆಂಗಳೂರು]"));
    store_hits_release(&h);

    /* Kanglish spelling of a Kannada word */
    search(f->st, "masaale", NULL, &h);
    assert_int_equal(h.n, 1);
    assert_true(h.v[0].id == e);
    store_hits_release(&h);
}

static void test_search_time(void **state)
{
    struct fx *f = *state;
    add_filler(f->st, 8);
    int64_t y = add_done(f->st, "t1", STORE_KIND_PHOTO, ist(2026, 11, 24, 13, 0),
                         "Dosa and chutney at the darshini", NULL, NULL, 0);
    int64_t w = add_done(f->st, "t2", STORE_KIND_RECEIPT, ist(2026, 11, 18, 20, 0),
                         "Dosa bill from the darshini", NULL, NULL, 0);
    int64_t m = add_done(f->st, "t3", STORE_KIND_PHOTO, ist(2026, 10, 10, 9, 0),
                         "Dosa at a wedding", NULL, NULL, 0);
    int64_t mo = add_done(f->st, "t4", STORE_KIND_PHOTO, ist(2026, 11, 23, 8, 0),
                          "Dosa on monday morning", NULL, NULL, 0);
    struct store_hits h;

    search(f->st, "dosa ninne", NULL, &h);
    assert_int_equal(h.n, 1);
    assert_true(h.v[0].id == y);
    assert_true(h.since == ist(2026, 11, 24, 0, 0));
    store_hits_release(&h);

    search(f->st, "dosa last week", NULL, &h);
    assert_int_equal(h.n, 1);
    assert_true(h.v[0].id == w);
    store_hits_release(&h);

    search(f->st, "kaLeda tingaLu dosa", NULL, &h);
    assert_int_equal(h.n, 1);
    assert_true(h.v[0].id == m);
    store_hits_release(&h);

    search(f->st, "dosa on monday", NULL, &h);
    assert_int_equal(h.n, 1);
    assert_true(h.v[0].id == mo); /* "monday" the time word, not the text */
    store_hits_release(&h);

    search(f->st, "yesterday", NULL, &h); /* time words only: everything then */
    assert_int_equal(h.n, 1);
    assert_true(h.v[0].id == y);
    store_hits_release(&h);

    /* explicit ranges, and time words narrowing them */
    struct store_query q = {.since = ist(2026, 11, 1, 0, 0), .until = STORE_TIME_NONE};
    search(f->st, "dosa", &q, &h);
    assert_int_equal(h.n, 3);
    assert_false(hits_have(&h, m));
    store_hits_release(&h);
    q.since = STORE_TIME_NONE;
    q.until = ist(2026, 11, 20, 0, 0);
    search(f->st, "dosa", &q, &h);
    assert_int_equal(h.n, 2);
    assert_true(hits_have(&h, w) && hits_have(&h, m));
    store_hits_release(&h);
    q.until = ist(2026, 11, 1, 0, 0);
    search(f->st, "dosa yesterday", &q, &h); /* disjoint: nothing */
    assert_int_equal(h.n, 0);
    store_hits_release(&h);

    /* time words kept as words on request */
    struct store_query k = {.since = STORE_TIME_NONE, .until = STORE_TIME_NONE,
                            .keep_time_words = true};
    search(f->st, "monday", &k, &h);
    assert_int_equal(h.n, 1);
    assert_true(h.v[0].id == mo);
    assert_true(h.since == STORE_TIME_NONE);
    store_hits_release(&h);
}

static void test_search_filters(void **state)
{
    struct fx *f = *state;
    struct store_mention raj = {.type = "person", .name = "ರಾಜೇಶ್"};
    add_filler(f->st, 8);
    int64_t g = add_done(f->st, "f1", STORE_KIND_PHOTO, NOW - DAY,
                         "Team lunch at the office canteen", NULL, &raj, 1);
    int64_t t = add_done(f->st, "f2", STORE_KIND_TRANSCRIPT, NOW - 2 * DAY,
                         "ರಾಜೇಶ್ ಅವರ ಮನೆಯಲ್ಲಿ ಹಬ್ಬದ ಊಟ", NULL, NULL, 0);
    int64_t r = add_done(f->st, "f3", STORE_KIND_RECEIPT, NOW - 3 * DAY,
                         "Lunch bill from the office canteen", NULL, NULL, 0);
    struct store_hits h;

    /* entity in Latin letters: tagged mention in Kannada, or Kannada text */
    struct store_query q = {.since = STORE_TIME_NONE, .until = STORE_TIME_NONE,
                            .entity = "Rajesh"};
    search(f->st, NULL, &q, &h);
    assert_int_equal(h.n, 2);
    assert_true(h.v[0].id == g && h.v[1].id == t);
    assert_int_equal(h.v[0].nentities, 1);
    assert_string_equal(h.v[0].entities[0].name, "ರಾಜೇಶ್");
    assert_string_equal(h.v[0].entities[0].type, "person");
    store_hits_release(&h);

    /* words and an entity */
    search(f->st, "lunch", &q, &h);
    assert_int_equal(h.n, 1);
    assert_true(h.v[0].id == g);
    store_hits_release(&h);
    /* the entity's name is searchable as a word too */
    search(f->st, "rajesh lunch", NULL, &h);
    assert_true(h.n >= 1);
    assert_true(h.v[0].id == g);
    store_hits_release(&h);

    /* kinds */
    struct store_query k = {.since = STORE_TIME_NONE, .until = STORE_TIME_NONE,
                            .kinds = 1u << STORE_KIND_RECEIPT};
    search(f->st, "canteen", &k, &h);
    assert_int_equal(h.n, 1);
    assert_true(h.v[0].id == r);
    store_hits_release(&h);
    k.kinds |= 1u << STORE_KIND_PHOTO;
    search(f->st, "canteen", &k, &h);
    assert_int_equal(h.n, 2);
    store_hits_release(&h);

    struct buf err = BUF_INIT;
    struct store_query bad = {.since = STORE_TIME_NONE, .until = STORE_TIME_NONE,
                              .entity = "!!"};
    assert_int_equal(store_search(f->st, &bad, &h, &err), -EINVAL);
    buf_release(&err);
}

/* ---- Migrations --------------------------------------------------------- */

static void test_migrate_v1(void **state)
{
    struct fx *f = *state;
    char path[160];
    sqlite3 *db;
    snprintf(path, sizeof(path), "%s/old.db", f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(store__migrate(db, 1, NULL), 0);
    /* what hermod v1 wrote */
    assert_int_equal(
        sqlite3_exec(db,
                     "INSERT INTO episodes(id, content_hash, kind, captured_at, ingested_at,"
                     " status, description, search_keys) VALUES (1, 'old', 'lab_report',"
                     " 1700000000000, 1700000000000, 'done', 'Old thyroid report', "
                     " 'old tairoid report');"
                     "INSERT INTO episodes_fts(rowid, description, ocr_text, transcript,"
                     " search_keys) VALUES (1, 'Old thyroid report', NULL, NULL,"
                     " 'old tairoid report');"
                     "INSERT INTO entities(id, type, name) VALUES (1, 'health_value', 'TSH');"
                     "INSERT INTO entity_aliases VALUES (1, 'TSH', 'ts', 'latn');"
                     "INSERT INTO relations(id, subject_id, predicate, object_value, learned_at)"
                     " VALUES (1, 1, 'measured', '6.5', 1700000000000),"
                     " (2, 1, 'note', 'borderline', 1700000000000);",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);

    struct store *st = open_test_store(path);
    struct store_relation *v;
    size_t n;
    struct store_relq q = {.subject_id = 1, .world_at = STORE_TIME_NONE,
                           .known_at = STORE_TIME_NONE};
    assert_int_equal(store_relations(st, &q, &v, &n, NULL), 0);
    assert_int_equal(n, 2);
    assert_true(v[0].has_num && v[0].num == 6.5); /* backfilled */
    assert_false(v[1].has_num);
    store_relations_free(v, n);
    struct store_hits h;
    search(st, "thyroid", NULL, &h);
    assert_int_equal(h.n, 1);
    store_hits_release(&h);
    /* new columns work on the old rows */
    struct store_result r = {.description = "Old thyroid report",
                             .extract_json = "{\"tests\":[]}"};
    assert_int_equal(store_episode_complete(st, 1, &r, NULL), 0);
    store_close(st);

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM sqlite_master WHERE name ="
                                        " 'relations_current'",
                                        -1, &s, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(s, 0), 1);
    sqlite3_finalize(s);
    /* from the future: refused, untouched */
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    struct buf err = BUF_INIT;
    st = NULL;
    assert_int_equal(store_open(path, &st, &err), -EPROTO);
    assert_null(st);
    assert_non_null(strstr(buf_cstr(&err), "newer"));
    buf_release(&err);
}

/* ---- Export ------------------------------------------------------------- */

static void test_export_roundtrip(void **state)
{
    struct fx *f = *state;
    struct store_mention m[] = {{.type = "person", .name = "ರಾಜೇಶ್"},
                                {.type = "person", .name = "Rajesh", .surface = "Rajesh"}};
    struct store_fact fact = {
        .subject_type = "person", .subject = "Rajesh", .predicate = "lives_in",
        .object_type = "place", .object = "Mysuru", .fact = "Rajesh lives in \"Mysuru\"\n",
        .valid_from = ist(2020, 1, 1, 0, 0), .valid_until = STORE_TIME_NONE,
    };
    struct store_episode_new e = {.content_hash = "x1", .kind = STORE_KIND_TRANSCRIPT,
                                  .captured_at = NOW, .ingested_at = STORE_TIME_NONE};
    struct store_result r = {.description = "line one\nline two", .raw_json = "{\"a\":1}",
                             .mentions = m, .nmentions = 2, .facts = &fact, .nfacts = 1};
    int64_t id, raj, rel;
    assert_int_equal(store_episode_add(f->st, &e, &id, NULL, NULL), 0);
    assert_int_equal(store_episode_complete(f->st, id, &r, NULL), 0);
    add_done(f->st, "x2", STORE_KIND_PHOTO, NOW - DAY, "Photo", NULL, NULL, 0);
    assert_int_equal(store_entity_find(f->st, "rajesh", NULL, &raj, NULL), 0);
    struct store_relation_new moved = {.subject_id = raj, .predicate = "lives_in",
                                       .value = "Bengaluru", .valid_from = NOW - DAY,
                                       .valid_until = STORE_TIME_NONE};
    assert_int_equal(store_relation_add(f->st, &moved, &id, 1, STORE_REL_END_PREVIOUS, &rel,
                                        NULL),
                     0);

    char *data = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&data, &size);
    assert_int_equal(store_export_jsonl(f->st, out, NULL), 0);
    fclose(out);

    int episodes = 0, entities = 0, mentions = 0, relations = 0, expired = 0;
    char *save = NULL;
    for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        if (!o)
            print_error("bad line: %s (%s)\n", line, je.text);
        assert_non_null(o);
        const char *type = json_string_value(json_object_get(o, "type"));
        assert_non_null(type);
        assert_non_null(json_string_value(json_object_get(o, "uuid")));
        if (!strcmp(type, "episode")) {
            episodes++;
            assert_non_null(json_string_value(json_object_get(o, "valid_at")));
            if (json_integer_value(json_object_get(o, "id")) == id) {
                assert_string_equal(json_string_value(json_object_get(o, "source")), "json");
                assert_string_equal(json_string_value(json_object_get(o, "description")),
                                    "line one\nline two");
            }
        } else if (!strcmp(type, "entity")) {
            entities++;
            if (json_integer_value(json_object_get(o, "id")) == raj) {
                json_t *al = json_object_get(o, "aliases");
                assert_int_equal(json_array_size(al), 2);
                assert_string_equal(
                    json_string_value(json_array_get(json_object_get(o, "labels"), 1)),
                    "Person");
            }
        } else if (!strcmp(type, "mention")) {
            mentions++;
            assert_string_equal(json_string_value(json_object_get(o, "name")), "MENTIONS");
        } else if (!strcmp(type, "relation")) {
            relations++;
            assert_string_equal(json_string_value(json_object_get(o, "name")), "LIVES_IN");
            assert_non_null(json_string_value(json_object_get(o, "created_at")));
            assert_true(json_is_array(json_object_get(o, "episodes")));
            assert_true(json_array_size(json_object_get(o, "episode_ids")) >= 1);
            if (json_string_value(json_object_get(o, "expired_at")))
                expired++;
            if (json_is_null(json_object_get(o, "target_node_uuid")))
                assert_string_equal(json_string_value(json_object_get(o, "value")),
                                    "Bengaluru");
        } else {
            fail_msg("unknown type %s", type);
        }
        json_decref(o);
    }
    assert_int_equal(episodes, 2);
    assert_int_equal(entities, 2); /* Rajesh (both scripts), Mysuru */
    assert_int_equal(mentions, 2);
    assert_int_equal(relations, 3); /* Mysuru open (retracted), Mysuru ended, Bengaluru */
    assert_int_equal(expired, 1);
    free(data);
}

/* ---- Command line ------------------------------------------------------- */

/* Runs fn with stdout and stderr sent to a file; returns its exit code and
 * the output in *text (caller frees). */
static int capture(int (*fn)(int, char **), int argc, char **argv, const char *file,
                   char **text)
{
    fflush(stdout);
    fflush(stderr);
    int saved = dup(1), saved_err = dup(2);
    int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 1);
    dup2(fd, 2);
    close(fd);
    int ret = fn(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved, 1);
    dup2(saved_err, 2);
    close(saved);
    close(saved_err);
    FILE *f = fopen(file, "r");
    struct buf b = BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_add(&b, chunk, n);
    fclose(f);
    *text = buf_detach(&b, NULL);
    return ret;
}

/* A writable argv from string literals, NULL-terminated; *argc set. */
static char **av(int *argc, ...)
{
    va_list ap;
    char **v = NULL;
    size_t n = 0, cap = 0;
    va_start(ap, argc);
    for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *)) {
        ALLOC_GROW(v, n + 2, cap);
        v[n++] = xstrdup(a);
    }
    va_end(ap);
    v[n] = NULL;
    *argc = (int)n;
    return v;
}

static void av_free(char **v)
{
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

static void test_cli(void **state)
{
    struct fx *f = *state;
    char out[160], exp[160];
    char *text;
    snprintf(out, sizeof(out), "%s/out.txt", f->dir);
    snprintf(exp, sizeof(exp), "%s/export.jsonl", f->dir);
    /* captured "now", so --since 7d finds it */
    add_done(f->st, "c1", STORE_KIND_PHOTO, (int64_t)clock_wall_ms() - HOUR,
             "Masala dosa at Mylari in Mysuru", NULL, NULL, 0);

    int a1_n;
    char **a1 = av(&a1_n, "search", "mysuru", "dosa", "--since", "7d", "--store", f->path, "--json",
                  "--kind", "photo,meal", NULL);
    assert_int_equal(capture(store_search_main, a1_n, a1, out, &text), 0);
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "results")), 1);
    json_decref(j);
    free(text);

    int a2_n;
    char **a2 = av(&a2_n, "search", "--store", f->path, "ಮೈಸೂರು", NULL);
    assert_int_equal(capture(store_search_main, a2_n, a2, out, &text), 0);
    assert_non_null(strstr(text, "1 result"));
    assert_non_null(strstr(text, "[Mysuru]"));
    free(text);

    int a3_n;
    char **a3 = av(&a3_n, "search", "--store", f->path, "--kind", "selfie", "x", NULL);
    assert_int_equal(capture(store_search_main, a3_n, a3, out, &text), 2);
    assert_non_null(strstr(text, "unknown kind 'selfie'"));
    free(text);
    int a4_n;
    char **a4 = av(&a4_n, "search", "--store", f->path, "--since", "someday", "x", NULL);
    assert_int_equal(capture(store_search_main, a4_n, a4, out, &text), 2);
    assert_non_null(strstr(text, "cannot read time 'someday'"));
    free(text);
    int a5_n;
    char **a5 = av(&a5_n, "search", "--bogus", NULL);
    assert_int_equal(capture(store_search_main, a5_n, a5, out, &text), 2);
    free(text);

    int e1_n;
    char **e1 = av(&e1_n, "export", "--store", f->path, "--out", exp, NULL);
    assert_int_equal(capture(store_export_main, e1_n, e1, out, &text), 0);
    free(text);
    av_free(a1);
    av_free(a2);
    av_free(a3);
    av_free(a4);
    av_free(a5);
    av_free(e1);
    FILE *fp = fopen(exp, "r");
    assert_non_null(fp);
    char line[8192];
    int lines = 0;
    while (fgets(line, sizeof(line), fp)) {
        json_t *o = json_loads(line, 0, NULL);
        assert_non_null(o);
        json_decref(o);
        lines++;
    }
    fclose(fp);
    assert_int_equal(lines, 1);
}

static void test_default_path(void **state)
{
    struct fx *f = *state;
    char xdg[128], want[192];
    struct buf p = BUF_INIT;
    struct stat sb;
    const char *old = getenv("XDG_DATA_HOME");
    char *saved = old ? xstrdup(old) : NULL;
    snprintf(xdg, sizeof(xdg), "%s/xdg", f->dir);
    setenv("XDG_DATA_HOME", xdg, 1);
    assert_int_equal(store_default_path(&p, NULL), 0);
    snprintf(want, sizeof(want), "%s/hermod/memory.db", xdg);
    assert_string_equal(buf_cstr(&p), want);
    snprintf(want, sizeof(want), "%s/hermod", xdg);
    assert_int_equal(stat(want, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    buf_release(&p);
    if (saved) {
        setenv("XDG_DATA_HOME", saved, 1);
        free(saved);
    } else {
        unsetenv("XDG_DATA_HOME");
    }
}

/* ---- Threads ------------------------------------------------------------ */

struct worker {
    struct store *st;
    int n, base, fails;
};

static void *writer(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < w->n; i++) {
        char hash[32], text[64];
        snprintf(hash, sizeof(hash), "w%d-%d", w->base, i);
        snprintf(text, sizeof(text), "Thread %d photo %d of the lake", w->base, i);
        struct store_mention m = {.type = "place", .name = "Kukkarahalli Lake"};
        struct store_episode_new e = {.content_hash = hash, .kind = STORE_KIND_PHOTO,
                                      .captured_at = NOW - i * MIN,
                                      .ingested_at = STORE_TIME_NONE};
        struct store_result r = {.description = text, .mentions = &m, .nmentions = 1};
        int64_t id;
        if (store_episode_add(w->st, &e, &id, NULL, NULL) ||
            store_episode_complete(w->st, id, &r, NULL))
            w->fails++;
    }
    return NULL;
}

static void *reader(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < w->n; i++) {
        struct store_query q = {.text = "lake", .since = STORE_TIME_NONE,
                                .until = STORE_TIME_NONE, .now = NOW};
        struct store_hits h;
        if (store_search(w->st, &q, &h, NULL))
            w->fails++;
        store_hits_release(&h);
    }
    return NULL;
}

static void test_threads(void **state)
{
    struct fx *f = *state;
    struct store_options o = {.max_connections = 3, .sync_normal = true, .now_ms = test_clock,
                              .tz_set = true, .tz_min = IST};
    char path[160];
    struct store *st;
    snprintf(path, sizeof(path), "%s/threads.db", f->dir);
    assert_int_equal(store_open_opts(path, &o, &st, NULL), 0);
    pthread_t t[5];
    struct worker w[5];
    for (int i = 0; i < 5; i++) {
        w[i] = (struct worker){.st = st, .n = 25, .base = i};
        pthread_create(&t[i], NULL, i < 4 ? writer : reader, &w[i]);
    }
    for (int i = 0; i < 5; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].fails, 0);
    }
    struct store_hits h;
    struct store_query q = {.since = STORE_TIME_NONE, .until = STORE_TIME_NONE,
                            .entity = "Kukkarahalli Lake", .limit = 1000};
    search(st, NULL, &q, &h);
    assert_int_equal(h.n, 100);
    store_hits_release(&h);
    int64_t lake;
    assert_int_equal(store_entity_find(st, "kukkarahalli lake", "place", &lake, NULL), 0);
    store_close(st);
}

/* ---- Durability --------------------------------------------------------- */

static void test_kill9_durability(void **state)
{
    struct fx *f = *state;
    char path[160];
    int fds[2];
    snprintf(path, sizeof(path), "%s/crash.db", f->dir);
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* the child: insert, report each success, never close */
        close(fds[0]);
        struct store *st;
        if (store_open(path, &st, NULL))
            _exit(1);
        for (int i = 0;; i++) {
            char hash[32], text[64];
            snprintf(hash, sizeof(hash), "crash-%d", i);
            snprintf(text, sizeof(text), "Receipt number %d from the crash test", i);
            struct store_episode_new e = {.content_hash = hash, .kind = STORE_KIND_RECEIPT,
                                          .captured_at = NOW, .ingested_at = NOW};
            struct store_result r = {.description = text};
            int64_t id;
            if (store_episode_add(st, &e, &id, NULL, NULL) ||
                store_episode_complete(st, id, &r, NULL))
                _exit(1);
            if (write(fds[1], &id, sizeof(id)) != sizeof(id))
                _exit(1);
        }
    }
    close(fds[1]);
    int64_t got[5];
    for (int i = 0; i < 5; i++)
        assert_int_equal(read(fds[0], &got[i], sizeof(got[i])), sizeof(got[i]));
    /* killed right after its fifth success, mid-way through the sixth */
    kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    close(fds[0]);

    struct store *st = open_test_store(path);
    for (int i = 0; i < 5; i++) {
        struct store_episode e;
        assert_int_equal(store_episode_get(st, got[i], &e, NULL), 0);
        assert_int_equal(e.status, STORE_DONE);
        store_episode_release(&e);
    }
    struct store_hits h;
    struct store_query q = {.since = STORE_TIME_NONE, .until = STORE_TIME_NONE, .limit = 100};
    search(st, "crash receipt", &q, &h);
    assert_true(h.n >= 5);
    store_hits_release(&h);
    store_close(st);
}


/* Schema v3: what the pipeline keeps with an episode. The input waits in
 * the row while the episode is pending and is dropped when it is done; the
 * model's kind replaces the one guessed at upload; a failed episode can be
 * made pending again. */
static void test_pipeline_columns(void **state)
{
    struct fx *f = *state;
    static const unsigned char input[] = {'{', '"', 'x', '"', ':', 0, 1, 2, '}'};
    struct store_episode_new e = {
        .content_hash = "img1", .kind = STORE_KIND_PHOTO, .source = "camera",
        .captured_at = NOW - DAY, .ingested_at = STORE_TIME_NONE,
        .media_json = "{\"format\":\"jpeg\",\"width\":4000}",
        .input = input, .input_len = sizeof(input),
    };
    struct store_episode ep;
    struct buf in = BUF_INIT, err = BUF_INIT;
    int64_t id;
    assert_int_equal(store_episode_add(f->st, &e, &id, NULL, NULL), 0);
    assert_int_equal(store_episode_input(f->st, id, &in, NULL), 0);
    assert_int_equal(in.len, sizeof(input));
    assert_memory_equal(in.data, input, sizeof(input));
    buf_reset(&in);

    /* fails for good after two attempts; retry makes it pending again */
    assert_int_equal(store_episode_fail(f->st, id, "vision model down", false, 2, NULL), 0);
    assert_int_equal(store_episode_retry(f->st, id, NULL), -EALREADY);
    assert_int_equal(store_episode_fail(f->st, id, "vision model down", false, 2, NULL), 0);
    assert_int_equal(store_episode_get(f->st, id, &ep, NULL), 0);
    assert_int_equal(ep.status, STORE_FAILED);
    store_episode_release(&ep);
    assert_int_equal(store_episode_retry(f->st, id, NULL), 0);
    assert_int_equal(store_episode_get(f->st, id, &ep, NULL), 0);
    assert_int_equal(ep.status, STORE_PENDING);
    assert_int_equal(ep.attempts, 0);
    store_episode_release(&ep);
    assert_int_equal(store_episode_input(f->st, id, &in, NULL), 0);
    buf_reset(&in);

    /* the model read it as a receipt: kind, typed facts and entities follow */
    struct store_mention m[] = {{.type = "place", .name = "Mysuru"}};
    struct store_result r = {
        .set_kind = true, .kind = STORE_KIND_RECEIPT, .model = "vl", .description = "a bill",
        .extract_json = "{\"type\":\"receipt\",\"merchant\":\"Mylari\",\"total\":120,"
                        "\"currency\":\"INR\"}",
        .mentions = m, .nmentions = 1,
    };
    assert_int_equal(store_episode_complete(f->st, id, &r, &err), 0);
    assert_int_equal(store_episode_get(f->st, id, &ep, NULL), 0);
    assert_int_equal(ep.status, STORE_DONE);
    assert_int_equal(ep.kind, STORE_KIND_RECEIPT);
    assert_string_equal(ep.media_json, "{\"format\":\"jpeg\",\"width\":4000}");
    assert_true(ep.nentities >= 2); /* Mysuru, and the merchant from the typed record */
    bool mysuru = false, mylari = false;
    for (size_t i = 0; i < ep.nentities; i++) {
        mysuru |= !strcmp(ep.entities[i].name, "Mysuru") && !strcmp(ep.entities[i].type, "place");
        mylari |= !strcmp(ep.entities[i].name, "Mylari");
    }
    assert_true(mysuru);
    assert_true(mylari);
    store_episode_release(&ep);
    /* the input is gone once done */
    assert_int_equal(store_episode_input(f->st, id, &in, &err), -ENOENT);
    assert_int_equal(store_episode_retry(f->st, id, NULL), -EALREADY);

    /* a kind outside the enum is refused and changes nothing */
    struct store_result bad = {.set_kind = true, .kind = STORE_KIND__COUNT};
    assert_int_equal(store_episode_complete(f->st, id, &bad, NULL), -EINVAL);
    buf_release(&in);
    buf_release(&err);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_open_schema),
        T(test_kind_names),
        T(test_idempotent_hash),
        T(test_status_transitions),
        T(test_cross_script_entity),
        T(test_relation_bitemporal),
        T(test_facts_and_typed),
        T(test_search_ranking),
        T(test_search_scripts),
        T(test_search_time),
        T(test_search_filters),
        T(test_migrate_v1),
        T(test_export_roundtrip),
        T(test_cli),
        T(test_default_path),
        T(test_threads),
        T(test_kill9_durability),
        T(test_pipeline_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
