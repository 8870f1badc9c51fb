/* SPDX-License-Identifier: MIT */
/*
 * vision.c: the schema and prompt hermod sends with an image, and the
 * reading of the answer into struct vision_desc. See vision.h.
 *
 * Why the schema looks as it does (docs/internals/extract.md has more):
 *
 *   - Property order is generation order under a grammar: the model
 *     describes and transcribes first and classifies after, so "kind" and
 *     the typed fields are decided with the text already written out.
 *   - Typed values are strings as printed ("₹ 1,25,000", "20/11/2026"),
 *     not numbers: models copy well and normalise badly (lakh grouping,
 *     day-first dates), and extract.c parses them deterministically with
 *     the raw text kept.
 *   - Each typed sub-object is "anyOf [null, object]", so an engine keeps
 *     the three that do not apply down to four bytes each.
 *
 * DESIGN
 * Constant data and pure functions. vision_schema() parses the constant
 * text each call (3 KiB; microseconds), which keeps no shared json_t whose
 * refcount threads would race on.
 */
#include "ingest/vision.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "lib/xalloc.h"
#include "text/jschema.h"
#include "text/translit.h"

/* The name of the schema in response_format. */
static const char schema_name[] = "visual_description";

static const char schema_text[] =
    "{\n"
    "  \"type\": \"object\",\n"
    "  \"additionalProperties\": false,\n"
    "  \"required\": [\"scene\", \"objects\", \"text\", \"actions\", \"people_count\", \"kind\",\n"
    "               \"receipt\", \"lab_report\", \"screenshot\", \"whiteboard\"],\n"
    "  \"properties\": {\n"
    "    \"scene\": {\"type\": \"string\",\n"
    "      \"description\": \"What the image shows, in one to three English sentences\"},\n"
    "    \"objects\": {\n"
    "      \"type\": \"array\",\n"
    "      \"items\": {\n"
    "        \"type\": \"object\",\n"
    "        \"additionalProperties\": false,\n"
    "        \"required\": [\"name\", \"count\", \"attributes\"],\n"
    "        \"properties\": {\n"
    "          \"name\": {\"type\": \"string\"},\n"
    "          \"count\": {\"type\": [\"integer\", \"null\"]},\n"
    "          \"attributes\": {\"type\": [\"array\", \"null\"],\n"
    "            \"items\": {\"type\": \"string\"}}\n"
    "        }\n"
    "      }\n"
    "    },\n"
    "    \"text\": {\n"
    "      \"type\": \"array\",\n"
    "      \"description\": \"Every readable text, verbatim, in reading order\",\n"
    "      \"items\": {\n"
    "        \"type\": \"object\",\n"
    "        \"additionalProperties\": false,\n"
    "        \"required\": [\"content\", \"language\", \"script\"],\n"
    "        \"properties\": {\n"
    "          \"content\": {\"type\": \"string\"},\n"
    "          \"language\": {\"type\": \"string\",\n"
    "            \"description\": \"ISO 639-1 code (kn, en, hi) or und\"},\n"
    "          \"script\": {\"type\": \"string\",\n"
    "            \"description\": \"ISO 15924 code (Knda, Latn, Deva)\"}\n"
    "        }\n"
    "      }\n"
    "    },\n"
    "    \"actions\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}},\n"
    "    \"people_count\": {\"type\": \"integer\", \"minimum\": 0},\n"
    "    \"kind\": {\n"
    "      \"type\": \"string\",\n"
    "      \"enum\": [\"photo\", \"screenshot\", \"receipt\", \"document\", \"whiteboard\",\n"
    "               \"lab_report\", \"meal\", \"other\"]\n"
    "    },\n"
    "    \"receipt\": {\n"
    "      \"anyOf\": [\n"
    "        {\"type\": \"null\"},\n"
    "        {\n"
    "          \"type\": \"object\",\n"
    "          \"additionalProperties\": false,\n"
    "          \"required\": [\"merchant\", \"date\", \"currency\", \"total\", \"items\"],\n"
    "          \"properties\": {\n"
    "            \"merchant\": {\"type\": [\"string\", \"null\"]},\n"
    "            \"date\": {\"type\": [\"string\", \"null\"], \"description\": \"As printed\"},\n"
    "            \"currency\": {\"type\": [\"string\", \"null\"],\n"
    "              \"description\": \"ISO 4217 code; INR for Rs or the rupee sign\"},\n"
    "            \"total\": {\"type\": [\"string\", \"null\"],\n"
    "              \"description\": \"Final amount paid, as printed\"},\n"
    "            \"items\": {\n"
    "              \"type\": \"array\",\n"
    "              \"items\": {\n"
    "                \"type\": \"object\",\n"
    "                \"additionalProperties\": false,\n"
    "                \"required\": [\"name\", \"qty\", \"price\", \"amount\"],\n"
    "                \"properties\": {\n"
    "                  \"name\": {\"type\": \"string\"},\n"
    "                  \"qty\": {\"type\": [\"string\", \"null\"]},\n"
    "                  \"price\": {\"type\": [\"string\", \"null\"],\n"
    "                    \"description\": \"Unit price (rate), as printed\"},\n"
    "                  \"amount\": {\"type\": [\"string\", \"null\"],\n"
    "                    \"description\": \"Line amount, as printed\"}\n"
    "                }\n"
    "              }\n"
    "            }\n"
    "          }\n"
    "        }\n"
    "      ]\n"
    "    },\n"
    "    \"lab_report\": {\n"
    "      \"anyOf\": [\n"
    "        {\"type\": \"null\"},\n"
    "        {\n"
    "          \"type\": \"object\",\n"
    "          \"additionalProperties\": false,\n"
    "          \"required\": [\"lab\", \"date\", \"tests\"],\n"
    "          \"properties\": {\n"
    "            \"lab\": {\"type\": [\"string\", \"null\"]},\n"
    "            \"date\": {\"type\": [\"string\", \"null\"],\n"
    "              \"description\": \"Sample collection date, else report date, as printed\"},\n"
    "            \"tests\": {\n"
    "              \"type\": \"array\",\n"
    "              \"items\": {\n"
    "                \"type\": \"object\",\n"
    "                \"additionalProperties\": false,\n"
    "                \"required\": [\"test\", \"value\", \"unit\", \"reference_range\",\n"
    "                  \"flag\"],\n"
    "                \"properties\": {\n"
    "                  \"test\": {\"type\": \"string\"},\n"
    "                  \"value\": {\"type\": [\"string\", \"null\"],\n"
    "                    \"description\": \"As printed: 6.5, 120/80, Negative\"},\n"
    "                  \"unit\": {\"type\": [\"string\", \"null\"]},\n"
    "                  \"reference_range\": {\"type\": [\"string\", \"null\"],\n"
    "                    \"description\": \"As printed: 0.4-4.0, < 200\"},\n"
    "                  \"flag\": {\"type\": [\"string\", \"null\"],\n"
    "                    \"description\": \"Mark printed beside the value: H, L, *\"}\n"
    "                }\n"
    "              }\n"
    "            }\n"
    "          }\n"
    "        }\n"
    "      ]\n"
    "    },\n"
    "    \"screenshot\": {\n"
    "      \"anyOf\": [\n"
    "        {\"type\": \"null\"},\n"
    "        {\n"
    "          \"type\": \"object\",\n"
    "          \"additionalProperties\": false,\n"
    "          \"required\": [\"app\", \"people\", \"topics\"],\n"
    "          \"properties\": {\n"
    "            \"app\": {\"type\": [\"string\", \"null\"]},\n"
    "            \"people\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}},\n"
    "            \"topics\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}}\n"
    "          }\n"
    "        }\n"
    "      ]\n"
    "    },\n"
    "    \"whiteboard\": {\n"
    "      \"anyOf\": [\n"
    "        {\"type\": \"null\"},\n"
    "        {\n"
    "          \"type\": \"object\",\n"
    "          \"additionalProperties\": false,\n"
    "          \"required\": [\"action_items\"],\n"
    "          \"properties\": {\n"
    "            \"action_items\": {\n"
    "              \"type\": \"array\",\n"
    "              \"items\": {\n"
    "                \"type\": \"object\",\n"
    "                \"additionalProperties\": false,\n"
    "                \"required\": [\"text\", \"owner\", \"due\"],\n"
    "                \"properties\": {\n"
    "                  \"text\": {\"type\": \"string\"},\n"
    "                  \"owner\": {\"type\": [\"string\", \"null\"]},\n"
    "                  \"due\": {\"type\": [\"string\", \"null\"],\n"
    "                    \"description\": \"As written: 28/11, Friday, EOD\"}\n"
    "                }\n"
    "              }\n"
    "            }\n"
    "          }\n"
    "        }\n"
    "      ]\n"
    "    }\n"
    "  }\n"
    "}\n";

