/* SPDX-License-Identifier: MIT */
/*
 * sched_metrics.c: the scheduler's part of /metrics. See sched_metrics()
 * in sched.h.
 *
 * DESIGN
 * Cold starts are counted as they happen (sched.c, on an engine's READY
 * event) into a family the scheduler owns. Everything else is a gauge of
 * the state now, so it is read at each scrape from the same getters
 * /hermod/running and /hermod/budget use, into families made for the
 * scrape and freed after it: an engine or model removed by a reload
 * leaves no stale series behind.
 */
#include "sched/sched.h"

#include "lib/prom.h"
#include "sched/sched_int.h"

enum {
    F_UP,
    F_IN_FLIGHT,
    F_REQUESTS,
    F_FAILURES,
    F_MEM,
    F_WAITING,
    F_MODEL_IN_FLIGHT,
    F_POOL_TOTAL,
    F_POOL_RESERVED,
    F_POOL_CAPACITY,
    F_POOL_USED,
    F_N
};

void sched_metrics(struct sched *s, struct buf *out)
{
    struct prom_family *f[F_N];
    f[F_UP] = prom_family_new(PROM_GAUGE, "hermod_engine_up",
                              "1 when the engine is ready for requests.", "model,engine", NULL, 0);
    f[F_IN_FLIGHT] = prom_family_new(PROM_GAUGE, "hermod_engine_in_flight",
                                     "Requests on the engine now.", "model,engine", NULL, 0);
    f[F_REQUESTS] = prom_family_new(PROM_COUNTER, "hermod_engine_requests_total",
                                    "Requests granted to the engine since hermod started.",
                                    "model,engine", NULL, 0);
    f[F_FAILURES] = prom_family_new(PROM_COUNTER, "hermod_engine_failures_total",
                                    "Starts and requests the engine failed since hermod "
                                    "started.",
                                    "model,engine", NULL, 0);
    f[F_MEM] = prom_family_new(PROM_GAUGE, "hermod_engine_memory_bytes",
                               "Memory of an engine: what the scheduler estimated, what is "
                               "measured now, and what it is charged in its pool.",
                               "model,engine,kind", NULL, 0);
    f[F_WAITING] = prom_family_new(PROM_GAUGE, "hermod_model_waiting",
                                   "Requests queued for a model's engines.", "model", NULL, 0);
    f[F_MODEL_IN_FLIGHT] = prom_family_new(PROM_GAUGE, "hermod_model_in_flight",
                                           "Requests on a model's engines now.", "model", NULL, 0);
    f[F_POOL_TOTAL] = prom_family_new(PROM_GAUGE, "hermod_budget_total_bytes",
                                      "Memory of the pool (the budget, or what the box has).",
                                      "pool", NULL, 0);
    f[F_POOL_RESERVED] = prom_family_new(PROM_GAUGE, "hermod_budget_reserved_bytes",
                                         "Memory of the pool kept for services hermod does not "
                                         "run.",
                                         "pool", NULL, 0);
    f[F_POOL_CAPACITY] = prom_family_new(PROM_GAUGE, "hermod_budget_capacity_bytes",
                                         "Memory of the pool that engines may use.", "pool",
                                         NULL, 0);
    f[F_POOL_USED] = prom_family_new(PROM_GAUGE, "hermod_budget_used_bytes",
                                     "Memory of the pool charged to engines now.", "pool", NULL,
                                     0);

    for (size_t i = 0; i < sched_model_count(s); i++) {
        struct sched_model *m = sched_model_at(s, i);
        const char *model = sched_model_config(m)->name;
        prom_set(f[F_WAITING], (const char *[]){model}, sched_model_waiting(m));
        prom_set(f[F_MODEL_IN_FLIGHT], (const char *[]){model}, sched_model_in_flight(m));
        for (size_t k = 0; k < sched_model_engine_count(m); k++) {
            struct engine *e = sched_model_engine(m, k);
            struct sched_engine_info info;
            sched_engine_info(m, k, &info);
            const char *l[] = {model, engine_id(e)};
            prom_set(f[F_UP], l, engine_state(e) == ENGINE_READY);
            prom_set(f[F_IN_FLIGHT], l, info.in_flight);
            prom_add(f[F_REQUESTS], l, (double)info.requests);
            prom_add(f[F_FAILURES], l, (double)info.failures);
            prom_set(f[F_MEM], (const char *[]){model, engine_id(e), "estimate"},
                     (double)info.estimate);
            prom_set(f[F_MEM], (const char *[]){model, engine_id(e), "measured"},
                     (double)info.measured);
            prom_set(f[F_MEM], (const char *[]){model, engine_id(e), "charge"},
                     (double)info.charge);
        }
    }
    struct sched_pool_info pools[16];
    size_t np = sched_pools(s, pools, 16);
    for (size_t p = 0; p < np; p++) {
        const char *l[] = {pools[p].name};
        prom_set(f[F_POOL_TOTAL], l, (double)pools[p].total);
        prom_set(f[F_POOL_RESERVED], l, (double)pools[p].reserved);
        prom_set(f[F_POOL_CAPACITY], l, (double)pools[p].capacity);
        prom_set(f[F_POOL_USED], l, (double)pools[p].used);
    }
    prom_family_write(s->m_cold_start, out);
    for (size_t i = 0; i < F_N; i++) {
        prom_family_write(f[i], out);
        prom_family_free(f[i]);
    }
}
