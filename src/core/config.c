/* SPDX-License-Identifier: MIT */
/*
 * config.c: YAML config loading and validation.
 *
 * DESIGN
 * libyaml builds a document tree whose nodes carry their position in the
 * file; we walk that tree section by section. Each section is a table of
 * `struct key` (name, type, bounds, where the value goes), so a key is
 * declared exactly once, and an unknown key is reported with the closest
 * known one ("did you mean"). A problem does not stop the reading: the next
 * key, list item and cross-section check still run, so one load reports
 * every problem it can (a YAML syntax error stops libyaml, so that one
 * comes alone). A config with any problem is rejected whole, never
 * half-applied; the items read past a problem only serve the checks.
 *
 * Strings may use ${env.NAME} or ${env.NAME:-default}, expanded at load
 * time, and the engine macros ${PORT}, ${HOST} and ${MODEL_DIR}, which stay
 * in the strings: ${MODEL_DIR} is expanded once the whole file is read,
 * ${PORT} and ${HOST} when an engine is spawned (engine.c).
 */
#include "core/config.h"
#include "core/config_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/catalog.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "text/timeparse.h"

extern const char hermod_default_config[];
extern const char hermod_default_config_end[];

static const char *const kind_names[] = {
    [ENGINE_KIND_LLAMA_SERVER] = "llama-server",
    [ENGINE_KIND_OLLAMA] = "ollama",
    [ENGINE_KIND_NIM] = "nim",
    [ENGINE_KIND_VLLM] = "vllm",
    [ENGINE_KIND_OPENAI] = "openai",
};

const char *engine_kind_name(enum engine_kind k)
{
    return kind_names[k];
}

/*
 * Records one problem (FILE:LINE:COL: what) and returns -EINVAL. The loader
 * goes on after a problem wherever the tree allows (the next key, the next
 * list item, the checks across sections), so ld->err ends up with every
 * one, a line each, in file order within each pass.
 */
static void vproblem(struct ld *ld, unsigned line, unsigned col, const char *fmt, va_list ap)
{
    if (ld->nerr++ >= ERR_MAX)
        return;
    if (ld->err->len)
        buf_addch(ld->err, '\n');
    if (line && col)
        buf_addf(ld->err, "%s:%u:%u: ", ld->file, line, col);
    else if (line)
        buf_addf(ld->err, "%s:%u: ", ld->file, line);
    else
        buf_addf(ld->err, "%s: ", ld->file);
    buf_vaddf(ld->err, fmt, ap);
}

__attribute__((format(printf, 3, 4))) int config__fail(struct ld *ld, const yaml_node_t *n,
                                                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vproblem(ld, n ? (unsigned)n->start_mark.line + 1 : 0,
             n ? (unsigned)n->start_mark.column + 1 : 0, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* config__fail() for what only has a line (the checks across sections). */
__attribute__((format(printf, 3, 4))) static int fail_line(struct ld *ld, unsigned line,
                                                           const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vproblem(ld, line ? line : 1, 0, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

yaml_node_t *config__node_at(struct ld *ld, int idx)
{
    return yaml_document_get_node(ld->doc, idx);
}

static bool is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
           !strcmp(v, "NULL");
}

const char *config__node_type_name(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE: return "a mapping";
    case YAML_SEQUENCE_NODE: return "a list";
    default: return is_null(n) ? "empty" : "a scalar";
    }
}

/*
 * Expands ${env.NAME} and ${env.NAME:-default} in s and checks that every
 * other ${...} is a known engine macro. Returns an allocated string or NULL
 * with the error set.
 */
char *config__expand(struct ld *ld, const yaml_node_t *n, const char *s)
{
    static const char *const macros[] = {"PORT", "HOST", "MODEL_DIR"};
    struct buf out = BUF_INIT;
    const char *p = s;
    while (*p) {
        const char *d = strstr(p, "${");
        if (!d) {
            buf_addstr(&out, p);
            break;
        }
        buf_add(&out, p, (size_t)(d - p));
        const char *close = strchr(d, '}');
        if (!close) {
            config__fail(ld, n, "unterminated '${' in \"%s\"", s);
            goto fail;
        }
        char *name = xstrndup(d + 2, (size_t)(close - d - 2));
        if (str_starts_with(name, "env.")) {
            char *var = name + 4;
            char *def = strstr(var, ":-");
            if (def) {
                *def = '\0';
                def += 2;
            }
            const char *val = getenv(var);
            if (val && *val)
                buf_addstr(&out, val);
            else if (def)
                buf_addstr(&out, def);
            else {
                config__fail(ld, n, "environment variable %s is not set (write ${env.%s:-default})",
                     var, var);
                free(name);
                goto fail;
            }
        } else {
            bool known = false;
            for (size_t i = 0; i < ARRAY_SIZE(macros); i++)
                known |= !strcmp(name, macros[i]);
            if (!known) {
                config__fail(ld, n, "unknown macro ${%s} (known: ${PORT}, ${HOST}, ${MODEL_DIR}, "
                     "${env.NAME})", name);
                free(name);
                goto fail;
            }
            buf_add(&out, d, (size_t)(close - d + 1));
        }
        free(name);
        p = close + 1;
    }
    return buf_detach(&out, NULL);
fail:
    buf_release(&out);
    return NULL;
}

int config__get_scalar(struct ld *ld, yaml_node_t *n, const char *key, const char **out)
{
    if (n->type != YAML_SCALAR_NODE || is_null(n))
        return config__fail(ld, n, "'%s' needs a value, got %s", key, config__node_type_name(n));
    *out = (const char *)n->data.scalar.value;
    return 0;
}

static int get_bool(struct ld *ld, yaml_node_t *n, const char *key, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on", "True", "Yes", "On", "TRUE"};
    static const char *const no[] = {"false", "no", "off", "False", "No", "Off", "FALSE"};
    const char *s;
    int rc = config__get_scalar(ld, n, key, &s);
    if (rc)
        return rc;
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        if (!strcmp(s, yes[i])) {
            *out = true;
            return 0;
        }
        if (!strcmp(s, no[i])) {
            *out = false;
            return 0;
        }
    }
    return config__fail(ld, n, "'%s' must be true or false, got \"%s\"", key, s);
}

static int get_strlist(struct ld *ld, yaml_node_t *n, const char *key, char ***out)
{
    if (n->type != YAML_SEQUENCE_NODE)
        return config__fail(ld, n, "'%s' must be a list, got %s", key, config__node_type_name(n));
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    char **v = xcalloc(cnt + 1, sizeof(*v));
    size_t i = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++, i++) {
        yaml_node_t *item = config__node_at(ld, *it);
        const char *s;
        int rc = config__get_scalar(ld, item, key, &s);
        if (!rc && !(v[i] = config__expand(ld, item, s)))
            rc = -EINVAL;
        if (rc) {
            for (size_t j = 0; j < i; j++)
                free(v[j]);
            free(v);
            return rc;
        }
    }
    for (size_t j = 0; *out && (*out)[j]; j++)
        free((*out)[j]);
    free(*out);
    *out = v;
    return 0;
}

void config__strlist_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static const struct key *find_key(const struct key *tab, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(tab[i].name, name))
            return &tab[i];
    return NULL;
}

