/*
 * parse.c - see parse.h.
 */
#include "orderd/base/parse.h"

#include <stddef.h>

bool parse_positive_i64(const char *text, int64_t *out)
{
    /* A leading zero is refused so that each id has exactly one spelling
     * ("/orders/007" is not "/orders/7"); this also refuses "0". */
    if (text == NULL || text[0] < '1' || text[0] > '9')
        return false;
    int64_t v = 0;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return false;
        int digit = *p - '0';
        if (v > (INT64_MAX - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    *out = v;
    return true;
}
