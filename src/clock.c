/*
 * clock.c - monotonic and wall clocks, and RFC 3339 formatting.
 */
#include "orderd/clock.h"

#include <stdio.h>
#include <time.h>

/*
 * RFC 3339 has a four-digit year, so anything outside 0001-01-01 ..
 * 9999-12-31T23:59:59.999999 is clamped rather than printed as garbage.
 */
#define RFC3339_MIN_US (-62135596800LL * 1000000LL)
#define RFC3339_MAX_US (253402300799LL * 1000000LL + 999999LL)

uint64_t clock_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t clock_wall_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

size_t clock_format_rfc3339(int64_t unix_us, int digits, char out[32])
{
    static const int64_t divisor[7] = {1000000, 100000, 10000, 1000, 100, 10, 1};
    int64_t secs, frac_us;
    time_t t;
    struct tm tm;
    int n;

    if (unix_us < RFC3339_MIN_US)
        unix_us = RFC3339_MIN_US;
    if (unix_us > RFC3339_MAX_US)
        unix_us = RFC3339_MAX_US;
    if (digits < 0)
        digits = 0;
    if (digits > 6)
        digits = 6;

    /* Floor division: -1 us is 1969-12-31T23:59:59.999999, not 1970. */
    secs = unix_us / 1000000;
    frac_us = unix_us % 1000000;
    if (frac_us < 0) {
        frac_us += 1000000;
        secs -= 1;
    }
    t = (time_t)secs;
    if (gmtime_r(&t, &tm) == NULL) {
        out[0] = '\0';
        return 0;
    }
    if (digits == 0)
        n = snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    else
        n = snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%0*lldZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, digits,
                     (long long)(frac_us / divisor[digits]));
    return n < 0 ? 0 : (size_t)n;
}
