/*
 * money.c - amounts as int64 cents, their decimal text and JSON forms,
 * and the table of active currencies (see money.h).
 */
#include "orderd/domain/money.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/base/fmt.h"

/* ---- amounts ----------------------------------------------------------- */

size_t money_format(int64_t cents, char out[32])
{
    /* Through uint64_t so that INT64_MIN has a magnitude too. */
    uint64_t mag = cents < 0 ? (uint64_t)0 - (uint64_t)cents : (uint64_t)cents;
    size_t n = 0;
    if (cents < 0)
        out[n++] = '-';
    n += fmt_u64(mag / 100, out + n);
    out[n++] = '.';
    out[n++] = (char)('0' + mag % 100 / 10);
    out[n++] = (char)('0' + mag % 10);
    out[n] = '\0';
    return n;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool money_parse_text(const char *text, int64_t *cents, const char **why)
{
    const char *msg = MONEY_MSG_FORMAT;
    if (text == NULL || text[0] == '\0')
        goto fail;

    /* The grammar is checked before the value so that "99999999999x" is
     * reported as malformed, not as too large. */
    const char *p = text;
    bool negative = *p == '-';
    if (negative)
        p++;
    size_t int_digits = 0, frac_digits = 0;
    while (is_digit(p[int_digits]))
        int_digits++;
    const char *frac = p + int_digits;
    if (*frac == '.') {
        frac++;
        while (is_digit(frac[frac_digits]))
            frac_digits++;
        if (frac_digits == 0)
            goto fail;
    }
    if (int_digits == 0 || frac[frac_digits] != '\0')
        goto fail;
    if (negative) {
        msg = MONEY_MSG_NEGATIVE;
        goto fail;
    }
    if (frac_digits > 2) {
        msg = MONEY_MSG_DECIMALS;
        goto fail;
    }

    int64_t units = 0;
    for (size_t i = 0; i < int_digits; i++) {
        units = units * 10 + (p[i] - '0');
        if (units > ORDER_MONEY_MAX_CENTS / 100) {
            msg = MONEY_MSG_MAX;
            goto fail;
        }
    }
    int64_t sub = 0;
    for (size_t i = 0; i < 2; i++)
        sub = sub * 10 + (i < frac_digits ? frac[i] - '0' : 0);
    *cents = units * 100 + sub;
    return true;
fail:
    if (why != NULL)
        *why = msg;
    return false;
}

/*
 * A double's shortest round-trip decimal is what the client most likely
 * wrote: 0.1 means 10 cents although the double is a hair above 0.1.
 * From its digits and exponent (value = d.ddd x 10^exp10) the cents
 * follow exactly, with the same rules and messages as for text.
 */
static bool money_from_double(double d, int64_t *cents, const char **why)
{
    char sci[40];
    for (int precision = 0; precision < 17; precision++) {
        snprintf(sci, sizeof sci, "%.*e", precision, d);
        if (strtod(sci, NULL) == d)
            break;
    }

    char digits[24];
    long ndigits = 0;
    const char *p = sci;
    for (; *p != 'e'; p++) {
        if (is_digit(*p))
            digits[ndigits++] = *p;
    }
    long exp10 = strtol(p + 1, NULL, 10);
    while (ndigits > 1 && digits[ndigits - 1] == '0')
        ndigits--;

    long decimals = ndigits - 1 - exp10;
    if (exp10 >= 10) {
        *why = MONEY_MSG_MAX;
        return false;
    }
    if (decimals > 2) {
        *why = MONEY_MSG_DECIMALS;
        return false;
    }
    /* Below 10^10 with at most two decimals: at most 12 digits of cents,
     * never above ORDER_MONEY_MAX_CENTS. */
    int64_t v = 0;
    for (long i = 0; i < ndigits; i++)
        v = v * 10 + (digits[i] - '0');
    for (long i = decimals; i < 2; i++)
        v *= 10;
    *cents = v;
    return true;
}

bool money_parse_json(const json_t *value, int64_t *cents, const char **why)
{
    const char *msg = MONEY_MSG_TYPE;
    if (json_is_integer(value)) {
        json_int_t v = json_integer_value(value);
        if (v < 0) {
            msg = MONEY_MSG_NEGATIVE;
        } else if (v > ORDER_MONEY_MAX_CENTS / 100) {
            msg = MONEY_MSG_MAX;
        } else {
            *cents = (int64_t)v * 100;
            return true;
        }
    } else if (json_is_real(value)) {
        double d = json_real_value(value);
        if (!isfinite(d)) {
            msg = MONEY_MSG_FORMAT;
        } else if (d < 0) {
            msg = MONEY_MSG_NEGATIVE;
        } else if (d == 0) { /* also -0.0, which %e would print with a sign */
            *cents = 0;
            return true;
        } else {
            return money_from_double(d, cents, why != NULL ? why : &msg);
        }
    } else if (json_is_string(value)) {
        /* An embedded NUL would make the C string mean something else. */
        const char *s = json_string_value(value);
        if (strlen(s) == json_string_length(value))
            return money_parse_text(s, cents, why);
        msg = MONEY_MSG_FORMAT;
    }
    if (why != NULL)
        *why = msg;
    return false;
}

/* ---- currencies -------------------------------------------------------- */

/*
 * ISO 4217 codes of currencies that are legal tender today (2026), sorted
 * for bsearch.  Fund codes (BOV, CLF, ...), metals (XAU, ...), testing
 * (XTS) and "no currency" (XXX) are left out on purpose: nobody pays for
 * an order in them.  Recently withdrawn: ANG (now XCG), HRK (now EUR),
 * SLL (now SLE), ZWL (now ZWG), CUC.
 */
static const char currency_codes[][4] = {
    "AED", "AFN", "ALL", "AMD", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BHD",
    "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF",
    "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN",
    "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD",
    "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES",
    "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL",
    "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN",
    "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP",
    "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK",
    "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT",
    "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VED", "VES",
    "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
};

static int currency_cmp(const void *key, const void *elem)
{
    return strcmp(key, elem);
}

bool currency_is_active(const char *code)
{
    return bsearch(code, currency_codes, sizeof currency_codes / sizeof currency_codes[0],
                   sizeof currency_codes[0], currency_cmp) != NULL;
}
