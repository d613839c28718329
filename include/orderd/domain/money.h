/*
 * money.h - amounts of money and the currencies they may be in.  Pure
 * code: no I/O, no globals, safe from any thread.
 *
 * Money is carried as int64 cents end to end and only ever crosses the
 * PostgreSQL boundary as decimal text ("12.34"), so a numeric(12,2)
 * value is never changed by a trip through a C double.
 */
#ifndef ORDERD_MONEY_H
#define ORDERD_MONEY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* numeric(12,2), the orders' money columns: at most 9,999,999,999.99 */
#define ORDER_MONEY_MAX_CENTS INT64_C(999999999999)

/* The static messages the parsers put in *why, for a field error. */
#define MONEY_MSG_FORMAT   "must be a decimal amount such as \"12.50\""
#define MONEY_MSG_NEGATIVE "must not be negative"
#define MONEY_MSG_DECIMALS "must have at most two decimal places"
#define MONEY_MSG_MAX      "must not exceed 9999999999.99"
#define MONEY_MSG_TYPE     "must be a string or number"

/* Formats cents as "123.45" (always two decimals). Returns the length. */
size_t money_format(int64_t cents, char out[32]);
/*
 * Parses a decimal string with at most two decimals ("12", "12.3", "12.30")
 * into cents; rejects signs other than none, exponents, blanks, values over
 * ORDER_MONEY_MAX_CENTS.  Returns false with *why set to a static message.
 * Grammar: digits+ ( "." digit{1,2} )?  -- so "1." and ".5" are rejected;
 * leading zeros ("007.50") are accepted.  why may be NULL.
 */
bool money_parse_text(const char *text, int64_t *cents, const char **why);
/*
 * Parses a JSON money value: a decimal string as above, an integer, or a
 * real.  Reals are recovered as the shortest decimal that round-trips
 * the double (for <= 15 significant digits that is exactly what the
 * client wrote), then checked like text.  Negative values are rejected.
 */
bool money_parse_json(const json_t *value, int64_t *cents, const char **why);

/*
 * Is code (NUL-terminated, upper case) an ISO 4217 currency that is legal
 * tender today?  Funds, metals, XTS and XXX are not: nobody pays in them.
 */
bool currency_is_active(const char *code);

#endif
