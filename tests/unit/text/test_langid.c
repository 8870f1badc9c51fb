/* Unit tests for langid: labels on hand-written chat text, routing, script
 * counts, hostile input (invalid UTF-8, empty, huge), the agreement of the
 * C feature extractor with train.py, and the `hermod langid` filter.
 *
 * The .c files are included to reach lane logits for the golden check and
 * the CLI's number formatter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <poll.h>
#include <sys/wait.h>

#include "text/langid.c"
#include "cli/langid_cli.c"
#include "lib/buf.h"
#include "lib/xalloc.h"

/*
 * Classifies a copy of s in a buffer of exactly strlen(s) bytes, not
 * NUL-terminated, so that ASan sees any read past the end.
 */
static void classify_exact(const char *s, size_t n, struct langid_result *r)
{
    char *p = n ? xmalloc(n) : NULL;
    if (n)
        memcpy(p, s, n);
    langid_classify(p, n, r);
    free(p);
}

static void classify(const char *s, struct langid_result *r)
{
    classify_exact(s, strlen(s), r);
}

struct sample {
    const char *text;
    enum langid_label label;
    bool needs_kannada;
};

/* Written by hand for these tests, not taken from the training data. */
static const struct sample sanity[] = {
    /* Kanglish, as users type it. */
    {"naanu nale office ge hogtini, meeting ide", LANGID_KN_LATN, true},
    {"order cancel maadbeku swalpa urgent", LANGID_KN_LATN, true},
    {"nange ee movie tumba ishta aaytu", LANGID_KN_LATN, true},
    {"yaake late aaytu? traffic jaasti ittu", LANGID_KN_LATN, true},
    {"nimma address change aagide antha message bandide", LANGID_KN_LATN, true},
    {"oota aytha? naanu innu madilla", LANGID_KN_LATN, true},
    {"bega baa, bus hogbidutte", LANGID_KN_LATN, true},
    {"avaru yaaru gottilla, call maadi kelona", LANGID_KN_LATN, true},
    {"ivattu rain jaasti, mane alli irtini", LANGID_KN_LATN, true},
    {"please ondu reminder set maadi naale 9 ge", LANGID_KN_LATN, true},
    {"Sir nanna account inda double payment aagide, refund yaavaga barutte?", LANGID_KN_LATN,
     true},
    /* Hinglish. */
    {"kal office jaana hai, meeting hai", LANGID_HI_LATN, false},
    {"mujhe kal tak report bhejna hai", LANGID_HI_LATN, false},
    {"yaar aaj bahut traffic tha, late ho gaya", LANGID_HI_LATN, false},
    {"kya tum mere saath movie dekhne chaloge?", LANGID_HI_LATN, false},
    /* English. */
    {"I will go to the office tomorrow", LANGID_EN, false},
    {"Can you set a reminder for the meeting at 9?", LANGID_EN, false},
    {"The weather is really nice today, let's go for a walk.", LANGID_EN, false},
    {"Please summarise this article in three bullet points.", LANGID_EN, false},
    /* Scripts. */
    {"ನಾನು ನಾಳೆ office ಗೆ ಹೋಗ್ತೀನಿ", LANGID_MIXED_SCRIPT, true},
    {"ನಾನು ನಾಳೆ ಕಚೇರಿಗೆ ಹೋಗುತ್ತೇನೆ", LANGID_KN, true},
    {"ಸೂಪರ್ ಸಾಂಗ್ 👌👌", LANGID_KN, true},
    /* Kannada script with incidental Latin: acronyms, units, numbers with
     * letters, mentions and names stay kn; English words make it mixed. */
    {"ನಾನು ಇವತ್ತು 5 km ನಡೆದೆ", LANGID_KN, true},
    {"ನಾಳೆ ಬೆಳಿಗ್ಗೆ MRI ಸ್ಕ್ಯಾನ್ ಇದೆ", LANGID_KN, true},
    {"ಅವನು 10th ಪಾಸ್ ಆದ", LANGID_KN, true},
    {"@Rakshith Shetty ಸೂಪರ್ ಸಿನಿಮಾ ಗುರು", LANGID_KN, true},
    {"ನಾನು ನಾಳೆ meeting ಗೆ ಹೋಗ್ತೀನಿ", LANGID_MIXED_SCRIPT, true},
    {"ಸೂಪರ್ ಸಾಂಗ್ super song", LANGID_MIXED_SCRIPT, true},
    {"ok good night ಸರಿ", LANGID_MIXED_SCRIPT, true},
    {"मैं कल दफ़्तर जाऊँगा और मीटिंग में रहूँगा।", LANGID_HI, false},
    {"நான் நாளை அலுவலகம் செல்வேன்", LANGID_OTHER, false},
    {"Я завтра пойду в офис", LANGID_OTHER, false},
    /* Other languages in Latin letters. */
    {"Je vais au bureau demain, nous avons une réunion.", LANGID_OTHER, false},
    {"Ich gehe morgen ins Büro, wir haben ein Treffen.", LANGID_OTHER, false},
    {"Mañana voy a la oficina porque tengo una reunión.", LANGID_OTHER, false},
};

