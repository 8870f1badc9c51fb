/* SPDX-License-Identifier: MIT */
/*
 * jschema.c: see jschema.h. The schema check (check_*) and the validator
 * (v_*) walk the same keywords; the check runs first, so the validator
 * meets only well-formed keywords and treats a malformed one it still finds
 * as a bug in the check (-ENOTSUP, never a crash).
 *
 * DESIGN
 * One call owns one struct vctx on its stack: the error array it fills,
 * the instance path as a stack of segments (formatted only when an error is
 * recorded), the step counter and the cache of compiled patterns. Applying
 * a schema is a recursive descent whose depth is the nesting of schemas
 * plus $ref hops, bounded by JSCHEMA_MAX_DEPTH; branches of anyOf, oneOf,
 * not and if are evaluated "quietly" (no errors recorded, first failure
 * ends the branch), so a failed alternative costs little and leaves no
 * noise. A sticky c->rc stops everything once a bound is reached.
 */
#include "text/jschema.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "lib/xalloc.h"
#include "text/jschema_int.h"

/* jansson's iterators take a non-const object although they change
 * nothing; this is the one place the const is dropped. */
static json_t *unconst(const json_t *j)
{
    return (json_t *)(uintptr_t)j;
}

/* ---- small helpers ---------------------------------------------------- */

/* Cuts s (a NUL-terminated string in a buffer of cap bytes that snprintf
 * truncated) back to a whole UTF-8 character and marks the cut with "...". */
static void cut_utf8(char *s, size_t cap)
{
    size_t n = strlen(s);
    if (cap < 8)
        return;
    if (n > cap - 4)
        n = cap - 4;
    while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
        n--;
    memcpy(s + n, "...", 4);
}

/* Copies at most max bytes of s (len bytes) into out (max + 4 bytes) on a
 * character boundary, adding "..." when shortened; for names in messages. */
static const char *clip(const char *s, size_t len, char *out, size_t max)
{
    size_t n = len;
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(out, s, n);
    if (n < len)
        memcpy(out + n, "...", 4);
    else
        out[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if (out[i] == '\0' || out[i] == '\n')
            out[i] = ' ';
    return out;
}

#define CLIP_MAX 60

static size_t utf8_count(const char *s, size_t n)
{
    size_t cps = 0;
    for (size_t i = 0; i < n; i++)
        cps += ((unsigned char)s[i] & 0xc0) != 0x80;
    return cps;
}

/* A number as a message shows it. */
static const char *fmt_num(const json_t *v, char out[40])
{
    if (json_is_integer(v))
        snprintf(out, 40, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        snprintf(out, 40, "%.15g", json_real_value(v));
    return out;
}

/* A short description of a value for enum/const messages. */
static void add_brief(struct buf *b, const json_t *v)
{
    char tmp[CLIP_MAX + 4], num[40];
    switch (json_typeof(v)) {
    case JSON_STRING:
        buf_addch(b, '"');
        buf_addstr(b, clip(json_string_value(v), json_string_length(v), tmp, CLIP_MAX / 2));
        buf_addch(b, '"');
        break;
    case JSON_INTEGER:
    case JSON_REAL:
        buf_addstr(b, fmt_num(v, num));
        break;
    case JSON_TRUE: buf_addstr(b, "true"); break;
    case JSON_FALSE: buf_addstr(b, "false"); break;
    case JSON_NULL: buf_addstr(b, "null"); break;
    case JSON_OBJECT: buf_addstr(b, "{...}"); break;
    case JSON_ARRAY: buf_addstr(b, "[...]"); break;
    }
}

static const char *const type_names[] = {"null",   "boolean", "object", "array",
                                          "number", "string",  "integer"};

static int type_index(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(type_names); i++)
        if (!strcmp(name, type_names[i]))
            return (int)i;
    return -1;
}

/* A real with no fraction is an integer to JSON Schema (1.0 is 1). */
static bool is_integral(const json_t *v)
{
    double d;
    if (json_is_integer(v))
        return true;
    if (!json_is_real(v))
        return false;
    d = json_real_value(v);
    return isfinite(d) && floor(d) == d;
}

static bool type_is(int t, const json_t *v)
{
    switch (t) {
    case 0: return json_is_null(v);
    case 1: return json_is_boolean(v);
    case 2: return json_is_object(v);
    case 3: return json_is_array(v);
    case 4: return json_is_number(v);
    case 5: return json_is_string(v);
    case 6: return is_integral(v);
    }
    return false;
}

static const char *type_of(const json_t *v)
{
    /* v is never NULL; cppcheck infers it might from the NULL tests inside
     * jansson's json_is_*() macros that the callers use. */
    // cppcheck-suppress [nullPointerRedundantCheck,ctunullpointer]
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

/* A non-negative integer keyword value (3 or 3.0). */
static bool get_count(const json_t *v, size_t *out)
{
    double d;
    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0)
            return false;
        *out = (size_t)json_integer_value(v);
        return true;
    }
    if (!is_integral(v) || (d = json_real_value(v)) < 0)
        return false;
    *out = d >= (double)SIZE_MAX ? SIZE_MAX : (size_t)d;
    return true;
}

/* Compares two numbers: <0, 0 or >0; exact when both are integers. */
static int num_cmp(const json_t *a, const json_t *b)
{
    double x, y;
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t i = json_integer_value(a), j = json_integer_value(b);
        return (i > j) - (i < j);
    }
    x = json_number_value(a);
    y = json_number_value(b);
    return (x > y) - (x < y);
}

