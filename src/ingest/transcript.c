/* SPDX-License-Identifier: MIT */
/*
 * transcript.c: the transcript extraction schema and prompt, and the
 * conversion of the answer into store mentions and facts. See
 * transcript.h.
 *
 * Time words are resolved here, not trusted from the model: the words as
 * said go through extract_resolve_day() (explicit dates, ninne/monne/
 * naale, weekdays, and timeparse's "kaLeda vaara", "3 dina hinde") against
 * the capture time; only when the words mean nothing to it is the
 * model's ISO date used. Each fact records which one it got.
 *
 * DESIGN
 * Pure and reentrant. All strings handed to the store live in the
 * caller's struct extract_graph.
 */
#include "ingest/transcript.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "lib/str.h"
#include "lib/xalloc.h"
#include "text/jschema.h"
#include "text/langid.h"
#include "text/timeparse.h"
#include "text/translit.h"

#define MS_MIN 60000LL
#define MS_DAY 86400000LL

/* The name of the schema in response_format. */
static const char schema_name[] = "transcript_facts";

static const char schema_text[] =
    "{\n"
    "  \"type\": \"object\",\n"
    "  \"additionalProperties\": false,\n"
    "  \"required\": [\"entities\", \"relations\"],\n"
    "  \"properties\": {\n"
    "    \"entities\": {\n"
    "      \"type\": \"array\",\n"
    "      \"items\": {\n"
    "        \"type\": \"object\",\n"
    "        \"additionalProperties\": false,\n"
    "        \"required\": [\"type\", \"name\", \"surface\"],\n"
    "        \"properties\": {\n"
    "          \"type\": {\n"
    "            \"type\": \"string\",\n"
    "            \"enum\": [\"person\", \"place\", \"organisation\", \"event\", \"item\",\n"
    "              \"health_value\"]\n"
    "          },\n"
    "          \"name\": {\"type\": \"string\",\n"
    "            \"description\": \"Base form, in the script used\"},\n"
    "          \"surface\": {\"type\": [\"string\", \"null\"],\n"
    "            \"description\": \"As said, when inflected\"}\n"
    "        }\n"
    "      }\n"
    "    },\n"
    "    \"relations\": {\n"
    "      \"type\": \"array\",\n"
    "      \"items\": {\n"
    "        \"type\": \"object\",\n"
    "        \"additionalProperties\": false,\n"
    "        \"required\": [\"subject\", \"subject_type\", \"predicate\", \"object\",\n"
    "          \"object_type\",\n"
    "                     \"value\", \"unit\", \"time_said\", \"date\", \"fact\"],\n"
    "        \"properties\": {\n"
    "          \"subject\": {\"type\": \"string\"},\n"
    "          \"subject_type\": {\n"
    "            \"type\": \"string\",\n"
    "            \"enum\": [\"person\", \"place\", \"organisation\", \"event\", \"item\",\n"
    "              \"health_value\"]\n"
    "          },\n"
    "          \"predicate\": {\"type\": \"string\",\n"
    "            \"description\": \"snake_case: met, visited, lives_in\"},\n"
    "          \"object\": {\"type\": [\"string\", \"null\"]},\n"
    "          \"object_type\": {\n"
    "            \"anyOf\": [\n"
    "              {\"type\": \"null\"},\n"
    "              {\n"
    "                \"type\": \"string\",\n"
    "                \"enum\": [\"person\", \"place\", \"organisation\", \"event\", \"item\",\n"
    "                  \"health_value\"]\n"
    "              }\n"
    "            ]\n"
    "          },\n"
    "          \"value\": {\"type\": [\"string\", \"null\"],\n"
    "            \"description\": \"A literal object: 6.5, 140\"},\n"
    "          \"unit\": {\"type\": [\"string\", \"null\"]},\n"
    "          \"time_said\": {\"type\": [\"string\", \"null\"],\n"
    "            \"description\": \"Time words as said\"},\n"
    "          \"date\": {\"type\": [\"string\", \"null\"],\n"
    "            \"description\": \"YYYY-MM-DD they mean\"},\n"
    "          \"fact\": {\"type\": \"string\", \"description\": \"One English sentence\"}\n"
    "        }\n"
    "      }\n"
    "    }\n"
    "  }\n"
    "}\n";

