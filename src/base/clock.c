/*
 * clock.c - monotonic and wall clocks, and RFC 3339 formatting.
 */
#include "orderd/base/clock.h"

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

/* Writes v as exactly width digits (v < 10^width). */
static char *put_digits(char *p, int64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

/*
 * Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's
 * civil_from_days).  Arithmetic only: this runs for every timestamp of
 * every order rendered, where gmtime_r and snprintf cost more than the
 * rest of the JSON.
 */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

size_t clock_format_rfc3339(int64_t unix_us, int digits, char out[32])
{
    static const int64_t divisor[7] = {1000000, 100000, 10000, 1000, 100, 10, 1};

    if (unix_us < RFC3339_MIN_US)
        unix_us = RFC3339_MIN_US;
    if (unix_us > RFC3339_MAX_US)
        unix_us = RFC3339_MAX_US;
    if (digits < 0)
        digits = 0;
    if (digits > 6)
        digits = 6;

    /* Floor division: -1 us is 1969-12-31T23:59:59.999999, not 1970. */
    int64_t secs = unix_us / 1000000, frac_us = unix_us % 1000000;
    if (frac_us < 0) {
        frac_us += 1000000;
        secs -= 1;
    }
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days -= 1;
    }
    int64_t year;
    int month, day;
    civil_from_days(days, &year, &month, &day);

    char *p = out;
    p = put_digits(p, year, 4);
    *p++ = '-';
    p = put_digits(p, month, 2);
    *p++ = '-';
    p = put_digits(p, day, 2);
    *p++ = 'T';
    p = put_digits(p, sod / 3600, 2);
    *p++ = ':';
    p = put_digits(p, sod / 60 % 60, 2);
    *p++ = ':';
    p = put_digits(p, sod % 60, 2);
    if (digits > 0) {
        *p++ = '.';
        p = put_digits(p, frac_us / divisor[digits], digits);
    }
    *p++ = 'Z';
    *p = '\0';
    return (size_t)(p - out);
}