/* Is v a multiple of m (m > 0)? Exact for integers; for reals, within a
 * relative 1e-9 of a whole quotient, so 0.3 is a multiple of 0.1. */
static bool is_multiple(const json_t *v, const json_t *m)
{
    double q;
    if (json_is_integer(v) && json_is_integer(m))
        return json_integer_value(v) % json_integer_value(m) == 0;
    q = json_number_value(v) / json_number_value(m);
    if (!isfinite(q))
        return false;
    return fabs(q - nearbyint(q)) <= 1e-9 * fmax(1.0, fabs(q));
}

/*
 * Resolves a local $ref: "#" or "#/json/pointer" (RFC 6901, in URI fragment
 * form, so %XX escapes are decoded). Returns the target or NULL, with the
 * reason in *why.
 */
static const json_t *ref_resolve(const json_t *root, const char *ref, const char **why)
{
    const json_t *cur = root;
    const char *p;
    char seg[256];

    if (ref[0] != '#') {
        *why = "only local references (\"#/...\") are supported";
        return NULL;
    }
    p = ref + 1;
    if (*p && *p != '/') {
        *why = "anchors (\"#name\") are not supported";
        return NULL;
    }
    while (*p == '/') {
        size_t n = 0;
        p++;
        while (*p && *p != '/') {
            char c = *p++;
            if (c == '%' && p[0] && p[1] && isxdigit((unsigned char)p[0]) &&
                isxdigit((unsigned char)p[1])) {
                char hex[3] = {p[0], p[1], 0};
                c = (char)strtol(hex, NULL, 16);
                p += 2;
            } else if (c == '~' && (*p == '0' || *p == '1')) {
                c = *p++ == '0' ? '~' : '/';
            }
            if (n + 1 >= sizeof(seg)) {
                *why = "a path segment is too long";
                return NULL;
            }
            seg[n++] = c;
        }
        seg[n] = '\0';
        if (json_is_object(cur)) {
            cur = json_object_getn(cur, seg, n);
        } else if (json_is_array(cur)) {
            char *end;
            unsigned long long i;
            if (!n || (n > 1 && seg[0] == '0') || !isdigit((unsigned char)seg[0]))
                cur = NULL;
            else if ((i = strtoull(seg, &end, 10)), *end)
                cur = NULL;
            else
                cur = json_array_get(cur, (size_t)i);
        } else {
            cur = NULL;
        }
        if (!cur) {
            *why = "the target does not exist";
            return NULL;
        }
    }
    return cur;
}

/* ---- the schema check ------------------------------------------------- */

enum kw_kind {
    KW_SCHEMA,       /* a schema */
    KW_ITEMS,        /* a schema or an array of schemas (draft 4 tuples) */
    KW_SCHEMA_MAP,   /* an object whose values are schemas */
    KW_SCHEMA_LIST,  /* a non-empty array of schemas */
    KW_COUNT,        /* a non-negative integer */
    KW_NUMBER,       /* a number */
    KW_NUM_OR_BOOL,  /* a number, or a boolean (draft 4 exclusive bounds) */
    KW_POSITIVE,     /* a number > 0 */
    KW_BOOL,
    KW_STRING,
    KW_STRING_LIST,  /* an array of strings */
    KW_ARRAY,        /* an array of anything */
    KW_TYPE,
    KW_REF,
};

static const struct {
    const char *name;
    enum kw_kind kind;
} keywords[] = {
    {"$defs", KW_SCHEMA_MAP},          {"$ref", KW_REF},
    {"additionalItems", KW_SCHEMA},    {"additionalProperties", KW_SCHEMA},
    {"allOf", KW_SCHEMA_LIST},         {"anyOf", KW_SCHEMA_LIST},
    {"definitions", KW_SCHEMA_MAP},    {"else", KW_SCHEMA},
    {"enum", KW_ARRAY},                {"exclusiveMaximum", KW_NUM_OR_BOOL},
    {"exclusiveMinimum", KW_NUM_OR_BOOL}, {"format", KW_STRING},
    {"if", KW_SCHEMA},                 {"items", KW_ITEMS},
    {"maxItems", KW_COUNT},            {"maxLength", KW_COUNT},
    {"maxProperties", KW_COUNT},       {"maximum", KW_NUMBER},
    {"minItems", KW_COUNT},            {"minLength", KW_COUNT},
    {"minProperties", KW_COUNT},       {"minimum", KW_NUMBER},
    {"multipleOf", KW_POSITIVE},       {"not", KW_SCHEMA},
    {"nullable", KW_BOOL},             {"oneOf", KW_SCHEMA_LIST},
    {"pattern", KW_STRING},            {"patternProperties", KW_SCHEMA_MAP},
    {"prefixItems", KW_SCHEMA_LIST},   {"properties", KW_SCHEMA_MAP},
    {"required", KW_STRING_LIST},      {"then", KW_SCHEMA},
    {"type", KW_TYPE},                 {"uniqueItems", KW_BOOL},
};

struct cctx {
    const json_t *root;
    struct buf path; /* "#/properties/x" */
    size_t nodes;
    struct buf *err;
};