const char *transcript_schema_json(void)
{
    return schema_text;
}

json_t *transcript_schema(void)
{
    return jschema_parse_const(schema_name, schema_text);
}

json_t *transcript_response_format(void)
{
    return jschema_response_format(schema_name, schema_text);
}

/*
 * The instruction comes in two variants. Code-mixed speech needs the
 * Kannada guidance (case endings, script, Kanglish time words); an English
 * transcript gets the same instruction without it, because hermod routes a
 * request by the language of all its text, and Kannada examples in the
 * instruction would send every English note to a Kannada model.
 */
static const char prompt_intro_kn[] =
    "You extract facts for a personal memory from the transcript of a conversation or voice "
    "note by a Kannada-English speaker in Karnataka. The speech mixes Kannada and English, "
    "written in Kannada script or in Latin letters (\"naanu ninne Rajesh na meet maadide\").\n";
static const char prompt_intro_en[] =
    "You extract facts for a personal memory from the transcript of a conversation or voice "
    "note.\n";
static const char prompt_body[] =
    "\n"
    "Reply with one JSON object that follows the schema, and nothing else.\n"
    "entities: every person, place, organisation, event, item and health value mentioned. ";
static const char prompt_names_kn[] =
    "name is the base form without Kannada case endings (Rajesh, not Rajeshge or Rajeshna; "
    "ರಾಜೇಶ್, not ರಾಜೇಶನ), written in the "
    "script the transcript uses; never translate or transliterate a name. ";
static const char prompt_names_en[] =
    "name is the base form, as written in the transcript; never translate or transliterate a "
    "name. ";
static const char prompt_relations[] =
    "surface is the form "
    "as said when it differs from name, else null. Skip pronouns.\n"
    "relations: facts the transcript states: who met whom, who went where, who lives or works "
    "where, what was bought or paid, health values measured, plans. subject and object are "
    "names as in entities, with their types. The speaker is \"" TRANSCRIPT_SPEAKER "\" (a "
    "person). For a literal object (a number, a measurement, a status) set object and "
    "object_type to null and write it in value, with its unit (mg/dL, kg, INR) when said. "
    "predicate is a short snake_case verb: met, visited, went_to, lives_in, works_at, bought, "
    "paid, measured, plans_to. ";
static const char prompt_time_kn[] =
    "time_said is the time words exactly as said (\"ninne\", "
    "\"kaLeda shukravaara\", \"20/11\"), else null; date is the YYYY-MM-DD they mean relative "
    "to the recording time below (ninne = yesterday, monne = the day before, ivattu = today, "
    "naale = tomorrow), else null. ";
static const char prompt_time_en[] =
    "time_said is the time words exactly as said (\"yesterday\", \"last Friday\", "
    "\"20/11\"), else null; date is the YYYY-MM-DD they mean relative to the recording time "
    "below, else null. ";
static const char prompt_end[] =
    "fact is one English sentence.\n"
    "Extract only what is said; never guess.\n";

static const char *const weekdays[] = {"Monday", "Tuesday", "Wednesday", "Thursday",
                                       "Friday", "Saturday", "Sunday"};

