/* SPDX-License-Identifier: MIT */
/*
 * plan_cli.c: `hermod plan` — the memory plan of a config, as a table and a
 * bar: each model's size and where it comes from, the running total over
 * the always-on stack, what fits together and what is left; and the
 * research seed's own plan (its section 8) rebuilt from the catalog, with
 * the places where the seed's figures disagree with each other.
 *
 * Sizes are shown in GB (10^9 bytes), as the seed and the model cards
 * write them; the budget is also shown in GiB.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/catalog.h"
#include "core/config.h"
#include "lib/str.h"
#include "lib/xalloc.h"
#include "model/engine.h"
#include "model/sizing.h"
#include "model/sysmem.h"

#define BAR 64

struct seg {
    const char *label;
    double gb;
    char ch;
};

static void bar(const struct seg *segs, size_t n, double budget_gb)
{
    char line[BAR + 1];
    memset(line, '.', BAR);
    line[BAR] = '\0';
    double acc = 0;
    for (size_t i = 0; i < n; i++) {
        size_t from = (size_t)(acc / budget_gb * BAR + 0.5);
        acc += segs[i].gb;
        size_t to = (size_t)(acc / budget_gb * BAR + 0.5);
        for (size_t k = from; k < to && k < BAR; k++)
            line[k] = segs[i].ch;
    }
    printf("  [%s]%s\n", line, acc > budget_gb ? " OVER" : "");
    printf("   ");
    for (size_t i = 0; i < n; i++)
        printf("%c=%s  ", segs[i].ch, segs[i].label);
    printf(".=free\n");
}

static double gb(uint64_t b)
{
    return (double)b / 1e9;
}

static int plan_config(const struct config *cfg, uint64_t budget, const char *budget_from,
                       double load_factor, bool have_gpu)
{
    char a[32];
    double budget_gb = gb(budget);
    printf("Memory plan for %s\n", cfg->path);
    printf("budget %.1f GB (%s, %s)\n\n", budget_gb, str_fmt_size(budget, a, sizeof(a)),
           budget_from);

    struct seg segs[64];
    size_t nseg = 0;
    double total = 0;
    printf("  %-34s %10s %10s\n", "always-on stack (reserved)", "GB", "total");
    for (size_t i = 0; i < cfg->nreserved; i++) {
        total += gb(cfg->reserved[i].bytes);
        printf("  %-34s %10.2f %10.2f\n", cfg->reserved[i].name, gb(cfg->reserved[i].bytes),
               total);
    }
    if (cfg->nreserved) {
        segs[nseg++] = (struct seg){"stack", total, '#'};
        printf("  %-34s %10.2f\n", "stack", total);
    } else {
        printf("  (none: set `reserved:` for services hermod does not run)\n");
    }
    double stack = total;

    printf("\n  %-24s %-12s %-34s %8s %8s  %s\n", "model", "engine", "size from", "GB", "total",
           "resident together?");
    static const char marks[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    double largest_peak = 0;
    const char *largest = NULL;
    unsigned unknown = 0, ondemand = 0;
    for (size_t i = 0; i < cfg->nmodels; i++) {
        const struct config_model *m = &cfg->models[i];
        const struct config_engine *e = &m->engines[0]; /* the plan sizes the first engine */
        struct sizing sz;
        sizing_engine(m, e, have_gpu, &sz);
        double g = gb(sz.bytes);
        bool fits = total + g <= budget_gb;
        if (!sz.bytes)
            unknown++;
        if (fits) {
            total += g;
            if (nseg < ARRAY_SIZE(segs) && g > 0)
                segs[nseg++] = (struct seg){m->name, g, marks[i % (sizeof(marks) - 1)]};
        } else {
            ondemand++;
        }
        if (g * load_factor > largest_peak) {
            largest_peak = g * load_factor;
            largest = m->name;
        }
        char tot[16] = "-";
        if (fits)
            snprintf(tot, sizeof(tot), "%.2f", total);
        printf("  %-24s %-12s %-34.34s %8.2f %8s  %s\n", m->name, engine_kind_name(e->kind),
               sz.detail, g, tot,
               !sz.bytes ? "size unknown"
               : fits    ? "yes"
               : m->pinned ? "NO (pinned!)"
                           : "on demand");
    }
    printf("\n");
    bar(segs, nseg, budget_gb);
    printf("\n  stack %.1f GB + models resident together %.1f GB = %.1f GB of %.1f GB: "
           "%.1f GB free\n",
           stack, total - stack, total, budget_gb, budget_gb - total);
    if (ondemand)
        printf("  %u model%s do%s not fit with the rest: loaded on demand, evicting idle "
               "models (least recently used first)\n",
               ondemand, ondemand == 1 ? "" : "s", ondemand == 1 ? "es" : "");
    if (largest && load_factor > 1.0)
        printf("  loading peaks at %.1fx the steady size here: %s needs %.1f GB while it "
               "loads\n",
               load_factor, largest, largest_peak);
    if (unknown)
        printf("  %u model%s of unknown size: give them `memory:` or a `catalog:` entry\n",
               unknown, unknown == 1 ? "" : "s");
    return 0;
}

