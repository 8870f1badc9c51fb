/* SPDX-License-Identifier: MIT */
/*
 * config_auth.c: the auth: and cors: sections of the config. See config.h
 * for the keys; keys themselves never reach a message or a log.
 */
#include "core/config_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/str.h"
#include "lib/xalloc.h"

/* ---- auth and cors ------------------------------------------------------ */

/* key_env: NAME, the key is that environment variable's value. */
static int parse_key_env(struct ld *ld, yaml_node_t *n, void *target)
{
    struct config_key *k = target;
    const char *var;
    int rc = config__get_scalar(ld, n, "key_env", &var);
    if (rc)
        return rc;
    const char *v = getenv(var);
    if (!v || !*v)
        return config__fail(ld, n, "key_env: the environment variable %s is not set", var);
    free(k->key);
    k->key = xstrdup(v);
    return 0;
}

/* key_file: PATH, the key is the file's first line. */
static int parse_key_file(struct ld *ld, yaml_node_t *n, void *target)
{
    struct config_key *k = target;
    const char *s;
    int rc = config__get_scalar(ld, n, "key_file", &s);
    if (rc)
        return rc;
    char *path = config__expand(ld, n, s);
    if (!path)
        return -EINVAL;
    free(k->key_file);
    k->key_file = path;
    FILE *f = fopen(path, "r");
    if (!f)
        return config__fail(ld, n, "key_file: cannot open %s: %s", path, strerror(errno));
    char line[4096];
    bool got = fgets(line, sizeof(line), f) != NULL;
    fclose(f);
    size_t len = got ? strcspn(line, "\r\n") : 0;
    while (len && (line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    if (!len)
        return config__fail(ld, n, "key_file: %s is empty (it must hold the key on its first line)",
                    path);
    free(k->key);
    k->key = xstrndup(line, len);
    return 0;
}

static const struct key apikey_keys[] = {
    {"name", K_STR, offsetof(struct config_key, name), 0, 0, NULL},
    {"key", K_STR, offsetof(struct config_key, key), 0, 0, NULL},
    {"key_file", K_CUSTOM, 0, 0, 0, parse_key_file},
    {"key_env", K_CUSTOM, 0, 0, 0, parse_key_env},
    {"models", K_STRLIST, offsetof(struct config_key, models), 0, 0, NULL},
    {"admin", K_BOOL, offsetof(struct config_key, admin), 0, 0, NULL},
};

/* The shortest key accepted: 16 characters, 96 bits or more of a random
 * key, so that guessing is not a way in. */
#define KEY_MIN 16

void config__key_release(struct config_key *k)
{
    free(k->name);
    if (k->key) /* no copy of a secret left in freed memory */
        explicit_bzero(k->key, strlen(k->key));
    free(k->key);
    free(k->key_file);
    config__strlist_free(k->models);
    memset(k, 0, sizeof(*k));
}

/* One item of auth.keys into au->keys[au->nkeys - 1]. */
static int parse_auth_key(struct ld *ld, yaml_node_t *kn, struct config_auth *au)
{
    struct config_key *k = &au->keys[au->nkeys - 1];
    uint64_t seen = 0;
    k->line = (unsigned)kn->start_mark.line + 1;
    int rc = config__parse_map(ld, kn, "a key", apikey_keys, ARRAY_SIZE(apikey_keys), k, &seen);
    if (rc)
        return rc;
    if (!k->name)
        return config__fail(ld, kn, "a key needs a 'name' (logs show it instead of the key)");
    if (!config__valid_name(k->name))
        return config__fail(ld, kn, "key name \"%s\" may not contain spaces, quotes, '?', '#' or '&'",
                    k->name);
    unsigned sources = 0;
    static const char *const src[] = {"key", "key_file", "key_env"};
    for (size_t i = 0; i < ARRAY_SIZE(src); i++)
        sources += !!(seen & config__key_bit(apikey_keys, ARRAY_SIZE(apikey_keys), src[i]));
    if (sources != 1)
        return config__fail(ld, kn, "key '%s' needs exactly one of 'key', 'key_file' or 'key_env'",
                    k->name);
    if (seen & config__key_bit(apikey_keys, ARRAY_SIZE(apikey_keys), "key"))
        au->inline_keys = true;
    size_t len = strlen(k->key);
    if (len < KEY_MIN)
        return config__fail(ld, kn, "key '%s' is too short: %zu characters, at least %d (e.g. "
                    "hk- and 32 random hex digits: openssl rand -hex 16)",
                    k->name, len, KEY_MIN);
    for (const char *p = k->key; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return config__fail(ld, kn, "key '%s' may not contain spaces or control characters",
                        k->name);
    for (size_t j = 0; j + 1 < au->nkeys; j++) {
        if (!strcmp(au->keys[j].name, k->name))
            return config__fail(ld, kn, "duplicate key name '%s' (line %u)", k->name,
                        au->keys[j].line);
        if (!strcmp(au->keys[j].key, k->key))
            return config__fail(ld, kn, "keys '%s' and '%s' are the same key", au->keys[j].name,
                        k->name);
    }
    return 0;
}

static int parse_auth_keys(struct ld *ld, yaml_node_t *n, void *target)
{
    struct config_auth *au = target;
    if (n->type != YAML_SEQUENCE_NODE)
        return config__fail(ld, n, "'keys' must be a list of {name, key}, got %s", config__node_type_name(n));
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    au->keys = xcalloc(cnt ? cnt : 1, sizeof(*au->keys));
    int bad = 0;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++) {
        au->nkeys++;
        /* A key with a problem is left out, and the next one read. */
        if (parse_auth_key(ld, config__node_at(ld, *it), au)) {
            bad = -EINVAL;
            config__key_release(&au->keys[--au->nkeys]);
        }
    }
    return bad;
}

static const struct key auth_keys[] = {
    {"keys", K_CUSTOM, 0, 0, 0, parse_auth_keys},
    {"open", K_BOOL, offsetof(struct config_auth, open), 0, 0, NULL},
};

int config__parse_auth(struct ld *ld, yaml_node_t *n, void *target)
{
    struct config *cfg = target;
    cfg->auth.line = (unsigned)n->start_mark.line + 1;
    int rc = config__parse_map(ld, n, "'auth'", auth_keys, ARRAY_SIZE(auth_keys), &cfg->auth, NULL);
    if (!rc && cfg->auth.open && cfg->auth.nkeys)
        return config__fail(ld, n, "'auth' has keys and 'open: true': keep the keys (a key is then "
                    "needed) or 'open: true' (no key is needed), not both");
    return rc;
}

static const struct key cors_keys[] = {
    {"origins", K_STRLIST, offsetof(struct config, cors_origins), 0, 0, NULL},
};

int config__parse_cors(struct ld *ld, yaml_node_t *n, void *target)
{
    struct config *cfg = target;
    int rc = config__parse_map(ld, n, "'cors'", cors_keys, ARRAY_SIZE(cors_keys), cfg, NULL);
    for (size_t i = 0; !rc && cfg->cors_origins && cfg->cors_origins[i]; i++) {
        const char *o = cfg->cors_origins[i];
        const char *host = strstr(o, "://");
        bool ok = !strcmp(o, "*") ||
                  ((str_starts_with(o, "http://") || str_starts_with(o, "https://")) && host &&
                   host[3] && !strchr(host + 3, '/'));
        if (!ok)
            rc = config__fail(ld, n, "cors: an origin is a scheme and host, like "
                      "https://app.example.com or http://localhost:3000 (no path), or *; "
                      "got \"%s\"", o);
    }
    return rc;
}

