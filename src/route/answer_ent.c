/* SPDX-License-Identifier: MIT */
/*
 * answer_ent.c: which names does a request mention? The candidate named
 * entities of answer's coverage check, found by a heuristic that needs no
 * model and no dictionary beyond a few hundred common words.
 *
 * Kannada script has no capital letters, so a name is a Kannada word that
 * is not common: not one of the ~360 most frequent function words, verbs,
 * time words and everyday nouns below, not inflected like a verb, and at
 * least three code points long. Case endings (ರಾಜೇಶನಿಗೆ "to Rajesh",
 * ಮೈಸೂರಿನಲ್ಲಿ "in Mysuru") are stripped to give the spellings the answer
 * may use. In Latin letters a name is a capitalised word of a sentence
 * that langid takes for Kannada ("naanu Rajesh jothe Mysuru ge hogidde"),
 * unless it is a common English or Kannada word (sentences start with
 * capitals too). docs/internals/answer.md discusses what this gets wrong.
 *
 * DESIGN
 * Pure and allocation-only: the word lists are constant and sorted (the
 * unit test checks the order, bsearch relies on it); the matching keys of
 * the Kannada words, needed only for Latin candidates, are computed per
 * call. Input is scanned up to ANSWER_INPUT_SCAN bytes.
 */
#include "route/answer_int.h"

#include <stdint.h>
#include <string.h>

#include "lib/utf8.h"
#include "lib/xalloc.h"
#include "text/langid.h"
#include "text/translit.h"

