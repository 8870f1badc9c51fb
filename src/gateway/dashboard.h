/* SPDX-License-Identifier: MIT */
/*
 * dashboard: the web page at GET / and what feeds it.
 *
 *   GET /                 the page (HTML, CSS and JS in one file, embedded in
 *                         the binary by gateway/dashboard_html.S; nothing is
 *                         loaded from another host, so it works offline)
 *   GET /hermod/events    server-sent events: an "state" event at once and
 *                         then every second while connected: models with
 *                         state (cold, starting with elapsed time and
 *                         progress against the last start, ready, failed
 *                         with the last error), engines with memory
 *                         (estimated, measured) and a log tail, the memory
 *                         pools with reserved and used bytes, and the
 *                         relay's recent requests (proxy_recent_at) with
 *                         their route decision and escalation attempts
 *   GET /hermod/route?text=T  the routing decision for a text (the page's
 *                         playground; the daemon's own router and view of
 *                         what is resident)
 * The page's search box uses the pipeline's /hermod/memories/search.
 *
 * DESIGN: everything is built from the scheduler's, engines' and relay's
 * public getters on the loop thread. One uv timer ticks while at least one
 * events client is connected; a client whose output is backed up past
 * HTTP_STREAM_HIGH_WATER skips ticks rather than queue more. A client
 * belongs to its http request and is freed in the request's close_cb,
 * which may come after dashboard_free() (it then finds itself orphaned).
 */
#ifndef HERMOD_DASHBOARD_H
#define HERMOD_DASHBOARD_H

#include <stdbool.h>
#include <uv.h>

#include "core/config.h"

struct dashboard;
struct http_req;
struct proxy;
struct sched;

/* cfg, sched and proxy are borrowed and must outlive it. Never fails. */
struct dashboard *dashboard_new(uv_loop_t *loop, const struct config *cfg, struct sched *sched,
                                const struct proxy *proxy);
/* The config after a reload (borrowed). */
void dashboard_set_config(struct dashboard *d, const struct config *cfg);
/* Answers path if it is one of the dashboard's (see above) and returns
 * true; false leaves the request alone. */
bool dashboard_handle(struct dashboard *d, struct http_req *req, const char *method,
                      const char *path);
/* Ends the events streams' ticking and frees it (the timer in its close
 * callback: the loop must run once more). NULL is a no-op. */
void dashboard_free(struct dashboard *d);

#endif
