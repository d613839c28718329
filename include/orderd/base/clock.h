/*
 * clock.h - monotonic and wall clocks in one place.
 */
#ifndef ORDERD_CLOCK_H
#define ORDERD_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic nanoseconds (CLOCK_MONOTONIC); for durations and deadlines. */
uint64_t clock_now_ns(void);

/* Wall-clock microseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t clock_wall_us(void);

/*
 * Formats unix microseconds as RFC 3339 UTC.
 * digits: fractional digits, 3 (ms) or 6 (us). Writes at most 32 bytes
 * including the NUL to out; returns the length written.
 * e.g. 2026-11-28T04:07:59.123Z
 */
size_t clock_format_rfc3339(int64_t unix_us, int digits, char out[32]);

#endif
