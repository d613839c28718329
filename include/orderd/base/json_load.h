/*
 * json_load.h - json_loadb(buf, len, JSON_REJECT_DUPLICATES, error), with
 * a fast path for the plain texts clients send.
 *
 * jansson reads its input one character at a time through a callback; on
 * a POST /orders body that was a quarter of orderd's instructions per
 * request (callgrind).  The fast path takes the common case (ASCII
 * strings without escapes, numbers in the plain RFC 8259 form, nesting
 * up to FAST_DEPTH_MAX) in one pass and builds the same jansson values.
 * On anything else (an escape, a byte above 0x7e, a syntax error, a
 * duplicate key, a number jansson would refuse) it gives up and jansson
 * parses the text itself, so every error and every unusual text is
 * exactly jansson's.  tests/fuzz/fuzz_json_load.c checks that both agree.
 */
#ifndef ORDERD_JSON_LOAD_H
#define ORDERD_JSON_LOAD_H

#include <jansson.h>
#include <stddef.h>

/* A new reference, or NULL with *error filled (error may be NULL). */
json_t *json_load_strict(const char *buf, size_t len, json_error_t *error);

/* The fast path alone: NULL when it gave up (for the differential test). */
json_t *json_load_fast_path(const char *buf, size_t len);

#endif