/* Seed section 8 rebuilt from the catalog. */
static void plan_seed(void)
{
    const double spark = 128.0;
    printf("\nThe reference plan for a 128 GB DGX Spark, with the sizes hermod knows "
           "today\n\n");
    printf("  %-34s %-8s %8s %8s  %s\n", "component", "format", "GB", "total",
           "where the size comes from");
    double total = 0, stack = 0;
    struct seg segs[16];
    size_t nseg = 0;
    bool additions = false;
    struct buf disagree = BUF_INIT;
    for (size_t i = 0; i < catalog_budget_count(); i++) {
        const struct catalog_budget_item *it = catalog_budget_at(i);
        const struct catalog_entry *e = it->entry ? catalog_find(it->entry) : NULL;
        double g = it->gb;
        const char *src = "a fixed allowance (a database)";
        const char *fmt = "-";
        if (e && it->quant >= 0) {
            uint64_t b;
            enum catalog_provenance prov;
            if (catalog_size_for(e, (enum catalog_quant)it->quant, &b, &prov) == 0) {
                g = gb(b);
                src = prov == CATALOG_SEED ? "published size"
                                           : "computed from the parameter count";
            }
            fmt = catalog_quant_name((enum catalog_quant)it->quant);
        } else if (e && e->stack_gb > 0) {
            g = e->stack_gb;
            src = "measured while running";
            fmt = "running";
        }
        if (it->addition && !additions) {
            printf("  %-34s %-8s %8s %8.2f\n", "always-on services", "", "", total);
            stack = total;
            segs[nseg++] = (struct seg){"stack", total, '#'};
            additions = true;
        }
        total += g;
        printf("  %-34s %-8s %8.2f %8.2f  %s\n", it->component, fmt, g, total, src);
        if (it->addition && nseg < ARRAY_SIZE(segs))
            segs[nseg] = (struct seg){it->component, g, (char)('A' + nseg - 1)}, nseg++;
        if (g != it->gb)
            buf_addf(&disagree, "  - %s: the reference plan says %.2f GB, hermod %.2f GB\n",
                     it->component, it->gb, g);
        if (e && it->quant >= 0 && e->notes) {
            /* The note's first sentence; the whole one is in models --catalog. */
            const char *end = strstr(e->notes, ". ");
            int n = end ? (int)(end - e->notes) + 1 : (int)strlen(e->notes);
            buf_addf(&disagree, "  - %s: %.*s%s\n", it->component, n, e->notes,
                     end ? " (more: hermod models --catalog)" : "");
        }
        if (e && it->quant < 0 && e->stack_gb > 0) {
            uint64_t w;
            if (catalog_size_for(e, CATALOG_BF16, &w, NULL) == 0 && gb(w) + 0.05 < e->stack_gb)
                buf_addf(&disagree, "  - %s: %.2f GB measured in GPU memory, though its "
                         "weights are %.2f GB (the rest is caches and buffers)\n",
                         it->component, e->stack_gb, gb(w));
        }
    }
    printf("\n");
    bar(segs, nseg, spark);
    printf("\n  always-on %.1f GB; + the three NVIDIA models %.1f GB = %.1f GB; %.1f GB free "
           "of %.0f GB (the reference plan: about 30, 90 and 38 free)\n",
           stack, total - stack, total, spark - total, spark);
    if (disagree.len)
        printf("\n  notes on these sizes:\n%s", buf_cstr(&disagree));
    buf_release(&disagree);
}

int plan_main(int argc, char **argv)
{
    const char *config = NULL, *budget_arg = NULL;
    bool seed = false, no_seed = false;
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "--config") || !strcmp(argv[i], "-c")) && i + 1 < argc)
            config = argv[++i];
        else if (!strcmp(argv[i], "--budget") && i + 1 < argc)
            budget_arg = argv[++i];
        else if (!strcmp(argv[i], "--seed"))
            seed = true;
        else if (!strcmp(argv[i], "--no-seed"))
            no_seed = true;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: hermod plan [--config FILE] [--budget SIZE] [--seed|--no-seed]\n"
                   "The memory plan: each model's size, the running total over the always-on\n"
                   "stack, what fits together and what is left. With the built-in config (or\n"
                   "--seed) also the research seed's section 8, rebuilt from the catalog.\n");
            return 0;
        } else {
            fprintf(stderr, "hermod plan: unknown option '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    struct config *cfg = NULL;
    struct buf err = BUF_INIT;
    int rc = config ? config_load_file(config, &cfg, &err) : config_load_default(&cfg, &err);
    if (rc) {
        fprintf(stderr, "hermod: %s\n", buf_cstr(&err));
        buf_release(&err);
        return 1;
    }
    buf_release(&err);
    struct sysmem_info info;
    sysmem_probe(&info);
    uint64_t budget;
    const char *from;
    if (budget_arg) {
        if (str_parse_size(budget_arg, &budget) || !budget) {
            fprintf(stderr, "hermod plan: --budget must be a size such as 128GB or 120GiB\n");
            config_free(cfg);
            return 2;
        }
        from = "--budget";
    } else if (cfg->budget) {
        budget = cfg->budget;
        from = "config budget";
    } else {
        budget = info.mem_total;
        from = "this machine's memory";
    }
    double lf = cfg->load_factor > 0 ? cfg->load_factor : info.unified ? 1.8 : 1.0;
    rc = plan_config(cfg, budget, from, lf, info.ngpus > 0);
    if (!no_seed && (seed || !config))
        plan_seed();
    config_free(cfg);
    return rc;
}
