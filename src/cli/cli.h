/* SPDX-License-Identifier: MIT */
/*
 * cli: the subcommands of the hermod binary other than `serve`, one
 * function per subcommand, dispatched by main.c. Each is a short-lived
 * process's whole life: it parses argv, calls the modules below (or, for
 * `ingest`, a running daemon over HTTP), prints and returns the process
 * exit code. They run before any loop exists, so they may block.
 *
 * Conventions for all of them: argv[0] is the subcommand's name; results
 * go to stdout, errors to stderr; the exit code is 0 for success, 1 for a
 * failure, 2 for a usage error (and 3 where noted).
 *
 * DESIGN: the files in src/cli/ only parse arguments and print. What the
 * daemon or another module could use lives in that module (estimate_path
 * in model/, the store's JSON in store/), so nothing below cli/ includes
 * this header.
 */
#ifndef HERMOD_CLI_H
#define HERMOD_CLI_H

/* ---- cli/estimate_cli.c ------------------------------------------------ */

/*
 * hermod estimate FILE|DIR [--ctx N] [--parallel N] [--kv-type f16|q8_0|q4_0]
 *                 [--ubatch N] [--gpu-layers N] [--no-flash-attn] [--ctx-per-slot] [--json]
 * argv[0] is the subcommand's name. Prints to stdout, errors to stderr.
 * Returns the process exit code: 0, 1 (the model could not be estimated) or
 * 2 (usage).
 */
int estimate_main(int argc, char **argv);

/*
 * hermod models --catalog [--json]: the built-in catalog (catalog.h).
 * argv[0] is the subcommand's name; "--catalog" is accepted and ignored.
 * Returns the process exit code.
 */
int catalog_main(int argc, char **argv);

/* ---- cli/langid_cli.c -------------------------------------------------- */

/*
 * `hermod langid`: reads UTF-8 text on stdin, one item per line (any
 * length; a trailing CR is dropped), and writes one JSON object per line on
 * stdout:
 *
 *   {"lang":"kn-latn","needs_kannada":true,"uncertain":false,
 *    "scores":{"kn":0,"kn-latn":0.97,...},
 *    "scripts":{"kannada":0,"latin":31,"devanagari":0,"other":0,"digits_punct":1},
 *    "p_kannada":0.9999}
 *
 * argv[0] is the subcommand name. Returns the process exit status: 0, 1 on a
 * read or write error, 2 on a usage error.
 */
int langid_main(int argc, char **argv);

/* ---- cli/pipeline_cli.c ------------------------------------------------ */

/*
 * `hermod ingest FILE... [--at TIME] [--source S] [--model NAME] [--kind K]
 * [--url URL] [--config FILE] [--json]`: sends each file (a .txt or .md is
 * a transcript; "-" reads stdin) to a running daemon. argv[0] is
 * "ingest". Returns 0 when every item is stored and described, 3 when some
 * are stored but pending (the model failed; hermod retries), 1 on errors,
 * 2 on usage errors.
 */
int pipeline_ingest_main(int argc, char **argv);

/* ---- cli/plan_cli.c ---------------------------------------------------- */

/*
 * `hermod plan [--config FILE] [--budget SIZE] [--seed]`: the memory plan
 * of a config (sizes, running total over the always-on stack, what fits
 * together, what is left) and the research seed's section 8 rebuilt from
 * the catalog. argv[0] is "plan". Returns the process exit code.
 */
int plan_main(int argc, char **argv);

/* ---- cli/router_cli.c -------------------------------------------------- */

/* `hermod route --explain [--config FILE] [FILE]`: reads a request body
 * (JSON) or plain text and prints the decision. */
int router_main(int argc, char **argv);

/* ---- cli/store_cli.c --------------------------------------------------- */

/*
 * `hermod search WORDS... [--since T] [--until T] [--kind K[,K]] [--entity
 * NAME] [--store PATH] [--json] [--limit N] [--tz +05:30]`. argv[0] is the
 * subcommand name ("search"). Prints results on stdout, errors on stderr;
 * returns the process exit code (0 ok, 1 failure, 2 usage).
 */
int store_search_main(int argc, char **argv);

/* `hermod export [--store PATH] [--out FILE]`; as store_search_main. */
int store_export_main(int argc, char **argv);

/* ---- cli/config_cli.c -------------------------------------------------- */

/* `hermod check-config [FILE] [--no-files]`: every problem of a config
 * (0 none, 1 problems, 2 usage). */
int check_config_main(int argc, char **argv);
/* `hermod config [--config FILE] | --default`: the effective config as YAML. */
int config_main(int argc, char **argv);
/* `hermod models [--config FILE] | --catalog [--json]`. */
int models_main(int argc, char **argv);

/* ---- cli/daemon_cli.c -------------------------------------------------- */

/*
 * Clients of a running daemon, found by --url, $HERMOD_URL or the
 * config's listen (cli/client.h): `hermod ps [--all] [--json]`, `hermod
 * unload MODEL|all`, `hermod logs MODEL|ENGINE [-f]`, `hermod chat -m
 * MODEL [TEXT...]` (streams to stdout, cold-start progress on stderr).
 * argv[0] is the subcommand. Return 0, 1 (the daemon is unreachable or
 * said no; the message says what to do) or 2 (usage).
 */
int ps_main(int argc, char **argv);
int unload_main(int argc, char **argv);
int logs_main(int argc, char **argv);
int chat_main(int argc, char **argv);

/* ---- cli/import_cli.c -------------------------------------------------- */

/* `hermod import llama-swap FILE [--out FILE]`: a llama-swap config
 * rewritten as a hermod config (stdout by default). Returns 0, 1 or 2. */
int import_main(int argc, char **argv);

#endif
