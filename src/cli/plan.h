/* SPDX-License-Identifier: MIT */
/*
 * plan: `hermod plan [--config FILE] [--budget SIZE] [--seed]` prints the
 * memory plan of a config (sizes, running total over the always-on stack,
 * what fits together, what is left) and the research seed's section 8
 * rebuilt from the catalog. See plan.c.
 */
#ifndef HERMOD_PLAN_H
#define HERMOD_PLAN_H

/* argv[0] is "plan". Returns the process exit code. */
int plan_main(int argc, char **argv);

#endif