/* Common Kannada words, sorted by their UTF-8 bytes (strcmp order). */
static const char *const kn_common[] = {
    "ಅಂಗಡಿ", "ಅಂತ", "ಅಂಥ", "ಅಂದರೆ", "ಅಂದ್ರೆ",
    "ಅಕ್ಕ", "ಅಕ್ಕಿ", "ಅಣ್ಣ", "ಅಥವಾ", "ಅದಕ್ಕೆ",
    "ಅದನ್ನು", "ಅದರ", "ಅದು", "ಅದೇ", "ಅಪ್ಪ", "ಅಮ್ಮ",
    "ಅಲ್ಲ", "ಅಲ್ಲದೆ", "ಅಲ್ಲವೇ", "ಅಲ್ಲಿ",
    "ಅಲ್ವಾ", "ಅವನ", "ಅವನನ್ನು", "ಅವನಿಗೆ", "ಅವನು",
    "ಅವರ", "ಅವರನ್ನು", "ಅವರಿಗೆ", "ಅವರು", "ಅವಳ",
    "ಅವಳನ್ನು", "ಅವಳಿಗೆ", "ಅವಳು", "ಅವು", "ಅಷ್ಟು",
    "ಆಗ", "ಆಗಲಿ", "ಆಗಿ", "ಆಗಿದೆ", "ಆಗು",
    "ಆಗುತ್ತದೆ", "ಆದ", "ಆದರೆ", "ಆದ್ದರಿಂದ",
    "ಆಫೀಸ್", "ಆಯಿತು", "ಆರು", "ಆಸ್ಪತ್ರೆ", "ಆಹಾರ",
    "ಇಂಗ್ಲಿಷ್", "ಇಂಥ", "ಇಂದು", "ಇತ್ತು",
    "ಇದಕ್ಕೆ", "ಇದನ್ನು", "ಇದರ", "ಇದು", "ಇದೆ",
    "ಇದೆಯಾ", "ಇದೆಯೇ", "ಇದೇ", "ಇದ್ದ", "ಇದ್ದರು",
    "ಇದ್ದಾರೆ", "ಇನ್ನು", "ಇನ್ನೂ", "ಇರಿ", "ಇರು",
    "ಇರುತ್ತದೆ", "ಇಲ್ಲ", "ಇಲ್ಲದೆ", "ಇಲ್ಲಿ",
    "ಇವತ್ತು", "ಇವನು", "ಇವರ", "ಇವರಿಗೆ", "ಇವರು",
    "ಇವಳು", "ಇವು", "ಇಷ್ಟು", "ಈಗ", "ಈಗಾಗಲೇ",
    "ಉತ್ತರ", "ಊಟ", "ಊರು", "ಎಂಟು", "ಎಂದು", "ಎಂಬ",
    "ಎರಡನೇ", "ಎರಡು", "ಎಲ್ಲ", "ಎಲ್ಲರೂ", "ಎಲ್ಲವೂ",
    "ಎಲ್ಲಾ", "ಎಲ್ಲಿ", "ಎಲ್ಲಿಗೆ", "ಎಷ್ಟು", "ಏಕೆ",
    "ಏಕೆಂದರೆ", "ಏನಾದರೂ", "ಏನಿದೆ", "ಏನು", "ಏಳು",
    "ಐದು", "ಒಂದು", "ಒಂಬತ್ತು", "ಒಟ್ಟು", "ಒಳಗೆ",
    "ಒಳ್ಳೆ", "ಒಳ್ಳೆಯ", "ಓದಿ", "ಓದು", "ಔಷಧಿ",
    "ಕಂಪನಿ", "ಕಚೇರಿ", "ಕಡಿಮೆ", "ಕನ್ನಡ", "ಕಪ್ಪು",
    "ಕಳುಹಿಸಿ", "ಕಳುಹಿಸು", "ಕಾಫಿ", "ಕಾರು",
    "ಕುಟುಂಬ", "ಕುಡಿ", "ಕುರಿತು", "ಕೂಡ", "ಕೆಂಪು",
    "ಕೆಲವು", "ಕೆಲಸ", "ಕೆಳಗಿನ", "ಕೆಳಗೆ", "ಕೇಳಿ",
    "ಕೇಳು", "ಕೊಟ್ಟ", "ಕೊಡಿ", "ಕೊಡು", "ಕ್ರಿಯೆ",
    "ಗಂಟೆ", "ಗಂಡ", "ಗುರುವಾರ", "ಗೆಳೆಯ", "ಗೊತ್ತಾ",
    "ಗೊತ್ತಿಲ್ಲ", "ಗೊತ್ತು", "ಚಹಾ", "ಚಿಕ್ಕ",
    "ಚಿತ್ರ", "ಚಿತ್ರದಲ್ಲಿ", "ಚೆನ್ನಾಗಿ", "ಜನ",
    "ಜನರು", "ಜೊತೆ", "ಜೊತೆಗೆ", "ಜೊತೆಯಲ್ಲಿ",
    "ಟೈಮ್", "ಡಾಕ್ಟರ್", "ತಂಗಿ", "ತನಕ", "ತನ್ನ",
    "ತಮ್ಮ", "ತರಕಾರಿ", "ತಾನು", "ತಿಂಗಳು", "ತಿಂಡಿ",
    "ತಿಂದ", "ತಿನ್ನು", "ತಿಳಿಸಿ", "ತುಂಬ", "ತುಂಬಾ",
    "ತೆಗೆದುಕೊಳ್ಳಿ", "ದಯವಿಟ್ಟು", "ದಿನ",
    "ದಿನಾಂಕ", "ದುಡ್ಡು", "ದೃಶ್ಯ", "ದೊಡ್ಡ",
    "ಧನ್ಯವಾದ", "ನಂತರ", "ನನಗೆ", "ನನ್ನ",
    "ನನ್ನನ್ನು", "ನಮಗೆ", "ನಮಸ್ಕಾರ", "ನಮ್ಮ",
    "ನಮ್ಮನ್ನು", "ನಾನು", "ನಾಲ್ಕು", "ನಾಳೆ",
    "ನಾವು", "ನಾವೆಲ್ಲ", "ನಿಧಾನ", "ನಿನಗೆ",
    "ನಿನ್ನ", "ನಿನ್ನನ್ನು", "ನಿನ್ನೆ", "ನಿಮಗೆ",
    "ನಿಮಿಷ", "ನಿಮ್ಮ", "ನಿಮ್ಮನ್ನು", "ನೀನು",
    "ನೀರು", "ನೀವು", "ನೂರು", "ನೋಡಿ", "ನೋಡಿದ",
    "ನೋಡು", "ಪಟ್ಟಿ", "ಪಠ್ಯ", "ಪರೀಕ್ಷೆ",
    "ಪುಸ್ತಕ", "ಪ್ರತಿ", "ಪ್ರವಾಸ", "ಪ್ರಶ್ನೆ",
    "ಫಲಿತಾಂಶ", "ಫೋಟೋ", "ಫೋನ್", "ಬಂದ", "ಬಂದರು",
    "ಬಂದಿದ್ದ", "ಬಂದೆ", "ಬಗ್ಗೆ", "ಬನ್ನಿ",
    "ಬರುತ್ತಾರೆ", "ಬರುತ್ತೇನೆ", "ಬರೆ",
    "ಬರೆಯಿರಿ", "ಬಳಿ", "ಬಸ್", "ಬಸ್ಸು", "ಬಹಳ", "ಬಾ",
    "ಬಿಟ್ಟು", "ಬಿಡು", "ಬಿಲ್", "ಬಿಳಿ", "ಬುಧವಾರ",
    "ಬೆಲೆ", "ಬೆಳಗ್ಗೆ", "ಬೆಳಿಗ್ಗೆ", "ಬೇಕಾ",
    "ಬೇಕಾದರೆ", "ಬೇಕು", "ಬೇಗ", "ಬೇಡ", "ಬೇರೆ",
    "ಬ್ಯಾಂಕ್", "ಭಾನುವಾರ", "ಭಾಷೆ", "ಮಂಗಳವಾರ",
    "ಮಕ್ಕಳು", "ಮಗ", "ಮಗಳು", "ಮತ್ತು", "ಮತ್ತೆ",
    "ಮದುವೆ", "ಮಧ್ಯಾಹ್ನ", "ಮನೆ", "ಮಾಡಬೇಕು",
    "ಮಾಡಿ", "ಮಾಡಿದ", "ಮಾಡಿದೆ", "ಮಾಡು",
    "ಮಾಡುತ್ತೇನೆ", "ಮಾತ್ರ", "ಮಾರುಕಟ್ಟೆ",
    "ಮಾಹಿತಿ", "ಮೀಟಿಂಗ್", "ಮುಂದೆ", "ಮುಖ್ಯ",
    "ಮೂರು", "ಮೂಲಕ", "ಮೇಲಿನ", "ಮೇಲೆ", "ಮೊತ್ತ",
    "ಮೊದಲ", "ಮೊದಲು", "ಮೊನ್ನೆ", "ಯಾಕೆ", "ಯಾರ",
    "ಯಾರಿಗೆ", "ಯಾರು", "ಯಾವ", "ಯಾವಾಗ", "ಯಾವಾಗಲೂ",
    "ಯಾವುದು", "ಯಾವುದೇ", "ರಕ್ತ", "ರಸೀದಿ",
    "ರಸ್ತೆ", "ರಾತ್ರಿ", "ರೂಪಾಯಿ", "ಲಕ್ಷ", "ವರದಿ",
    "ವರೆಗೆ", "ವರ್ಷ", "ವಸ್ತು", "ವಸ್ತುಗಳು", "ವಾರ",
    "ವಿಳಾಸ", "ವಿಷಯ", "ವೈದ್ಯರು", "ವ್ಯಕ್ತಿ",
    "ಶನಿವಾರ", "ಶಾಲೆ", "ಶುಕ್ರವಾರ", "ಸಂಖ್ಯೆ",
    "ಸಂಜೆ", "ಸಂದೇಶ", "ಸಕ್ಕರೆ", "ಸಣ್ಣ", "ಸಮಯ",
    "ಸರಿ", "ಸರಿಯಾ", "ಸಲುವಾಗಿ", "ಸಹ", "ಸಹಾಯ",
    "ಸಾರಾಂಶ", "ಸಾವಿರ", "ಸಿಕ್ಕಿತು", "ಸೋಮವಾರ",
    "ಸ್ನೇಹಿತ", "ಸ್ವಲ್ಪ", "ಹಣ", "ಹಣ್ಣು",
    "ಹತ್ತಿರ", "ಹತ್ತು", "ಹಬ್ಬ", "ಹಳೆಯ", "ಹಸಿರು",
    "ಹಾಕಿ", "ಹಾಕು", "ಹಾಗೂ", "ಹಾಗೆ", "ಹಾಲು",
    "ಹಿಂದೆ", "ಹೀಗೆ", "ಹುಡುಕಿ", "ಹುಡುಕು",
    "ಹೆಂಡತಿ", "ಹೆಚ್ಚು", "ಹೆಸರು", "ಹೇಗೆ", "ಹೇಳಿ",
    "ಹೇಳಿದ", "ಹೇಳಿದರು", "ಹೇಳು", "ಹೊತ್ತು",
    "ಹೊರಗೆ", "ಹೊಸ", "ಹೋಗಬೇಕು", "ಹೋಗಿ",
    "ಹೋಗಿದ್ದೆ", "ಹೋಗು", "ಹೋಗುತ್ತೇನೆ",
    "ಹೋಟೆಲ್", "ಹೋದ", "ಹೋದರು", "ಹೋದೆ", "ಹೌದಾ",
    "ಹೌದು",
};