static int unknown_key(struct ld *ld, yaml_node_t *kn, const char *name, const char *where,
                       const struct key *tab, size_t n)
{
    const char *best = NULL;
    unsigned bestd = 3;
    for (size_t i = 0; i < n; i++) {
        unsigned d = str_edit_distance(name, tab[i].name);
        if (d < bestd) {
            bestd = d;
            best = tab[i].name;
        }
    }
    if (best)
        return config__fail(ld, kn, "unknown key '%s' in %s (did you mean '%s'?)", name, where, best);
    struct buf known = BUF_INIT;
    for (size_t i = 0; i < n; i++)
        buf_addf(&known, "%s%s", i ? ", " : "", tab[i].name);
    int rc = config__fail(ld, kn, "unknown key '%s' in %s (known keys: %s)", name, where,
                  buf_cstr(&known));
    buf_release(&known);
    return rc;
}

static int parse_value(struct ld *ld, const struct key *k, yaml_node_t *v, void *target)
{
    char *field = (char *)target + k->off;
    const char *s = NULL;
    uint64_t u;
    int rc;

    switch (k->type) {
    case K_STR: {
        if ((rc = config__get_scalar(ld, v, k->name, &s)))
            return rc;
        char *e = config__expand(ld, v, s);
        if (!e)
            return -EINVAL;
        free(*(char **)field);
        *(char **)field = e;
        return 0;
    }
    case K_BOOL:
        return get_bool(ld, v, k->name, (bool *)field);
    case K_UINT:
        if ((rc = config__get_scalar(ld, v, k->name, &s)))
            return rc;
        if (str_parse_uint(s, k->min, k->max, &u))
            return config__fail(ld, v, "'%s' must be a whole number from %llu to %llu, got \"%s\"",
                        k->name, (unsigned long long)k->min, (unsigned long long)k->max, s);
        *(unsigned *)field = (unsigned)u;
        return 0;
    case K_SIZE:
        if ((rc = config__get_scalar(ld, v, k->name, &s)))
            return rc;
        if (str_parse_size(s, &u))
            return config__fail(ld, v, "'%s' must be a size such as 512MiB or 20GiB, got \"%s\"",
                        k->name, s);
        if ((k->min && u < k->min) || (k->max && u > k->max))
            return config__fail(ld, v, "'%s' is out of range: %s", k->name, s);
        *(uint64_t *)field = u;
        return 0;
    case K_DURATION:
        if ((rc = config__get_scalar(ld, v, k->name, &s)))
            return rc;
        if (str_parse_duration_ms(s, &u))
            return config__fail(ld, v,
                        "'%s' must be a duration: seconds (600) or 500ms, 30s, 10m, 2h; got \"%s\"",
                        k->name, s);
        if ((k->min && u < k->min) || (k->max && u > k->max))
            return config__fail(ld, v, "'%s' is out of range: %s", k->name, s);
        *(uint64_t *)field = u;
        return 0;
    case K_FLOAT: {
        if ((rc = config__get_scalar(ld, v, k->name, &s)))
            return rc;
        char *end;
        double d = strtod(s, &end);
        if (*end || end == s || d < (double)k->min || d > (double)k->max)
            return config__fail(ld, v, "'%s' must be a number from %llu to %llu, got \"%s\"", k->name,
                        (unsigned long long)k->min, (unsigned long long)k->max, s);
        *(double *)field = d;
        return 0;
    }
    case K_STRLIST:
        return get_strlist(ld, v, k->name, (char ***)field);
    case K_CUSTOM:
        return k->custom(ld, v, target);
    }
    BUG("bad key type");
}

/* Parses mapping node `n` against `tab`; `where` names the section. */
int config__parse_map(struct ld *ld, yaml_node_t *n, const char *where, const struct key *tab,
                     size_t ntab, void *target, uint64_t *seen_out)
{
    if (n->type != YAML_MAPPING_NODE)
        return config__fail(ld, n, "%s must be a mapping of keys, got %s", where, config__node_type_name(n));
    uint64_t seen = 0;
    unsigned nerr = ld->nerr;
    ASSERT(ntab <= 64);
    /* A bad key is reported and the next one read: every problem in one go. */
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = config__node_at(ld, p->key), *vn = config__node_at(ld, p->value);
        if (kn->type != YAML_SCALAR_NODE) {
            config__fail(ld, kn, "keys in %s must be plain names", where);
            continue;
        }
        const char *name = (const char *)kn->data.scalar.value;
        const struct key *k = find_key(tab, ntab, name);
        if (!k) {
            unknown_key(ld, kn, name, where, tab, ntab);
            continue;
        }
        uint64_t bit = 1ull << (k - tab);
        if (seen & bit) {
            config__fail(ld, kn, "duplicate key '%s' in %s", name, where);
            continue;
        }
        seen |= bit;
        parse_value(ld, k, vn, target);
    }
    if (seen_out)
        *seen_out = seen;
    return ld->nerr > nerr ? -EINVAL : 0;
}

uint64_t config__key_bit(const struct key *tab, size_t n, const char *name)
{
    const struct key *k = find_key(tab, n, name);
    ASSERT(k);
    return 1ull << (k - tab);
}

/* ---- engines ---------------------------------------------------------- */

static int parse_kind(struct ld *ld, yaml_node_t *n, void *target)
{
    struct config_engine *e = target;
    const char *s;
    int rc = config__get_scalar(ld, n, "kind", &s);
    if (rc)
        return rc;
    for (size_t i = 0; i < ARRAY_SIZE(kind_names); i++) {
        if (!strcmp(s, kind_names[i])) {
            e->kind = (enum engine_kind)i;
            return 0;
        }
    }
    if (!strcmp(s, "llama.cpp") || !strcmp(s, "llamacpp") || !strcmp(s, "llama-cpp")) {
        e->kind = ENGINE_KIND_LLAMA_SERVER;
        return 0;
    }
    return config__fail(ld, n, "unknown engine kind '%s' (known: llama-server, ollama, nim, vllm, openai)",
                s);
}

static int parse_cmd(struct ld *ld, yaml_node_t *n, void *target)
{
    struct config_engine *e = target;
    if (n->type == YAML_SCALAR_NODE)
        return config__fail(ld, n, "'cmd' must be a list of arguments, e.g. [llama-server, --port, "
                    "\"${PORT}\", -m, model.gguf]: hermod runs no shell");
    int rc = get_strlist(ld, n, "cmd", &e->cmd);
    if (!rc && !e->cmd[0])
        return config__fail(ld, n, "'cmd' is empty");
    return rc;
}

static int parse_env(struct ld *ld, yaml_node_t *n, void *target)
{
    struct config_engine *e = target;
    if (n->type == YAML_SEQUENCE_NODE) {
        int rc = get_strlist(ld, n, "env", &e->env);
        for (size_t i = 0; !rc && e->env[i]; i++)
            if (!strchr(e->env[i], '=') || e->env[i][0] == '=')
                return config__fail(ld, n, "'env' entries must be KEY=VALUE, got \"%s\"", e->env[i]);
        return rc;
    }
    if (n->type != YAML_MAPPING_NODE)
        return config__fail(ld, n, "'env' must be a mapping (KEY: value) or a list of KEY=VALUE");
    size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start), i = 0;
    config__strlist_free(e->env);
    e->env = xcalloc(cnt + 1, sizeof(char *));
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
         p++) {
        yaml_node_t *kn = config__node_at(ld, p->key), *vn = config__node_at(ld, p->value);
        const char *k, *v;
        int rc = config__get_scalar(ld, kn, "env", &k);
        if (!rc)
            rc = vn->type == YAML_SCALAR_NODE ? 0 : config__fail(ld, vn, "env values must be scalars");
        if (rc)
            return rc;
        size_t kl = strlen(k);
        for (size_t j = 0; j < i; j++)
            if (!strncmp(e->env[j], k, kl) && e->env[j][kl] == '=')
                return config__fail(ld, kn, "duplicate key '%s' in 'env'", k);
        v = (const char *)vn->data.scalar.value;
        char *ev = config__expand(ld, vn, v);
        if (!ev)
            return -EINVAL;
        e->env[i++] = xasprintf("%s=%s", k, ev);
        free(ev);
    }
    return 0;
}

