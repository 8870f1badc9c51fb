/* SPDX-License-Identifier: MIT */
/*
 * store_search.c: full-text search over episodes, in both scripts.
 *
 * Each done episode is indexed in episodes_fts twice over: its three texts
 * as written (Kannada words kept whole by the tokenizer), and search_keys,
 * the translit_key of every word, so that "mysuru", "Mysore" and "ಮೈಸೂರು"
 * all index and query as "maisuru". A query word becomes
 *
 *   ({description ocr_text transcript}: "word" OR search_keys: "key"
 *    OR search_keys: "stem"*)
 *
 * where stem is the key without its final vowels: Kannada inflects by
 * suffix (ಮೈಸೂರಿನಲ್ಲಿ, "in Mysuru", keys as maisurinali), so "maisur"*
 * finds it. Exact spellings match more columns and so score higher.
 * Words are ANDed first; when that finds fewer than the limit, an OR query
 * fills the rest, ranked below.
 *
 * Ranking: score = R * (1 + 0.2 * 2^(-age / 30 days)), where R = -bm25
 * with column weights description 1.0, ocr_text 0.6, transcript 0.8,
 * search_keys 0.5, and age is now - captured_at. A better match wins over
 * a recent one unless their relevance is within 20%; equal matches go to
 * the newer episode.
 *
 * DESIGN
 * A search borrows one connection for its whole run (both queries and the
 * per-hit entity lookups), so it reads one snapshot. User text reaches FTS5
 * only inside double-quoted strings, so no query can be a syntax error or
 * an FTS5 operator. Everything returned is copied into the caller's
 * store_hits before the connection goes back.
 */
#include "store/store.h"

#include <ctype.h>
#include <errno.h>

#include "lib/xalloc.h"
#include "store/store_int.h"
#include "text/timeparse.h"
#include "text/translit.h"

#define RECENCY_WEIGHT "0.2"
#define BM25_WEIGHTS "1.0, 0.6, 0.8, 0.5"
#define SNIPPET_WORDS 18
#define MAX_QUERY_WORDS 16

void store__search_keys(const char *text, struct buf *out)
{
    translit_key(text, strlen(text), out);
}

/* Function words of English and Kanglish (in readable Latin: Kannada
 * script is compared after romanization) that would only dilute BM25. */
static const char *const stopwords[] = {
    "a", "about", "all", "an", "and", "any", "are", "as", "at", "be", "been", "but", "by",
    "can", "could", "did", "do", "does", "find", "for", "from", "get", "had", "has", "have",
    "he", "her", "him", "his", "how", "i", "in", "into", "is", "it", "its", "me", "my", "of",
    "on", "or", "our", "remember", "she", "show", "so", "some", "tell", "that", "the", "their",
    "them", "then", "there", "these", "they", "this", "those", "to", "us", "was", "we", "were",
    "what", "when", "where", "which", "who", "why", "will", "with", "you", "your",
    /* Kanglish */
    "aa", "adu", "alla", "alli", "annu", "beku", "ee", "elli", "enu", "eno", "ge", "hege",
    "helu", "ide", "idu", "ige", "illi", "ittu", "ke", "maadi", "madi", "na", "nalli", "nodu",
    "nu", "thorisu", "torsu", "yaava", "yava", "yelli", "yenu",
};

static bool is_stopword(const char *word, size_t len)
{
    struct buf b = BUF_INIT;
    bool stop = false;
    translit_kn_to_latn(word, len, &b);
    for (size_t i = 0; i < b.len; i++)
        b.data[i] = (char)tolower((unsigned char)b.data[i]);
    for (size_t i = 0; i < ARRAY_SIZE(stopwords) && !stop; i++)
        stop = !strcmp(buf_cstr(&b), stopwords[i]);
    buf_release(&b);
    return stop;
}

struct qword {
    char *raw;  /* as typed, lowercased ASCII */
    char *key;  /* translit_key, may hold several words */
    char *stem; /* key without final vowels, for a prefix query; NULL if too short */
};

static bool is_word_byte(unsigned char c)
{
    return isalnum(c) || c >= 0x80;
}

static void stem_of(const char *key, char **out)
{
    size_t n = strlen(key);
    *out = NULL;
    if (strchr(key, ' ') || n < 4)
        return;
    while (n > 3 && strchr("aeiou", key[n - 1]))
        n--;
    *out = xstrndup(key, n);
}

