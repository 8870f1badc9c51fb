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
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/xalloc.h"
#include "text/langid.h"

#define IN_CHUNK (1u << 20)
#define OUT_SIZE (256u << 10)
/* Room for the longest object format_result() writes (fixed text, seven
 * labels with a number of at most 10 bytes each, five counts of at most 10
 * digits: under 400 bytes), with the 32 bytes past its end that its
 * fixed-size copies may write over. */
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

/* 128-bit unsigned integers (a GCC and Clang extension on 64-bit targets). */
__extension__ typedef unsigned __int128 u128;

/* 5^k for k <= 55 (5^55 < 2^128), high and low 64 bits: a table, as
 * tiny_digits() runs for a third of the numbers the filter prints. */
static const uint64_t pow5_tab[56][2] = {
    {0x0000000000000000ULL, 0x0000000000000001ULL}, /* 5^0 */
    {0x0000000000000000ULL, 0x0000000000000005ULL}, /* 5^1 */
    {0x0000000000000000ULL, 0x0000000000000019ULL}, /* 5^2 */
    {0x0000000000000000ULL, 0x000000000000007DULL}, /* 5^3 */
    {0x0000000000000000ULL, 0x0000000000000271ULL}, /* 5^4 */
    {0x0000000000000000ULL, 0x0000000000000C35ULL}, /* 5^5 */
    {0x0000000000000000ULL, 0x0000000000003D09ULL}, /* 5^6 */
    {0x0000000000000000ULL, 0x000000000001312DULL}, /* 5^7 */
    {0x0000000000000000ULL, 0x000000000005F5E1ULL}, /* 5^8 */
    {0x0000000000000000ULL, 0x00000000001DCD65ULL}, /* 5^9 */
    {0x0000000000000000ULL, 0x00000000009502F9ULL}, /* 5^10 */
    {0x0000000000000000ULL, 0x0000000002E90EDDULL}, /* 5^11 */
    {0x0000000000000000ULL, 0x000000000E8D4A51ULL}, /* 5^12 */
    {0x0000000000000000ULL, 0x0000000048C27395ULL}, /* 5^13 */
    {0x0000000000000000ULL, 0x000000016BCC41E9ULL}, /* 5^14 */
    {0x0000000000000000ULL, 0x000000071AFD498DULL}, /* 5^15 */
    {0x0000000000000000ULL, 0x0000002386F26FC1ULL}, /* 5^16 */
    {0x0000000000000000ULL, 0x000000B1A2BC2EC5ULL}, /* 5^17 */
    {0x0000000000000000ULL, 0x000003782DACE9D9ULL}, /* 5^18 */
    {0x0000000000000000ULL, 0x00001158E460913DULL}, /* 5^19 */
    {0x0000000000000000ULL, 0x000056BC75E2D631ULL}, /* 5^20 */
    {0x0000000000000000ULL, 0x0001B1AE4D6E2EF5ULL}, /* 5^21 */
    {0x0000000000000000ULL, 0x000878678326EAC9ULL}, /* 5^22 */
    {0x0000000000000000ULL, 0x002A5A058FC295EDULL}, /* 5^23 */
    {0x0000000000000000ULL, 0x00D3C21BCECCEDA1ULL}, /* 5^24 */
    {0x0000000000000000ULL, 0x0422CA8B0A00A425ULL}, /* 5^25 */
    {0x0000000000000000ULL, 0x14ADF4B7320334B9ULL}, /* 5^26 */
    {0x0000000000000000ULL, 0x6765C793FA10079DULL}, /* 5^27 */
    {0x0000000000000002ULL, 0x04FCE5E3E2502611ULL}, /* 5^28 */
    {0x000000000000000AULL, 0x18F07D736B90BE55ULL}, /* 5^29 */
    {0x0000000000000032ULL, 0x7CB2734119D3B7A9ULL}, /* 5^30 */
    {0x00000000000000FCULL, 0x6F7C40458122964DULL}, /* 5^31 */
    {0x00000000000004EEULL, 0x2D6D415B85ACEF81ULL}, /* 5^32 */
    {0x00000000000018A6ULL, 0xE32246C99C60AD85ULL}, /* 5^33 */
    {0x0000000000007B42ULL, 0x6FAB61F00DE36399ULL}, /* 5^34 */
    {0x000000000002684CULL, 0x2E58E9B04570F1FDULL}, /* 5^35 */
    {0x00000000000C097CULL, 0xE7BC90715B34B9F1ULL}, /* 5^36 */
    {0x00000000003C2F70ULL, 0x86AED236C807A1B5ULL}, /* 5^37 */
    {0x00000000012CED32ULL, 0xA16A1B11E8262889ULL}, /* 5^38 */
    {0x0000000005E0A1FDULL, 0x2712875988BECAADULL}, /* 5^39 */
    {0x000000001D6329F1ULL, 0xC35CA4BFABB9F561ULL}, /* 5^40 */
    {0x0000000092EFD1B8ULL, 0xD0CF37BE5AA1CAE5ULL}, /* 5^41 */
    {0x00000002DEAF189CULL, 0x140C16B7C528F679ULL}, /* 5^42 */
    {0x0000000E596B7B0CULL, 0x643C7196D9CCD05DULL}, /* 5^43 */
    {0x00000047BF19673DULL, 0xF52E37F2410011D1ULL}, /* 5^44 */
    {0x00000166BB7F0435ULL, 0xC9E717BB45005915ULL}, /* 5^45 */
    {0x00000701A97B150CULL, 0xF18376A85901BD69ULL}, /* 5^46 */
    {0x000023084F676940ULL, 0xB7915149BD08B30DULL}, /* 5^47 */
    {0x0000AF298D050E43ULL, 0x95D69670B12B7F41ULL}, /* 5^48 */
    {0x00036BCFC1194751ULL, 0xED30F03375D97C45ULL}, /* 5^49 */
    {0x00111B0EC57E6499ULL, 0xA1F4B1014D3F6D59ULL}, /* 5^50 */
    {0x00558749DB77F700ULL, 0x29C77506823D22BDULL}, /* 5^51 */
    {0x01ABA4714957D300ULL, 0xD0E549208B31ADB1ULL}, /* 5^52 */
    {0x085A36366EB71F04ULL, 0x147A6DA2B7F86475ULL}, /* 5^53 */
    {0x29C30F1029939B14ULL, 0x6664242D97D9F649ULL}, /* 5^54 */
    {0xD0CF4B50CFE20765ULL, 0xFFF4B4E3F741CF6DULL}, /* 5^55 */
};

