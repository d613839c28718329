/*
 * parse.h - strict parsers for numbers that arrive as text in a request
 * (path segments, query parameters, entity tags).  Pure: no allocation.
 */
#ifndef ORDERD_PARSE_H
#define ORDERD_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/*
 * 1..INT64_MAX, digits only, no leading zero ("07" is refused).  false
 * (and *out untouched) for anything else, including NULL.
 */
bool parse_positive_i64(const char *text, int64_t *out);

#endif
