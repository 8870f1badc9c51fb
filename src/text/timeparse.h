/* SPDX-License-Identifier: MIT */
/*
 * timeparse: time words in a search query ("last week", "ninne", "on
 * monday", "3 days ago") and the time arguments of the command line
 * ("2026-11-20", "2026-11-20T10:00:00+05:30", "7d").
 *
 * Everything is relative to an explicit `now` (ms since the epoch, UTC)
 * and a fixed offset from UTC in minutes (the user's time zone), so tests
 * are exact and the daemon decides where "now" and the zone come from.
 * Calendar words mean calendar periods in that zone: "yesterday" is
 * yesterday's local midnight to today's, "last week" is the Monday-to-
 * Monday week before this one, "last month" the calendar month before this
 * one. The full table is in docs/internals/store.md.
 *
 * Time ranges are half-open, [since, until), in ms since the epoch;
 * TIMEPARSE_OPEN marks an open end.
 *
 * DESIGN
 * Pure functions with no state and no locale (only timeparse_local_offset()
 * reads the TZ database, through localtime_r), safe on any thread. A fixed
 * offset is exact for India (no daylight saving); a range that spans a DST
 * change elsewhere is off by the change, which search tolerates.
 */
#ifndef HERMOD_TIMEPARSE_H
#define HERMOD_TIMEPARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/buf.h"

#define TIMEPARSE_OPEN INT64_MIN

/* The offset from UTC of the local zone (TZ) at now_ms, in minutes
 * (IST = 330). */
int timeparse_local_offset(int64_t now_ms);

/*
 * Parses a zone offset: "+05:30", "+0530", "-08", "Z", "UTC", "GMT" or
 * "IST". Returns 0 and sets *offset_min, or -EINVAL.
 */
int timeparse_tz_parse(const char *s, int *offset_min);

/*
 * Finds the time expressions in text, in English, Kanglish or Kannada
 * script, and returns the range they describe (the intersection when there
 * are several) in *since and *until; either may be TIMEPARSE_OPEN, and both
 * are when nothing was found. Appends to rest (if not NULL) the text with
 * the expressions cut out, so "restaurant photo last week" leaves
 * "restaurant photo". Returns the number of expressions found.
 */
int timeparse_extract(const char *text, int64_t now_ms, int tz_min, struct buf *rest,
                      int64_t *since, int64_t *until);

/*
 * Parses one point in time for --since/--until:
 *   "2026-11-20"                   local midnight starting that day, or
 *                                  (end true) ending it, so a date as
 *                                  --until includes the whole day;
 *   "2026-11-20T10:00[:00[.000]][Z|+05:30]"  (a space may replace T;
 *                                  without a zone the time is local);
 *   "7d", "12h", "2w", "30m", "90s"  that long before now;
 *   "now", and time words ("yesterday", "last week"): the start of the
 *                                  range, or its end when end is true.
 * Returns 0 and sets *out, or -EINVAL with a message in err (may be NULL).
 */
int timeparse_point(const char *s, int64_t now_ms, int tz_min, bool end, int64_t *out,
                    struct buf *err);

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
int64_t timeparse_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
