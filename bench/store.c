/* SPDX-License-Identifier: MIT */
/*
 * bench/store: insert throughput and search latency of the store on a
 * synthetic memory of mixed English, Kanglish and Kannada-script episodes.
 *
 *   build/bench/store [--db PATH] [--n 100000] [--runs 200] [--durable 300]
 *                     [--tokenizers] [--keep] [--reuse]
 *
 *   --n        episodes bulk-loaded (store_import, 1000 per transaction)
 *   --durable  episodes then added one at a time the way the daemon does
 *              (add + complete, one fsynced commit each), with
 *              synchronous=FULL and again with NORMAL
 *   --runs     repetitions of each query (p50/p99 over them)
 *   --tokenizers  compares FTS5 tokenizers on the Kannada texts instead
 *   --keep     leaves the database; --reuse queries an existing one
 *
 * Results go to stdout as Markdown; bench/README-store.md keeps a run.
 * The text generator is deterministic (fixed seed), so runs compare.
 */
#include "store/store.h"

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/clock.h"
#include "lib/xalloc.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static unsigned pick(unsigned n)
{
    return (unsigned)(next() % n);
}
#define ONE(a) (a)[pick(ARRAY_SIZE(a))]

static const char *const en[] = {
    "restaurant", "cafe", "coffee", "dinner", "lunch", "breakfast", "table", "menu", "plate",
    "temple", "palace", "market", "lake", "park", "office", "meeting", "whiteboard", "bill",
    "hospital", "report", "train", "bus", "metro", "station", "friends", "family", "birthday",
    "wedding", "festival", "rain", "sunset", "traffic", "road", "shop", "mall", "movie", "book",
    "laptop", "phone", "screen", "chat", "message", "ticket", "flowers", "garden", "kitchen",
    "street", "crowd", "music", "concert", "cricket", "match", "school", "teacher", "doctor",
    "medicine", "walk", "evening", "morning", "night", "light", "window", "building", "car",
    "bike", "auto", "photo", "picture", "people", "smiling", "standing", "sitting", "near",
    "with", "the", "a", "at", "in", "on", "and", "of", "two", "three", "big", "small", "old",
    "new", "red", "blue", "green", "white", "crowded", "quiet", "beautiful",
};
static const char *const kanglish[] = {
    "naavu", "hogidvi", "oota", "maadidvi", "tumba", "chennagittu", "mane", "hatra", "jothe",
    "swalpa", "bega", "beku", "illa", "super", "sakkath", "nodi", "bandidde", "ivattu", "ninne",
    "ooru", "habba", "doddamma", "appa", "amma", "anna", "akka", "gelati", "gelaya", "kelsa",
    "hogbeku", "bartini", "sigona", "kodi", "thagondu", "oota aytu", "masala dosa", "idli vada",
    "filter coffee", "bisi bele bath", "holige", "payasa", "majja", "kushi", "tirugaata",
};
static const char *const kn[] = {
    "ಮೈಸೂರು", "ಬೆಂಗಳೂರು", "ದೋಸೆ", "ಊಟ", "ಮನೆ", "ಹೋಟೆಲ್", "ಕಾಫಿ", "ಹಬ್ಬ", "ದೇವಸ್ಥಾನ",
    "ಮಾರುಕಟ್ಟೆ", "ಕೆರೆ", "ಸ್ನೇಹಿತರು", "ಮದುವೆ", "ಮಳೆ", "ಬಸ್", "ರೈಲು", "ಆಫೀಸ್", "ಸಭೆ",
    "ನಾವು", "ಹೋಗಿದ್ದೆವು", "ತುಂಬಾ", "ಚೆನ್ನಾಗಿತ್ತು", "ಜೊತೆ", "ಇವತ್ತು", "ಸಂಜೆ", "ಬೆಳಗ್ಗೆ",
    "ಮೈಸೂರಿನಲ್ಲಿ", "ಬೆಂಗಳೂರಿನ", "ಅರಮನೆ", "ಹೂವು", "ಶಾಲೆ", "ಆಸ್ಪತ್ರೆ", "ವರದಿ", "ಬಿಲ್",
};
static const struct {
    const char *latn, *knda, *type;
} names[] = {
    {"Rajesh", "ರಾಜೇಶ್", "person"},       {"Priya", "ಪ್ರಿಯಾ", "person"},
    {"Srinivas", "ಶ್ರೀನಿವಾಸ್", "person"}, {"Lakshmi", "ಲಕ್ಷ್ಮಿ", "person"},
    {"Krishna", "ಕೃಷ್ಣ", "person"},       {"Kavya", "ಕಾವ್ಯ", "person"},
    {"Suresh", "ಸುರೇಶ್", "person"},       {"Anil", "ಅನಿಲ್", "person"},
    {"Mysuru", "ಮೈಸೂರು", "place"},        {"Bengaluru", "ಬೆಂಗಳೂರು", "place"},
    {"Hubballi", "ಹುಬ್ಬಳ್ಳಿ", "place"},   {"Udupi", "ಉಡುಪಿ", "place"},
    {"Mylari", "ಮೈಲಾರಿ", "merchant"},     {"Vidyarthi Bhavan", "ವಿದ್ಯಾರ್ಥಿ ಭವನ", "merchant"},
    {"Kukkarahalli", "ಕುಕ್ಕರಹಳ್ಳಿ", "place"},
};

