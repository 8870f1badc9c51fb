/* SPDX-License-Identifier: MIT */
/*
 * clock: monotonic and wall time in the units hermod uses.
 *
 * Scheduling and timeouts use the monotonic clock (CLOCK_MONOTONIC) so that
 * a wall-clock step never expires or prolongs anything. Wall time is only
 * for what is shown to people (log lines, "since" fields, the store).
 */
#ifndef HERMOD_CLOCK_H
#define HERMOD_CLOCK_H

#include <stdint.h>

uint64_t clock_mono_ns(void);
static inline uint64_t clock_mono_us(void)
{
    return clock_mono_ns() / 1000;
}
static inline uint64_t clock_mono_ms(void)
{
    return clock_mono_ns() / 1000000;
}
/* Wall time in milliseconds since the epoch. */
uint64_t clock_wall_ms(void);
/* Formats wall time (ms since epoch) as RFC 3339 UTC with milliseconds,
 * "2026-11-27T22:07:00.123Z", into out (at least 32 bytes). */
void clock_fmt_rfc3339(uint64_t wall_ms, char *out, unsigned long outlen);

#endif