/* Common English words that start sentences or prompts, and the English
 * loanwords Kanglish capitalises most, lowercase, sorted. */
static const char *const en_common[] = {
    "a", "all", "also", "am", "an", "and", "answer", "any", "api", "april", "are", "assistant",
    "august", "bank", "be", "been", "being", "best", "birthday", "breakfast", "bus", "but",
    "can", "class", "coffee", "college", "could", "dear", "december", "describe", "did",
    "dinner", "do", "doctor", "does", "dr", "each", "evening", "every", "exam", "explain",
    "extract", "february", "find", "first", "format", "friday", "get", "give", "good", "had",
    "has", "have", "he", "hello", "her", "here", "hey", "hi", "his", "home", "hospital",
    "hotel", "how", "i", "if", "image", "is", "it", "its", "january", "json", "july", "june",
    "just", "last", "leave", "let", "list", "lunch", "madam", "make", "march", "market", "may",
    "meeting", "might", "monday", "month", "morning", "movie", "mr", "mrs", "ms", "must", "my",
    "new", "next", "night", "no", "not", "note", "november", "now", "october", "office", "ok",
    "okay", "old", "one", "only", "or", "our", "output", "party", "pdf", "phone", "photo",
    "picture", "please", "reply", "respond", "return", "saturday", "school", "september",
    "shall", "she", "shop", "should", "show", "sir", "so", "some", "summarise", "summarize",
    "sunday", "system", "tea", "tell", "temple", "text", "thank", "thanks", "that", "the",
    "their", "then", "there", "these", "they", "this", "those", "three", "thursday", "today",
    "tomorrow", "train", "translate", "trip", "tuesday", "two", "url", "use", "user", "was",
    "we", "wednesday", "week", "were", "what", "when", "where", "which", "who", "whom", "whose",
    "why", "will", "work", "would", "write", "year", "yes", "yesterday", "you", "your",
};