#define NOW_MS 1795600800000LL /* 2026-11-25 10:00Z */
#define DAY 86400000LL

struct gen {
    struct buf desc, ocr;
    char hash[32];
    struct store_mention m[2];
    size_t nm;
    struct store_import_item item;
};

static void gen_text(struct buf *b, unsigned words, int mode)
{
    for (unsigned i = 0; i < words; i++) {
        const char *w;
        int m = mode == 3 ? (int)pick(3) : mode;
        if (m == 0)
            w = ONE(en);
        else if (m == 1)
            w = pick(2) ? ONE(kanglish) : ONE(en);
        else
            w = pick(5) ? ONE(kn) : ONE(en);
        buf_addf(b, "%s%s", b->len ? " " : "", w);
    }
}

static void gen_episode(struct gen *g, long i)
{
    static const enum store_kind kinds[] = {
        STORE_KIND_PHOTO,   STORE_KIND_PHOTO,      STORE_KIND_PHOTO,   STORE_KIND_SCREENSHOT,
        STORE_KIND_RECEIPT, STORE_KIND_DOCUMENT,   STORE_KIND_MEAL,    STORE_KIND_VIDEO,
        STORE_KIND_TRANSCRIPT, STORE_KIND_WHITEBOARD, STORE_KIND_LAB_REPORT, STORE_KIND_OTHER,
    };
    buf_reset(&g->desc);
    buf_reset(&g->ocr);
    int mode = (int)pick(100);
    mode = mode < 40 ? 0 : mode < 75 ? 1 : mode < 92 ? 2 : 3;
    gen_text(&g->desc, 12 + pick(28), mode);
    g->nm = pick(3);
    for (size_t k = 0; k < g->nm; k++) {
        unsigned n = pick(ARRAY_SIZE(names));
        bool knda = pick(3) == 0;
        g->m[k] = (struct store_mention){.type = names[n].type,
                                         .name = knda ? names[n].knda : names[n].latn};
        buf_addf(&g->desc, " %s", g->m[k].name);
    }
    /* One episode in 10,000 is about something rare, as most real
     * questions are. */
    if (i % 10000 == 7)
        buf_addstr(&g->desc, " sunrise trek to Nandi Hills ನಂದಿ ಬೆಟ್ಟ");
    enum store_kind kind = ONE(kinds);
    if (kind == STORE_KIND_RECEIPT || kind == STORE_KIND_SCREENSHOT)
        gen_text(&g->ocr, 10 + pick(20), mode);
    snprintf(g->hash, sizeof(g->hash), "bench-%ld", i);
    g->item = (struct store_import_item){
        .episode = {.content_hash = g->hash, .kind = kind, .source = "bench",
                    .captured_at = NOW_MS - (int64_t)(next() % (730 * DAY)),
                    .ingested_at = NOW_MS},
        .result = {.model = "qwen3.5-35b-a3b", .engine = "llama-server", .language = "kn-en",
                   .description = g->desc.data, .ocr_text = g->ocr.len ? g->ocr.data : NULL,
                   .mentions = g->m, .nmentions = g->nm},
    };
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(uint64_t *v, size_t n, double p)
{
    qsort(v, n, sizeof(*v), cmp_u64);
    size_t i = (size_t)ceil(p * (double)n) - 1;
    return (double)v[i < n ? i : n - 1] / 1000.0;
}

static void die(const char *what, struct buf *err)
{
    fprintf(stderr, "bench/store: %s: %s\n", what, buf_cstr(err));
    exit(1);
}

static void bulk_load(struct store *st, long n)
{
    struct gen g[1000];
    struct store_import_item items[1000];
    struct buf err = BUF_INIT;
    memset(g, 0, sizeof(g));
    uint64_t t0 = clock_mono_ns();
    for (long i = 0; i < n;) {
        size_t k = 0;
        for (; k < ARRAY_SIZE(items) && i < n; k++, i++) {
            gen_episode(&g[k], i);
            items[k] = g[k].item;
        }
        if (store_import(st, items, k, &err))
            die("import", &err);
    }
    double s = (double)(clock_mono_ns() - t0) / 1e9;
    printf("| bulk import (store_import, 1000 per transaction) | %ld | %.1f s |"
           " %.0f episodes/s |\n", n, s, (double)n / s);
    for (size_t k = 0; k < ARRAY_SIZE(g); k++) {
        buf_release(&g[k].desc);
        buf_release(&g[k].ocr);
    }
    buf_release(&err);
}

static void durable(const char *path, long n, bool normal)
{
    struct store_options o = {.sync_normal = normal};
    struct store *st;
    struct buf err = BUF_INIT;
    struct gen g;
    uint64_t *lat = xcalloc((size_t)n, sizeof(*lat));
    memset(&g, 0, sizeof(g));
    if (store_open_opts(path, &o, &st, &err))
        die("open", &err);
    uint64_t t0 = clock_mono_ns();
    for (long i = 0; i < n; i++) {
        gen_episode(&g, 10000000 + i + (normal ? 1000000 : 0));
        int64_t id;
        uint64_t a = clock_mono_ns();
        if (store_episode_add(st, &g.item.episode, &id, NULL, &err) ||
            store_episode_complete(st, id, &g.item.result, &err))
            die("insert", &err);
        lat[i] = (clock_mono_ns() - a) / 1000;
    }
    double s = (double)(clock_mono_ns() - t0) / 1e9;
    printf("| one by one, add + complete, synchronous=%s | %ld | %.1f s | %.0f episodes/s"
           " (p50 %.2f ms, p99 %.2f ms) |\n",
           normal ? "NORMAL" : "FULL", n, s, (double)n / s, pct(lat, (size_t)n, 0.5),
           pct(lat, (size_t)n, 0.99));
    store_close(st);
    free(lat);
    buf_release(&g.desc);
    buf_release(&g.ocr);
    buf_release(&err);
}

struct bq {
    const char *label, *text, *entity;
    int64_t since_ago; /* ms before now, 0 = none */
    unsigned kinds;
};

static void run_queries(struct store *st, int runs)
{
    static const struct bq qs[] = {
        {"common English word", "restaurant", NULL, 0, 0},
        {"two words, cross-script", "mysuru dosa", NULL, 0, 0},
        {"Kannada script", "ಮೈಸೂರು ಹೋಟೆಲ್", NULL, 0, 0},
        {"Kanglish words", "masala dosa chennagittu", NULL, 0, 0},
        {"name in 1 of 12 episodes", "Kukkarahalli", NULL, 0, 0},
        {"rare words (10 episodes)", "nandi hills trek", NULL, 0, 0},
        {"rare words, other script", "ನಂದಿ ಬೆಟ್ಟ", NULL, 0, 0},
        {"with time words", "the restaurant in that photo last week", NULL, 0, 0},
        {"Kanglish time words", "kaLeda vaara oota", NULL, 0, 0},
        {"words + --since 30d + --kind receipt", "bill", NULL, 30 * DAY,
         1u << STORE_KIND_RECEIPT},
        {"words + --entity (Kannada name)", "coffee", "ರಾಜೇಶ್", 0, 0},
        {"no words, --since 7d", NULL, NULL, 7 * DAY, 0},
        {"no words, --entity Rajesh, --since 90d", NULL, "Rajesh", 90 * DAY, 0},
    };
    printf("\n| query | hits | p50 ms | p99 ms |\n|---|---:|---:|---:|\n");
    uint64_t *lat = xcalloc((size_t)runs, sizeof(*lat));
    for (size_t k = 0; k < ARRAY_SIZE(qs); k++) {
        size_t hits = 0;
        for (int r = 0; r < runs; r++) {
            struct store_query q = {
                .text = qs[k].text, .entity = qs[k].entity, .kinds = qs[k].kinds,
                .since = qs[k].since_ago ? NOW_MS - qs[k].since_ago : STORE_TIME_NONE,
                .until = STORE_TIME_NONE, .now = NOW_MS, .tz_min = 330,
            };
            struct store_hits h;
            struct buf err = BUF_INIT;
            uint64_t a = clock_mono_ns();
            if (store_search(st, &q, &h, &err))
                die("search", &err);
            lat[r] = (clock_mono_ns() - a) / 1000;
            hits = h.n;
            store_hits_release(&h);
        }
        printf("| %s: `%s` | %zu | %.2f | %.2f |\n", qs[k].label, qs[k].text ? qs[k].text : "",
               hits, pct(lat, (size_t)runs, 0.5), pct(lat, (size_t)runs, 0.99));
    }
    free(lat);
}

/* Compares FTS5 tokenizers on Kannada-script text: index size, build time
 * and how many documents a Kannada word query returns versus how many
 * contain the word. */
static void tokenizers(const char *dir, long n)
{
    static const struct {
        const char *name, *spec;
    } toks[] = {
        {"unicode61 (default)", "unicode61 remove_diacritics 2"},
        {"unicode61 + categories 'L* N* Co M*'",
         "unicode61 remove_diacritics 2 categories 'L* N* Co M*'"},
        {"trigram", "trigram"},
    };
    static const char *const words[] = {"ಮೈಸೂರು", "ದೋಸೆ", "ಮನೆ", "ಬಸ್", "ಸಂಜೆ"};
    struct buf *texts = xcalloc((size_t)n, sizeof(*texts));
    for (long i = 0; i < n; i++)
        gen_text(&texts[i], 12 + pick(28), 2);
    printf("\n%ld Kannada-script texts. Counts are documents returned by the FTS query for the "
           "word; 'contain' counts documents holding the word as a whole word.\n\n",
           n);
    printf("| tokenizer | build s | index MB |");
    for (size_t w = 0; w < ARRAY_SIZE(words); w++)
        printf(" %s |", words[w]);
    printf("\n|---|---:|---:|");
    for (size_t w = 0; w < ARRAY_SIZE(words); w++)
        printf("---:|");
    printf("\n| contain (truth) | | |");
    for (size_t w = 0; w < ARRAY_SIZE(words); w++) {
        long c = 0;
        size_t wl = strlen(words[w]);
        for (long i = 0; i < n; i++) {
            const char *p = texts[i].data;
            while ((p = strstr(p, words[w]))) {
                bool start = p == texts[i].data || p[-1] == ' ';
                bool end = p[wl] == ' ' || p[wl] == 0;
                if (start && end) {
                    c++;
                    break;
                }
                p += wl;
            }
        }
        printf(" %ld |", c);
    }
    printf("\n");
    for (size_t t = 0; t < ARRAY_SIZE(toks); t++) {
        char path[512], sql[512];
        sqlite3 *db;
        sqlite3_stmt *s;
        snprintf(path, sizeof(path), "%s/tok-%zu.db", dir, t);
        unlink(path);
        sqlite3_open(path, &db);
        snprintf(sql, sizeof(sql), "CREATE VIRTUAL TABLE f USING fts5(x, tokenize=\"%s\")",
                 toks[t].spec);
        sqlite3_exec(db, sql, NULL, NULL, NULL);
        uint64_t t0 = clock_mono_ns();
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        sqlite3_prepare_v2(db, "INSERT INTO f(x) VALUES (?1)", -1, &s, NULL);
        for (long i = 0; i < n; i++) {
            sqlite3_bind_text(s, 1, texts[i].data, -1, SQLITE_STATIC);
            sqlite3_step(s);
            sqlite3_reset(s);
        }
        sqlite3_finalize(s);
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        double secs = (double)(clock_mono_ns() - t0) / 1e9;
        sqlite3_close(db);
        struct stat sb;
        stat(path, &sb);
        printf("| %s | %.2f | %.1f |", toks[t].name, secs, (double)sb.st_size / 1e6);
        sqlite3_open(path, &db);
        for (size_t w = 0; w < ARRAY_SIZE(words); w++) {
            snprintf(sql, sizeof(sql), "SELECT count(*) FROM f WHERE f MATCH '\"%s\"'",
                     words[w]);
            long c = -1;
            if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
                sqlite3_step(s) == SQLITE_ROW)
                c = sqlite3_column_int64(s, 0);
            sqlite3_finalize(s);
            printf(" %ld |", c);
        }
        printf("\n");
        sqlite3_close(db);
        unlink(path);
    }
    for (long i = 0; i < n; i++)
        buf_release(&texts[i]);
    free(texts);
}