__attribute__((format(printf, 3, 4))) static int cfail(struct cctx *c, int rc, const char *fmt,
                                                       ...)
{
    va_list ap;
    if (c->err) {
        buf_addf(c->err, "%s: ", buf_cstr(&c->path));
        va_start(ap, fmt);
        buf_vaddf(c->err, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Appends "/" and key, escaped as a JSON pointer, to the schema path. */
static size_t cpush(struct cctx *c, const char *key, size_t klen)
{
    size_t old = c->path.len;
    buf_addch(&c->path, '/');
    for (size_t i = 0; i < klen; i++) {
        if (key[i] == '~')
            buf_addstr(&c->path, "~0");
        else if (key[i] == '/')
            buf_addstr(&c->path, "~1");
        else
            buf_addch(&c->path, key[i]);
    }
    return old;
}

static int check_node(struct cctx *c, const json_t *s, unsigned depth);

static int check_sub(struct cctx *c, const char *key, size_t klen, const json_t *s,
                     unsigned depth)
{
    size_t old = cpush(c, key, klen);
    int rc = check_node(c, s, depth);
    if (!rc)
        buf_setlen(&c->path, old);
    return rc; /* on failure the path stays, for the message */
}

static int check_index(struct cctx *c, size_t i, const json_t *s, unsigned depth)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%zu", i);
    return check_sub(c, num, (size_t)n, s, depth);
}

static int check_keyword(struct cctx *c, const char *name, enum kw_kind kind, const json_t *v,
                         unsigned depth)
{
    size_t i, cnt;
    const json_t *e;
    const char *why;
    int rc = 0;

    switch (kind) {
    case KW_SCHEMA:
        return check_node(c, v, depth + 1);
    case KW_ITEMS:
        if (!json_is_array(v))
            return check_node(c, v, depth + 1);
        /* An array of schemas is a draft-4 tuple. */
        /* fall through */
    case KW_SCHEMA_LIST:
        if (!json_is_array(v) || (kind == KW_SCHEMA_LIST && !json_array_size(v)))
            return cfail(c, -EINVAL, "must be a non-empty array of schemas");
        for (i = 0; i < json_array_size(v); i++) {
            e = json_array_get(v, i);
            if ((rc = check_index(c, i, e, depth + 1)))
                return rc;
        }
        return 0;
    case KW_SCHEMA_MAP:
        if (!json_is_object(v))
            return cfail(c, -EINVAL, "must be an object");
        for (void *it = json_object_iter(unconst(v)); it;
             it = json_object_iter_next(unconst(v), it))
            if ((rc = check_sub(c, json_object_iter_key(it), json_object_iter_key_len(it),
                                json_object_iter_value(it), depth + 1)))
                return rc;
        return 0;
    case KW_COUNT:
        return get_count(v, &cnt) ? 0 : cfail(c, -EINVAL, "must be a non-negative integer");
    case KW_NUMBER:
        return json_is_number(v) ? 0 : cfail(c, -EINVAL, "must be a number");
    case KW_NUM_OR_BOOL:
        return json_is_number(v) || json_is_boolean(v) ? 0
                                                       : cfail(c, -EINVAL, "must be a number");
    case KW_POSITIVE:
        return json_is_number(v) && json_number_value(v) > 0
                   ? 0
                   : cfail(c, -EINVAL, "must be a number greater than 0");
    case KW_BOOL:
        return json_is_boolean(v) ? 0 : cfail(c, -EINVAL, "must be true or false");
    case KW_STRING:
        return json_is_string(v) ? 0 : cfail(c, -EINVAL, "must be a string");
    case KW_STRING_LIST:
        if (!json_is_array(v))
            return cfail(c, -EINVAL, "must be an array of strings");
        for (i = 0; i < json_array_size(v); i++) {
            e = json_array_get(v, i);
            if (!json_is_string(e))
                return cfail(c, -EINVAL, "must be an array of strings");
        }
        return 0;
    case KW_ARRAY:
        return json_is_array(v) ? 0 : cfail(c, -EINVAL, "must be an array");
    case KW_TYPE:
        if (json_is_string(v)) {
            if (type_index(json_string_value(v)) < 0)
                return cfail(c, -EINVAL, "unknown type \"%s\"", json_string_value(v));
            return 0;
        }
        if (!json_is_array(v) || !json_array_size(v))
            return cfail(c, -EINVAL, "must be a type name or a non-empty array of them");
        for (i = 0; i < json_array_size(v); i++) {
            e = json_array_get(v, i);
            if (!json_is_string(e) || type_index(json_string_value(e)) < 0)
                return cfail(c, -EINVAL, "must be a type name or a non-empty array of them");
        }
        return 0;
    case KW_REF:
        if (!json_is_string(v))
            return cfail(c, -EINVAL, "must be a string");
        e = ref_resolve(c->root, json_string_value(v), &why);
        if (!e)
            return cfail(c, -EINVAL, "cannot resolve \"%s\": %s", json_string_value(v), why);
        if (!json_is_object(e) && !json_is_boolean(e))
            return cfail(c, -EINVAL, "\"%s\" does not point to a schema", json_string_value(v));
        return 0;
    }
    BUG("keyword %s of kind %d", name, (int)kind);
}

static int check_node(struct cctx *c, const json_t *s, unsigned depth)
{
    if (++c->nodes > JSCHEMA_MAX_NODES)
        return cfail(c, -ELOOP, "the schema has more than %d subschemas", JSCHEMA_MAX_NODES);
    if (depth > JSCHEMA_MAX_DEPTH)
        return cfail(c, -ELOOP, "the schema is nested deeper than %d levels", JSCHEMA_MAX_DEPTH);
    if (json_is_boolean(s))
        return 0;
    if (!json_is_object(s))
        return cfail(c, -EINVAL, "a schema must be an object or a boolean, not %s", type_of(s));
    for (void *it = json_object_iter(unconst(s)); it; it = json_object_iter_next(unconst(s), it)) {
        const char *key = json_object_iter_key(it);
        for (size_t i = 0; i < ARRAY_SIZE(keywords); i++) {
            if (strcmp(key, keywords[i].name))
                continue;
            size_t old = cpush(c, key, json_object_iter_key_len(it));
            int rc = check_keyword(c, key, keywords[i].kind, json_object_iter_value(it), depth);
            if (rc)
                return rc;
            buf_setlen(&c->path, old);
            break;
        }
    }
    return 0;
}

int jschema_check_schema(const json_t *schema, struct buf *err)
{
    struct cctx c = {schema, BUF_INIT, 0, err};
    int rc;
    ASSERT(schema != NULL);
    buf_addch(&c.path, '#');
    rc = check_node(&c, schema, 0);
    buf_release(&c.path);
    return rc;
}

/* ---- the validator ---------------------------------------------------- */

/* One step of the instance path: a member name or an array index. */
struct seg {
    const char *key; /* NULL for an index */
    size_t len;      /* key length, or the index */
};

struct vctx {
    const json_t *root;
    struct jschema_error *errs;
    size_t max_errs, nerrs;
    unsigned quiet;   /* > 0 inside anyOf/oneOf/not/if branches */
    size_t steps;
    int rc;           /* sticky: -ELOOP or -ENOTSUP once a call must give up */
    struct jschema_error stop;
    struct seg path[JSCHEMA_MAX_DEPTH + 2];
    size_t npath;
    struct jschema_rxcache rx;
};

/* Writes the instance path as a JSON pointer, ending in "/..." when it
 * does not fit; segments are never cut in the middle. */
static void fmt_path(const struct vctx *c, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < c->npath; i++) {
        char tmp[sizeof(((struct jschema_error *)0)->path)];
        size_t t = 0;
        bool fits = true;
        tmp[t++] = '/';
        if (!c->path[i].key) {
            t += (size_t)snprintf(tmp + t, sizeof(tmp) - t, "%zu", c->path[i].len);
        } else {
            for (size_t k = 0; k < c->path[i].len && fits; k++) {
                char ch = c->path[i].key[k];
                if (t + 3 >= sizeof(tmp))
                    fits = false;
                else if (ch == '~')
                    tmp[t++] = '~', tmp[t++] = '0';
                else if (ch == '/')
                    tmp[t++] = '~', tmp[t++] = '1';
                else
                    tmp[t++] = ch;
            }
        }
        if (!fits || o + t + 5 > cap) {
            if (o + 5 <= cap)
                memcpy(out + o, "/...", 5);
            return;
        }
        memcpy(out + o, tmp, t);
        o += t;
        out[o] = '\0';
    }
}

static void vfill(struct vctx *c, struct jschema_error *e, const char *fmt, va_list ap)
{
    int n;
    fmt_path(c, e->path, sizeof(e->path));
    n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    if (n < 0)
        e->msg[0] = '\0';
    else if ((size_t)n >= sizeof(e->msg))
        cut_utf8(e->msg, sizeof(e->msg));
}

/* Records a violation at the current path; always returns false. Inside a
 * quiet branch nothing is recorded. */
__attribute__((format(printf, 2, 3))) static bool fail(struct vctx *c, const char *fmt, ...)
{
    va_list ap;
    if (c->quiet)
        return false;
    if (c->nerrs < c->max_errs) {
        va_start(ap, fmt);
        vfill(c, &c->errs[c->nerrs], fmt, ap);
        va_end(ap);
    }
    c->nerrs++;
    return false;
}

/* Gives up the whole call with rc; the first reason wins. Returns false. */
__attribute__((format(printf, 3, 4))) static bool stop(struct vctx *c, int rc, const char *fmt,
                                                      ...)
{
    va_list ap;
    if (c->rc)
        return false;
    c->rc = rc;
    va_start(ap, fmt);
    vfill(c, &c->stop, fmt, ap);
    va_end(ap);
    return false;
}

static void push_key(struct vctx *c, const char *key, size_t len)
{
    ASSERT(c->npath < ARRAY_SIZE(c->path));
    c->path[c->npath].key = key;
    c->path[c->npath++].len = len;
}

static void push_index(struct vctx *c, size_t i)
{
    ASSERT(c->npath < ARRAY_SIZE(c->path));
    c->path[c->npath].key = NULL;
    c->path[c->npath++].len = i;
}

static void pop(struct vctx *c)
{
    c->npath--;
}

/* Counts one unit of work; false once the budget is spent. */
static bool step(struct vctx *c, size_t n)
{
    c->steps += n;
    if (c->steps > JSCHEMA_MAX_STEPS)
        return stop(c, -ELOOP, "validation needs more than %d steps", JSCHEMA_MAX_STEPS);
    return !c->rc;
}

/* Steps left to spend; what a pattern match may cost. */
static size_t budget_left(const struct vctx *c)
{
    return c->steps < JSCHEMA_MAX_STEPS ? JSCHEMA_MAX_STEPS - c->steps : 0;
}

/* JSON Schema equality: numbers by value (1 == 1.0), objects regardless of
 * member order. jansson's json_equal() differs on the first point. */
static bool equal(struct vctx *c, const json_t *a, const json_t *b, unsigned depth)
{
    size_t i;
    if (!step(c, 1))
        return false;
    if (depth > 4 * JSCHEMA_MAX_DEPTH)
        return stop(c, -ELOOP, "values nested deeper than %d levels", 4 * JSCHEMA_MAX_DEPTH);
    if (json_is_number(a) && json_is_number(b))
        return num_cmp(a, b) == 0;
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               !memcmp(json_string_value(a), json_string_value(b), json_string_length(a));
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (i = 0; i < json_array_size(a); i++)
            if (!equal(c, json_array_get(a, i), json_array_get(b, i), depth + 1))
                return false;
        return true;
    case JSON_OBJECT:
        if (json_object_size(a) != json_object_size(b))
            return false;
        for (void *it = json_object_iter(unconst(a)); it;
             it = json_object_iter_next(unconst(a), it)) {
            const json_t *o = json_object_getn(b, json_object_iter_key(it),
                                               json_object_iter_key_len(it));
            if (!o || !equal(c, json_object_iter_value(it), o, depth + 1))
                return false;
        }
        return true;
    default:
        return true; /* true, false, null: same type is same value */
    }
}