const char *vision_schema_json(void)
{
    return schema_text;
}

json_t *vision_schema(void)
{
    return jschema_parse_const(schema_name, schema_text);
}

json_t *vision_response_format(void)
{
    return jschema_response_format(schema_name, schema_text);
}

static const char prompt_frames[] =
    "These images are frames sampled in order from one short video. Describe the video as a "
    "whole: scene says what happens over time, actions lists what happens in order, "
    "people_count is the most people visible in any one frame, and text lists each readable "
    "text once.\n\n";

static const char prompt_main[] =
    "Describe this image for its owner's personal memory. Reply with one JSON object that "
    "follows the schema, and nothing else.\n"
    "\n"
    "scene: one to three plain English sentences: what the image shows, where, and anything "
    "notable.\n"
    "objects: the main things visible, with a count when you can count them and attributes "
    "such as colour, brand or condition.\n"
    "text: every piece of readable text, each line or block once, in reading order. Copy it "
    "exactly as written: do not translate, transliterate, correct or complete it, and keep its "
    "script (Kannada stays in Kannada letters, Hindi in Devanagari). language is an ISO 639-1 "
    "code (kn, en, hi, ta, te, ...) or \"und\" when unsure; script is an ISO 15924 code "
    "(Knda, Latn, Deva, ...). An empty array when there is no text.\n"
    "actions: what people or things are doing, as short phrases.\n"
    "people_count: how many people are visible (0 if none).\n"
    "kind: receipt (a bill or invoice), lab_report (medical test results), screenshot (a "
    "phone or computer screen), whiteboard (a whiteboard, blackboard or handwritten list of "
    "tasks), document (other printed or handwritten pages), meal (food as the subject), photo "
    "(anything else photographed), or other.\n"
    "\n"
    "Fill the typed field named by kind and set the other typed fields (receipt, lab_report, "
    "screenshot, whiteboard) to null. Copy values as printed, with their symbols, units and "
    "separators (\"\xe2\x82\xb9" "1,25,000.00\", \"20/11/2026\", \"6.5\", \"mIU/L\", "
    "\"0.4-4.0\"). Use null for anything not legible; never guess.\n"
    "- receipt: the merchant as printed at the top; the date; currency as an ISO 4217 code "
    "(INR for \xe2\x82\xb9 or Rs); total is the final amount paid (Grand Total, Net Amount), "
    "not a subtotal or a tax; one item per line item, with its qty, unit price (rate) and line "
    "amount.\n"
    "- lab_report: the lab's name; the sample collection date, else the report date; one entry "
    "per test with its value, unit and reference range as printed, and the flag printed beside "
    "the value (H, L, *), else null. A blood pressure is one value, \"120/80\".\n"
    "- screenshot: the app; the people named (chat contacts, senders, payees); the main topics, "
    "a few words each.\n"
    "- whiteboard: one entry per action item or task, with its owner and due date as written, "
    "null when not written.\n";

