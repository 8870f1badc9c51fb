/* SPDX-License-Identifier: MIT */
/*
 * log.c: see log.h. Each line is formatted into a stack buffer and written
 * with one write(2), so lines from hermod and from anything else writing to
 * the same stderr do not interleave mid-line.
 */
#include "log.h"

#include <errno.h>
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

static void vwrite_line(const char *level, const char *fmt, va_list ap)
{
    char line[4096];
    char ts[32];
    clock_fmt_rfc3339(clock_wall_ms(), ts, sizeof(ts));
    int n = snprintf(line, sizeof(line), "%s %s ", ts, level);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void log_write(enum log_level l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vwrite_line(names[l], fmt, ap);
    va_end(ap);
}

void fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vwrite_line("fatal", fmt, ap);
    va_end(ap);
    exit(1);
}