static bool validate(struct vctx *c, const json_t *s, const json_t *v, unsigned depth);

/* For the v_* functions, which keep their verdict in a local ok: a failed
 * check clears ok, and ends the function at once inside a quiet branch
 * (the first failure decides it) or once a bound has stopped the call. */
#define CHECK(expr)                                                                           \
    do {                                                                                      \
        if (!(expr)) {                                                                        \
            ok = false;                                                                       \
            if (c->quiet || c->rc)                                                            \
                return false;                                                                 \
        }                                                                                     \
    } while (0)

/* A branch of anyOf/oneOf/not/if: true when v is valid against s;
 * records nothing. */
static bool quietly(struct vctx *c, const json_t *s, const json_t *v, unsigned depth)
{
    bool ok;
    c->quiet++;
    ok = validate(c, s, v, depth);
    c->quiet--;
    return ok;
}

static bool v_type(struct vctx *c, const json_t *t, const json_t *v)
{
    struct buf names = BUF_INIT;
    size_t i;
    const json_t *e;
    int ti;

    if (json_is_string(t)) {
        if ((ti = type_index(json_string_value(t))) < 0)
            return stop(c, -ENOTSUP, "unknown type \"%s\"", json_string_value(t));
        if (type_is(ti, v))
            return true;
        return fail(c, "expected %s, got %s", type_names[ti], type_of(v));
    }
    if (!json_is_array(t))
        return stop(c, -ENOTSUP, "\"type\" is not a string or array");
    for (i = 0; i < json_array_size(t); i++) {
        e = json_array_get(t, i);
        if (!json_is_string(e) || (ti = type_index(json_string_value(e))) < 0)
            return stop(c, -ENOTSUP, "\"type\" names an unknown type");
        if (type_is(ti, v))
            return true;
    }
    if (c->quiet)
        return false;
    for (i = 0; i < json_array_size(t); i++) {
        e = json_array_get(t, i);
        if (i)
            buf_addstr(&names, i + 1 == json_array_size(t) ? " or " : ", ");
        buf_addstr(&names, json_string_value(e));
    }
    fail(c, "expected %s, got %s", buf_cstr(&names), type_of(v));
    buf_release(&names);
    return false;
}