/* Splits the query into words, dropping stopwords and words with no key. */
static size_t query_words(const char *text, struct qword *w, size_t max)
{
    size_t n = 0, len = strlen(text);
    for (size_t i = 0; i < len && n < max;) {
        if (!is_word_byte((unsigned char)text[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && is_word_byte((unsigned char)text[j]))
            j++;
        if (!is_stopword(text + i, j - i)) {
            struct buf k = BUF_INIT;
            translit_key(text + i, j - i, &k);
            if (k.len) {
                w[n].raw = xstrndup(text + i, j - i);
                for (char *p = w[n].raw; *p; p++)
                    *p = (char)tolower((unsigned char)*p);
                w[n].key = buf_detach(&k, NULL);
                stem_of(w[n].key, &w[n].stem);
                n++;
            }
            buf_release(&k);
        }
        i = j;
    }
    return n;
}

static void qwords_free(struct qword *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(w[i].raw);
        free(w[i].key);
        free(w[i].stem);
    }
}

/* Appends s as an FTS5 string: in double quotes, quotes doubled. */
static void add_fts_string(struct buf *b, const char *s)
{
    buf_addch(b, '"');
    for (; *s; s++) {
        if (*s == '"')
            buf_addch(b, '"');
        buf_addch(b, *s);
    }
    buf_addch(b, '"');
}

static void fts_query(const struct qword *w, size_t n, const char *op, struct buf *q)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_addf(q, " %s ", op);
        buf_addstr(q, "({description ocr_text transcript} : ");
        add_fts_string(q, w[i].raw);
        buf_addstr(q, " OR search_keys : ");
        add_fts_string(q, w[i].key);
        if (w[i].stem) {
            buf_addstr(q, " OR search_keys : ");
            add_fts_string(q, w[i].stem);
            buf_addch(q, '*');
        }
        buf_addch(q, ')');
    }
}

/* Whether one word of text (its key in k) matches a query word. */
static bool word_matches(const char *k, const struct qword *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *pre = w[i].stem ? w[i].stem : w[i].key;
        size_t pl = strlen(pre);
        /* any sub-word of the text word's key */
        for (const char *p = k; *p;) {
            const char *e = strchr(p, ' ');
            size_t l = e ? (size_t)(e - p) : strlen(p);
            if (l >= pl && !memcmp(p, pre, pl))
                return true;
            p += l;
            while (*p == ' ')
                p++;
        }
    }
    return false;
}

/* The best window of SNIPPET_WORDS words of text, matching words in
 * brackets. Returns true when some word matched. */