/* Endings of inflected verbs (ಹೋಗಿದ್ದೆ, ಮಾಡುತ್ತೇನೆ, ಬರಬೇಕು, ...): a word
 * ending so is not a name. */
static const char *const kn_verb_endings[] = {
    "ತ್ತೇನೆ", "ತ್ತೀನಿ", "ತ್ತಾರೆ", "ತ್ತಾನೆ", "ತ್ತಾಳೆ", "ತ್ತದೆ", "ತ್ತೆ", "ತ್ತೀರಿ", "ತ್ತೀಯ",
    "ುತ್ತಾ", "ದ್ದೇನೆ", "ದ್ದೀನಿ", "ದ್ದಾರೆ", "ದ್ದಾನೆ", "ದ್ದಾಳೆ", "ದ್ದೆ", "ದ್ದರು", "ದ್ದನು",
    "ದ್ದಳು", "ದ್ದೆವು", "ದ್ದಿತು", "ಿದೆ", "ಿದರು", "ಿದನು", "ಿದಳು", "ಿದೆವು", "ಿದೆನು", "ಿತು",
    "ಿದ್ದ", "ಬೇಕು", "ಬೇಕಿತ್ತು", "ಬಹುದು", "ಬೇಡ", "ಲಿಲ್ಲ", "ಿಲ್ಲ", "ುವುದು", "ುವುದಿಲ್ಲ", "ೋಣ",
    "ಿಸಿದೆ", "ಿಸಿದರು", "ಿಸು", "ಿಸಿ",
    /* past tense of the irregular verbs: ಕೊಟ್ಟೆ, ಇಟ್ಟರು, ಬಂದೆ, ಹೋದೆ, ಕಂಡೆ */
    "ಟ್ಟೆ", "ಟ್ಟರು", "ಟ್ಟನು", "ಟ್ಟಳು", "ಟ್ಟಿತು", "ಟ್ಟೆವು", "ಂದೆ", "ಂದರು", "ಂದನು",
    "ಂದಳು", "ಂದಿತು", "ಾದೆ", "ಾದರು", "ಾದನು", "ಾದಳು", "ಾಯಿತು", "ೋದೆ", "ೋದರು", "ೋದನು", "ೋದಳು", "ೋಯಿತು", "ಂಡೆ", "ಂಡರು", "ಂಡನು",
};