static void test_sanity_set(void **state)
{
    for (size_t i = 0; i < ARRAY_SIZE(sanity); i++) {
        struct langid_result r;
        classify(sanity[i].text, &r);
        if (r.label != sanity[i].label || r.needs_kannada != sanity[i].needs_kannada)
            fail_msg("\"%s\": got %s needs_kannada=%d (p kn-latn %.3f), want %s %d",
                     sanity[i].text, langid_label_name(r.label), r.needs_kannada,
                     (double)r.scores[LANGID_KN_LATN], langid_label_name(sanity[i].label),
                     sanity[i].needs_kannada);
        float sum = 0;
        for (int k = 0; k < LANGID_NLABELS; k++) {
            assert_true(r.scores[k] >= 0 && r.scores[k] <= 1);
            sum += r.scores[k];
        }
        assert_true(fabsf(sum - 1) < 1e-4f);
    }
}

static void test_routing(void **state)
{
    struct langid_result r;

    /* Kannada script always routes, with or without Latin words. */
    classify("ಹೌದು", &r);
    assert_true(r.needs_kannada);
    classify("ok ಸರಿ", &r);
    assert_int_equal(r.label, LANGID_MIXED_SCRIPT);
    assert_true(r.needs_kannada);
    /* A Kannada word hidden in English still routes: the label may say en,
     * but then it is never a confident en. */
    classify("Dear team, my card got blocked yesterday, please help, nanage gottilla yaake", &r);
    assert_true(r.needs_kannada);
    assert_true(r.label == LANGID_KN_LATN || r.uncertain);
    /* Short Kanglish leans to Kannada. */
    classify("hogona", &r);
    assert_true(r.needs_kannada);
    classify("beku", &r);
    assert_true(r.needs_kannada);
    /* Plain English and Hindi do not. */
    classify("Thanks a lot, see you tomorrow at the station.", &r);
    assert_false(r.needs_kannada);
    assert_false(r.uncertain);
    classify("theek hai, main kal aata hoon", &r);
    assert_false(r.needs_kannada);
    /* English about Kannada names and places is labelled English (the
     * label leaves names out); routing keeps the names as evidence, so if
     * it routes, the result is uncertain. */
    classify("Where did Rajesh go yesterday? Tell me about Mysuru.", &r);
    assert_int_equal(r.label, LANGID_EN);
    assert_true(!r.needs_kannada || r.uncertain);
    classify("Tell me about Mysuru.", &r);
    assert_int_equal(r.label, LANGID_EN);
}

static void test_never_silent_en(void **state)
{
    /* Whenever a text routes to Kannada, its label is a Kannada label or the
     * result is flagged uncertain. */
    static const char *const texts[] = {
        "ok", "hmm", "super", "bro", "guru", "sir pls", "D boss", "nice one maga",
        "Thank you so much", "what is this", "ninna", "sari", "howdu", "illa",
    };
    for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
        struct langid_result r;
        classify(texts[i], &r);
        if (r.needs_kannada && !(r.label == LANGID_KN_LATN || r.uncertain))
            fail_msg("\"%s\": routes to Kannada but says %s with confidence", texts[i],
                     langid_label_name(r.label));
        if (r.label == LANGID_EN && r.scores[LANGID_EN] < langid_uncertain_below)
            assert_true(r.uncertain);
    }
}