void vision_prompt(enum vision_input in, struct buf *out)
{
    if (in == VISION_INPUT_FRAMES)
        buf_add(out, prompt_frames, sizeof(prompt_frames) - 1);
    buf_add(out, prompt_main, sizeof(prompt_main) - 1);
}

int vision_parse(const char *text, size_t len, json_t **out, struct buf *err)
{
    json_error_t jerr = {.text = "no '{' in the answer"};
    *out = NULL;
    if (len > VISION_MAX_ANSWER) {
        if (err)
            buf_addf(err, "vision: answer of %zu bytes exceeds %u", len, VISION_MAX_ANSWER);
        return -EMSGSIZE;
    }
    const char *p = text, *end = text + len;
    /* Reasoning models think aloud first; the answer follows the block. */
    const char *think = memmem(p, len, "</think>", 8);
    if (think)
        p = think + 8;
    /* The first '{' that starts an object, trailing chatter allowed. A few
     * tries bound the work on prose full of braces. */
    for (int tries = 0; tries < 32 && p < end; tries++) {
        const char *b = memchr(p, '{', (size_t)(end - p));
        if (!b)
            break;
        json_t *j = json_loadb(b, (size_t)(end - b), JSON_DISABLE_EOF_CHECK, &jerr);
        if (json_is_object(j)) {
            *out = j;
            return 0;
        }
        json_decref(j);
        p = b + 1;
    }
    if (err)
        buf_addf(err, "vision: no JSON object in the answer: %s", jerr.text);
    return -EPROTO;
}