static bool v_enum(struct vctx *c, const json_t *en, const json_t *v, unsigned depth)
{
    struct buf list = BUF_INIT;
    size_t i;
    const json_t *e;
    bool ok = false;

    for (i = 0; i < json_array_size(en); i++) {
        e = json_array_get(en, i);
        if (equal(c, e, v, depth))
            return true;
        if (c->rc)
            return false;
    }
    if (c->quiet)
        return false;
    for (i = 0; i < json_array_size(en); i++) {
        e = json_array_get(en, i);
        if (list.len > 120) {
            buf_addstr(&list, ", ...");
            break;
        }
        if (i)
            buf_addstr(&list, ", ");
        add_brief(&list, e);
    }
    ok = fail(c, "must be one of %s", buf_cstr(&list));
    buf_release(&list);
    return ok;
}

static bool v_const(struct vctx *c, const json_t *k, const json_t *v, unsigned depth)
{
    struct buf b = BUF_INIT;
    if (equal(c, k, v, depth))
        return true;
    if (c->rc || c->quiet)
        return false;
    add_brief(&b, k);
    fail(c, "must be %s", buf_cstr(&b));
    buf_release(&b);
    return false;
}

static bool v_string(struct vctx *c, const json_t *s, const json_t *v)
{
    const char *str = json_string_value(v);
    size_t len = json_string_length(v), cps = utf8_count(str, len), lim;
    const json_t *k;
    bool ok = true;
    char tmp[CLIP_MAX + 4];

    if ((k = json_object_get(s, "minLength")) && get_count(k, &lim) && cps < lim)
        CHECK(fail(c, "is %zu characters long, shorter than minLength %zu", cps, lim));
    if ((k = json_object_get(s, "maxLength")) && get_count(k, &lim) && cps > lim)
        CHECK(fail(c, "is %zu characters long, longer than maxLength %zu", cps, lim));
    if ((k = json_object_get(s, "pattern")) && json_is_string(k)) {
        int m = jschema__rx_match(&c->rx, json_string_value(k), json_string_length(k), str, len,
                                  budget_left(c), &c->steps);
        if (!step(c, 0))
            return false;
        if (m == 0)
            CHECK(fail(c, "does not match the pattern \"%s\"",
                       clip(json_string_value(k), json_string_length(k), tmp, CLIP_MAX)));
    }
    if ((k = json_object_get(s, "format")) && json_is_string(k) &&
        jschema__format_check(json_string_value(k), str, len) == 0)
        CHECK(fail(c, "is not a valid %s", json_string_value(k)));
    return ok;
}

