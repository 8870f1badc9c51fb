/* SPDX-License-Identifier: MIT */
/*
 * log: one line per event on stderr, `TIME LEVEL message key=value ...`.
 *
 * The level is checked before anything is formatted, so a disabled
 * log_debug() costs one comparison. Prompt text never reaches a log line
 * unless the config asks for it (log_prompts), and that is the caller's
 * decision, not this module's.
 */
#ifndef HERMOD_LOG_H
#define HERMOD_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern enum log_level log_level_current;

/* Parses "error", "warn", "info" or "debug". Returns 0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level l);
void log_set_level(enum log_level l);

__attribute__((format(printf, 2, 3))) void log_write(enum log_level l, const char *fmt, ...);
/* The same for a message already formatted (len bytes, no newline): for
 * lines on every request's path, built without printf. Check
 * log_enabled(l) first. */
void log_text(enum log_level l, const char *text, size_t len);
#define log_enabled(l) ((l) <= log_level_current)

#define log_at(l, ...)                                                         \
    do {                                                                       \
        if ((l) <= log_level_current)                                          \
            log_write((l), __VA_ARGS__);                                       \
    } while (0)
#define log_err(...) log_at(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_at(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_at(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)

/* In buffered mode (the daemon) lines are written in batches; errors and
 * log_flush() write at once. The loop calls log_flush() before it blocks. */
void log_set_buffered(bool on);
void log_flush(void);

/* fatal: for start-up errors only (bad config, bind failure); exits 1. */
__attribute__((noreturn, format(printf, 1, 2))) void fatal(const char *fmt, ...);

#endif