int vision_kind_parse(const char *s, enum store_kind *out)
{
    static const struct {
        const char *name;
        enum store_kind kind;
    } names[] = {
        {"photo", STORE_KIND_PHOTO},           {"screenshot", STORE_KIND_SCREENSHOT},
        {"receipt", STORE_KIND_RECEIPT},       {"document", STORE_KIND_DOCUMENT},
        {"whiteboard", STORE_KIND_WHITEBOARD}, {"lab_report", STORE_KIND_LAB_REPORT},
        {"meal", STORE_KIND_MEAL},             {"other", STORE_KIND_OTHER},
        {"image", STORE_KIND_PHOTO},           {"picture", STORE_KIND_PHOTO},
        {"selfie", STORE_KIND_PHOTO},          {"screen", STORE_KIND_SCREENSHOT},
        {"screen_shot", STORE_KIND_SCREENSHOT}, {"chat", STORE_KIND_SCREENSHOT},
        {"bill", STORE_KIND_RECEIPT},          {"invoice", STORE_KIND_RECEIPT},
        {"cash_memo", STORE_KIND_RECEIPT},     {"labreport", STORE_KIND_LAB_REPORT},
        {"lab", STORE_KIND_LAB_REPORT},        {"medical_report", STORE_KIND_LAB_REPORT},
        {"test_report", STORE_KIND_LAB_REPORT}, {"blood_test", STORE_KIND_LAB_REPORT},
        {"blackboard", STORE_KIND_WHITEBOARD}, {"notes", STORE_KIND_WHITEBOARD},
        {"board", STORE_KIND_WHITEBOARD},      {"food", STORE_KIND_MEAL},
        {"dish", STORE_KIND_MEAL},             {"doc", STORE_KIND_DOCUMENT},
        {"letter", STORE_KIND_DOCUMENT},       {"form", STORE_KIND_DOCUMENT},
    };
    char k[32];
    size_t n = 0;
    if (!s)
        return -EINVAL;
    while (*s == ' ')
        s++;
    for (; *s && n + 1 < sizeof(k); s++)
        k[n++] = *s == ' ' || *s == '-' ? '_' : (char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s);
    while (n && k[n - 1] == '_')
        n--;
    k[n] = '\0';
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        if (!strcmp(k, names[i].name)) {
            *out = names[i].kind;
            return 0;
        }
    return -EINVAL;
}

void vision_desc_init(struct vision_desc *d)
{
    memset(d, 0, sizeof(*d));
    d->kind = STORE_KIND_OTHER;
    d->scene = xstrdup("");
    d->ocr_text = xstrdup("");
    d->language = xstrdup("und");
    d->description = xstrdup("");
}

void vision_desc_release(struct vision_desc *d)
{
    free(d->scene);
    free(d->ocr_text);
    free(d->language);
    free(d->description);
    memset(d, 0, sizeof(*d));
    d->kind = STORE_KIND_OTHER;
}

__attribute__((format(printf, 3, 4))) static void repair(struct vision_desc *d, struct buf *err,
                                                        const char *fmt, ...)
{
    d->repairs++;
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (err->len)
        buf_addch(err, '\n');
    buf_addstr(err, "vision: ");
    buf_vaddf(err, fmt, ap);
    va_end(ap);
}

static void set_str(char **dst, const char *s)
{
    free(*dst);
    *dst = xstrdup(s);
}

/* Whether a JSON value holds anything: a non-empty string, a number, a
 * boolean, or a container with such a value somewhere. */
static bool holds_something(const json_t *v)
{
    size_t i;
    const char *k;
    const json_t *x;
    if (!v)
        return false;
    switch (json_typeof(v)) {
    case JSON_STRING:
        return json_string_length(v) > 0;
    case JSON_INTEGER:
    case JSON_REAL:
    case JSON_TRUE:
    case JSON_FALSE:
        return true;
    case JSON_ARRAY:
        json_array_foreach(v, i, x) {
            if (holds_something(x))
                return true;
        }
        return false;
    case JSON_OBJECT:
        json_object_foreach((json_t *)(uintptr_t)v, k, x) {
            if (holds_something(x))
                return true;
        }
        return false;
    default:
        return false;
    }
}