static u128 pow5(int k)
{
    return (u128)pow5_tab[k][0] << 64 | pow5_tab[k][1];
}

/* Bit i of the 192-bit number w[0..3) (w[0] the lowest word). */
static unsigned bit192(const uint64_t *w, int i)
{
    return (unsigned)(w[i >> 6] >> (i & 63)) & 1u;
}

/*
 * The four significant digits of a positive float f below 1e-18, exactly:
 * f is M * 2^E (M < 2^24), so f * 10^k is M * 5^k / 2^s with s = -(E + k)
 * > 0, an integer division that the 192 bits of M * 5^k make exact,
 * rounded half to even on its remainder as printf rounds. *e gets the
 * decimal exponent of the printed number. Returns 1000..9999.
 */
static long tiny_digits(float f, int *e)
{
    int bexp;
    double fm = frexp((double)f, &bexp);
    uint64_t M = (uint64_t)(fm * 16777216.0); /* exact: a float's mantissa */
    int E = bexp - 24, d = ((bexp - 1) * 1233) >> 12;
    for (;;) {
        int k = 3 - d, s = -(E + k);
        ASSERT(k >= 0 && k <= 55 && s > 0 && s < 190);
        u128 p5 = pow5(k), lo = (u128)M * (uint64_t)p5, hi = (u128)M * (uint64_t)(p5 >> 64);
        u128 mid = (lo >> 64) + (uint64_t)hi;
        uint64_t w[3] = {(uint64_t)lo, (uint64_t)mid, (uint64_t)((mid >> 64) + (hi >> 64))};
        /* q = floor(w / 2^s); q < 2^64 as M * 5^k < 2^152 and s > 60 */
        int wi = s >> 6, b = s & 63;
        uint64_t q = w[wi] >> b;
        if (b && wi < 2)
            q |= w[wi + 1] << (64 - b);
        if (q >= 10000) { /* d was one too small */
            d++;
            continue;
        }
        if (q < 1000) { /* one too large */
            d--;
            continue;
        }
        /* The remainder against half a unit: above, or a tie to odd, rounds up. */
        if (bit192(w, s - 1)) {
            int t = s - 1; /* any bit below t set? */
            bool above = (w[t >> 6] & ((UINT64_C(1) << (t & 63)) - 1)) != 0;
            for (int i = 0; i < t >> 6; i++)
                above |= w[i] != 0;
            if (above || (q & 1))
                q++;
        }
        *e = d;
        if (q == 10000) {
            q = 1000;
            (*e)++;
        }
        return (long)q;
    }
}