static bool v_number(struct vctx *c, const json_t *s, const json_t *v)
{
    const json_t *k, *ex;
    char a[40], b[40];
    bool ok = true;

    if ((k = json_object_get(s, "minimum")) && json_is_number(k)) {
        /* Draft 4: "exclusiveMinimum": true makes "minimum" exclusive. */
        bool excl = json_is_true(json_object_get(s, "exclusiveMinimum"));
        int cmp = num_cmp(v, k);
        if (cmp < 0 || (excl && cmp == 0))
            CHECK(fail(c, "%s is less than %sminimum %s", fmt_num(v, a),
                       excl ? "exclusive " : "", fmt_num(k, b)));
    }
    if ((k = json_object_get(s, "maximum")) && json_is_number(k)) {
        bool excl = json_is_true(json_object_get(s, "exclusiveMaximum"));
        int cmp = num_cmp(v, k);
        if (cmp > 0 || (excl && cmp == 0))
            CHECK(fail(c, "%s is greater than %smaximum %s", fmt_num(v, a),
                       excl ? "exclusive " : "", fmt_num(k, b)));
    }
    if ((ex = json_object_get(s, "exclusiveMinimum")) && json_is_number(ex) &&
        num_cmp(v, ex) <= 0)
        CHECK(fail(c, "%s must be greater than %s", fmt_num(v, a), fmt_num(ex, b)));
    if ((ex = json_object_get(s, "exclusiveMaximum")) && json_is_number(ex) &&
        num_cmp(v, ex) >= 0)
        CHECK(fail(c, "%s must be less than %s", fmt_num(v, a), fmt_num(ex, b)));
    if ((k = json_object_get(s, "multipleOf")) && json_is_number(k)) {
        if (json_number_value(k) <= 0)
            return stop(c, -ENOTSUP, "multipleOf must be greater than 0");
        if (!is_multiple(v, k))
            CHECK(fail(c, "%s is not a multiple of %s", fmt_num(v, a), fmt_num(k, b)));
    }
    return ok;
}

/* Does key match one of the patternProperties? Validates the member
 * against every schema whose pattern matches, and sets *matched. */
static bool v_pattern_props(struct vctx *c, const json_t *pp, const char *key, size_t klen,
                            const json_t *val, unsigned depth, bool *matched)
{
    bool ok = true;
    for (void *it = json_object_iter(unconst(pp)); it; it = json_object_iter_next(unconst(pp), it)) {
        const char *pat = json_object_iter_key(it);
        int m = jschema__rx_match(&c->rx, pat, json_object_iter_key_len(it), key, klen,
                                  budget_left(c), &c->steps);
        if (!step(c, 0))
            return false;
        /* A pattern that cannot be checked claims no member, so that
         * additionalProperties decides instead. */
        if (m != 1)
            continue;
        *matched = true;
        push_key(c, key, klen);
        bool r = validate(c, json_object_iter_value(it), val, depth + 1);
        pop(c);
        CHECK(r);
    }
    return ok;
}

static bool v_object(struct vctx *c, const json_t *s, const json_t *v, unsigned depth)
{
    const json_t *props = json_object_get(s, "properties");
    const json_t *pprops = json_object_get(s, "patternProperties");
    const json_t *addl = json_object_get(s, "additionalProperties");
    const json_t *req = json_object_get(s, "required"), *k;
    size_t i, n = json_object_size(v), lim;
    char tmp[CLIP_MAX + 4];
    bool ok = true;


    if (json_is_array(req)) {
        for (i = 0; i < json_array_size(req); i++) {
            k = json_array_get(req, i);
            if (!json_is_string(k) || json_object_getn(v, json_string_value(k),
                                                       json_string_length(k)))
                continue;
            CHECK(fail(c, "missing required property \"%s\"",
                           clip(json_string_value(k), json_string_length(k), tmp, CLIP_MAX)));
        }
    }
    if ((k = json_object_get(s, "minProperties")) && get_count(k, &lim) && n < lim)
        CHECK(fail(c, "has %zu properties, fewer than minProperties %zu", n, lim));
    if ((k = json_object_get(s, "maxProperties")) && get_count(k, &lim) && n > lim)
        CHECK(fail(c, "has %zu properties, more than maxProperties %zu", n, lim));

    if (!json_is_object(props))
        props = NULL;
    if (!json_is_object(pprops) || !json_object_size(pprops))
        pprops = NULL;
    if (!json_is_object(addl) && !json_is_boolean(addl))
        addl = NULL;
    if (!props && !pprops && !addl)
        return ok;

    for (void *it = json_object_iter(unconst(v)); it; it = json_object_iter_next(unconst(v), it)) {
        const char *key = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        const json_t *val = json_object_iter_value(it), *sub;
        bool matched = false;

        if (props && (sub = json_object_getn(props, key, klen))) {
            matched = true;
            push_key(c, key, klen);
            bool r = validate(c, sub, val, depth + 1);
            pop(c);
            CHECK(r);
        }
        if (pprops)
            CHECK(v_pattern_props(c, pprops, key, klen, val, depth, &matched));
        if (matched || !addl || json_is_true(addl))
            continue;
        push_key(c, key, klen);
        bool r = json_is_false(addl)
                     ? fail(c, "property \"%s\" is not allowed", clip(key, klen, tmp, CLIP_MAX))
                     : validate(c, addl, val, depth + 1);
        pop(c);
        CHECK(r);
    }
    return ok;
}