static const struct key engine_keys[] = {
    {"kind", K_CUSTOM, 0, 0, 0, parse_kind},
    {"url", K_STR, offsetof(struct config_engine, url), 0, 0, NULL},
    {"cmd", K_CUSTOM, 0, 0, 0, parse_cmd},
    {"env", K_CUSTOM, 0, 0, 0, parse_env},
    {"cwd", K_STR, offsetof(struct config_engine, cwd), 0, 0, NULL},
    {"model", K_STR, offsetof(struct config_engine, model), 0, 0, NULL},
    {"ready", K_STR, offsetof(struct config_engine, ready), 0, 0, NULL},
    {"api_key", K_STR, offsetof(struct config_engine, api_key), 0, 0, NULL},
    {"start_timeout", K_DURATION, offsetof(struct config_engine, start_timeout_ms), 100,
     7 * 86400000ull, NULL},
    {"stop_timeout", K_DURATION, offsetof(struct config_engine, stop_timeout_ms), 0,
     3600000, NULL},
    {"memory", K_SIZE, offsetof(struct config_engine, memory), 0, 0, NULL},
};

static enum engine_kind infer_kind(const struct config_engine *e)
{
    if (e->cmd) {
        const char *b = strrchr(e->cmd[0], '/');
        b = b ? b + 1 : e->cmd[0];
        if (str_starts_with(b, "llama-server"))
            return ENGINE_KIND_LLAMA_SERVER;
        if (!strcmp(b, "ollama"))
            return ENGINE_KIND_OLLAMA;
        if (!strcmp(b, "vllm"))
            return ENGINE_KIND_VLLM;
    }
    return ENGINE_KIND_OPENAI;
}

static bool has_macro(char *const *v, const char *macro)
{
    for (size_t i = 0; v && v[i]; i++)
        if (strstr(v[i], macro))
            return true;
    return false;
}

static void engine_release(struct config_engine *e)
{
    free(e->url);
    config__strlist_free(e->cmd);
    config__strlist_free(e->env);
    free(e->cwd);
    free(e->model);
    free(e->ready);
    free(e->api_key);
}

static int parse_engine(struct ld *ld, yaml_node_t *n, struct config_engine *e)
{
    uint64_t seen = 0;
    e->line = (unsigned)n->start_mark.line + 1;
    int rc = config__parse_map(ld, n, "an engine", engine_keys, ARRAY_SIZE(engine_keys), e, &seen);
    if (rc)
        return rc;
    if (!(seen & config__key_bit(engine_keys, ARRAY_SIZE(engine_keys), "kind")))
        e->kind = infer_kind(e);
    if (!e->url && !e->cmd)
        return config__fail(ld, n, "an engine needs 'url' (already running) or 'cmd' (started by hermod)");
    if (e->cmd && !e->url && !has_macro(e->cmd, "${PORT}") && !has_macro(e->env, "${PORT}"))
        return config__fail(ld, n, "'cmd' must pass ${PORT} to the engine (or give 'url' where it "
                    "listens)");
    if (e->url) {
        size_t l = strlen(e->url);
        while (l && e->url[l - 1] == '/')
            e->url[--l] = '\0';
        /* A base URL ending in /v1 is common in client configs; we add the
         * API paths ourselves. */
        if (str_ends_with(e->url, "/v1"))
            e->url[l - 3] = '\0';
        if (str_starts_with(e->url, "https://"))
            return config__fail(ld, n,
                        "'url' must be http://: engines run on this machine or its LAN and "
                        "hermod speaks plain HTTP to them; got \"%s\"",
                        e->url);
        if (!str_starts_with(e->url, "http://"))
            return config__fail(ld, n, "'url' must start with http://, got \"%s\"", e->url);
    }
    if (!e->ready) {
        static const char *const def[] = {
            [ENGINE_KIND_LLAMA_SERVER] = "/health", [ENGINE_KIND_OLLAMA] = "/api/version",
            [ENGINE_KIND_NIM] = "/v1/health/ready", [ENGINE_KIND_VLLM] = "/health",
            [ENGINE_KIND_OPENAI] = "/v1/models",
        };
        e->ready = xstrdup(def[e->kind]);
    } else if (e->ready[0] != '/') {
        return config__fail(ld, n, "'ready' must be a path starting with '/', got \"%s\"", e->ready);
    }
    if (!(seen & config__key_bit(engine_keys, ARRAY_SIZE(engine_keys), "start_timeout")))
        e->start_timeout_ms = e->kind == ENGINE_KIND_NIM ? 1800000 : 120000;
    if (!(seen & config__key_bit(engine_keys, ARRAY_SIZE(engine_keys), "stop_timeout")))
        e->stop_timeout_ms = 10000;
    return 0;
}

/* ---- models ----------------------------------------------------------- */

static int parse_engines(struct ld *ld, yaml_node_t *n, void *target)
{
    struct config_model *m = target;
    if (n->type != YAML_SEQUENCE_NODE)
        return config__fail(ld, n, "'engines' must be a list, got %s", config__node_type_name(n));
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (cnt == 0)
        return config__fail(ld, n, "'engines' is empty: a model needs at least one engine");
    if (cnt > 16)
        return config__fail(ld, n, "a model may have at most 16 engines");
    m->engines = xcalloc(cnt, sizeof(*m->engines));
    int rc = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++)
        rc |= parse_engine(ld, config__node_at(ld, *it), &m->engines[m->nengines++]);
    return rc ? -EINVAL : 0;
}

static int parse_gpu(struct ld *ld, yaml_node_t *n, void *target)
{
    struct config_model *m = target;
    const char *s;
    uint64_t u;
    int rc = config__get_scalar(ld, n, "gpu", &s);
    if (rc)
        return rc;
    if (!strcmp(s, "any")) {
        m->gpu = -1;
        return 0;
    }
    if (str_parse_uint(s, 0, 63, &u))
        return config__fail(ld, n, "'gpu' must be a GPU index (0..63) or 'any', got \"%s\"", s);
    m->gpu = (int)u;
    return 0;
}

static int modality_bits(struct ld *ld, yaml_node_t *n, const char *key, unsigned *out,
                         bool *text_only)
{
    static const struct {
        const char *name;
        unsigned bit;
    } mods[] = {{"text", CONFIG_MOD_TEXT}, {"image", CONFIG_MOD_IMAGE},
                {"video", CONFIG_MOD_VIDEO}, {"audio", CONFIG_MOD_AUDIO}};
    char **v = NULL;
    int rc;
    if (n->type == YAML_SCALAR_NODE) {
        const char *one;
        if ((rc = config__get_scalar(ld, n, key, &one)))
            return rc;
        v = xcalloc(2, sizeof(char *));
        v[0] = xstrdup(one);
    } else if ((rc = get_strlist(ld, n, key, &v))) {
        return rc;
    }
    *out = 0;
    for (size_t i = 0; v[i]; i++) {
        size_t k;
        for (k = 0; k < ARRAY_SIZE(mods); k++)
            if (!strcmp(v[i], mods[k].name))
                break;
        if (k == ARRAY_SIZE(mods)) {
            rc = config__fail(ld, n, "'%s' takes text, image, video or audio, got \"%s\"", key, v[i]);
            break;
        }
        *out |= mods[k].bit;
    }
    if (text_only)
        *text_only = *out == CONFIG_MOD_TEXT;
    for (size_t i = 0; v[i]; i++)
        free(v[i]);
    free(v);
    return rc;
}