void transcript_instruction(int64_t captured_at, int tz_min, bool kannada, struct buf *out)
{
    buf_addstr(out, kannada ? prompt_intro_kn : prompt_intro_en);
    buf_addstr(out, prompt_body);
    buf_addstr(out, kannada ? prompt_names_kn : prompt_names_en);
    buf_addstr(out, prompt_relations);
    buf_addstr(out, kannada ? prompt_time_kn : prompt_time_en);
    buf_addstr(out, prompt_end);
    int64_t local = captured_at + tz_min * MS_MIN;
    int64_t day = local / MS_DAY - (local % MS_DAY < 0);
    int64_t ms = local - day * MS_DAY;
    time_t t = (time_t)(day * 86400);
    struct tm tm;
    gmtime_r(&t, &tm);
    int wd = (int)(((day + 3) % 7 + 7) % 7);
    int a = tz_min < 0 ? -tz_min : tz_min;
    buf_addf(out, "\nRecorded on %s %04d-%02d-%02d at %02d:%02d (UTC%c%02d:%02d).\n",
             weekdays[wd], tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             (int)(ms / 3600000), (int)(ms / 60000 % 60), tz_min < 0 ? '-' : '+', a / 60,
             a % 60);
}

bool transcript_needs_kannada(const char *text)
{
    struct langid_result lr;
    langid_classify(text, strlen(text), &lr);
    return lr.needs_kannada;
}

void transcript_prompt(const char *transcript, int64_t captured_at, int tz_min,
                       struct buf *out)
{
    transcript_instruction(captured_at, tz_min, !transcript || transcript_needs_kannada(transcript),
                           out);
    if (transcript) {
        buf_addstr(out, "\nTranscript:\n<<<\n");
        buf_addstr(out, transcript);
        buf_addstr(out, "\n>>>\n");
    }
}

/* ---- Conversion ----------------------------------------------------------- */

/* A string field, trimmed; NULL when missing, empty or a placeholder. */
static char *field(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    if (!json_is_string(v))
        return NULL;
    const char *p;
    size_t len = extract_trim(json_string_value(v), json_string_length(v), &p);
    if (!len || (len == 4 && !strncasecmp(p, "null", 4)) ||
        (len == 4 && !strncasecmp(p, "none", 4)))
        return NULL;
    return xstrndup(p, len);
}

/* The store's entity type for what the model wrote: [a-z_]+, British
 * spelling, a few synonyms. NULL when nothing is left. */
static char *entity_type(const char *s)
{
    static const struct {
        const char *in, *out;
    } syn[] = {
        {"organization", "organisation"}, {"org", "organisation"}, {"company", "organisation"},
        {"health", "health_value"},       {"healthvalue", "health_value"},
        {"measurement", "health_value"},  {"location", "place"}, {"people", "person"},
        {"thing", "item"},                {"object", "item"},
    };
    if (!s)
        return NULL;
    char *t = xstrdup(s);
    size_t o = 0;
    for (size_t i = 0; t[i]; i++) {
        char c = str_ascii_lower(t[i]);
        if (c >= 'a' && c <= 'z')
            t[o++] = c;
        else if (o && t[o - 1] != '_' && (c == ' ' || c == '-' || c == '_'))
            t[o++] = '_';
    }
    while (o && t[o - 1] == '_')
        o--;
    t[o] = '\0';
    for (size_t i = 0; i < ARRAY_SIZE(syn); i++)
        if (!strcmp(t, syn[i].in)) {
            free(t);
            return xstrdup(syn[i].out);
        }
    if (!o) {
        free(t);
        return NULL;
    }
    return t;
}

/* snake_case of a predicate ("Lives In" -> "lives_in"); NULL if empty. */
static char *predicate(const char *s)
{
    if (!s)
        return NULL;
    char *t = xmalloc(strlen(s) + 1);
    size_t o = 0;
    for (const char *p = s; *p; p++) {
        char c = str_ascii_lower(*p);
        if (str_ascii_alnum(c))
            t[o++] = c;
        else if (o && t[o - 1] != '_')
            t[o++] = '_';
    }
    while (o && t[o - 1] == '_')
        o--;
    t[o] = '\0';
    if (!o) {
        free(t);
        return NULL;
    }
    return t;
}