/* m rounded to the nearest integer, ties to even (as lrint() in the
 * default rounding mode, without the call), for 0 <= m < 2^51: adding 2^52
 * leaves no bits for a fraction, so the sum is the rounded value. */
static long round_even(double m)
{
    return (long)((m + 0x1p52) - 0x1p52); /* no -ffast-math: kept as written */
}

/*
 * Writes f as printf("%.4g", (double)f) would, at most 10 bytes. The fast
 * path covers 1e-18 <= f < 1e4, which is every probability but the tiniest
 * (its exponent found with plain comparisons for 1e-4 <= f < 1, the most
 * common); tiny_digits() the positive ones below, exactly; the rest
 * (negative, large, not a number) goes through snprintf. In the fast path f * 10^k is
 * computed in double from a float (24-bit mantissa) and an exact power of
 * ten, so the rounding to four digits (rint: ties to even, as glibc does)
 * sees the exact product or one within far less than half a unit of the
 * fourth digit.
 */
static char *put_g4(char *p, float f)
{
    double v = f;
    long mi;
    int e;
    if (v == 0 && !signbit(v)) {
        *p++ = '0';
        return p;
    }
    if (v > 0 && v < 1e-18) {
        mi = tiny_digits(f, &e);
    } else if (!(v >= 1e-18 && v < 1e4)) {
        char tmp[32];
        int n = snprintf(tmp, sizeof(tmp), "%.4g", v);
        ASSERT(n > 0 && n < 16);
        memcpy(p, tmp, (size_t)n);
        return p + n;
    } else {
        /* e: the decimal exponent, 10^e <= v < 10^(e+1). */
        if (v < 1 && v * 1e4 >= 1) {
            /* A probability of at least 1e-4, most of what the filter
             * prints. v * 10^k is exact here (24 bits of mantissa times
             * 10^k, k <= 7, fit a double), so the comparisons are too. */
            e = v * 10 >= 1 ? -1 : v * 100 >= 1 ? -2 : v * 1000 >= 1 ? -3 : -4;
        } else {
            /* From the binary exponent (v = m * 2^bexp, 0.5 <= m < 1, as
             * frexp() would say: v is a normal double here), corrected
             * by at most one. */
            uint64_t bits;
            memcpy(&bits, &v, sizeof(bits));
            int bexp = (int)(bits >> 52) - 1022;
            e = ((bexp - 1) * 1233) >> 12; /* floor((bexp - 1) * log10(2)) */
            while (e >= 0 ? v >= pow10_tab[e + 1] : v * pow10_tab[-e - 1] >= 1)
                e++;
            while (e >= 0 ? v < pow10_tab[e] : v * pow10_tab[-e] < 1)
                e--;
        }
        /* Four significant digits: 1000 <= m <= 10000. */
        int k = 3 - e;
        double m = k >= 0 ? v * pow10_tab[k] : v / pow10_tab[-k];
        mi = round_even(m);
        if (mi >= 10000) {
            mi /= 10;
            e++;
        }
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
            memcpy(p, d + 1, 3); /* a fixed size: no call; p has room */
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
        memcpy(p, d, 4);
        p += nd;
    }
    return p;
}

