/* SPDX-License-Identifier: MIT */
/*
 * auth.c: inbound API keys, CORS and protected mode. See auth.h.
 *
 * DESIGN
 * The configured keys are kept only as SHA-256 digests here; a presented
 * key is hashed once and compared with every digest by memeql_sec, and the
 * loop never stops at a match, so neither the time nor the length of a
 * key tells anything about how close a guess came. The principal attached
 * to a request is the config's own struct config_key (configs replaced by
 * a reload live until exit, main.c), or the internal key's static one.
 */
#include "gateway/auth.h"

#include <errno.h>
#include <nettle/memops.h>
#include <nettle/sha2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "core/log.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "net/http.h"

#define PRESENTED_MAX 1024

struct digest {
    uint8_t d[SHA256_DIGEST_SIZE];
};

struct auth {
    const struct config *cfg;
    struct digest *digests;     /* one per cfg->auth.keys[i] */
    size_t n;
    char internal[64];          /* "hk-internal-" and 32 hex digits */
    struct digest internal_digest;
};

static const struct config_key internal_principal = {
    .name = (char *)(uintptr_t)"hermod-internal",
    .admin = true,
};

static void sha256(const char *s, size_t n, struct digest *out)
{
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    sha256_update(&ctx, n, (const uint8_t *)s);
    sha256_digest(&ctx, SHA256_DIGEST_SIZE, out->d);
}

void auth_set_config(struct auth *a, const struct config *cfg)
{
    a->cfg = cfg;
    free(a->digests);
    a->n = cfg->auth.nkeys;
    a->digests = xcalloc(a->n ? a->n : 1, sizeof(*a->digests));
    for (size_t i = 0; i < a->n; i++)
        sha256(cfg->auth.keys[i].key, strlen(cfg->auth.keys[i].key), &a->digests[i]);
}

struct auth *auth_new(const struct config *cfg)
{
    struct auth *a = xcalloc(1, sizeof(*a));
    uint8_t rnd[16];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        BUG("getrandom failed");
    int off = snprintf(a->internal, sizeof(a->internal), "hk-internal-");
    for (size_t i = 0; i < sizeof(rnd); i++)
        off += snprintf(a->internal + off, sizeof(a->internal) - (size_t)off, "%02x", rnd[i]);
    sha256(a->internal, strlen(a->internal), &a->internal_digest);
    auth_set_config(a, cfg);
    return a;
}

void auth_free(struct auth *a)
{
    if (!a)
        return;
    free(a->digests);
    explicit_bzero(a, sizeof(*a));
    free(a);
}

const char *auth_internal_key(const struct auth *a)
{
    return a->internal;
}

/* The key the request presents, or NULL; *len is its length. */
static const char *presented(const struct http_req *req, size_t *len)
{
    const char *h = http_req_header(req, "Authorization");
    const char *k = NULL;
    if (h && !strncasecmp(h, "Bearer ", 7)) {
        k = h + 7;
        while (*k == ' ')
            k++;
    } else {
        k = http_req_header(req, "x-api-key");
    }
    if (!k)
        return NULL;
    size_t n = strlen(k);
    while (n && (k[n - 1] == ' ' || k[n - 1] == '\t'))
        n--;
    *len = n;
    return n ? k : NULL;
}

/* The principal for a presented key, or NULL. Constant time in the keys. */
static const struct config_key *find_key(const struct auth *a, const char *k, size_t len)
{
    struct digest d;
    sha256(k, len, &d);
    const struct config_key *found = NULL;
    for (size_t i = 0; i < a->n; i++)
        if (memeql_sec(d.d, a->digests[i].d, sizeof(d.d)))
            found = &a->cfg->auth.keys[i];
    if (memeql_sec(d.d, a->internal_digest.d, sizeof(d.d)))
        found = &internal_principal;
    return len > PRESENTED_MAX ? NULL : found;
}

static bool is_admin_path(const char *path)
{
    return str_starts_with(path, "/hermod/") || !strcmp(path, "/hermod") ||
           str_starts_with(path, "/metrics");
}

/* ---- CORS ------------------------------------------------------------------------ */

static bool origin_listed(const struct config *cfg, const char *origin)
{
    for (size_t i = 0; cfg->cors_origins && cfg->cors_origins[i]; i++)
        if (!strcmp(cfg->cors_origins[i], "*") || !strcasecmp(cfg->cors_origins[i], origin))
            return true;
    return false;
}

/* A page served by this daemon (its own Host) calling it. */
static bool same_origin(const struct http_req *req, const char *origin)
{
    const char *host = http_req_header(req, "Host");
    const char *rest = strstr(origin, "://");
    return host && rest && !strcasecmp(rest + 3, host);
}

#define CORS_HEADERS "Authorization, Content-Type, X-Api-Key, X-Hermod-Task, OpenAI-Organization"
#define CORS_EXPOSE "X-Hermod-Model, X-Hermod-Engine, X-Hermod-Route, X-Hermod-Answer, Retry-After"