/* Whether a name is the speaker talking of themselves. */
static bool is_speaker(const char *s)
{
    static const char *const me[] = {
        "i", "me", "myself", "naanu", "nanu", "naan", "nange", "nanage", "speaker",
        "the speaker", "user", "the user", "narrator",
        "ನಾನು",
    };
    for (size_t i = 0; i < ARRAY_SIZE(me); i++)
        if (!strcasecmp(s, me[i]))
            return true;
    return false;
}

/* A name the speaker uses of themselves becomes TRANSCRIPT_SPEAKER, a
 * person; name and type are replaced. */
static void speaker_as_me(char **name, char **type)
{
    if (!*name || !is_speaker(*name))
        return;
    free(*name);
    *name = xstrdup(TRANSCRIPT_SPEAKER);
    free(*type);
    *type = xstrdup("person");
}

/* The type an entity of this name was given in "entities", by key. */
static const char *type_of(const struct extract_graph *g, const char *name)
{
    struct buf a = BUF_INIT, b = BUF_INIT;
    const char *t = NULL;
    translit_key(name, strlen(name), &a);
    for (size_t i = 0; i < g->nmentions && !t; i++) {
        buf_reset(&b);
        translit_key(g->mentions[i].name, strlen(g->mentions[i].name), &b);
        if (a.len && !strcmp(buf_cstr(&a), buf_cstr(&b)))
            t = g->mentions[i].type;
    }
    buf_release(&a);
    buf_release(&b);
    return t;
}

__attribute__((format(printf, 2, 3))) static void note(struct buf *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (err->len)
        buf_addch(err, '\n');
    buf_addstr(err, "transcript: ");
    buf_vaddf(err, fmt, ap);
    va_end(ap);
}

/* The day of a relation: from the words said, else the model's ISO date.
 * Sets *source; returns false when neither gives one. */
static bool relation_day(const char *said, const char *model_date, int64_t captured_at,
                         int tz_min, struct extract_date *d, const char **source)
{
    if (said) {
        size_t n = strlen(said);
        bool future = extract_has_word(said, n, "next") || extract_has_word(said, n, "mundina") ||
                      extract_has_word(said, n, "coming") || extract_has_word(said, n, "naale") ||
                      extract_has_word(said, n, "tomorrow");
        if (!extract_resolve_day(said, captured_at, tz_min, future, d)) {
            *source = "words";
            return true;
        }
    }
    if (model_date) {
        struct extract_date m;
        int ref = extract_year_of(captured_at, tz_min);
        if (!extract_parse_date(model_date, ref, &m) && !m.partial) {
            *d = m;
            *source = "model";
            return true;
        }
    }
    return false;
}

static int add_relation(const json_t *r, size_t idx, int64_t captured_at, int tz_min,
                        struct extract_graph *g, struct buf *err)
{
    char *subject = field(r, "subject"), *pred_raw = field(r, "predicate");
    char *object = field(r, "object"), *value = field(r, "value"), *unit = field(r, "unit");
    char *said = field(r, "time_said"), *model_date = field(r, "date"), *fact = field(r, "fact");
    char *stype = entity_type(json_string_value(json_object_get(r, "subject_type")));
    char *otype = entity_type(json_string_value(json_object_get(r, "object_type")));
    char *pred = predicate(pred_raw);
    json_t *attrs = json_object();
    int added = 0;

    speaker_as_me(&subject, &stype);
    speaker_as_me(&object, &otype);
    if (!subject || !extract_keyable(subject) || !pred) {
        note(err, "relation %zu: no subject or predicate, skipped", idx);
        goto out;
    }
    if (object && !extract_keyable(object)) {
        free(object);
        object = NULL;
    }
    if (!object && !value) {
        note(err, "relation %zu (%s %s): no object or value, skipped", idx, subject, pred);
        goto out;
    }
    if (object && value) {
        /* The store takes one or the other; the entity is the better half. */
        json_object_set_new(attrs, "value", json_string(value));
        free(value);
        value = NULL;
    }

