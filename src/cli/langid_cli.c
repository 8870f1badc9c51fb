/* SPDX-License-Identifier: MIT */
/*
 * langid_cli.c: `hermod langid`, the language identifier on the command
 * line (see langid_main() in langid.h).
 *
 * DESIGN
 * A filter: one line in, one JSON object out, flushed per line so that it
 * can sit at the end of a pipe or a coprocess. Lines are read with
 * getline(), so any length works; the line buffer is reused, so memory is
 * that of the longest line. Nothing of the input is echoed, which keeps the
 * output valid JSON even when the input is not valid UTF-8.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/xalloc.h"
#include "text/langid.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: hermod langid < TEXT\n"
               "\n"
               "Reads UTF-8 text, one item per line, and writes one JSON object per line:\n"
               "the label (kn, kn-latn, en, hi, hi-latn, mixed-script, other), whether\n"
               "the text needs a Kannada-capable model, whether the label is a guess,\n"
               "the probability of each label and the code points per script.\n");
}

static void format_result(struct buf *out, const struct langid_result *r)
{
    buf_addstr(out, "{\"lang\":");
    buf_add_json_str(out, langid_label_name(r->label));
    buf_addf(out, ",\"needs_kannada\":%s,\"uncertain\":%s,\"scores\":{",
             r->needs_kannada ? "true" : "false", r->uncertain ? "true" : "false");
    for (int i = 0; i < LANGID_NLABELS; i++) {
        if (i)
            buf_addch(out, ',');
        buf_add_json_str(out, langid_label_name((enum langid_label)i));
        /* %.4g keeps small probabilities visible ("1.2e-05") and is valid JSON. */
        buf_addf(out, ":%.4g", (double)r->scores[i]);
    }
    buf_addf(out,
             "},\"scripts\":{\"kannada\":%u,\"latin\":%u,\"devanagari\":%u,\"other\":%u,"
             "\"digits_punct\":%u}}\n",
             r->n_kannada, r->n_latin, r->n_devanagari, r->n_other_script, r->n_digits_punct);
}

int langid_main(int argc, char **argv)
{
    struct buf out = BUF_INIT;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
        fprintf(stderr, "hermod langid: unknown argument '%s'\n", argv[i]);
        usage(stderr);
        return 2;
    }

    while ((n = getline(&line, &cap, stdin)) > 0) {
        size_t len = (size_t)n;
        struct langid_result r;
        if (line[len - 1] == '\n')
            len--;
        if (len && line[len - 1] == '\r')
            len--;
        langid_classify(line, len, &r);
        buf_reset(&out);
        format_result(&out, &r);
        if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout)) {
            perror("hermod langid: stdout");
            rc = 1;
            goto out;
        }
    }
    if (ferror(stdin)) {
        perror("hermod langid: stdin");
        rc = 1;
    }
out:
    free(line);
    buf_release(&out);
    return rc;
}