static void test_script_counts(void **state)
{
    struct langid_result r;

    /* ನಮಸ್ಕಾರ is 7 code points, नमस्ते 6, Ω 1; "Hello, 42!" has 5
     * letters and 4 digits/punctuation; "é" is Latin. */
    classify("ನಮಸ್ಕಾರ Hello, 42! नमस्ते Ωé 😀\t", &r);
    assert_int_equal(r.n_kannada, 7);
    assert_int_equal(r.n_devanagari, 6);
    assert_int_equal(r.n_latin, 6);
    assert_int_equal(r.n_other_script, 1);
    assert_int_equal(r.n_digits_punct, 5);
    assert_int_equal(r.n_latin_words, 2);
    assert_int_equal(r.label, LANGID_MIXED_SCRIPT);

    /* Zero-width joiners count nowhere and do not split words. */
    classify("ಕನ್\u200dನಡ", &r);
    assert_int_equal(r.n_kannada, 5);
    assert_int_equal(r.n_other_script, 0);
    assert_int_equal(r.label, LANGID_KN);

    /* Other Indic blocks are other scripts. */
    classify("తెలుగు", &r);
    assert_int_equal(r.n_other_script, 6);
    assert_int_equal(r.label, LANGID_OTHER);
    assert_false(r.needs_kannada);
}

static void test_no_letters(void **state)
{
    struct langid_result r;

    langid_classify(NULL, 0, &r);
    assert_int_equal(r.label, LANGID_OTHER);
    assert_true(r.uncertain);
    assert_false(r.needs_kannada);
    assert_true(r.scores[LANGID_OTHER] == 1);

    classify("   \n\t ", &r);
    assert_int_equal(r.label, LANGID_OTHER);
    assert_true(r.uncertain);
    classify("12:30 !!! 👍👍 ...", &r);
    assert_int_equal(r.label, LANGID_OTHER);
    assert_true(r.uncertain);
    assert_int_equal(r.n_latin + r.n_kannada + r.n_devanagari + r.n_other_script, 0);
    /* A single letter is a guess. */
    classify("k", &r);
    assert_true(r.uncertain);
}

static void test_invalid_utf8(void **state)
{
    static const struct {
        const char *bytes;
        size_t len;
        unsigned other;
    } cases[] = {
        {"\xff", 1, 1},
        {"\x80\x80", 2, 2},                 /* stray continuation bytes */
        {"\xc0\xaf", 2, 2},                 /* overlong '/': C0 is never valid */
        {"\xe0\x80\xaf", 3, 3},             /* overlong, 3 bytes */
        {"\xed\xa0\x80", 3, 3},             /* a surrogate */
        {"\xf4\x90\x80\x80", 4, 4},         /* above U+10FFFF */
        {"\xe0\xb2", 2, 1},                 /* truncated Kannada letter */
        {"\xf0\x9f\x98", 3, 1},             /* truncated emoji */
        {"ab\xe0\xb2" "cd", 6, 1},          /* truncated in the middle */
        {"\xc3", 1, 1},                     /* a lead byte at the very end */
        {"\xe0\xb2\x95\xe0\xb2", 5, 1},     /* ಕ, then half of one */
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct langid_result r;
        classify_exact(cases[i].bytes, cases[i].len, &r);
        if (r.n_other_script != cases[i].other)
            fail_msg("case %zu: %u other, want %u", i, r.n_other_script, cases[i].other);
        assert_false(r.label == LANGID_EN && !r.uncertain);
    }

    /* Nothing but invalid bytes is not a language. */
    struct langid_result junk;
    classify_exact("\xff\xfe\xc0", 3, &junk);
    assert_int_equal(junk.label, LANGID_OTHER);
    assert_true(junk.uncertain);
    assert_false(junk.needs_kannada);

    /* Random bytes: nothing may crash or read past the end (ASan). */
    uint32_t x = 12345;
    for (int round = 0; round < 2000; round++) {
        char buf[64];
        size_t n = (size_t)round % sizeof(buf);
        for (size_t k = 0; k < n; k++) {
            x = x * 1103515245u + 12345u;
            buf[k] = (char)(x >> 16);
        }
        struct langid_result r;
        classify_exact(buf, n, &r);
        assert_true((unsigned)r.label < LANGID_NLABELS);
    }
}