/* The typed sub-object that says most clearly what the image is. */
static bool substantial(const json_t *a, const char *name)
{
    const json_t *o = json_object_get(a, name);
    if (!json_is_object(o))
        return false;
    if (!strcmp(name, "receipt"))
        return holds_something(json_object_get(o, "total")) ||
               json_array_size(json_object_get(o, "items")) > 0;
    if (!strcmp(name, "lab_report"))
        return json_array_size(json_object_get(o, "tests")) > 0;
    return json_array_size(json_object_get(o, "action_items")) > 0;
}

static void read_objects(const json_t *a, struct vision_desc *d, struct buf *list,
                         struct buf *err)
{
    const json_t *objs = json_object_get(a, "objects"), *o;
    size_t i;
    if (!json_is_array(objs)) {
        repair(d, err, "'objects' %s, none assumed", objs ? "is not an array" : "missing");
        return;
    }
    json_array_foreach(objs, i, o) {
        const json_t *name = json_is_object(o) ? json_object_get(o, "name") : o;
        if (!json_is_string(name) || !json_string_length(name))
            continue;
        d->nobjects++;
        if (list->len)
            buf_addstr(list, ", ");
        const json_t *count = json_is_object(o) ? json_object_get(o, "count") : NULL;
        if (json_is_integer(count) && json_integer_value(count) > 1)
            buf_addf(list, "%lld ", (long long)json_integer_value(count));
        buf_addstr(list, json_string_value(name));
        const json_t *attrs = json_is_object(o) ? json_object_get(o, "attributes") : NULL, *t;
        size_t j, nattr = 0;
        json_array_foreach(attrs, j, t) {
            if (!json_is_string(t) || !json_string_length(t))
                continue;
            buf_addstr(list, nattr++ ? ", " : " (");
            buf_addstr(list, json_string_value(t));
        }
        if (nattr)
            buf_addch(list, ')');
    }
}

/* The OCR text, and the language with the most characters of it. */
static void read_text(const json_t *a, struct vision_desc *d, struct buf *err)
{
    const json_t *texts = json_object_get(a, "text"), *t;
    struct {
        char code[16];
        size_t chars;
    } langs[16];
    size_t nlangs = 0, i;
    struct buf ocr = BUF_INIT;
    if (!json_is_array(texts)) {
        if (json_is_string(texts) && json_string_length(texts)) {
            set_str(&d->ocr_text, json_string_value(texts));
            d->ntexts = 1;
            d->has_kannada =
                translit_has_kannada(json_string_value(texts), json_string_length(texts));
        }
        repair(d, err, "'text' %s", texts ? "is not an array" : "missing, no text assumed");
        if (d->has_kannada)
            set_str(&d->language, "kn");
        return;
    }
    json_array_foreach(texts, i, t) {
        const json_t *c = json_is_object(t) ? json_object_get(t, "content") : t;
        if (!json_is_string(c) || !json_string_length(c)) {
            if (!json_is_string(c))
                repair(d, err, "text[%zu] has no content", i);
            continue;
        }
        const char *s = json_string_value(c);
        size_t len = json_string_length(c);
        d->ntexts++;
        if (ocr.len)
            buf_addch(&ocr, '\n');
        buf_add(&ocr, s, len);
        const char *lang = json_string_value(json_object_get(t, "language"));
        const char *script = json_string_value(json_object_get(t, "script"));
        bool kn = translit_has_kannada(s, len) || (script && !strcasecmp(script, "Knda")) ||
                  (lang && !strcasecmp(lang, "kn"));
        d->has_kannada |= kn;
        if (!lang || !*lang || !strcasecmp(lang, "und") || strlen(lang) >= 16)
            continue;
        size_t k;
        for (k = 0; k < nlangs && strcasecmp(langs[k].code, lang); k++)
            ;
        if (k == nlangs && nlangs < ARRAY_SIZE(langs)) {
            size_t n = strlen(lang);
            for (size_t j = 0; j <= n; j++) {
                char ch = lang[j];
                langs[k].code[j] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
            }
            langs[k].chars = 0;
            nlangs++;
        }
        /* Characters, not bytes: Kannada takes three bytes a letter. */
        for (size_t j = 0; k < nlangs && j < len; j++)
            langs[k].chars += ((unsigned char)s[j] & 0xc0) != 0x80;
    }
    size_t best = SIZE_MAX;
    for (size_t k = 0; k < nlangs; k++)
        if (best == SIZE_MAX || langs[k].chars > langs[best].chars)
            best = k;
    if (best != SIZE_MAX)
        set_str(&d->language, langs[best].code);
    else if (d->has_kannada)
        set_str(&d->language, "kn");
    free(d->ocr_text);
    d->ocr_text = buf_detach(&ocr, NULL);
}

