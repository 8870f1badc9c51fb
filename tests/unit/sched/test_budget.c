/* Unit tests for the memory policy (src/budget.c): scenario tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "lib/xalloc.h"
#include "sched/budget.h"

#define GiB (1ull << 30)

static struct budget_pool one[] = {{"system", 100 * GiB}};

static void decide(const struct budget_pool *pools, size_t np, const struct budget_item *it,
                   size_t n, uint64_t want, const char *group, int pool,
                   struct budget_decision *d, struct buf *why)
{
    struct budget_want w = {.name = "new@llama-server", .group = group, .bytes = want, .pool = pool};
    buf_reset(why);
    budget_decide(pools, np, it, n, &w, d, why);
}

static void test_fits(void **state)
{
    struct budget_item it[] = {{"a", NULL, 0, 30 * GiB, BUDGET_BUSY, 1}};
    struct budget_decision d;
    struct buf why = BUF_INIT;
    decide(one, 1, it, 1, 70 * GiB, NULL, -1, &d, &why);
    assert_int_equal(d.verdict, BUDGET_START);
    assert_int_equal(d.pool, 0);
    decide(one, 1, NULL, 0, 100 * GiB, NULL, -1, &d, &why);
    assert_int_equal(d.verdict, BUDGET_START);
    buf_release(&why);
}

static void test_evicts_lru_by_bytes(void **state)
{
    struct budget_item it[] = {
        {"old-small", NULL, 0, 10 * GiB, BUDGET_IDLE, 1},
        {"new-big", NULL, 0, 40 * GiB, BUDGET_IDLE, 9},
        {"older-big", NULL, 0, 30 * GiB, BUDGET_IDLE, 0},
        {"busy", NULL, 0, 15 * GiB, BUDGET_BUSY, 5},
    };
    struct budget_decision d;
    struct buf why = BUF_INIT;
    /* free = 5; need 40: evict older-big (30) then old-small (10) = 45 */
    decide(one, 1, it, 4, 40 * GiB, NULL, -1, &d, &why);
    assert_int_equal(d.verdict, BUDGET_EVICT);
    assert_int_equal(d.nvictims, 2);
    assert_int_equal(d.victims[0], 2);
    assert_int_equal(d.victims[1], 0);
    /* need 30: the least recently used alone is enough */
    decide(one, 1, it, 4, 30 * GiB, NULL, -1, &d, &why);
    assert_int_equal(d.verdict, BUDGET_EVICT);
    assert_int_equal(d.nvictims, 1);
    assert_int_equal(d.victims[0], 2);
    buf_release(&why);
}

static void test_waits_for_busy(void **state)
{
    struct budget_item it[] = {
        {"busy-a", NULL, 0, 50 * GiB, BUDGET_BUSY, 3},
        {"idle-b", NULL, 0, 20 * GiB, BUDGET_IDLE, 1},
        {"loading-c", NULL, 0, 20 * GiB, BUDGET_LOADING, 4},
    };
    struct budget_decision d;
    struct buf why = BUF_INIT;
    decide(one, 1, it, 3, 60 * GiB, NULL, -1, &d, &why);
    assert_int_equal(d.verdict, BUDGET_WAIT);
    assert_int_equal(d.nbusy, 1);
    assert_int_equal(d.busy[0], 0);
    assert_non_null(strstr(buf_cstr(&why), "waiting for busy-a"));
    buf_release(&why);
}

static void test_never_names_pinned(void **state)
{
    struct budget_item it[] = {
        {"embed", NULL, 0, 30 * GiB, BUDGET_PINNED, 0},
        {"idle", NULL, 0, 60 * GiB, BUDGET_IDLE, 0},
    };
    struct budget_decision d;
    struct buf why = BUF_INIT;
    decide(one, 1, it, 2, 80 * GiB, NULL, -1, &d, &why);
    assert_int_equal(d.verdict, BUDGET_NEVER);
    assert_true(d.missing == 10 * GiB);
    assert_non_null(strstr(buf_cstr(&why), "pinned models hold 30.0 GiB (embed 30.0 GiB)"));
    assert_non_null(strstr(buf_cstr(&why), "10.0 GiB missing"));
    decide(one, 1, NULL, 0, 101 * GiB, NULL, -1, &d, &why);
    assert_int_equal(d.verdict, BUDGET_NEVER);
    buf_release(&why);
}

static void test_stopping_counts_as_coming_free(void **state)
{
    struct budget_item it[] = {
        {"stopping", NULL, 0, 50 * GiB, BUDGET_STOPPING, 0},
        {"idle", NULL, 0, 40 * GiB, BUDGET_IDLE, 0},
    };
    struct budget_decision d;
    struct buf why = BUF_INIT;
    /* free 10 + stopping 50 >= 55: wait, do not evict more */
    decide(one, 1, it, 2, 55 * GiB, NULL, -1, &d, &why);
    assert_int_equal(d.verdict, BUDGET_WAIT);
    assert_int_equal(d.nvictims, 0);
    /* 70 needs the idle one too */
    decide(one, 1, it, 2, 70 * GiB, NULL, -1, &d, &why);
    assert_int_equal(d.verdict, BUDGET_EVICT);
    assert_int_equal(d.nvictims, 1);
    assert_int_equal(d.victims[0], 1);
    buf_release(&why);
}