/* Returns false having answered the request. */
static bool cors(struct auth *a, struct http_req *req)
{
    const char *origin = http_req_header(req, "Origin");
    if (!origin || same_origin(req, origin))
        return true;
    bool preflight = !strcmp(http_req_method(req), "OPTIONS") &&
                     http_req_header(req, "Access-Control-Request-Method");
    if (!origin_listed(a->cfg, origin)) {
        log_info("cors: refused origin=\"%.200s\" path=%s", origin, http_req_path(req));
        http_respond_error(req, 403, "invalid_request_error", "origin_not_allowed",
                           "requests from the web origin '%.200s' are not allowed; list it in "
                           "the config's cors.origins",
                           origin);
        return false;
    }
    http_req_add_header(req, "Access-Control-Allow-Origin", origin);
    http_req_add_header(req, "Vary", "Origin");
    if (!preflight) {
        http_req_add_header(req, "Access-Control-Expose-Headers", CORS_EXPOSE);
        return true;
    }
    http_req_add_header(req, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
    http_req_add_header(req, "Access-Control-Allow-Headers", CORS_HEADERS);
    http_req_add_header(req, "Access-Control-Max-Age", "600");
    http_respond(req, 204, NULL, NULL, 0);
    return false;
}

/* ---- admission ------------------------------------------------------------------- */

bool auth_admit(struct auth *a, struct http_req *req, const char *path)
{
    if (!cors(a, req))
        return false;
    if (!strcmp(path, "/health") || !a->n)
        return true; /* keys off: open mode, or loopback (auth_listen_check) */
    size_t len = 0;
    const char *k = presented(req, &len);
    const struct config_key *key = k ? find_key(a, k, len) : NULL;
    if (!key) {
        log_info("auth: refused path=%s reason=%s", path, k ? "wrong-key" : "no-key");
        http_req_add_header(req, "WWW-Authenticate", "Bearer realm=\"hermod\"");
        if (k)
            http_respond_error(req, 401, "invalid_request_error", "invalid_api_key",
                               "the API key is not valid");
        else
            http_respond_error(req, 401, "invalid_request_error", "missing_api_key",
                               "this hermod needs an API key: send 'Authorization: Bearer "
                               "KEY' or 'x-api-key: KEY'");
        return false;
    }
    if (is_admin_path(path) && !key->admin) {
        log_info("auth: refused path=%s key=%s reason=not-admin", path, key->name);
        http_respond_error(req, 403, "invalid_request_error", "permission_denied",
                           "the key '%s' is not an admin key; %s needs one (admin: true)",
                           key->name, path);
        return false;
    }
    http_req_set_principal(req, key);
    log_debug("auth: key=%s path=%s", key->name, path);
    return true;
}

/* Resolves a name to the model or route it stands for in cfg. */
static const void *resolve(const struct config *cfg, const char *name)
{
    const struct config_model *m = config_find_model(cfg, name);
    if (m)
        return m;
    return config_find_route(cfg, name);
}

bool auth_allows(const struct config *cfg, const struct http_req *req, const char *name)
{
    const struct config_key *key = http_req_principal(req);
    if (!key || !key->models)
        return true;
    const void *want = resolve(cfg, name);
    for (size_t i = 0; key->models[i]; i++) {
        if (!strcmp(key->models[i], name))
            return true;
        const void *have = resolve(cfg, key->models[i]);
        if (want && have == want)
            return true;
    }
    return false;
}

/* ---- protected mode ---------------------------------------------------------------- */

static bool loopback(const char *host)
{
    return !strcmp(host, "localhost") || !strcmp(host, "::1") ||
           str_starts_with(host, "127.") || !strcmp(host, "::ffff:127.0.0.1");
}

int auth_listen_check(const struct config *cfg, const char *host, struct buf *err)
{
    if (cfg->auth.nkeys || cfg->auth.open || loopback(host))
        return 0;
    buf_addf(err,
             "refusing to listen on %s without API keys: anyone who can reach that address "
             "would get your models and your memory store. Two ways out:\n"
             "  1. add a key to %s:\n"
             "       auth:\n"
             "         keys:\n"
             "           - name: phone\n"
             "             key_env: HERMOD_KEY_PHONE   # or key: / key_file:\n"
             "  2. on a network you trust, serve without keys:\n"
             "       auth: {open: true}\n"
             "(or listen on 127.0.0.1)",
             host, cfg->path ? cfg->path : "the config");
    return -EACCES;
}

static void warn_file(const char *what, const char *path)
{
    struct stat st;
    if (!path || path[0] == '<' || stat(path, &st) || !(st.st_mode & (S_IRGRP | S_IROTH)))
        return;
    log_warn("%s %s holds API keys and other users can read it (mode %03o); chmod 600 %s", what,
             path, (unsigned)(st.st_mode & 0777), path);
}

void auth_warn_readable(const struct config *cfg)
{
    if (cfg->auth.inline_keys)
        warn_file("config", cfg->path);
    for (size_t i = 0; i < cfg->auth.nkeys; i++)
        warn_file("key_file", cfg->auth.keys[i].key_file);
}