/* Case endings and clitics, longest first where one ends another. A word
 * with one also yields its stem, and the stem plus ು where the ending ate
 * a final u (ಮೈಸೂರು + ಇಗೆ = ಮೈಸೂರಿಗೆ). */
static const char *const kn_case_endings[] = {
    "ಿನಿಂದ", "ಿನಿಗೆ", "ಿನಲ್ಲಿ", "ನಲ್ಲಿ", "ಳಲ್ಲಿ", "ಯಲ್ಲಿ", "ದಲ್ಲಿ", "ರಲ್ಲಿ", "ಲ್ಲಿ", "ನನ್ನು", "ಳನ್ನು", "ವನ್ನು",
    "ಯನ್ನು", "ರನ್ನು", "ನ್ನು", "ನಿಂದ", "ಳಿಂದ", "ರಿಂದ", "ಯಿಂದ", "ದಿಂದ", "ಿಂದ", "ನಿಗೆ", "ಳಿಗೆ",
    "ರಿಗೆ", "ಿಗೆ", "ಗೆ", "ಕ್ಕೆ", "ನೂ", "ಗೂ", "ಿನ", "ನ", "ದ", "ಯ", "ಳ", "ರ",
};

/* The same endings as Kanglish writes them glued to a name (Mysurige,
 * Rajeshna, Bengalurinalli). */
static const char *const latn_case_endings[] = {
    "inalli", "nalli", "alli", "nannu", "annu", "ninda", "inda", "nige", "ige", "ge", "ina", "na",
};

#define MIN_NAME_CPS 3
#define MIN_STEM_CPS 3

static size_t cps_of(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

static bool ends_with(const char *w, size_t n, const char *suffix)
{
    size_t sl = strlen(suffix);
    return sl < n && !memcmp(w + n - sl, suffix, sl);
}

static int cmp_mem_str(const char *w, size_t n, const char *s)
{
    size_t sl = strlen(s);
    int c = memcmp(w, s, n < sl ? n : sl);
    return c ? c : (n > sl) - (n < sl);
}

/* bsearch over a sorted list of NUL-terminated strings. */
static bool in_sorted(const char *const *list, size_t count, const char *w, size_t n)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_mem_str(w, n, list[mid]);
        if (!c)
            return true;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return false;
}

bool answer__kn_common(const char *word, size_t len)
{
    return in_sorted(kn_common, ARRAY_SIZE(kn_common), word, len);
}

static bool kn_letter(int32_t cp)
{
    return (cp >= 0x0C85 && cp <= 0x0CB9) || cp == 0x0CDE || cp == 0x0CE0 || cp == 0x0CE1;
}

/* Part of a Kannada word: the block without its digits, and the joiners
 * that shape conjuncts (ರಾಜೇಶ್‌ಗೆ). */
static bool kn_wordchar(int32_t cp)
{
    return (cp >= 0x0C80 && cp <= 0x0CFF && !(cp >= 0x0CE6 && cp <= 0x0CEF)) || cp == 0x200C ||
           cp == 0x200D;
}

static bool kn_consonant_last(const char *w, size_t n)
{
    int32_t cp;
    /* every Kannada code point is three bytes */
    if (n < 3)
        return false;
    utf8_decode((const unsigned char *)w + n - 3, 3, &cp);
    return cp >= 0x0C95 && cp <= 0x0CB9;
}

/* Work state of one answer__entities_find() call. */
struct finder {
    struct answer_entities *out;
    size_t max;
    struct buf key;
    char **common_keys; /* translit keys of kn_common, sorted; made on demand */
    size_t ncommon_keys;
};

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Is the matching key of a Latin word the key of a common Kannada word
 * (Naanu = ನಾನು)? */