static void test_groups_exclude(void **state)
{
    struct budget_item it[] = {
        {"vision-a", "vision", 0, 10 * GiB, BUDGET_IDLE, 0},
        {"other", NULL, 0, 10 * GiB, BUDGET_IDLE, 0},
    };
    struct budget_decision d;
    struct buf why = BUF_INIT;
    /* plenty of memory, but the group member must go */
    decide(one, 1, it, 2, 5 * GiB, "vision", -1, &d, &why);
    assert_int_equal(d.verdict, BUDGET_EVICT);
    assert_int_equal(d.nvictims, 1);
    assert_int_equal(d.victims[0], 0);
    it[0].hold = BUDGET_BUSY;
    decide(one, 1, it, 2, 5 * GiB, "vision", -1, &d, &why);
    assert_int_equal(d.verdict, BUDGET_WAIT);
    it[0].hold = BUDGET_PINNED;
    decide(one, 1, it, 2, 5 * GiB, "vision", -1, &d, &why);
    assert_int_equal(d.verdict, BUDGET_NEVER);
    assert_non_null(strstr(buf_cstr(&why), "group 'vision' with a pinned model: vision-a"));
    buf_release(&why);
}

static void test_pools(void **state)
{
    struct budget_pool gpus[] = {{"gpu0", 80 * GiB}, {"gpu1", 80 * GiB}};
    struct budget_item it[] = {
        {"a", NULL, 0, 70 * GiB, BUDGET_IDLE, 0},
        {"b", NULL, 1, 20 * GiB, BUDGET_BUSY, 0},
    };
    struct budget_decision d;
    struct buf why = BUF_INIT;
    decide(gpus, 2, it, 2, 50 * GiB, NULL, -1, &d, &why);
    assert_int_equal(d.verdict, BUDGET_START);
    assert_int_equal(d.pool, 1);
    /* pinned to gpu0: must evict a */
    decide(gpus, 2, it, 2, 50 * GiB, NULL, 0, &d, &why);
    assert_int_equal(d.verdict, BUDGET_EVICT);
    assert_int_equal(d.pool, 0);
    /* no gpu 5 */
    decide(gpus, 2, it, 2, 1 * GiB, NULL, 5, &d, &why);
    assert_int_equal(d.verdict, BUDGET_NEVER);
    assert_non_null(strstr(buf_cstr(&why), "pinned to GPU 5"));
    /* too big for either: never, shortfall is for the better pool */
    decide(gpus, 2, it, 2, 81 * GiB, NULL, -1, &d, &why);
    assert_int_equal(d.verdict, BUDGET_NEVER);
    assert_true(d.missing == 1 * GiB);
    buf_release(&why);
}

/* A random walk: applying verdicts never puts a pool over capacity. */
static void test_random_never_over(void **state)
{
    struct budget_pool p[] = {{"system", 64 * GiB}};
    struct budget_item it[32];
    size_t n = 0;
    unsigned seed = 12345;
    for (int step = 0; step < 20000; step++) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = (seed >> 8) % 100;
        if (r < 50 || n == 0) {
            if (n == 32)
                continue;
            uint64_t want = ((seed >> 4) % 40 + 1) * GiB;
            struct budget_want w = {.name = "x", .bytes = want, .pool = -1};
            struct budget_decision d;
            budget_decide(p, 1, it, n, &w, &d, NULL);
            if (d.verdict == BUDGET_EVICT) {
                /* stop victims: they become stopping, then exit */
                for (size_t v = 0; v < d.nvictims; v++)
                    it[d.victims[v]].hold = BUDGET_STOPPING;
            } else if (d.verdict == BUDGET_START) {
                it[n++] = (struct budget_item){"x", NULL, 0, want, BUDGET_LOADING, (uint64_t)step};
            }
        } else if (r < 70) {
            size_t i = (seed >> 3) % n;
            if (it[i].hold == BUDGET_STOPPING)
                it[i] = it[--n]; /* exited */
        } else if (r < 85) {
            size_t i = (seed >> 3) % n;
            if (it[i].hold == BUDGET_LOADING || it[i].hold == BUDGET_IDLE)
                it[i].hold = BUDGET_BUSY;
        } else {
            size_t i = (seed >> 3) % n;
            if (it[i].hold == BUDGET_BUSY)
                it[i].hold = BUDGET_IDLE;
        }
        assert_true(budget_used(it, n, 0) <= p[0].capacity);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fits),
        cmocka_unit_test(test_evicts_lru_by_bytes),
        cmocka_unit_test(test_waits_for_busy),
        cmocka_unit_test(test_never_names_pinned),
        cmocka_unit_test(test_stopping_counts_as_coming_free),
        cmocka_unit_test(test_groups_exclude),
        cmocka_unit_test(test_pools),
        cmocka_unit_test(test_random_never_over),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