static void test_huge(void **state)
{
    struct langid_result r;
    const char *line = "naanu nale office ge hogtini, meeting ide. ";
    size_t ll = strlen(line);
    size_t n = 16u << 20;
    char *big = xmalloc(n);

    for (size_t off = 0; off < n; off += ll)
        memcpy(big + off, line, off + ll <= n ? ll : n - off);
    langid_classify(big, n, &r);
    assert_int_equal(r.label, LANGID_KN_LATN);
    assert_true(r.needs_kannada);
    assert_true(isfinite(r.scores[LANGID_KN_LATN]));

    /* One word of 16 MiB: no per-word buffer, so no limit. */
    memset(big, 'a', n);
    langid_classify(big, n, &r);
    assert_int_equal(r.n_latin, n);
    assert_int_equal(r.n_latin_words, 1);
    for (int k = 0; k < LANGID_NLABELS; k++)
        assert_true(isfinite(r.scores[k]));
    free(big);
}

/* The C extractor must agree with the Python one that trained the model. */
static void test_golden(void **state)
{
    for (int i = 0; i < LANGID_NGOLDEN; i++) {
        const char *t = langid_golden[i].text;
        for (int fast = 0; fast < 2; fast++) {
        struct scan s;
        float logit[LANGID_NLANES];
        scan_init(&s);
        scan_text(&s, (const unsigned char *)t, strlen(t), fast);
        lane_logits(&s, logit);
        for (int k = 0; k < LANGID_NLANES; k++) {
            float want = langid_golden[i].logits[k];
            if (fabsf(logit[k] - want) > 1e-3f * (1 + fabsf(want)))
                fail_msg("\"%s\" lane %d: C %f, Python %f", t, k, (double)logit[k],
                         (double)want);
        }
        assert_int_equal(s.vote_words, langid_golden[i].votes[0]);
        assert_int_equal(s.kn_words, langid_golden[i].votes[1]);
        assert_int_equal(s.en_words, langid_golden[i].votes[2]);
        if (s.latin > s.deva) {
            float p = route_prob(&s, logit);
            if (fabsf(p - langid_golden[i].p_kannada) > 1e-4f)
                fail_msg("\"%s\" p_kannada: C %f, Python %f", t, (double)p,
                         (double)langid_golden[i].p_kannada);
        }
        }
    }
}

/* Pieces of text for test_fast_path_twin(): every kind of byte that moves
 * ascii_words() in or out of a word. */
static const char *const twin_pieces[] = {
    " ", " ", " ", ".", "!", "?", ",", "@", "@", "9", "10th", "\t", "\x7f", "-", "'", "\n",
    "a", "b", "e", "ee", "aaa", "aaaaaa", "zz", "o", "ooooo", "k",
    "A", "E", "Z", "AA", "Ooo", "MRI", "KSRTC",
    "naanu", "nale", "office", "ge", "hogtini", "maadi", "Mysuru", "Rakshith", "Shetty",
    "the", "meeting", "Please", "tomorrow", "jaana", "hai", "sooooper", "McD",
    "\xc3\xa9", "\xc3\x84", "\xc3\x9f", "\xc3\x97", "\xe1\xb8\x8d", /* é Ä ß × ḍ */
    "\xe2\x80\x8c", "\xe2\x80\x8d",                                 /* ZWNJ ZWJ */
    "\xe0\xa4\x95", "\xe0\xa4\xbe", "\xe0\xa5\xa4", "\xe0\xa5\xa6", /* क ा । ० */
    "\xe0\xa4\xb9\xe0\xa5\x88", "\xe0\xa4\x95\xe0\xa4\x95\xe0\xa4\x95", /* है ककक */
    "\xe0\xb2\x95", "\xe0\xb3\x8d",                                 /* ಕ ್ */
    "\xd0\x96", "\xe2\x80\x94", "\xf0\x9f\x91\x8c",               /* Ж — 👌 */
    "\xff", "\xe0", "\xc3", "\xe0\xa4", "\xa9",                         /* ill-formed */
};