static bool snippet_of(const char *text, const struct qword *w, size_t nw, struct buf *out)
{
    struct span {
        size_t a, b;
        bool hit;
    } *sp = NULL;
    size_t n = 0, cap = 0, len = strlen(text);
    struct buf k = BUF_INIT;
    for (size_t i = 0; i < len;) {
        if (isspace((unsigned char)text[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < len && !isspace((unsigned char)text[j]))
            j++;
        ALLOC_GROW(sp, n + 1, cap);
        buf_reset(&k);
        translit_key(text + i, j - i, &k);
        sp[n].a = i;
        sp[n].b = j;
        sp[n].hit = nw && k.len && word_matches(k.data, w, nw);
        n++;
        i = j;
    }
    buf_release(&k);

    /* The window with the most hits ends on its last hit; centre the
     * hits in it instead, so there is context on both sides. */
    size_t best_last = 0, best_hits = 0, hits = 0;
    for (size_t i = 0; i < n; i++) {
        hits += sp[i].hit;
        if (i >= SNIPPET_WORDS)
            hits -= sp[i - SNIPPET_WORDS].hit;
        if (hits > best_hits) {
            best_hits = hits;
            best_last = i;
        }
    }
    size_t best = 0;
    if (best_hits) {
        size_t first = best_last + 1 > SNIPPET_WORDS ? best_last + 1 - SNIPPET_WORDS : 0;
        while (!sp[first].hit)
            first++;
        size_t slack = SNIPPET_WORDS - (best_last - first + 1);
        best = first > slack / 2 ? first - slack / 2 : 0;
        if (n > SNIPPET_WORDS && best > n - SNIPPET_WORDS)
            best = n - SNIPPET_WORDS;
    }
    size_t end = best + SNIPPET_WORDS < n ? best + SNIPPET_WORDS : n;
    if (best > 0)
        buf_addstr(out, "… ");
    for (size_t i = best; i < end; i++) {
        size_t a = sp[i].a, b = sp[i].b;
        if (i > best)
            buf_addch(out, ' ');
        if (!sp[i].hit) {
            buf_add(out, text + a, b - a);
            continue;
        }
        /* "[Mysuru]," rather than "[Mysuru,]" */
        size_t ia = a, ib = b;
        while (ia < ib && ispunct((unsigned char)text[ia]))
            ia++;
        while (ib > ia && ispunct((unsigned char)text[ib - 1]))
            ib--;
        buf_add(out, text + a, ia - a);
        buf_addch(out, '[');
        buf_add(out, text + ia, ib - ia);
        buf_addch(out, ']');
        buf_add(out, text + ib, b - ib);
    }
    if (end < n)
        buf_addstr(out, " …");
    free(sp);
    return best_hits > 0;
}

static void make_snippet(struct store_hit *h, const char *const texts[3], const struct qword *w,
                         size_t nw)
{
    struct buf b = BUF_INIT;
    const char *first = NULL;
    for (int i = 0; i < 3; i++) {
        if (!texts[i] || !*texts[i])
            continue;
        if (!first)
            first = texts[i];
        if (nw && snippet_of(texts[i], w, nw, &b))
            goto done;
        buf_reset(&b);
    }
    if (first)
        snippet_of(first, w, 0, &b);
done:
    h->snippet = buf_detach(&b, NULL);
}

struct search {
    const struct store_query *q;
    int64_t since, until, now;
    struct qword w[MAX_QUERY_WORDS];
    size_t nw;
    char *ekey; /* entity filter key */
    unsigned limit;
};

/* Runs one query (match NULL: no words) and appends new hits to out. */
static int run(struct conn *c, const struct search *se, const char *match, struct store_hits *out,
               size_t *cap, struct buf *err)
{
    struct buf sql = BUF_INIT, ematch = BUF_INIT;
    sqlite3_stmt *s = NULL;
    int rc = 0, src = SQLITE_DONE, i;

    if (match)
        buf_addstr(&sql, "SELECT e.id, e.kind, e.source, e.captured_at, e.description,"
                         " e.ocr_text, e.transcript, -bm25(episodes_fts, " BM25_WEIGHTS ") AS rel,"
                         " -bm25(episodes_fts, " BM25_WEIGHTS ") * (1 + " RECENCY_WEIGHT
                         " * hermod_recency(e.captured_at, :now)) AS score"
                         " FROM episodes_fts JOIN episodes e ON e.id = episodes_fts.rowid"
                         " WHERE episodes_fts MATCH :match AND e.status = 'done'");
    else
        buf_addstr(&sql, "SELECT e.id, e.kind, e.source, e.captured_at, e.description,"
                         " e.ocr_text, e.transcript, 0 AS rel,"
                         " hermod_recency(e.captured_at, :now) AS score"
                         " FROM episodes e WHERE e.status = 'done'");
    if (se->since != STORE_TIME_NONE)
        buf_addstr(&sql, " AND e.captured_at >= :since");
    if (se->until != STORE_TIME_NONE)
        buf_addstr(&sql, " AND e.captured_at < :until");
    if (se->q->kinds) {
        bool first = true;
        buf_addstr(&sql, " AND e.kind IN (");
        for (unsigned k = 0; k < STORE_KIND__COUNT; k++)
            if (se->q->kinds & (1u << k)) {
                buf_addf(&sql, "%s'%s'", first ? "" : ", ", store_kind_name(k));
                first = false;
            }
        buf_addch(&sql, ')');
    }
    if (se->ekey) {
        /* Tagged by the extractor, or named in the text in any script. */
        buf_addstr(&sql, " AND (e.id IN (SELECT m.episode_id FROM mentions m"
                         " JOIN entity_aliases a ON a.entity_id = m.entity_id WHERE a.key = :ekey)"
                         " OR e.id IN (SELECT rowid FROM episodes_fts WHERE episodes_fts MATCH"
                         " :ematch))");
        buf_addstr(&ematch, "search_keys : ");
        add_fts_string(&ematch, se->ekey);
    }
    buf_addstr(&sql, match ? " ORDER BY score DESC, e.captured_at DESC LIMIT :limit"
                           : " ORDER BY e.captured_at DESC, e.id DESC LIMIT :limit");

    src = sqlite3_prepare_v2(c->db, sql.data, -1, &s, NULL);
    if (src != SQLITE_OK) {
        rc = store__error(c, src, "prepare search", err);
        goto out;
    }
    sqlite3_bind_int64(s, sqlite3_bind_parameter_index(s, ":now"), se->now);
    sqlite3_bind_int64(s, sqlite3_bind_parameter_index(s, ":limit"), se->limit);
    if ((i = sqlite3_bind_parameter_index(s, ":match")))
        store__bind_text(s, i, match);
    if ((i = sqlite3_bind_parameter_index(s, ":since")))
        sqlite3_bind_int64(s, i, se->since);
    if ((i = sqlite3_bind_parameter_index(s, ":until")))
        sqlite3_bind_int64(s, i, se->until);
    if ((i = sqlite3_bind_parameter_index(s, ":ekey")))
        store__bind_text(s, i, se->ekey);
    if ((i = sqlite3_bind_parameter_index(s, ":ematch")))
        store__bind_text(s, i, ematch.data);

    while (out->n < se->limit && (src = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(s, 0);
        bool dup = false;
        for (size_t k = 0; k < out->n && !dup; k++)
            dup = out->v[k].id == id;
        if (dup)
            continue;
        ALLOC_GROW(out->v, out->n + 1, *cap);
        struct store_hit *h = &out->v[out->n++];
        memset(h, 0, sizeof(*h));
        h->id = id;
        h->kind = store__col_kind(s, 1);
        h->source = store__col_text(s, 2);
        h->captured_at = sqlite3_column_int64(s, 3);
        h->description = store__col_text(s, 4);
        h->relevance = sqlite3_column_double(s, 7);
        h->score = sqlite3_column_double(s, 8);
        const char *texts[3] = {
            (const char *)sqlite3_column_text(s, 4),
            (const char *)sqlite3_column_text(s, 5),
            (const char *)sqlite3_column_text(s, 6),
        };
        make_snippet(h, texts, se->w, se->nw);
        rc = store__episode_entities(c, id, &h->entities, &h->nentities, "hit entities", err);
        if (rc)
            goto out;
    }
    if (out->n < se->limit && src != SQLITE_DONE)
        rc = store__error(c, src, "search", err);
out:
    sqlite3_finalize(s);
    buf_release(&ematch);
    buf_release(&sql);
    return rc;
}

int store_search(struct store *st, const struct store_query *q, struct store_hits *out,
                 struct buf *err)
{
    struct search se = {.q = q};
    struct buf rest = BUF_INIT, match = BUF_INIT, words = BUF_INIT;
    size_t cap = 0;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    se.now = q->now ? q->now : store__now(st);
    se.limit = q->limit ? q->limit : 10;
    se.since = q->since;
    se.until = q->until;
    if (q->text) {
        int64_t s = STORE_TIME_NONE, u = STORE_TIME_NONE;
        if (q->keep_time_words)
            buf_addstr(&rest, q->text);
        else
            timeparse_extract(q->text, se.now, q->tz_min, &rest, &s, &u);
        if (s != TIMEPARSE_OPEN && (se.since == STORE_TIME_NONE || s > se.since))
            se.since = s;
        if (u != TIMEPARSE_OPEN && (se.until == STORE_TIME_NONE || u < se.until))
            se.until = u;
        se.nw = query_words(buf_cstr(&rest), se.w, MAX_QUERY_WORDS);
    }
    if (q->entity) {
        struct buf k = BUF_INIT;
        translit_key(q->entity, strlen(q->entity), &k);
        if (!k.len) {
            if (err)
                buf_addf(err, "store: entity '%s' has no letters or digits", q->entity);
            rc = -EINVAL;
            buf_release(&k);
            goto out;
        }
        se.ekey = buf_detach(&k, NULL);
    }
    out->since = se.since;
    out->until = se.until;
    for (size_t i = 0; i < se.nw; i++)
        buf_addf(&words, "%s%s", i ? " " : "", se.w[i].raw);
    out->words = buf_detach(&words, NULL);
    if (se.since != STORE_TIME_NONE && se.until != STORE_TIME_NONE && se.since >= se.until)
        goto out; /* an empty range */

    struct conn *c = store__acquire(st, err);
    if (!c) {
        rc = -EIO;
        goto out;
    }
    if (!se.nw) {
        rc = run(c, &se, NULL, out, &cap, err);
    } else {
        fts_query(se.w, se.nw, "AND", &match);
        rc = run(c, &se, match.data, out, &cap, err);
        if (!rc && out->n < se.limit && se.nw > 1) {
            buf_reset(&match);
            fts_query(se.w, se.nw, "OR", &match);
            rc = run(c, &se, match.data, out, &cap, err);
        }
    }
    store__release(st, c);
out:
    if (rc)
        store_hits_release(out);
    free(se.ekey);
    qwords_free(se.w, se.nw);
    buf_release(&words);
    buf_release(&match);
    buf_release(&rest);
    return rc;
}

void store_hits_release(struct store_hits *h)
{
    for (size_t i = 0; i < h->n; i++) {
        struct store_hit *x = &h->v[i];
        free(x->source);
        free(x->snippet);
        free(x->description);
        store__entities_free(x->entities, x->nentities);
    }
    free(h->v);
    free(h->words);
    memset(h, 0, sizeof(*h));
}