/* Copies a string literal (its length known at compile time). */
#define PUT_LIT(p, lit) (memcpy((p), "" lit, sizeof(lit) - 1), (p) + sizeof(lit) - 1)

/* The label names as keys and as values: "kn":  and  kn",  */
static const struct {
    char key[16], value[32];
    unsigned char key_len, value_len;
} label_json[LANGID_NLABELS] = {
#define L(id, name)                                                                         \
    [id] = {"\"" name "\":", name "\",\"needs_kannada\":", sizeof(name) + 2,               \
            sizeof(name) + 17}
    L(LANGID_KN, "kn"),           L(LANGID_KN_LATN, "kn-latn"),
    L(LANGID_EN, "en"),           L(LANGID_HI, "hi"),
    L(LANGID_HI_LATN, "hi-latn"), L(LANGID_MIXED_SCRIPT, "mixed-script"),
    L(LANGID_OTHER, "other"),
#undef L
};

/* Writes the JSON object for r and a newline at p (room for RESULT_MAX
 * bytes); returns the end. Label names need no JSON escaping. */
static char *format_result(char *p, const struct langid_result *r)
{
    unsigned l = (unsigned)r->label < LANGID_NLABELS ? (unsigned)r->label : LANGID_OTHER;
    p = PUT_LIT(p, "{\"lang\":\"");
    memcpy(p, label_json[l].value, sizeof(label_json[l].value)); /* fixed sizes: no calls */
    p += label_json[l].value_len;
    p = r->needs_kannada ? PUT_LIT(p, "true") : PUT_LIT(p, "false");
    p = r->uncertain ? PUT_LIT(p, ",\"uncertain\":true,\"scores\":{")
                     : PUT_LIT(p, ",\"uncertain\":false,\"scores\":{");
    for (int i = 0; i < LANGID_NLABELS; i++) {
        if (i)
            *p++ = ',';
        memcpy(p, label_json[i].key, sizeof(label_json[i].key));
        p += label_json[i].key_len;
        p = put_g4(p, r->scores[i]);
    }
    p = PUT_LIT(p, "},\"scripts\":{\"kannada\":");
    p = put_uint(p, r->n_kannada);
    p = PUT_LIT(p, ",\"latin\":");
    p = put_uint(p, r->n_latin);
    p = PUT_LIT(p, ",\"devanagari\":");
    p = put_uint(p, r->n_devanagari);
    p = PUT_LIT(p, ",\"other\":");
    p = put_uint(p, r->n_other_script);
    p = PUT_LIT(p, ",\"digits_punct\":");
    p = put_uint(p, r->n_digits_punct);
    p = PUT_LIT(p, "},\"p_kannada\":");
    p = put_g4(p, r->p_kannada);
    p = PUT_LIT(p, "}\n");
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

/*
 * A pipe holds 64 KiB by default, a quarter of the output buffer: each
 * write would wait for the reader three times over, and each wait is a
 * sleep and a wakeup on both sides. Ask for room for a whole buffer (up to
 * the system's limit, fs.pipe-max-size, 1 MiB by default); failing that,
 * nothing changes but the speed.
 */
static void widen_pipe(int fd)
{
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && fcntl(fd, F_GETPIPE_SZ) < (int)OUT_SIZE * 2)
        (void)fcntl(fd, F_SETPIPE_SZ, (int)OUT_SIZE * 2);
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
    widen_pipe(out_fd);
    widen_pipe(in_fd);
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