static bool v_array(struct vctx *c, const json_t *s, const json_t *v, unsigned depth)
{
    const json_t *prefix = json_object_get(s, "prefixItems");
    const json_t *items = json_object_get(s, "items"), *rest, *k;
    size_t n = json_array_size(v), np, lim, i;
    bool ok = true;


    if ((k = json_object_get(s, "minItems")) && get_count(k, &lim) && n < lim)
        CHECK(fail(c, "has %zu items, fewer than minItems %zu", n, lim));
    if ((k = json_object_get(s, "maxItems")) && get_count(k, &lim) && n > lim)
        CHECK(fail(c, "has %zu items, more than maxItems %zu", n, lim));

    /* 2020-12: prefixItems, then items for the rest. Draft 4-2019: items
     * as an array is the tuple, and additionalItems the rest. */
    if (json_is_array(prefix)) {
        rest = items;
    } else if (json_is_array(items)) {
        prefix = items;
        rest = json_object_get(s, "additionalItems");
    } else {
        prefix = NULL;
        rest = items;
    }
    if (rest && !json_is_object(rest) && !json_is_boolean(rest))
        rest = NULL;
    np = prefix ? json_array_size(prefix) : 0;
    if (np || rest) {
        for (i = 0; i < n; i++) {
            const json_t *sub = i < np ? json_array_get(prefix, i) : rest;
            if (!sub)
                break;
            push_index(c, i);
            bool r = validate(c, sub, json_array_get(v, i), depth + 1);
            pop(c);
            CHECK(r);
        }
    }

    if (json_is_true(json_object_get(s, "uniqueItems"))) {
        for (size_t j = 1; j < n; j++) {
            for (i = 0; i < j; i++) {
                if (equal(c, json_array_get(v, i), json_array_get(v, j), depth)) {
                    CHECK(fail(c, "items %zu and %zu are equal (uniqueItems)", i, j));
                    break;
                }
                if (c->rc)
                    return false;
            }
        }
    }
    return ok;
}

/* Follows $ref (a few hops) to find the "type" a branch declares. */
static const json_t *branch_type(const struct vctx *c, const json_t *b)
{
    const char *why;
    for (int hop = 0; hop < 8 && json_is_object(b); hop++) {
        const json_t *t = json_object_get(b, "type"), *r = json_object_get(b, "$ref");
        if (t || !json_is_string(r))
            return t;
        b = ref_resolve(c->root, json_string_value(r), &why);
    }
    return NULL;
}

/* Could branch b apply to v, judging by its type alone? */
static bool branch_admits(const struct vctx *c, const json_t *b, const json_t *v)
{
    const json_t *t, *e;
    size_t i;
    if (json_is_boolean(b))
        return json_is_true(b);
    if (!(t = branch_type(c, b)))
        return true;
    if (json_is_string(t))
        return type_is(type_index(json_string_value(t)), v);
    for (i = 0; i < json_array_size(t); i++) {
        e = json_array_get(t, i);
        if (json_is_string(e) && type_is(type_index(json_string_value(e)), v))
            return true;
    }
    return false;
}

/*
 * No alternative of anyOf/oneOf matched. If exactly one could apply to a
 * value of this type (the usual [{"type":"object",...}, {"type":"null"}]),
 * its own errors say more than "matches none", so it is applied again,
 * loudly.
 */
static bool none_matched(struct vctx *c, const json_t *alts, const json_t *v, unsigned depth,
                         const char *kw)
{
    const json_t *b, *only = NULL;
    size_t i, nadmit = 0;
    if (c->quiet)
        return false;
    for (i = 0; i < json_array_size(alts); i++) {
        b = json_array_get(alts, i);
        if (branch_admits(c, b, v))
            nadmit++, only = b;
    }
    if (nadmit == 1 && !validate(c, only, v, depth + 1))
        return false;
    if (c->rc)
        return false;
    return fail(c, "matches none of the %zu %s alternatives", json_array_size(alts), kw);
}

static bool v_combinators(struct vctx *c, const json_t *s, const json_t *v, unsigned depth)
{
    const json_t *k, *b;
    size_t i, nmatch;
    bool ok = true;


    if (json_is_array(k = json_object_get(s, "allOf")))
        for (i = 0; i < json_array_size(k); i++) {
            b = json_array_get(k, i);
            CHECK(validate(c, b, v, depth + 1));
        }

    if (json_is_array(k = json_object_get(s, "anyOf"))) {
        bool any = false;
        for (i = 0; i < json_array_size(k); i++) {
            b = json_array_get(k, i);
            if ((any = quietly(c, b, v, depth + 1)))
                break;
            if (c->rc)
                return false;
        }
        if (!any)
            CHECK(none_matched(c, k, v, depth, "anyOf"));
    }

    if (json_is_array(k = json_object_get(s, "oneOf"))) {
        nmatch = 0;
        for (i = 0; i < json_array_size(k); i++) {
            b = json_array_get(k, i);
            if (quietly(c, b, v, depth + 1) && ++nmatch > 1)
                break;
            if (c->rc)
                return false;
        }
        if (nmatch == 0)
            CHECK(none_matched(c, k, v, depth, "oneOf"));
        else if (nmatch > 1)
            CHECK(fail(c, "matches more than one of the %zu oneOf alternatives",
                            json_array_size(k)));
    }

    if ((k = json_object_get(s, "not"))) {
        bool r = quietly(c, k, v, depth + 1);
        if (c->rc)
            return false;
        if (r)
            CHECK(fail(c, "must not match the schema in \"not\""));
    }

    if ((k = json_object_get(s, "if"))) {
        bool r = quietly(c, k, v, depth + 1);
        if (c->rc)
            return false;
        b = json_object_get(s, r ? "then" : "else");
        if (b)
            CHECK(validate(c, b, v, depth + 1));
    }
    return ok;
}