static int parse_modalities(struct ld *ld, yaml_node_t *n, void *target)
{
    struct config_model *m = target;
    return modality_bits(ld, n, "modalities", &m->modalities, NULL);
}

static const struct key model_keys[] = {
    {"name", K_STR, offsetof(struct config_model, name), 0, 0, NULL},
    {"aliases", K_STRLIST, offsetof(struct config_model, aliases), 0, 0, NULL},
    {"ttl", K_DURATION, offsetof(struct config_model, ttl_ms), 0, 0, NULL},
    {"engines", K_CUSTOM, 0, 0, 0, parse_engines},
    {"concurrency", K_UINT, offsetof(struct config_model, concurrency), 0, 100000, NULL},
    {"queue", K_UINT, offsetof(struct config_model, queue), 0, 1000000, NULL},
    {"memory", K_SIZE, offsetof(struct config_model, memory), 0, 0, NULL},
    {"catalog", K_STR, offsetof(struct config_model, catalog), 0, 0, NULL},
    {"pinned", K_BOOL, offsetof(struct config_model, pinned), 0, 0, NULL},
    {"group", K_STR, offsetof(struct config_model, group), 0, 0, NULL},
    {"gpu", K_CUSTOM, 0, 0, 0, parse_gpu},
    {"context", K_UINT, offsetof(struct config_model, context), 0, 100000000, NULL},
    {"parallel", K_UINT, offsetof(struct config_model, parallel), 0, 4096, NULL},
    {"languages", K_STRLIST, offsetof(struct config_model, languages), 0, 0, NULL},
    {"modalities", K_CUSTOM, offsetof(struct config_model, modalities), 0, 0, parse_modalities},
    {"image_side", K_UINT, offsetof(struct config_model, image_side), 64, 8192, NULL},
};

static void model_release(struct config_model *m)
{
    config__strlist_free(m->languages);
    free(m->name);
    config__strlist_free(m->aliases);
    for (size_t i = 0; i < m->nengines; i++)
        engine_release(&m->engines[i]);
    free(m->engines);
    free(m->catalog);
    free(m->group);
}

bool config__valid_name(const char *s)
{
    if (!*s)
        return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '"' || *p == '\\' || *p == '?' || *p == '#' ||
            *p == '&')
            return false;
    return true;
}

static int parse_models(struct ld *ld, yaml_node_t *n, void *target)
{
    struct config *cfg = target;
    if (n->type != YAML_SEQUENCE_NODE)
        return config__fail(ld, n, "'models' must be a list, got %s", config__node_type_name(n));
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    cfg->models = xcalloc(cnt ? cnt : 1, sizeof(*cfg->models));
    unsigned nerr = ld->nerr;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *mn = config__node_at(ld, *it);
        struct config_model *m = &cfg->models[cfg->nmodels++];
        uint64_t seen = 0;
        m->gpu = -1;
        m->line = (unsigned)mn->start_mark.line + 1;
        int rc = config__parse_map(ld, mn, "a model", model_keys, ARRAY_SIZE(model_keys), m, &seen);
        /* A model with problems stays, by name, so that what refers to it
         * is checked too; one without a name cannot be referred to. */
        if (!m->aliases)
            m->aliases = xcalloc(1, sizeof(char *));
        if (!m->name) {
            if (!(seen & config__key_bit(model_keys, ARRAY_SIZE(model_keys), "name")))
                config__fail(ld, mn, "a model needs a 'name'");
            model_release(m);
            memset(m, 0, sizeof(*m));
            cfg->nmodels--;
            continue;
        }
        if (!config__valid_name(m->name))
            config__fail(ld, mn, "model name \"%s\" may not contain spaces, quotes, '?', '#' or '&'",
                 m->name);
        if (!m->engines && !(seen & config__key_bit(model_keys, ARRAY_SIZE(model_keys), "engines")))
            config__fail(ld, mn, "model '%s' needs 'engines'", m->name);
        if (rc)
            continue;
        if (!(seen & config__key_bit(model_keys, ARRAY_SIZE(model_keys), "ttl")))
            m->ttl_ms = 0;
        if (!(seen & config__key_bit(model_keys, ARRAY_SIZE(model_keys), "concurrency")))
            m->concurrency = cfg->default_concurrency;
        if (!(seen & config__key_bit(model_keys, ARRAY_SIZE(model_keys), "queue")))
            m->queue = cfg->default_queue;
        for (size_t i = 0; m->aliases[i]; i++)
            if (!config__valid_name(m->aliases[i]))
                config__fail(ld, mn, "alias \"%s\" may not contain spaces, quotes, '?', '#' or '&'",
                     m->aliases[i]);
    }
    return ld->nerr > nerr ? -EINVAL : 0;
}

/* ---- routes ----------------------------------------------------------- */

static int parse_when_modality(struct ld *ld, yaml_node_t *n, void *target)
{
    struct config_rule *r = target;
    return modality_bits(ld, n, "modality", &r->modality, &r->text_only);
}

/* A single string is taken as a one-item list for the list conditions. */
static int strlist_or_one(struct ld *ld, yaml_node_t *n, const char *key, char ***out)
{
    if (n->type != YAML_SCALAR_NODE)
        return get_strlist(ld, n, key, out);
    const char *one;
    int rc = config__get_scalar(ld, n, key, &one);
    if (rc)
        return rc;
    *out = xcalloc(2, sizeof(char *));
    (*out)[0] = xstrdup(one);
    return 0;
}

static int parse_when_language(struct ld *ld, yaml_node_t *n, void *target)
{
    return strlist_or_one(ld, n, "language", &((struct config_rule *)target)->languages);
}

static int parse_when_task(struct ld *ld, yaml_node_t *n, void *target)
{
    return strlist_or_one(ld, n, "task", &((struct config_rule *)target)->tasks);
}

static int parse_when_keywords(struct ld *ld, yaml_node_t *n, void *target)
{
    return strlist_or_one(ld, n, "keywords", &((struct config_rule *)target)->keywords);
}

static const struct key when_keys[] = {
    {"modality", K_CUSTOM, 0, 0, 0, parse_when_modality},
    {"language", K_CUSTOM, 0, 0, 0, parse_when_language},
    {"task", K_CUSTOM, 0, 0, 0, parse_when_task},
    {"keywords", K_CUSTOM, 0, 0, 0, parse_when_keywords},
    {"min_tokens", K_UINT, offsetof(struct config_rule, min_tokens), 0, 100000000, NULL},
};

static int parse_rule_when(struct ld *ld, yaml_node_t *n, void *target)
{
    struct config_rule *r = target;
    if (n->type != YAML_MAPPING_NODE)
        return config__fail(ld, n, "'when' must be a mapping of conditions (modality, language, task, "
                    "keywords, min_tokens)");
    /* Unknown and duplicate conditions are reported as for any mapping. */
    int rc = config__parse_map(ld, n, "'when'", when_keys, ARRAY_SIZE(when_keys), r, NULL);
    if (rc)
        return rc;
    static const char *const langs[] = {"kn", "kn-latn", "en", "hi", "hi-latn", "mixed-script",
                                        "other", "kannada", "any"};
    for (size_t i = 0; r->languages && r->languages[i]; i++) {
        bool ok = false;
        for (size_t k = 0; k < ARRAY_SIZE(langs); k++)
            ok |= !strcmp(r->languages[i], langs[k]);
        if (!ok)
            return config__fail(ld, n, "language '%s' is not one of kn, kn-latn, en, hi, hi-latn, "
                        "mixed-script, other, kannada (= kn, kn-latn or mixed-script)",
                        r->languages[i]);
    }
    return 0;
}

