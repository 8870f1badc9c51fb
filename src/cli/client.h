/* SPDX-License-Identifier: MIT */
/*
 * client: what the files of cli/ share and main.c does not see: the
 * blocking HTTP client the daemon-facing subcommands (ps, unload, logs,
 * chat) use, and how they find the daemon.
 *
 * DESIGN: a call runs hermod's own client (net/upstream.h) on a private
 * uv loop that lives for the call, so the CLI needs no second HTTP stack.
 * Nothing here is used by the daemon.
 */
#ifndef HERMOD_CLIENT_H
#define HERMOD_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"

/*
 * Finds the daemon's base URL ("http://host:port", no trailing slash) into
 * out: url when given, else $HERMOD_URL, else the listen address of the
 * config file (config, or the built-in default when NULL). Returns 0, or
 * -EINVAL with err set (the config does not load).
 */
int cli_daemon_url(const char *url, const char *config, struct buf *out, struct buf *err);

/* Body bytes as they arrive; return non-zero to stop the transfer. */
typedef int cli_data_cb(const char *p, size_t n, void *arg);

struct cli_call {
    const char *method;        /* "GET" or "POST" */
    const char *url;           /* full URL */
    const char *body;          /* borrowed; NULL for none */
    size_t body_len;
    const char *content_type;  /* default application/json */
    uint64_t timeout_ms;       /* whole call; 0 = none */
    cli_data_cb *on_data;      /* NULL: the body is collected into resp */
    void *arg;
};

/*
 * Runs one request to completion on a private loop. *status gets the HTTP
 * status (0 when none came). Without on_data the body goes into resp
 * (capped at 64 MiB). Returns 0 when the exchange finished (whatever the
 * status), or a negative errno with a sentence for people in err that says
 * what to do next (e.g. "is hermod running? start it with hermod serve").
 */
int cli_http(const struct cli_call *c, long *status, struct buf *resp, struct buf *err);

/* The "message" of an OpenAI error body, or the body itself, into out. */
void cli_error_message(const char *body, size_t len, struct buf *out);

#endif