static uint64_t twin_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* The fields of a finished scan that reach the result or could. */
static void assert_scan_equal(const struct scan *a, const struct scan *b, const char *t, size_t n)
{
    bool same = a->latin == b->latin && a->deva == b->deva && a->kannada == b->kannada &&
                a->other == b->other && a->punct == b->punct && a->invalid == b->invalid &&
                a->latin_words == b->latin_words && a->deva_words == b->deva_words &&
                a->vote_words == b->vote_words && a->kn_words == b->kn_words &&
                a->en_words == b->en_words && a->nfeat == b->nfeat &&
                a->name_nfeat == b->name_nfeat && a->kind == b->kind &&
                !memcmp(a->lane, b->lane, sizeof(a->lane)) &&
                !memcmp(a->name_lane, b->name_lane, sizeof(a->name_lane));
    if (!same)
        fail_msg("fast and generic scans differ on \"%.*s\" (%zu bytes): nfeat %lld/%lld, "
                 "lane0 %lld/%lld, votes %zu/%zu, kn %zu/%zu, names %lld/%lld",
                 (int)n, t, n, (long long)a->nfeat, (long long)b->nfeat, (long long)a->lane[0],
                 (long long)b->lane[0], a->vote_words, b->vote_words, a->kn_words, b->kn_words,
                 (long long)a->name_nfeat, (long long)b->name_nfeat);
}

/*
 * ascii_words() is the generic path's twin for words of ASCII letters:
 * on 30,000 random texts built from pieces that enter and leave it (words
 * of every case, runs of a letter, separators, mentions, sentence ends,
 * Latin-1 letters and joiners inside words, other scripts, ill-formed
 * UTF-8, words long enough to be flushed in chunks), both must give the
 * same sums, counts and votes, and the same result to the bit.
 */
static void test_fast_path_twin(void **state)
{
    uint64_t x = 0x9E3779B97F4A7C15u;
    struct buf t = BUF_INIT;

    for (int i = 0; i < 30000; i++) {
        buf_reset(&t);
        size_t npieces = twin_rand(&x) % 24;
        for (size_t k = 0; k < npieces; k++) {
            uint64_t r = twin_rand(&x);
            if (r % 97 == 0) {
                /* A long word: past WORD_CHUNK, some past a 16-bit half. */
                size_t len = 90 + r / 97 % 700;
                for (size_t j = 0; j < len; j++)
                    buf_addch(&t, (char)("abcdefghijklmnopqrstuvwxyzAE"[twin_rand(&x) % 28]));
            } else {
                buf_addstr(&t, twin_pieces[r / 97 % ARRAY_SIZE(twin_pieces)]);
            }
        }
        struct scan a, b;
        scan_init(&a);
        scan_init(&b);
        scan_text(&a, (const unsigned char *)t.data, t.len, true);
        scan_text(&b, (const unsigned char *)t.data, t.len, false);
        assert_scan_equal(&a, &b, t.data, t.len);

        struct langid_result ra, rb;
        char *copy = t.len ? xmalloc(t.len) : NULL; /* exact size, for ASan */
        if (t.len)
            memcpy(copy, t.data, t.len);
        langid_classify(copy, t.len, &ra);
        langid__classify_generic(copy, t.len, &rb);
        free(copy);
        if (memcmp(&ra, &rb, sizeof(ra)))
            fail_msg("fast and generic results differ on \"%.*s\"", (int)t.len, t.data);
    }
    buf_release(&t);
}

/*
 * The pending sums of a word are flushed every WORD_CHUNK letters, before
 * a 16-bit half can overflow. Random letters weigh about LANGID_WEIGHT_ZERO
 * on average, too little to overflow even with no flushing; a word that
 * repeats its heaviest short pattern is the worst case. Finds the period of
 * 2 or 3 letters whose features weigh most in one lane, checks that a
 * chunk twice as long would overflow with it, and that a word of 4,000
 * such letters scans alike on both paths.
 */