static int parse_rule_models(struct ld *ld, yaml_node_t *n, void *target)
{
    struct config_rule *r = target;
    return strlist_or_one(ld, n, "models", &r->models);
}

static int parse_rule_escalate(struct ld *ld, yaml_node_t *n, void *target)
{
    struct config_rule *r = target;
    return strlist_or_one(ld, n, "escalate", &r->escalate);
}

/* A key whose value is one of two words; *second says which. */
static int parse_two_words(struct ld *ld, yaml_node_t *n, const char *key, const char *first,
                           const char *other, bool *second)
{
    const char *s;
    int rc = config__get_scalar(ld, n, key, &s);
    if (rc)
        return rc;
    if (strcmp(s, first) && strcmp(s, other))
        return config__fail(ld, n, "'%s' must be %s or %s, got \"%s\"", key, first, other, s);
    *second = !strcmp(s, other);
    return 0;
}

static int parse_rule_prefer(struct ld *ld, yaml_node_t *n, void *target)
{
    struct config_rule *r = target;
    bool order = false;
    int rc = parse_two_words(ld, n, "prefer", "resident", "order", &order);
    if (!rc)
        r->prefer_resident = !order;
    return rc;
}

static const struct key rule_keys[] = {
    {"name", K_STR, offsetof(struct config_rule, name), 0, 0, NULL},
    {"when", K_CUSTOM, 0, 0, 0, parse_rule_when},
    {"models", K_CUSTOM, 0, 0, 0, parse_rule_models},
    {"escalate", K_CUSTOM, 0, 0, 0, parse_rule_escalate},
    {"prefer", K_CUSTOM, 0, 0, 0, parse_rule_prefer},
};

static int parse_rules(struct ld *ld, yaml_node_t *n, void *target)
{
    struct config_route *rt = target;
    if (n->type != YAML_SEQUENCE_NODE)
        return config__fail(ld, n, "'rules' must be a list");
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (!cnt)
        return config__fail(ld, n, "'rules' is empty");
    rt->rules = xcalloc(cnt, sizeof(*rt->rules));
    unsigned nerr = ld->nerr;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *rn = config__node_at(ld, *it);
        struct config_rule *r = &rt->rules[rt->nrules++];
        r->line = (unsigned)rn->start_mark.line + 1;
        uint64_t seen = 0;
        config__parse_map(ld, rn, "a rule", rule_keys, ARRAY_SIZE(rule_keys), r, &seen);
        if ((!r->models || !r->models[0]) &&
            !(seen & config__key_bit(rule_keys, ARRAY_SIZE(rule_keys), "models")))
            config__fail(ld, rn, "a rule needs 'models', the candidates in order");
        if (!r->name)
            r->name = xasprintf("rule %zu", rt->nrules);
    }
    return ld->nerr > nerr ? -EINVAL : 0;
}

static int parse_escalation(struct ld *ld, yaml_node_t *n, void *target);

static const struct key route_keys[] = {
    {"name", K_STR, offsetof(struct config_route, name), 0, 0, NULL},
    {"aliases", K_STRLIST, offsetof(struct config_route, aliases), 0, 0, NULL},
    {"rules", K_CUSTOM, 0, 0, 0, parse_rules},
    {"escalation", K_CUSTOM, 0, 0, 0, parse_escalation},
};

static const struct key escalation_keys[] = {
    {"attempts", K_UINT, offsetof(struct config_route, max_attempts), 1, 16, NULL},
    {"deadline", K_DURATION, offsetof(struct config_route, deadline_ms), 100, 86400000, NULL},
    {"coverage", K_FLOAT, offsetof(struct config_route, coverage), 0, 1, NULL},
};

static int parse_escalation(struct ld *ld, yaml_node_t *n, void *target)
{
    return config__parse_map(ld, n, "'escalation'", escalation_keys, ARRAY_SIZE(escalation_keys), target,
                     NULL);
}

static void rule_release(struct config_rule *r)
{
    free(r->name);
    config__strlist_free(r->languages);
    config__strlist_free(r->tasks);
    config__strlist_free(r->keywords);
    config__strlist_free(r->models);
    config__strlist_free(r->escalate);
}

static void route_release(struct config_route *rt)
{
    free(rt->name);
    config__strlist_free(rt->aliases);
    for (size_t i = 0; i < rt->nrules; i++)
        rule_release(&rt->rules[i]);
    free(rt->rules);
}

static int parse_routes(struct ld *ld, yaml_node_t *n, void *target)
{
    struct config *cfg = target;
    if (n->type != YAML_SEQUENCE_NODE)
        return config__fail(ld, n, "'routes' must be a list, got %s", config__node_type_name(n));
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    cfg->routes = xcalloc(cnt ? cnt : 1, sizeof(*cfg->routes));
    unsigned nerr = ld->nerr;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        yaml_node_t *rn = config__node_at(ld, *it);
        struct config_route *rt = &cfg->routes[cfg->nroutes++];
        rt->line = (unsigned)rn->start_mark.line + 1;
        rt->max_attempts = 3;
        rt->deadline_ms = 300000;
        rt->coverage = 0.8;
        uint64_t seen = 0;
        config__parse_map(ld, rn, "a route", route_keys, ARRAY_SIZE(route_keys), rt, &seen);
        if (!rt->aliases)
            rt->aliases = xcalloc(1, sizeof(char *));
        if (!rt->name) {
            if (!(seen & config__key_bit(route_keys, ARRAY_SIZE(route_keys), "name")))
                config__fail(ld, rn, "a route needs a 'name' (what clients send as model)");
            route_release(rt);
            memset(rt, 0, sizeof(*rt));
            cfg->nroutes--;
            continue;
        }
        if (!config__valid_name(rt->name))
            config__fail(ld, rn, "route name \"%s\" may not contain spaces, quotes, '?', '#' or '&'",
                 rt->name);
        if (!rt->rules && !(seen & config__key_bit(route_keys, ARRAY_SIZE(route_keys), "rules")))
            config__fail(ld, rn, "route '%s' needs 'rules'", rt->name);
    }
    return ld->nerr > nerr ? -EINVAL : 0;
}

/* ---- top level -------------------------------------------------------- */

static int parse_listen(struct ld *ld, yaml_node_t *n, void *target)
{
    struct config *cfg = target;
    const char *s;
    int rc = config__get_scalar(ld, n, "listen", &s);
    if (rc)
        return rc;
    char *host;
    int port;
    if (str_parse_hostport(s, &host, &port))
        return config__fail(ld, n, "'listen' must be HOST:PORT, e.g. 127.0.0.1:8400, got \"%s\"", s);
    free(cfg->listen_host);
    cfg->listen_host = host;
    cfg->listen_port = port;
    return 0;
}

