/* SPDX-License-Identifier: MIT */
/*
 * langid_cli.c: `hermod langid`, the language identifier on the command
 * line (see langid_main() in langid.h).
 *
 * DESIGN
 * A filter: one line in, one JSON object out. It has to keep up with bulk
 * input (tens of MB/s on one core), so it does its own buffering:
 *
 * - Input is read with read(2) in chunks of at least 1 MiB into one buffer
 *   that grows only for a line longer than itself, so memory is that of the
 *   longest line and nothing is allocated per line.
 * - Output is formatted by hand (no printf per field) into a 256 KiB buffer
 *   that is written out when it fills, and also whenever the input has no
 *   complete line left, i.e. right before a read that may block. So a
 *   coprocess that writes one line and waits gets its answer at once, while
 *   bulk input through a pipe costs one write per buffer, not per line. When
 *   stdout is a terminal every line is written at once.
 * - Probabilities are printed exactly as printf's "%.4g" would print them
 *   (put_g4()); the unit tests compare the two.
 *
 * Nothing of the input is echoed, which keeps the output valid JSON even
 * when the input is not valid UTF-8.
 */
#include "cli/cli.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/xalloc.h"
#include "text/langid.h"

#define IN_CHUNK (1u << 20)
#define OUT_SIZE (256u << 10)
/* The longest object format_result() writes: fixed text, seven labels with
 * a number of at most 10 bytes each, five counts of at most 10 digits. */
#define RESULT_MAX 512

static void usage(FILE *f)
{
    fprintf(f, "usage: hermod langid < TEXT\n"
               "\n"
               "Reads UTF-8 text, one item per line, and writes one JSON object per line:\n"
               "the label (kn, kn-latn, en, hi, hi-latn, mixed-script, other), whether\n"
               "the text needs a Kannada-capable model, whether the label is a guess,\n"
               "the probability of each label and the code points per script.\n");
}