static void test_fast_path_heavy_word(void **state)
{
    char best[4] = "", pat[4] = "";
    double best_avg = 0;
    struct buf w = BUF_INIT;

    for (int len = 2; len <= 3; len++) {
        int total = len == 2 ? 26 * 26 : 26 * 26 * 26;
        for (int i = 0; i < total; i++) {
            for (int k = 0, v = i; k < len; k++, v /= 26)
                pat[k] = (char)('a' + v % 26);
            pat[len] = 0;
            if (pat[0] == pat[1] && pat[1] == pat[len - 1])
                continue; /* a run: all but two letters left out */
            buf_reset(&w);
            for (int k = 0; k < 40; k++)
                buf_addstr(&w, pat);
            struct scan s;
            scan_init(&s);
            scan_text(&s, (const unsigned char *)w.data, w.len, false);
            for (int k = 0; k < LANGID_NLANES; k++) {
                double avg = (double)s.lane[k] / (double)s.nfeat;
                if (avg > best_avg) {
                    best_avg = avg;
                    memcpy(best, pat, sizeof(best));
                }
            }
        }
    }
    print_message("heaviest pattern \"%s\": %.1f a feature\n", best, best_avg);
    /* Heavy enough that 4 * 2 * WORD_CHUNK features would overflow a half. */
    assert_true(best_avg * 4 * 2 * WORD_CHUNK > 65535);
    buf_reset(&w);
    while (w.len < 4000)
        buf_addstr(&w, best);
    buf_addstr(&w, " ok");
    struct scan a, b;
    scan_init(&a);
    scan_init(&b);
    scan_text(&a, (const unsigned char *)w.data, w.len, true);
    scan_text(&b, (const unsigned char *)w.data, w.len, false);
    assert_scan_equal(&a, &b, best, strlen(best));
    buf_release(&w);
}

static void test_labels(void **state)
{
    enum langid_label l;
    for (int i = 0; i < LANGID_NLABELS; i++) {
        assert_int_equal(langid_label_parse(langid_label_name((enum langid_label)i), &l), 0);
        assert_int_equal(l, i);
    }
    assert_string_equal(langid_label_name(LANGID_KN_LATN), "kn-latn");
    assert_string_equal(langid_label_name(LANGID_MIXED_SCRIPT), "mixed-script");
    assert_string_equal(langid_label_name(LANGID_NLABELS), "?");
    assert_int_equal(langid_label_parse("english", &l), -EINVAL);
}

static bool starts(const char *s, const char *prefix)
{
    return !strncmp(s, prefix, strlen(prefix));
}

/* Runs langid_main with `in` on stdin; returns what it wrote on stdout. */
static char *run_cli(const char *in, size_t inlen, int *rc)
{
    char inpath[] = "/tmp/test_langid_in.XXXXXX";
    char outpath[] = "/tmp/test_langid_out.XXXXXX";
    int infd = mkstemp(inpath), outfd = mkstemp(outpath);
    assert_true(infd >= 0 && outfd >= 0);
    assert_int_equal(write(infd, in, inlen), (ssize_t)inlen);
    close(infd);
    assert_non_null(freopen(inpath, "r", stdin));

    fflush(stdout);
    int saved = dup(1);
    dup2(outfd, 1);
    char name[] = "langid";
    char *argv[] = {name, NULL};
    *rc = langid_main(1, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);

    struct buf b = BUF_INIT;
    char chunk[4096];
    ssize_t n;
    lseek(outfd, 0, SEEK_SET);
    while ((n = read(outfd, chunk, sizeof(chunk))) > 0)
        buf_add(&b, chunk, (size_t)n);
    close(outfd);
    unlink(inpath);
    unlink(outpath);
    return buf_detach(&b, NULL);
}

static void test_cli(void **state)
{
    struct buf in = BUF_INIT;
    int rc;

    buf_addstr(&in, "naanu nale office ge hogtini, meeting ide\r\n");
    buf_addstr(&in, "\n");
    buf_addstr(&in, "bad \xff\xfe \"quoted\"\n");
    for (int i = 0; i < 20000; i++) /* a 200 KB line */
        buf_addstr(&in, "I am fine ");
    buf_addstr(&in, "\nಸರಿ"); /* no final newline */

    char *out = run_cli(in.data, in.len, &rc);
    assert_int_equal(rc, 0);
    const char *l1 = out;
    const char *l2 = strchr(l1, '\n') + 1;
    const char *l3 = strchr(l2, '\n') + 1;
    const char *l4 = strchr(l3, '\n') + 1;
    const char *l5 = strchr(l4, '\n') + 1;
    assert_true(starts(l1, "{\"lang\":\"kn-latn\",\"needs_kannada\":true,\"uncertain\":false,"
                           "\"scores\":{\"kn\":0,\"kn-latn\":"));
    assert_non_null(strstr(l1, "\"scripts\":{\"kannada\":0,\"latin\":34,\"devanagari\":0,"
                               "\"other\":0,\"digits_punct\":1},\"p_kannada\":"));
    assert_true(starts(l2, "{\"lang\":\"other\",\"needs_kannada\":false,\"uncertain\":true"));
    assert_non_null(strstr(l3, "\"other\":2,"));
    assert_true(starts(l4, "{\"lang\":\"en\""));
    assert_true(starts(l5, "{\"lang\":\"kn\",\"needs_kannada\":true"));
    assert_int_equal(strchr(l5, '\n')[1], '\0');
    free(out);
    buf_release(&in);
}