/* engine_ports: FIRST-LAST, the loopback ports managed engines get. */
static int parse_engine_ports(struct ld *ld, yaml_node_t *n, void *target)
{
    struct config *cfg = target;
    const char *s;
    int rc = config__get_scalar(ld, n, "engine_ports", &s);
    if (rc)
        return rc;
    unsigned lo, hi;
    int end = 0;
    if (sscanf(s, "%u-%u%n", &lo, &hi, &end) != 2 || s[end] || lo < 1024 || hi > 65535 ||
        lo > hi)
        return config__fail(ld, n,
                    "'engine_ports' must be a range FIRST-LAST within 1024-65535, "
                    "e.g. 20000-20999, got \"%s\"",
                    s);
    cfg->engine_port_lo = (int)lo;
    cfg->engine_port_hi = (int)hi;
    return 0;
}

static int parse_log_level(struct ld *ld, yaml_node_t *n, void *target)
{
    struct config *cfg = target;
    const char *s;
    int rc = config__get_scalar(ld, n, "log_level", &s);
    if (rc)
        return rc;
    if (log_level_parse(s, &cfg->log_level))
        return config__fail(ld, n, "'log_level' must be error, warn, info or debug, got \"%s\"", s);
    return 0;
}

static int parse_budget(struct ld *ld, yaml_node_t *n, void *target)
{
    struct config *cfg = target;
    const char *s;
    int rc = config__get_scalar(ld, n, "budget", &s);
    if (rc)
        return rc;
    if (!strcmp(s, "auto")) {
        cfg->budget = 0;
        return 0;
    }
    if (str_parse_size(s, &cfg->budget) || cfg->budget == 0)
        return config__fail(ld, n, "'budget' must be a size such as 120GiB, or auto; got \"%s\"", s);
    return 0;
}

static int parse_reserved(struct ld *ld, yaml_node_t *n, void *target)
{
    struct config *cfg = target;
    if (n->type != YAML_MAPPING_NODE)
        return config__fail(ld, n, "'reserved' must map names to sizes, e.g. {whisper: 8.75GB}");
    size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    cfg->reserved = xcalloc(cnt ? cnt : 1, sizeof(*cfg->reserved));
    bool bad = false;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = config__node_at(ld, p->key), *vn = config__node_at(ld, p->value);
        const char *k, *v;
        int rc = config__get_scalar(ld, kn, "reserved", &k);
        if (!rc)
            rc = config__get_scalar(ld, vn, k, &v);
        if (rc) {
            bad = true;
            continue;
        }
        bool twice = false;
        for (size_t j = 0; j < cfg->nreserved; j++)
            twice |= !strcmp(cfg->reserved[j].name, k);
        if (twice) { /* counted twice, the budget would shrink by it again */
            bad = config__fail(ld, kn, "duplicate key '%s' in 'reserved'", k);
            continue;
        }
        struct config_reserved *r = &cfg->reserved[cfg->nreserved++];
        r->name = xstrdup(k);
        if (str_parse_size(v, &r->bytes))
            bad = config__fail(ld, vn, "reserved '%s' must be a size such as 8.75GB, got \"%s\"", k, v);
    }
    return bad ? -EINVAL : 0;
}

static int parse_swap_policy(struct ld *ld, yaml_node_t *n, void *target)
{
    struct config *cfg = target;
    return parse_two_words(ld, n, "swap_policy", "batch", "fifo", &cfg->swap_fifo);
}

static const struct key pipeline_keys[] = {
    {"vision", K_STR, offsetof(struct config_pipeline, vision), 0, 0, NULL},
    {"extract", K_STR, offsetof(struct config_pipeline, extract), 0, 0, NULL},
    {"max_side", K_UINT, offsetof(struct config_pipeline, max_side), 64, 8192, NULL},
    {"jpeg_quality", K_UINT, offsetof(struct config_pipeline, jpeg_quality), 1, 100, NULL},
    {"video_fps", K_FLOAT, offsetof(struct config_pipeline, video_fps), 0, 60, NULL},
    {"video_frames", K_UINT, offsetof(struct config_pipeline, video_frames), 1, 256, NULL},
    {"dup_threshold", K_FLOAT, offsetof(struct config_pipeline, dup_threshold), 0, 255, NULL},
    {"keep_location", K_BOOL, offsetof(struct config_pipeline, keep_location), 0, 0, NULL},
    {"entities", K_BOOL, offsetof(struct config_pipeline, entities), 0, 0, NULL},
    {"ocr", K_BOOL, offsetof(struct config_pipeline, ocr), 0, 0, NULL},
    {"retry_interval", K_DURATION, offsetof(struct config_pipeline, retry_interval_ms), 0, 0,
     NULL},
    {"max_attempts", K_UINT, offsetof(struct config_pipeline, max_attempts), 1, 1000, NULL},
    {"timeout", K_DURATION, offsetof(struct config_pipeline, timeout_ms), 1000, 86400000, NULL},
    {"timezone", K_STR, offsetof(struct config_pipeline, timezone), 0, 0, NULL},
};

static int parse_pipeline(struct ld *ld, yaml_node_t *n, void *target)
{
    struct config *cfg = target;
    cfg->pipeline.line = (unsigned)n->start_mark.line + 1;
    return config__parse_map(ld, n, "'pipeline'", pipeline_keys, ARRAY_SIZE(pipeline_keys),
                     &cfg->pipeline, NULL);
}

static const struct key top_keys[] = {
    {"store", K_STR, offsetof(struct config, store_path), 0, 0, NULL},
    {"pipeline", K_CUSTOM, 0, 0, 0, parse_pipeline},
    {"listen", K_CUSTOM, 0, 0, 0, parse_listen},
    {"engine_ports", K_CUSTOM, 0, 0, 0, parse_engine_ports},
    {"drain_timeout", K_DURATION, offsetof(struct config, drain_timeout_ms), 0, 86400000, NULL},
    {"models", K_CUSTOM, 0, 0, 0, parse_models},
    {"routes", K_CUSTOM, 0, 0, 0, parse_routes},
    {"model_dir", K_STR, offsetof(struct config, model_dir), 0, 0, NULL},
    {"max_body", K_SIZE, offsetof(struct config, max_body), 1024, 1ull << 32, NULL},
    {"max_response", K_SIZE, offsetof(struct config, max_response), 1024, 1ull << 34, NULL},
    {"connect_timeout", K_DURATION, offsetof(struct config, connect_timeout_ms), 1, 3600000,
     NULL},
    {"request_timeout", K_DURATION, offsetof(struct config, request_timeout_ms), 0, 0, NULL},
    {"first_byte_timeout", K_DURATION, offsetof(struct config, first_byte_timeout_ms), 0, 0,
     NULL},
    {"stall_timeout", K_DURATION, offsetof(struct config, stall_timeout_ms), 0, 0, NULL},
    {"cooldown", K_DURATION, offsetof(struct config, cooldown_ms), 0, 86400000, NULL},
    {"keepalive", K_DURATION, offsetof(struct config, keepalive_ms), 100, 3600000, NULL},
    {"health_interval", K_DURATION, offsetof(struct config, health_interval_ms), 100,
     86400000, NULL},
    {"engine_log", K_SIZE, offsetof(struct config, engine_log_bytes), 1024, 1ull << 30, NULL},
    {"concurrency", K_UINT, offsetof(struct config, default_concurrency), 0, 100000, NULL},
    {"queue", K_UINT, offsetof(struct config, default_queue), 0, 1000000, NULL},
    {"log_level", K_CUSTOM, 0, 0, 0, parse_log_level},
    {"log_prompts", K_BOOL, offsetof(struct config, log_prompts), 0, 0, NULL},
    {"budget", K_CUSTOM, 0, 0, 0, parse_budget},
    {"reserved", K_CUSTOM, 0, 0, 0, parse_reserved},
    {"load_factor", K_FLOAT, offsetof(struct config, load_factor), 1, 10, NULL},
    {"swap_policy", K_CUSTOM, 0, 0, 0, parse_swap_policy},
    {"swap_quantum", K_DURATION, offsetof(struct config, swap_quantum_ms), 0, 3600000, NULL},
    {"serialize_loads", K_BOOL, offsetof(struct config, serialize_loads), 0, 0, NULL},
    {"measure_interval", K_DURATION, offsetof(struct config, measure_interval_ms), 100,
     3600000, NULL},
    {"auth", K_CUSTOM, 0, 0, 0, config__parse_auth},
    {"cors", K_CUSTOM, 0, 0, 0, config__parse_cors},
    {"max_header", K_SIZE, offsetof(struct config, max_header), 1024, 16ull << 20, NULL},
    {"header_timeout", K_DURATION, offsetof(struct config, header_timeout_ms), 100, 86400000,
     NULL},
    {"idle_timeout", K_DURATION, offsetof(struct config, idle_timeout_ms), 100, 86400000,
     NULL},
    {"max_connections", K_UINT, offsetof(struct config, max_connections), 1, 1000000, NULL},
};