static bool validate(struct vctx *c, const json_t *s, const json_t *v, unsigned depth)
{
    const json_t *k;
    const char *why;
    bool ok = true;

    if (!step(c, 1))
        return false;
    if (depth > JSCHEMA_MAX_DEPTH)
        return stop(c, -ELOOP, "schemas nested deeper than %d levels (a $ref loop?)",
                    JSCHEMA_MAX_DEPTH);
    if (json_is_true(s))
        return true;
    if (json_is_false(s))
        return fail(c, "no value is allowed here");
    if (!json_is_object(s))
        return stop(c, -ENOTSUP, "a schema is not an object or boolean");

    /* OpenAPI 3.0: "nullable": true admits null whatever else is said. */
    if (json_is_null(v) && json_is_true(json_object_get(s, "nullable")))
        return true;


    /* 2020-12: $ref applies together with its sibling keywords. */
    if ((k = json_object_get(s, "$ref"))) {
        const json_t *target;
        if (!json_is_string(k))
            return stop(c, -ENOTSUP, "$ref is not a string");
        if (!(target = ref_resolve(c->root, json_string_value(k), &why)))
            return stop(c, -ENOTSUP, "cannot resolve $ref \"%s\": %s", json_string_value(k),
                        why);
        CHECK(validate(c, target, v, depth + 1));
    }
    if ((k = json_object_get(s, "type")))
        CHECK(v_type(c, k, v));
    if ((k = json_object_get(s, "const")))
        CHECK(v_const(c, k, v, 0));
    if (json_is_array(k = json_object_get(s, "enum")))
        CHECK(v_enum(c, k, v, 0));

    switch (json_typeof(v)) {
    case JSON_STRING:
        CHECK(v_string(c, s, v));
        break;
    case JSON_INTEGER:
    case JSON_REAL:
        CHECK(v_number(c, s, v));
        break;
    case JSON_OBJECT:
        CHECK(v_object(c, s, v, depth));
        break;
    case JSON_ARRAY:
        CHECK(v_array(c, s, v, depth));
        break;
    default:
        break;
    }
    CHECK(v_combinators(c, s, v, depth));
    return ok;
}

int jschema_validate(const json_t *schema, const json_t *instance, struct jschema_error *errs,
                     size_t max_errs, size_t *nerrs)
{
    struct buf why = BUF_INIT;
    int rc;

    ASSERT(schema && instance && nerrs);
    ASSERT(errs || !max_errs);

    if ((rc = jschema_check_schema(schema, &why))) {
        *nerrs = 1;
        if (max_errs) {
            errs[0].path[0] = '\0';
            snprintf(errs[0].msg, sizeof(errs[0].msg), "schema %s", buf_cstr(&why));
            if (why.len + 7 >= sizeof(errs[0].msg))
                cut_utf8(errs[0].msg, sizeof(errs[0].msg));
        }
        buf_release(&why);
        return rc == -ELOOP ? -ELOOP : -ENOTSUP;
    }
    buf_release(&why);
    return jschema_validate_checked(schema, instance, errs, max_errs, nerrs);
}

int jschema_validate_checked(const json_t *schema, const json_t *instance,
                             struct jschema_error *errs, size_t max_errs, size_t *nerrs)
{
    struct vctx *c;
    int rc;
    bool ok;

    ASSERT(schema && instance && nerrs);
    ASSERT(errs || !max_errs);

    /* Some 5 KiB of state: on the heap, as callers may run on small stacks. */
    c = xcalloc(1, sizeof(*c));
    c->root = schema;
    c->errs = errs;
    c->max_errs = max_errs;
    jschema__rx_init(&c->rx);

    ok = validate(c, schema, instance, 0);
    if (c->rc) {
        rc = c->rc;
        *nerrs = 1;
        if (max_errs)
            errs[0] = c->stop;
    } else if (ok) {
        rc = 0;
        *nerrs = 0;
    } else {
        if (!c->nerrs) /* every failure records one; this is a safety net */
            fail(c, "does not match the schema");
        rc = -EINVAL;
        *nerrs = c->nerrs;
    }
    jschema__rx_release(&c->rx);
    free(c);
    return rc;
}

/* ---- hermod's own schemas ---------------------------------------------- */

json_t *jschema_parse_const(const char *name, const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    if (!j)
        BUG("%s schema: %s at line %d", name, jerr.text, jerr.line);
    return j;
}

json_t *jschema_response_format(const char *name, const char *schema_text)
{
    json_t *js = json_object(), *rf = json_object();
    json_object_set_new(js, "name", json_string(name));
    json_object_set_new(js, "strict", json_true());
    json_object_set_new(js, "schema", jschema_parse_const(name, schema_text));
    json_object_set_new(rf, "type", json_string("json_schema"));
    json_object_set_new(rf, "json_schema", js);
    return rf;
}