int vision_normalize(const json_t *a, struct vision_desc *d, struct buf *err)
{
    vision_desc_init(d);
    if (!json_is_object(a)) {
        repair(d, err, "the answer is not a JSON object");
        return -EINVAL;
    }

    const json_t *scene = json_object_get(a, "scene");
    if (json_is_string(scene))
        set_str(&d->scene, json_string_value(scene));
    else
        repair(d, err, "'scene' %s", scene ? "is not a string" : "missing");

    struct buf objs = BUF_INIT, acts = BUF_INIT;
    read_objects(a, d, &objs, err);
    read_text(a, d, err);

    const json_t *actions = json_object_get(a, "actions"), *x;
    size_t i;
    if (!json_is_array(actions))
        repair(d, err, "'actions' %s", actions ? "is not an array" : "missing");
    json_array_foreach(actions, i, x) {
        if (!json_is_string(x) || !json_string_length(x))
            continue;
        d->nactions++;
        if (acts.len)
            buf_addstr(&acts, "; ");
        buf_addstr(&acts, json_string_value(x));
    }

    const json_t *pc = json_object_get(a, "people_count");
    double n = json_is_number(pc) ? json_number_value(pc) : -1;
    if (json_is_string(pc)) {
        char *end;
        n = strtod(json_string_value(pc), &end);
        if (end == json_string_value(pc) || *end)
            n = -1;
    }
    if (n >= 0 && isfinite(n)) {
        d->people_count = n > 100000 ? 100000 : (unsigned)llround(n);
        if (!json_is_integer(pc))
            repair(d, err, "'people_count' is not an integer");
    } else {
        repair(d, err, "'people_count' %s, 0 assumed", pc ? "is invalid" : "missing");
    }

    const json_t *kind = json_object_get(a, "kind");
    if (!json_is_string(kind) || vision_kind_parse(json_string_value(kind), &d->kind))
        repair(d, err, "'kind' %s, other assumed", kind ? "is unknown" : "missing");

    /* A photo of a bill is a receipt: trust the typed field the model
     * filled over the label it picked. */
    if (d->kind == STORE_KIND_PHOTO || d->kind == STORE_KIND_DOCUMENT ||
        d->kind == STORE_KIND_OTHER) {
        static const struct {
            const char *name;
            enum store_kind kind;
        } typed[] = {{"receipt", STORE_KIND_RECEIPT},
                     {"lab_report", STORE_KIND_LAB_REPORT},
                     {"whiteboard", STORE_KIND_WHITEBOARD}};
        size_t hits = 0, hit = 0;
        for (size_t k = 0; k < ARRAY_SIZE(typed); k++)
            if (substantial(a, typed[k].name)) {
                hits++;
                hit = k;
            }
        if (hits == 1) {
            repair(d, err, "kind '%s' but '%s' is filled: %s assumed",
                   store_kind_name(d->kind), typed[hit].name, typed[hit].name);
            d->kind = typed[hit].kind;
        }
    }
    const char *sub = NULL;
    if (d->kind == STORE_KIND_RECEIPT || d->kind == STORE_KIND_LAB_REPORT ||
        d->kind == STORE_KIND_SCREENSHOT || d->kind == STORE_KIND_WHITEBOARD)
        sub = store_kind_name(d->kind);
    d->typed = sub && json_is_object(json_object_get(a, sub)) &&
               holds_something(json_object_get(a, sub));

    struct buf desc = BUF_INIT;
    buf_addstr(&desc, d->scene);
    if (objs.len)
        buf_addf(&desc, "%sObjects: %s.", desc.len ? " " : "", buf_cstr(&objs));
    if (acts.len)
        buf_addf(&desc, "%sActions: %s.", desc.len ? " " : "", buf_cstr(&acts));
    free(d->description);
    d->description = buf_detach(&desc, NULL);
    buf_release(&objs);
    buf_release(&acts);
    return 0;
}