int main(int argc, char **argv)
{
    const char *db = "/tmp/hermod-bench-store.db";
    long n = 100000, dur = 300;
    int runs = 200;
    bool tok = false, keep = false, reuse = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--db") && i + 1 < argc)
            db = argv[++i];
        else if (!strcmp(argv[i], "--n") && i + 1 < argc)
            n = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = (int)strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--durable") && i + 1 < argc)
            dur = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--tokenizers"))
            tok = true;
        else if (!strcmp(argv[i], "--keep"))
            keep = true;
        else if (!strcmp(argv[i], "--reuse"))
            reuse = keep = true;
        else {
            fprintf(stderr, "usage: %s [--db PATH] [--n N] [--runs N] [--durable N] "
                            "[--tokenizers] [--keep] [--reuse]\n", argv[0]);
            return 2;
        }
    }
    if (tok) {
        char *dir = xstrdup(db), *slash = strrchr(dir, '/');
        if (slash)
            *slash = 0;
        tokenizers(slash ? dir : ".", n < 20000 ? n : 20000);
        free(dir);
        return 0;
    }

    char wal[600], shm[600];
    struct store *st;
    struct buf err = BUF_INIT;
    struct stat sb;
    snprintf(wal, sizeof(wal), "%s-wal", db);
    snprintf(shm, sizeof(shm), "%s-shm", db);
    if (reuse && stat(db, &sb) == 0)
        goto queries;
    unlink(db);
    unlink(wal);
    unlink(shm);

    if (store_open(db, &st, &err))
        die("open", &err);
    printf("store %s, SQLite %s\n\n", db, sqlite3_libversion());
    printf("| insert | episodes | time | rate |\n|---|---:|---:|---|\n");
    bulk_load(st, n);
    store_close(st);
    durable(db, dur, false);
    durable(db, dur, true);

queries:
    stat(db, &sb);
    if (store_open(db, &st, &err))
        die("open", &err);
    printf("\nDatabase: %ld episodes, %.0f MB.\n", n + 2 * dur, (double)sb.st_size / 1e6);
    run_queries(st, runs);
    store_close(st);
    if (!keep) {
        unlink(db);
        unlink(wal);
        unlink(shm);
    }
    buf_release(&err);
    return 0;
}