/* put_g4() must print exactly what printf("%.4g") prints. */
static void test_put_g4(void **state)
{
    static const float fixed[] = {0.0f, 1.0f, 0.5f, 0.015625f, 1e-4f, 9.9995e-5f, 0.99995f,
                                  0.1f, 1e-18f, 9.99e-19f, 1e-45f, 1e-30f, 2.127e-08f,
                                  1.237e-05f, 0.999949f, 123.45f, 9999.5f,
                                  /* the exact path below 1e-18: denormals, the
                                   * smallest normal, both sides of 1e-18 */
                                  0x1p-149f, 0x1.fffffcp-127f, 0x1p-126f, 9.99999e-19f,
                                  1.00001e-18f, 9.9995e-30f, 9.99949e-30f};
    char want[64], got[64];
    uint32_t x = 2463534242u;
    u128 five = 1;
    for (int k = 0; k < 56; k++, five *= 5)
        assert_true(pow5(k) == five);
    for (size_t i = 0; i < ARRAY_SIZE(fixed) + 200000; i++) {
        float f;
        if (i < ARRAY_SIZE(fixed)) {
            f = fixed[i];
        } else {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            uint32_t u = x & 0x3F7FFFFFu; /* positive, below 1 */
            memcpy(&f, &u, sizeof(f));
        }
        snprintf(want, sizeof(want), "%.4g", (double)f);
        *put_g4(got, f) = '\0';
        if (strcmp(want, got))
            fail_msg("%a: printf %s, put_g4 %s", (double)f, want, got);
    }
}

/* The CLI's own copies of the label names agree with langid_label_name(). */
static void test_cli_label_json(void **state)
{
    char want[64];
    for (int i = 0; i < LANGID_NLABELS; i++) {
        const char *name = langid_label_name((enum langid_label)i);
        snprintf(want, sizeof(want), "\"%s\":", name);
        assert_int_equal(label_json[i].key_len, strlen(want));
        assert_memory_equal(label_json[i].key, want, label_json[i].key_len);
        snprintf(want, sizeof(want), "%s\",\"needs_kannada\":", name);
        assert_int_equal(label_json[i].value_len, strlen(want));
        assert_memory_equal(label_json[i].value, want, label_json[i].value_len);
    }
}

/* A coprocess writes a line and waits for the answer: the filter must
 * answer it without waiting for more input or the end of it. */
static void test_cli_coprocess(void **state)
{
    int to[2], from[2];
    assert_int_equal(pipe(to), 0);
    assert_int_equal(pipe(from), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (!pid) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        close(to[0]);
        close(to[1]);
        close(from[0]);
        close(from[1]);
        char name[] = "langid";
        char *argv[] = {name, NULL};
        _exit(langid_main(1, argv));
    }
    close(to[0]);
    close(from[1]);
    const char *q = "ivattu rain jaasti\n";
    assert_int_equal(write(to[1], q, strlen(q)), (ssize_t)strlen(q));
    struct pollfd pfd = {.fd = from[0], .events = POLLIN};
    char buf[1024];
    assert_int_equal(poll(&pfd, 1, 10000), 1);
    ssize_t n = read(from[0], buf, sizeof(buf) - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strchr(buf, '\n'));
    assert_true(starts(buf, "{\"lang\":"));
    close(to[1]);
    while (read(from[0], buf, sizeof(buf)) > 0)
        ;
    close(from[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sanity_set),
        cmocka_unit_test(test_routing),
        cmocka_unit_test(test_never_silent_en),
        cmocka_unit_test(test_script_counts),
        cmocka_unit_test(test_no_letters),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_huge),
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_fast_path_twin),
        cmocka_unit_test(test_fast_path_heavy_word),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_put_g4),
        cmocka_unit_test(test_cli_label_json),
        cmocka_unit_test(test_cli_coprocess),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
