/* SPDX-License-Identifier: MIT */
/*
 * log.c: see log.h. Each line is formatted into a stack buffer and written
 * with one write(2), so lines from hermod and from anything else writing to
 * the same stderr do not interleave mid-line.
 */
#include "core/log.h"

#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/xalloc.h"

enum log_level log_level_current = LOG_INFO;

static const char *const names[] = {"error", "warn", "info", "debug"};

int log_level_parse(const char *s, enum log_level *out)
{
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    if (strcmp(s, "err") == 0 || strcmp(s, "warning") == 0) {
        *out = s[0] == 'e' ? LOG_ERR : LOG_WARN;
        return 0;
    }
    return -EINVAL;
}

const char *log_level_name(enum log_level l)
{
    return names[l];
}

void log_set_level(enum log_level l)
{
    log_level_current = l;
}

/* Buffered mode (the daemon): lines collect here and go out in one write
 * when the loop is about to block (log_flush), when the buffer fills, or at
 * once for errors. */
static bool buffered;
static char obuf[65536];
static size_t olen;

void log_set_buffered(bool on)
{
    log_flush();
    buffered = on;
}

void log_flush(void)
{
    size_t off = 0;
    while (off < olen) {
        ssize_t w = write(STDERR_FILENO, obuf + off, olen - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    olen = 0;
}

/* "2026-11-27T22:07:00.123Z": the date part is formatted once a second,
 * the milliseconds by hand (this runs for every request's log line). */
static size_t timestamp(char *out, size_t outlen)
{
    static uint64_t last_s = UINT64_MAX;
    static char prefix[64];
    static size_t plen;
    uint64_t ms = clock_wall_ms();
    if (ms / 1000 != last_s) {
        last_s = ms / 1000;
        time_t t = (time_t)last_s;
        struct tm tm;
        gmtime_r(&t, &tm);
        int n = snprintf(prefix, sizeof(prefix), "%04d-%02d-%02dT%02d:%02d:%02d",
                         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                         tm.tm_sec);
        plen = n > 0 ? (size_t)n : 0;
    }
    unsigned m = (unsigned)(ms % 1000);
    if (plen + 6 > outlen)
        return 0;
    memcpy(out, prefix, plen);
    char *o = out + plen;
    *o++ = '.';
    *o++ = (char)('0' + m / 100);
    *o++ = (char)('0' + m / 10 % 10);
    *o++ = (char)('0' + m % 10);
    *o++ = 'Z';
    *o = '\0';
    return (size_t)(o - out);
}

/* Puts a finished line (newline included) out, or in the buffer. */
static void emit(enum log_level l, const char *line, size_t len)
{
    if (buffered && l > LOG_ERR) {
        if (olen + len > sizeof(obuf))
            log_flush();
        if (len <= sizeof(obuf)) {
            memcpy(obuf + olen, line, len);
            olen += len;
            return;
        }
    }
    log_flush();
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void log_text(enum log_level l, const char *text, size_t len)
{
    char line[4096];
    size_t n = timestamp(line, sizeof(line));
    const char *name = names[l];
    size_t nl = strlen(name);
    line[n++] = ' ';
    memcpy(line + n, name, nl);
    n += nl;
    line[n++] = ' ';
    if (len > sizeof(line) - n - 1)
        len = sizeof(line) - n - 1;
    memcpy(line + n, text, len);
    n += len;
    line[n++] = '\n';
    emit(l, line, n);
}

static void vwrite_line(enum log_level l, const char *level, const char *fmt, va_list ap)
{
    char line[4096];
    size_t n = timestamp(line, sizeof(line));
    int k = snprintf(line + n, sizeof(line) - n, " %s ", level);
    n += k > 0 ? (size_t)k : 0;
    int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    size_t len = n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    emit(l, line, len);
}

void log_write(enum log_level l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vwrite_line(l, names[l], fmt, ap);
    va_end(ap);
}

void fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vwrite_line(LOG_ERR, "fatal", fmt, ap);
    va_end(ap);
    log_flush();
    exit(1);
}