    struct store_fact *f = extract_graph_fact(g);
    f->subject = extract_graph_str(g, subject);
    if (!stype) {
        const char *t = type_of(g, subject);
        stype = xstrdup(t ? t : "person");
    }
    f->subject_type = extract_graph_str(g, stype);
    f->predicate = extract_graph_str(g, pred);
    if (object) {
        if (!otype) {
            const char *t = type_of(g, object);
            otype = xstrdup(t ? t : "item");
        }
        f->object = extract_graph_str(g, object);
        f->object_type = extract_graph_str(g, otype);
    } else {
        /* "140 mg/dL" said as one value: split the unit off. */
        struct extract_measure m;
        if (!extract_parse_measure(value, &m) && !m.has_value2) {
            f->has_num = true;
            f->num = m.value;
            if (!unit && m.unit[0]) {
                char num[32];
                snprintf(num, sizeof(num), "%.10g", m.value);
                free(value);
                value = xstrdup(num);
                unit = xstrdup(m.unit);
            }
        }
        f->value = extract_graph_str(g, value);
        if (unit) {
            char u[EXTRACT_UNIT_MAX];
            extract_unit_canonical(unit, u);
            f->unit = extract_graph_str(g, u);
        }
    }
    struct extract_date d;
    const char *source;
    if (said)
        json_object_set_new(attrs, "time_said", json_string(said));
    if (relation_day(said, model_date, captured_at, tz_min, &d, &source)) {
        f->valid_from = timeparse_days_from_civil(d.year, d.month, d.day) * MS_DAY -
                        tz_min * MS_MIN;
        json_object_set_new(attrs, "date", json_string(d.iso));
        json_object_set_new(attrs, "date_source", json_string(source));
        if (model_date && strcmp(model_date, d.iso))
            json_object_set_new(attrs, "model_date", json_string(model_date));
    }
    f->ends_previous = !strcmp(pred, "lives_in") || !strcmp(pred, "works_at");
    if (fact) {
        f->fact = extract_graph_str(g, fact);
    } else {
        char *s = xasprintf("%s %s %s%s%s", subject, pred, object ? object : value,
                            !object && unit ? " " : "", !object && unit ? unit : "");
        f->fact = extract_graph_str(g, s);
        free(s);
    }
    if (json_object_size(attrs)) {
        char *a = json_dumps(attrs, JSON_COMPACT | JSON_SORT_KEYS);
        f->attrs_json = extract_graph_str(g, a);
        free(a);
    }
    added = 1;
out:
    json_decref(attrs);
    free(pred);
    free(otype);
    free(stype);
    free(fact);
    free(model_date);
    free(said);
    free(unit);
    free(value);
    free(object);
    free(pred_raw);
    free(subject);
    return added;
}

int transcript_convert(const json_t *answer, int64_t captured_at, int tz_min,
                       struct extract_graph *g, struct buf *err)
{
    if (!json_is_object(answer)) {
        note(err, "the answer is not a JSON object");
        return -EINVAL;
    }
    const json_t *e, *r;
    size_t i;
    json_array_foreach(json_object_get(answer, "entities"), i, e) {
        char *name = field(e, "name"), *surface = field(e, "surface");
        char *type = entity_type(json_string_value(json_object_get(e, "type")));
        speaker_as_me(&name, &type);
        if (!name || !type || extract_graph_mention(g, type, name, surface) < 0)
            note(err, "entity %zu: no usable name or type, skipped", i);
        free(type);
        free(surface);
        free(name);
    }
    int n = 0;
    json_array_foreach(json_object_get(answer, "relations"), i, r) {
        if (json_is_object(r))
            n += add_relation(r, i, captured_at, tz_min, g, err);
    }
    return n;
}