static void set_defaults(struct config *cfg)
{
    cfg->listen_host = xstrdup("127.0.0.1");
    cfg->listen_port = 8400;
    cfg->max_body = 64ull << 20;
    cfg->max_header = 64ull << 10;
    cfg->header_timeout_ms = 60000;
    cfg->idle_timeout_ms = 300000;
    cfg->max_connections = 16384;
    cfg->max_response = 256ull << 20;
    cfg->connect_timeout_ms = 5000;
    cfg->request_timeout_ms = 0;
    cfg->first_byte_timeout_ms = 600000;
    cfg->stall_timeout_ms = 300000;
    cfg->cooldown_ms = 10000;
    cfg->keepalive_ms = 2000;
    cfg->drain_timeout_ms = 30000;
    cfg->health_interval_ms = 10000;
    cfg->engine_log_bytes = 256 << 10;
    cfg->default_concurrency = 0;
    cfg->default_queue = 256;
    cfg->log_level = LOG_INFO;
    cfg->load_factor = 0;
    cfg->swap_quantum_ms = 5000;
    cfg->serialize_loads = true;
    cfg->measure_interval_ms = 2000;
    cfg->pipeline.max_side = 1024;
    cfg->pipeline.jpeg_quality = 90;
    cfg->pipeline.video_fps = 1.0;
    cfg->pipeline.video_frames = 16;
    cfg->pipeline.dup_threshold = 2.0;
    cfg->pipeline.entities = true;
    cfg->pipeline.ocr = true;
    cfg->pipeline.retry_interval_ms = 600000;
    cfg->pipeline.max_attempts = 5;
    cfg->pipeline.timeout_ms = 600000;
    const char *md = getenv("HERMOD_MODEL_DIR");
    const char *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    if (md && *md)
        cfg->model_dir = xstrdup(md);
    else if (xdg && *xdg)
        cfg->model_dir = xasprintf("%s/hermod/models", xdg);
    else
        cfg->model_dir = xasprintf("%s/.local/share/hermod/models", home ? home : "");
}

/* Replaces ${MODEL_DIR} in every string of v. */
static void subst_model_dir(char **v, const char *dir)
{
    for (size_t i = 0; v && v[i]; i++) {
        if (!strstr(v[i], "${MODEL_DIR}"))
            continue;
        struct buf b = BUF_INIT;
        const char *p = v[i], *q;
        while ((q = strstr(p, "${MODEL_DIR}"))) {
            buf_add(&b, p, (size_t)(q - p));
            buf_addstr(&b, dir);
            p = q + strlen("${MODEL_DIR}");
        }
        buf_addstr(&b, p);
        free(v[i]);
        v[i] = buf_detach(&b, NULL);
    }
}

static int validate(struct ld *ld, yaml_node_t *root)
{
    struct config *cfg = ld->cfg;
    /* Every name and alias must resolve to one model. */
    for (size_t i = 0; i < cfg->nmodels; i++) {
        struct config_model *m = &cfg->models[i];
        for (size_t j = 0; j <= i; j++) {
            struct config_model *o = &cfg->models[j];
            /* Compare m's name and aliases with o's (x, y = -1: the name). */
            for (ssize_t x = -1; x < 0 || m->aliases[x]; x++) {
                const char *mn = x < 0 ? m->name : m->aliases[x];
                for (ssize_t y = -1; y < 0 || o->aliases[y]; y++) {
                    const char *on = y < 0 ? o->name : o->aliases[y];
                    if ((i != j || x != y) && !strcmp(mn, on))
                        fail_line(ld, m->line, "model name or alias '%s' is already used by "
                                  "model '%s' (line %u)", mn, o->name, o->line);
                }
            }
        }
        if (m->catalog && !catalog_find(m->catalog)) {
            const char *best = NULL;
            unsigned bestd = 4;
            for (size_t c = 0; c < catalog_count(); c++) {
                const struct catalog_entry *ce = catalog_at(c);
                unsigned d = str_edit_distance(m->catalog, ce->name);
                for (size_t a = 0; ce->aliases && ce->aliases[a]; a++) {
                    unsigned da = str_edit_distance(m->catalog, ce->aliases[a]);
                    if (da < d)
                        d = da;
                }
                if (str_starts_with(ce->name, m->catalog))
                    d = 1;
                if (d < bestd) {
                    bestd = d;
                    best = ce->name;
                }
            }
            fail_line(ld, m->line, "model '%s': unknown catalog entry '%s'%s%s%s (see `hermod "
                      "models --catalog`)", m->name, m->catalog,
                      best ? " (did you mean '" : "", best ? best : "", best ? "'?)" : "");
        }
        for (size_t e = 0; e < m->nengines; e++) {
            subst_model_dir(m->engines[e].cmd, cfg->model_dir);
            subst_model_dir(m->engines[e].env, cfg->model_dir);
        }
    }
    for (size_t i = 0; i < cfg->nroutes; i++) {
        const struct config_route *rt = &cfg->routes[i];
        for (ssize_t x = -1; x < 0 || rt->aliases[x]; x++) {
            const char *nm = x < 0 ? rt->name : rt->aliases[x];
            const struct config_model *m = config_find_model(cfg, nm);
            const struct config_route *o = config_find_route(cfg, nm);
            if (m || o != rt)
                fail_line(ld, rt->line, "route name or alias '%s' is already used by %s '%s'",
                          nm, m ? "model" : "route", m ? m->name : o->name);
        }
        for (size_t r = 0; r < rt->nrules; r++) {
            const struct config_rule *ru = &rt->rules[r];
            for (int lane = 0; lane < 2; lane++) {
                char **v = lane ? ru->escalate : ru->models;
                for (size_t k = 0; v && v[k]; k++) {
                    if (!config_find_model(cfg, v[k]))
                        fail_line(ld, ru->line, "route '%s', %s: no model '%s' (a rule names "
                                  "models, not routes)", rt->name, ru->name, v[k]);
                }
            }
        }
    }
    /* The pipeline's models, when named, must exist; a missing one would
     * only show at the first photo. Unnamed, pipeline.c picks them. */
    const struct config_pipeline *pl = &cfg->pipeline;
    const char *const pnames[][2] = {{"vision", pl->vision}, {"extract", pl->extract}};
    for (size_t i = 0; i < ARRAY_SIZE(pnames); i++) {
        const char *nm = pnames[i][1];
        if (nm && !config_find_model(cfg, nm) && !config_find_route(cfg, nm))
            fail_line(ld, pl->line, "pipeline: %s names '%s', which is neither a model nor a "
                      "route", pnames[i][0], nm);
    }
    int tz;
    if (pl->timezone && timeparse_tz_parse(pl->timezone, &tz))
        fail_line(ld, pl->line, "pipeline: timezone must be an offset like +05:30 or IST, got "
                  "\"%s\"", pl->timezone);
    /* A key's model list names models or routes that exist. */
    for (size_t i = 0; i < cfg->auth.nkeys; i++) {
        const struct config_key *k = &cfg->auth.keys[i];
        for (size_t j = 0; k->models && k->models[j]; j++) {
            if (!config_find_model(cfg, k->models[j]) && !config_find_route(cfg, k->models[j]))
                fail_line(ld, k->line, "auth: key '%s' lists '%s', which is neither a model nor "
                          "a route", k->name, k->models[j]);
        }
    }
    (void)root;
    return ld->nerr ? -EINVAL : 0;
}