static bool latn_common_kn(struct finder *f, const char *w, size_t n)
{
    if (!f->common_keys) {
        f->common_keys = xcalloc(ARRAY_SIZE(kn_common), sizeof(char *));
        for (size_t i = 0; i < ARRAY_SIZE(kn_common); i++) {
            struct buf k = BUF_INIT;
            translit_key(kn_common[i], strlen(kn_common[i]), &k);
            f->common_keys[f->ncommon_keys++] = buf_detach(&k, NULL);
        }
        qsort(f->common_keys, f->ncommon_keys, sizeof(char *), cmp_strp);
    }
    buf_reset(&f->key);
    translit_key(w, n, &f->key);
    return in_sorted((const char *const *)f->common_keys, f->ncommon_keys, buf_cstr(&f->key),
                     f->key.len);
}

/* A candidate being built: its forms as text. */
struct cand {
    char *forms[ANSWER_FORMS_MAX];
    size_t n;
};

static void cand_add(struct cand *c, const char *s, size_t n, const char *suffix)
{
    if (c->n >= ANSWER_FORMS_MAX)
        return;
    c->forms[c->n] = xasprintf("%.*s%s", (int)n, s, suffix ? suffix : "");
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->forms[i], c->forms[c->n])) {
            free(c->forms[c->n]);
            return;
        }
    c->n++;
}

static void cand_release(struct cand *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->forms[i]);
    c->n = 0;
}

/* Adds the candidate as a new entity unless one of its keys is already
 * known (ರಾಜೇಶ್ and Rajesh in one request are one name). */
static void cand_commit(struct finder *f, struct cand *c)
{
    struct answer_entity e = {NULL, {NULL}, 0};

    if (f->out->n >= f->max)
        return;
    for (size_t i = 0; i < c->n; i++) {
        buf_reset(&f->key);
        translit_key(c->forms[i], strlen(c->forms[i]), &f->key);
        if (!f->key.len)
            continue;
        for (size_t j = 0; j < f->out->n; j++)
            for (size_t k = 0; k < f->out->v[j].nkeys; k++)
                if (!strcmp(f->out->v[j].keys[k], buf_cstr(&f->key)))
                    goto dup;
        for (size_t k = 0; k < e.nkeys; k++)
            if (!strcmp(e.keys[k], buf_cstr(&f->key)))
                goto next;
        e.keys[e.nkeys++] = xstrdup(buf_cstr(&f->key));
    next:;
    }
    if (!e.nkeys)
        return;
    e.name = xstrdup(c->forms[0]);
    ALLOC_GROW(f->out->v, f->out->n + 1, f->out->alloc);
    f->out->v[f->out->n++] = e;
    return;
dup:
    for (size_t k = 0; k < e.nkeys; k++)
        free(e.keys[k]);
}

/* One Kannada-script word. */
static void kn_word(struct finder *f, const char *w, size_t n)
{
    struct cand c = {{NULL}, 0};
    int32_t first;

    utf8_decode((const unsigned char *)w, n, &first);
    if (!kn_letter(first) || cps_of(w, n) < MIN_NAME_CPS || answer__kn_common(w, n))
        return;
    for (size_t i = 0; i < ARRAY_SIZE(kn_verb_endings); i++)
        if (ends_with(w, n, kn_verb_endings[i]))
            return;
    cand_add(&c, w, n, NULL);
    for (size_t i = 0; i < ARRAY_SIZE(kn_case_endings); i++) {
        size_t sl = strlen(kn_case_endings[i]);
        if (!ends_with(w, n, kn_case_endings[i]) || cps_of(w, n - sl) < MIN_STEM_CPS)
            continue;
        /* ಮನೆಯಲ್ಲಿ is ಮನೆ, a common word, and not a name */
        if (answer__kn_common(w, n - sl))
            goto out;
        cand_add(&c, w, n - sl, NULL);
        if (kn_consonant_last(w, n - sl))
            cand_add(&c, w, n - sl, "ು");
    }
    cand_commit(f, &c);
out:
    cand_release(&c);
}

static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || is_upper(c);
}

static bool latn_vowel(char c)
{
    return strchr("aeiouAEIOU", c) != NULL;
}