static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static char *put_uint(char *p, unsigned v)
{
    char tmp[10];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

/* Exact powers of ten (every one up to 1e22 is a double exactly). */
static const double pow10_tab[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/*
 * Writes f as printf("%.4g", (double)f) would, at most 10 bytes. The fast
 * path covers 1e-18 <= f < 1e4, which is every probability but the tiniest;
 * the rest goes through snprintf. In the fast path f * 10^k is computed in
 * double from a float (24-bit mantissa) and an exact power of ten, so the
 * rounding to four digits (rint: ties to even, as glibc does) sees the exact
 * product or one within far less than half a unit of the fourth digit.
 */
static char *put_g4(char *p, float f)
{
    double v = f;
    if (v == 0 && !signbit(v)) {
        *p++ = '0';
        return p;
    }
    if (!(v >= 1e-18 && v < 1e4)) {
        char tmp[32];
        int n = snprintf(tmp, sizeof(tmp), "%.4g", v);
        ASSERT(n > 0 && n < 16);
        memcpy(p, tmp, (size_t)n);
        return p + n;
    }
    /* e: the decimal exponent, 10^e <= v < 10^(e+1). */
    int bexp;
    frexp(v, &bexp);
    int e = ((bexp - 1) * 1233) >> 12; /* floor((bexp - 1) * log10(2)) */
    while (e >= 0 ? v >= pow10_tab[e + 1] : v * pow10_tab[-e - 1] >= 1)
        e++;
    while (e >= 0 ? v < pow10_tab[e] : v * pow10_tab[-e] < 1)
        e--;
    /* Four significant digits: 1000 <= m <= 10000. */
    int k = 3 - e;
    double m = k >= 0 ? v * pow10_tab[k] : v / pow10_tab[-k];
    long mi = lrint(m);
    if (mi >= 10000) {
        mi /= 10;
        e++;
    }
    char d[4];
    int nd = 4;
    for (int i = 3; i >= 0; i--) {
        d[i] = (char)('0' + mi % 10);
        mi /= 10;
    }
    while (nd > 1 && d[nd - 1] == '0')
        nd--;
    if (e < -4 || e >= 4) {
        *p++ = d[0];
        if (nd > 1) {
            *p++ = '.';
            memcpy(p, d + 1, (size_t)nd - 1);
            p += nd - 1;
        }
        *p++ = 'e';
        *p++ = e < 0 ? '-' : '+';
        int ae = e < 0 ? -e : e;
        *p++ = (char)('0' + ae / 10);
        *p++ = (char)('0' + ae % 10);
    } else if (e >= 0) {
        for (int i = 0; i <= e; i++)
            *p++ = i < nd ? d[i] : '0';
        if (nd > e + 1) {
            *p++ = '.';
            memcpy(p, d + e + 1, (size_t)(nd - e - 1));
            p += nd - e - 1;
        }
    } else {
        *p++ = '0';
        *p++ = '.';
        for (int i = 0; i < -e - 1; i++)
            *p++ = '0';
        memcpy(p, d, (size_t)nd);
        p += nd;
    }
    return p;
}

/* Writes the JSON object for r and a newline at p (room for RESULT_MAX
 * bytes); returns the end. Label names need no JSON escaping. */
static char *format_result(char *p, const struct langid_result *r)
{
    p = put_str(p, "{\"lang\":\"");
    p = put_str(p, langid_label_name(r->label));
    p = put_str(p, r->needs_kannada ? "\",\"needs_kannada\":true" : "\",\"needs_kannada\":false");
    p = put_str(p, r->uncertain ? ",\"uncertain\":true,\"scores\":{"
                                : ",\"uncertain\":false,\"scores\":{");
    for (int i = 0; i < LANGID_NLABELS; i++) {
        if (i)
            *p++ = ',';
        *p++ = '"';
        p = put_str(p, langid_label_name((enum langid_label)i));
        *p++ = '"';
        *p++ = ':';
        p = put_g4(p, r->scores[i]);
    }
    p = put_str(p, "},\"scripts\":{\"kannada\":");
    p = put_uint(p, r->n_kannada);
    p = put_str(p, ",\"latin\":");
    p = put_uint(p, r->n_latin);
    p = put_str(p, ",\"devanagari\":");
    p = put_uint(p, r->n_devanagari);
    p = put_str(p, ",\"other\":");
    p = put_uint(p, r->n_other_script);
    p = put_str(p, ",\"digits_punct\":");
    p = put_uint(p, r->n_digits_punct);
    p = put_str(p, "},\"p_kannada\":");
    p = put_g4(p, r->p_kannada);
    p = put_str(p, "}\n");
    return p;
}

/* Writes all of buf[0..*len) to fd and empties it. Returns 0 or -errno. */
static int drain(int fd, char *buf, size_t *len)
{
    size_t off = 0;
    while (off < *len) {
        ssize_t n = write(fd, buf + off, *len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        off += (size_t)n;
    }
    *len = 0;
    return 0;
}

int langid_main(int argc, char **argv)
{
    int in_fd = fileno(stdin), out_fd = fileno(stdout);
    size_t cap = IN_CHUNK, start = 0, end = 0, olen = 0;
    char *in = NULL, *out = NULL;
    bool tty, eof = false;
    int rc = 0, err;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
        fprintf(stderr, "hermod langid: unknown argument '%s'\n", argv[i]);
        usage(stderr);
        return 2;
    }
    /* stdout is written with write(2) from here on. */
    if (fflush(stdout)) {
        perror("hermod langid: stdout");
        return 1;
    }
    tty = isatty(out_fd);
    in = xmalloc(cap);
    out = xmalloc(OUT_SIZE);

    for (;;) {
        char *nl = end > start ? memchr(in + start, '\n', end - start) : NULL;
        if (!nl && !eof) {
            /* No complete line: answer what we have before waiting for more. */
            if (olen && (err = drain(out_fd, out, &olen)) < 0)
                goto write_error;
            if (start) {
                memmove(in, in + start, end - start);
                end -= start;
                start = 0;
            }
            if (cap - end < IN_CHUNK / 2) {
                cap *= 2;
                in = xrealloc(in, cap);
            }
            ssize_t n = read(in_fd, in + end, cap - end);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                perror("hermod langid: stdin");
                rc = 1;
                break;
            }
            if (n == 0)
                eof = true;
            end += (size_t)n;
            continue;
        }
        if (!nl && start == end)
            break; /* end of input */
        size_t next = nl ? (size_t)(nl - in) + 1 : end;
        size_t len = (nl ? (size_t)(nl - in) : end) - start;
        if (len && in[start + len - 1] == '\r')
            len--;
        struct langid_result r;
        langid_classify(in + start, len, &r);
        start = next;
        olen = (size_t)(format_result(out + olen, &r) - out);
        if ((tty || OUT_SIZE - olen < RESULT_MAX) && (err = drain(out_fd, out, &olen)) < 0)
            goto write_error;
    }
    if (olen && (err = drain(out_fd, out, &olen)) < 0)
        goto write_error;
    goto out;

write_error:
    errno = -err;
    perror("hermod langid: stdout");
    rc = 1;
out:
    free(in);
    free(out);
    return rc;
}