static int load(const char *name, const unsigned char *text, size_t len, struct config **out,
                struct buf *err)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    struct config *cfg = xcalloc(1, sizeof(*cfg));
    struct ld ld = {.file = name, .doc = &doc, .err = err, .cfg = cfg};
    int rc = 0;

    buf_reset(err);
    set_defaults(cfg);
    cfg->path = xstrdup(name);
    if (!yaml_parser_initialize(&parser))
        BUG("yaml_parser_initialize failed");
    yaml_parser_set_input_string(&parser, text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        buf_reset(err);
        buf_addf(err, "%s:%lu:%lu: %s%s%s", name, (unsigned long)parser.problem_mark.line + 1,
                 (unsigned long)parser.problem_mark.column + 1,
                 parser.problem ? parser.problem : "YAML syntax error",
                 parser.context ? " " : "", parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        config_free(cfg);
        return -EINVAL;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        rc = config__fail(&ld, NULL, "the config is empty (it needs at least 'models')");
        goto out;
    }
    /* Every problem the tree allows, not only the first: the keys and
     * list items after a bad one are read, and the checks across sections
     * run over what did read. */
    uint64_t seen = 0;
    config__parse_map(&ld, root, "the config", top_keys, ARRAY_SIZE(top_keys), cfg, &seen);
    if (root->type == YAML_MAPPING_NODE && !cfg->models &&
        !(seen & config__key_bit(top_keys, ARRAY_SIZE(top_keys), "models")))
        config__fail(&ld, root, "the config has no 'models' list");
    rc = validate(&ld, root);
    if (ld.nerr > ERR_MAX)
        buf_addf(err, "\n%s: ... and %u more problems", name, ld.nerr - ERR_MAX);
out:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc) {
        config_free(cfg);
        return rc;
    }
    log_set_level(cfg->log_level);
    *out = cfg;
    return 0;
}

int config_load_string(const char *name, const char *text, size_t len, struct config **out,
                       struct buf *err)
{
    return load(name, (const unsigned char *)text, len, out, err);
}

int config_load_file(const char *path, struct config **out, struct buf *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        buf_reset(err);
        buf_addf(err, "%s: cannot open: %s", path, strerror(errno));
        return -errno;
    }
    struct buf text = BUF_INIT;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        buf_add(&text, chunk, n);
        if (text.len > (16u << 20)) {
            fclose(f);
            buf_release(&text);
            buf_reset(err);
            buf_addf(err, "%s: larger than 16 MiB; is this a config file?", path);
            return -EFBIG;
        }
    }
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        buf_release(&text);
        buf_reset(err);
        buf_addf(err, "%s: read error", path);
        return -EIO;
    }
    int rc = load(path, (const unsigned char *)buf_cstr(&text), text.len, out, err);
    buf_release(&text);
    return rc;
}

const char *config_default_text(size_t *len)
{
    *len = (size_t)(hermod_default_config_end - hermod_default_config);
    return hermod_default_config;
}

int config_load_default(struct config **out, struct buf *err)
{
    size_t len;
    const char *text = config_default_text(&len);
    return load("<built-in default config>", (const unsigned char *)text, len, out, err);
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->nmodels; i++)
        model_release(&cfg->models[i]);
    free(cfg->models);
    for (size_t i = 0; i < cfg->nroutes; i++)
        route_release(&cfg->routes[i]);
    free(cfg->routes);
    for (size_t i = 0; i < cfg->nreserved; i++)
        free(cfg->reserved[i].name);
    free(cfg->reserved);
    free(cfg->listen_host);
    free(cfg->model_dir);
    free(cfg->store_path);
    free(cfg->pipeline.vision);
    free(cfg->pipeline.extract);
    free(cfg->pipeline.timezone);
    for (size_t i = 0; i < cfg->auth.nkeys; i++)
        config__key_release(&cfg->auth.keys[i]);
    free(cfg->auth.keys);
    config__strlist_free(cfg->cors_origins);
    free(cfg->path);
    free(cfg);
}

const struct config_route *config_find_route(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nroutes; i++) {
        const struct config_route *r = &cfg->routes[i];
        if (!strcmp(r->name, name))
            return r;
        for (size_t a = 0; r->aliases[a]; a++)
            if (!strcmp(r->aliases[a], name))
                return r;
    }
    return NULL;
}

const struct config_model *config_find_model(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nmodels; i++) {
        const struct config_model *m = &cfg->models[i];
        if (!strcmp(m->name, name))
            return m;
        for (size_t a = 0; m->aliases[a]; a++)
            if (!strcmp(m->aliases[a], name))
                return m;
    }
    return NULL;
}

/* ---- comparing models (reload) ------------------------------------------------ */

static bool str_eq(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static bool strv_eq(char *const *a, char *const *b)
{
    if (!a || !b)
        return a == b || (!a && !b[0]) || (!b && !a[0]);
    size_t i = 0;
    for (; a[i] && b[i]; i++)
        if (strcmp(a[i], b[i]))
            return false;
    return !a[i] && !b[i];
}

static bool engine_eq(const struct config_engine *a, const struct config_engine *b)
{
    return a->kind == b->kind && str_eq(a->url, b->url) && strv_eq(a->cmd, b->cmd) &&
           strv_eq(a->env, b->env) && str_eq(a->cwd, b->cwd) && str_eq(a->model, b->model) &&
           str_eq(a->ready, b->ready) && str_eq(a->api_key, b->api_key) &&
           a->start_timeout_ms == b->start_timeout_ms &&
           a->stop_timeout_ms == b->stop_timeout_ms && a->memory == b->memory;
}

bool config_model_equal(const struct config_model *a, const struct config_model *b)
{
    if (!str_eq(a->name, b->name) || !strv_eq(a->aliases, b->aliases) || a->ttl_ms != b->ttl_ms ||
        a->concurrency != b->concurrency || a->queue != b->queue || a->memory != b->memory ||
        !str_eq(a->catalog, b->catalog) || a->pinned != b->pinned ||
        !str_eq(a->group, b->group) || a->gpu != b->gpu || a->context != b->context ||
        a->parallel != b->parallel || !strv_eq(a->languages, b->languages) ||
        a->modalities != b->modalities || a->image_side != b->image_side ||
        a->nengines != b->nengines)
        return false;
    for (size_t i = 0; i < a->nengines; i++)
        if (!engine_eq(&a->engines[i], &b->engines[i]))
            return false;
    return true;
}
