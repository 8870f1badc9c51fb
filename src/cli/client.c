/* SPDX-License-Identifier: MIT */
/*
 * client.c: the CLI's blocking HTTP calls to a running daemon, on hermod's
 * own client (net/upstream.c) and a private uv loop. See client.h.
 *
 * DESIGN: one loop per call, created and closed here; nothing outlives the
 * call. The data callback may ask to stop (a follower that saw enough);
 * the request is then aborted and the call returns 0.
 */
#include "cli/client.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "core/config.h"
#include "ingest/pipeline.h"
#include "lib/xalloc.h"
#include "net/upstream.h"

#define RESP_MAX (64u << 20)

int cli_daemon_url(const char *url, const char *config, struct buf *out, struct buf *err)
{
    if (!url || !*url)
        url = getenv("HERMOD_URL");
    if (url && *url) {
        buf_addstr(out, url);
        while (out->len > 1 && out->data[out->len - 1] == '/')
            buf_setlen(out, out->len - 1);
        return 0;
    }
    struct config *cfg = NULL;
    int rc = config ? config_load_file(config, &cfg, err) : config_load_default(&cfg, err);
    if (rc)
        return rc;
    char base[300];
    pipeline_local_url(cfg->listen_host, cfg->listen_port, base, sizeof(base));
    buf_addstr(out, base);
    config_free(cfg);
    return 0;
}

static const char *api_key(void)
{
    const char *k = getenv("HERMOD_API_KEY");
    return k && *k ? k : NULL;
}

struct call {
    const struct cli_call *c;
    struct upstream_req *req;
    long status;
    int rc;
    bool done, stopped;
    struct buf *resp;
    struct buf msg;
};

static void head_cb(struct upstream_req *r, long status, void *arg)
{
    struct call *k = arg;
    k->status = status;
}

static int data_cb(struct upstream_req *r, const char *p, size_t n, void *arg)
{
    struct call *k = arg;
    if (k->c->on_data) {
        if (k->c->on_data(p, n, k->c->arg)) {
            k->stopped = true;
            k->done = true;
            upstream_abort(r);
        }
        return 0;
    }
    if (k->resp && k->resp->len + n <= RESP_MAX)
        buf_add(k->resp, p, n);
    return 0;
}

static void done_cb(struct upstream_req *r, int rc, const char *msg, void *arg)
{
    struct call *k = arg;
    k->rc = rc;
    k->done = true;
    if (rc && msg)
        buf_addstr(&k->msg, msg);
}

int cli_http(const struct cli_call *c, long *status, struct buf *resp, struct buf *err)
{
    uv_loop_t loop;
    int rc = uv_loop_init(&loop);
    if (rc) {
        buf_addf(err, "cannot start an event loop: %s", uv_strerror(rc));
        return rc;
    }
    struct upstream *u = upstream_new(&loop);
    struct call k = {.c = c, .resp = resp, .msg = BUF_INIT};
    struct upstream_opts o = {
        .method = c->method,
        .url = c->url,
        .body = c->body,
        .body_len = c->body_len,
        .content_type = c->content_type,
        .connect_timeout_ms = 5000,
        .total_timeout_ms = c->timeout_ms,
        /* A daemon with auth: keys wants one; its /hermod paths an admin key. */
        .auth_bearer = api_key(),
        .fresh_connect = true,
        .on_head = head_cb,
        .on_data = data_cb,
        .on_done = done_cb,
        .arg = &k,
    };
    k.req = upstream_start(u, &o);
    while (!k.done && uv_run(&loop, UV_RUN_ONCE))
        ;
    upstream_free(u);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    *status = k.status;
    rc = k.stopped ? 0 : k.rc;
    if (rc == -ECONNREFUSED)
        buf_addf(err,
                 "cannot reach hermod at %s: nothing answers there; is hermod running? "
                 "Start it with 'hermod serve', or point to it with --url URL or HERMOD_URL",
                 c->url);
    else if (rc == -ETIMEDOUT)
        buf_addf(err, "%s did not answer in time (%s); check 'hermod logs' or try again",
                 c->url, buf_cstr(&k.msg));
    else if (rc)
        buf_addf(err, "%s: %s; is the address right (--url, HERMOD_URL)?", c->url,
                 k.msg.len ? buf_cstr(&k.msg) : "the request failed");
    buf_release(&k.msg);
    return rc;
}

void cli_error_message(const char *body, size_t len, struct buf *out)
{
    json_t *j = json_loadb(body, len, 0, NULL);
    const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    if (m)
        buf_addstr(out, m);
    else
        buf_add(out, body, len);
    while (out->len && (out->data[out->len - 1] == '\n'))
        buf_setlen(out, out->len - 1);
    json_decref(j);
}