/* One capitalised Latin word of a Kannada sentence. */
static void latn_word(struct finder *f, const char *w, size_t n)
{
    struct cand c = {{NULL}, 0};
    char lower[32];

    if (n < MIN_NAME_CPS || n >= sizeof(lower))
        return;
    for (size_t i = 0; i < n; i++)
        lower[i] = (char)(is_upper(w[i]) ? w[i] - 'A' + 'a' : w[i]);
    if (in_sorted(en_common, ARRAY_SIZE(en_common), lower, n) || latn_common_kn(f, w, n))
        return;
    cand_add(&c, w, n, NULL);
    for (size_t i = 0; i < ARRAY_SIZE(latn_case_endings); i++) {
        size_t sl = strlen(latn_case_endings[i]);
        if (!ends_with(lower, n, latn_case_endings[i]) || n - sl < MIN_NAME_CPS)
            continue;
        cand_add(&c, w, n - sl, NULL);
        if (!latn_vowel(w[n - sl - 1]))
            cand_add(&c, w, n - sl, "u");
    }
    cand_commit(f, &c);
    cand_release(&c);
}

/* A byte that makes a letter run part of something else: a digit, or
 * any byte of a non-ASCII character. */
static bool glue(char c)
{
    return (unsigned char)c >= 0x80 || (c >= '0' && c <= '9');
}

/* One sentence (or line): its capitalised Latin words, if langid reads it
 * as Kannada. */
static void latn_sentence(struct finder *f, const char *s, size_t n)
{
    struct langid_result r;
    bool any = false;
    for (size_t i = 0; i + 1 < n && !any; i++)
        any = is_upper(s[i]) && (i == 0 || !is_alpha(s[i - 1]));
    if (!any)
        return;
    /* needs_kannada alone is generous on purpose (langid.h); a sentence
     * it still calls English, "Tell me about Mysuru.", is English here. */
    langid_classify(s, n, &r);
    if (!r.needs_kannada || r.label == LANGID_EN)
        return;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        if (!is_alpha(s[i])) {
            i++;
            continue;
        }
        while (j < n && is_alpha(s[j]))
            j++;
        /* a letter run glued to other scripts or digits is no plain word */
        bool glued = (i > 0 && glue(s[i - 1])) || (j < n && glue(s[j]));
        if (is_upper(s[i]) && !glued)
            latn_word(f, s + i, j - i);
        i = j;
    }
}

void answer__entities_find(const char *input, size_t len, size_t max,
                           struct answer_entities *out)
{
    struct finder f = {out, max, BUF_INIT, NULL, 0};
    const unsigned char *s = (const unsigned char *)input;
    size_t i = 0, word = SIZE_MAX, sent = 0;

    if (len > ANSWER_INPUT_SCAN)
        len = ANSWER_INPUT_SCAN;
    /* One pass: Kannada words as they end, Latin words when their
     * sentence ends. */
    while (i <= len && out->n < max) {
        int32_t cp = 0;
        size_t k = 1;
        if (i < len)
            k = utf8_decode(s + i, len - i, &cp);
        bool end = i == len;
        if (!end && kn_wordchar(cp)) {
            if (word == SIZE_MAX)
                word = i;
        } else if (word != SIZE_MAX) {
            kn_word(&f, input + word, i - word);
            word = SIZE_MAX;
        }
        /* A sentence ends at a newline, or at . ! ? before white space. */
        if (end || cp == '\n' ||
            ((cp == '.' || cp == '!' || cp == '?') &&
             (i + 1 >= len || s[i + 1] == ' ' || s[i + 1] == '\n' || s[i + 1] == '\t'))) {
            latn_sentence(&f, input + sent, i - sent);
            sent = i + k;
        }
        i += k;
    }
    for (size_t j = 0; j < f.ncommon_keys; j++)
        free(f.common_keys[j]);
    free(f.common_keys);
    buf_release(&f.key);
}

void answer__entities_release(struct answer_entities *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->v[i].name);
        for (size_t k = 0; k < e->v[i].nkeys; k++)
            free(e->v[i].keys[k]);
    }
    free(e->v);
    e->v = NULL;
    e->n = e->alloc = 0;
}

bool answer__entity_in(const struct answer_entity *e, const char *spaced_key)
{
    for (size_t i = 0; i < e->nkeys; i++) {
        const char *k = e->keys[i];
        size_t kl = strlen(k);
        for (const char *p = strstr(spaced_key, k); p; p = strstr(p + 1, k))
            if (p > spaced_key && p[-1] == ' ' && p[kl] == ' ')
                return true;
    }
    return false;
}
