/* SPDX-License-Identifier: MIT */
/*
 * auth: who may call the API, and from which web origins.
 *
 * Inbound API keys (config `auth.keys`): a request presents one as
 * "Authorization: Bearer KEY" or "x-api-key: KEY"; it is compared with
 * every configured key in constant time (SHA-256 digests compared with
 * nettle's memeql_sec, all of them, whatever matched). A missing or wrong
 * key gets 401 in OpenAI's error format; a key that is not an admin key
 * gets 403 on /hermod/ and /metrics; /health needs no key. The key that
 * let a request in is attached to it (http_req_principal) so that the
 * model list and the relay can keep to the key's `models`.
 *
 * CORS (config `cors.origins`): a request that carries an Origin header
 * not listed, and not the daemon's own (same Host), gets 403: a web page
 * the user visits must not reach a daemon on localhost or the LAN. A
 * listed origin gets the Access-Control-* headers, and its preflight
 * (OPTIONS with Access-Control-Request-Method) 204.
 *
 * Protected mode: auth_listen_check() refuses a non-loopback listen
 * address when there are no keys and no `auth: {open: true}`.
 *
 * Everything here runs on the loop thread. Keys are never logged: logs
 * carry the key's name.
 */
#ifndef HERMOD_AUTH_H
#define HERMOD_AUTH_H

#include <stdbool.h>

#include "core/config.h"
#include "lib/buf.h"

struct auth;
struct http_req;

/* cfg is borrowed and must outlive the auth (or the next auth_set_config).
 * Also makes the daemon's own key (auth_internal_key). Never fails. */
struct auth *auth_new(const struct config *cfg);
/* The config after a reload: its keys replace the old ones. */
void auth_set_config(struct auth *a, const struct config *cfg);
void auth_free(struct auth *a);

/* A random admin key, made at start and never written anywhere, with
 * which the daemon calls itself (the ingest pipeline's model calls). */
const char *auth_internal_key(const struct auth *a);

/* Lets req through (returns true, with CORS headers added where they
 * belong), or answers it (401, 403, or a preflight's 204) and returns
 * false. path is the request's path. */
bool auth_admit(struct auth *a, struct http_req *req, const char *path);

/* May the key that req came in with use the model or route `name`
 * (a name or alias in cfg)? True when keys are off, for the internal key
 * and for keys without a `models` list. */
bool auth_allows(const struct config *cfg, const struct http_req *req, const char *name);

/* Protected mode: 0 when cfg may listen on host (loopback, or keys, or
 * open: true); else -EACCES with err saying the ways out. */
int auth_listen_check(const struct config *cfg, const char *host, struct buf *err);

/* Logs a warning when cfg's file (or a key_file) holds keys and can be
 * read by users other than its owner. */
void auth_warn_readable(const struct config *cfg);

#endif
