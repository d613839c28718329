/*
 * json_msgpack.h - a JSON document as MessagePack, value for value: the
 * application/msgpack representation of what orderd renders as JSON.
 *
 * The mapping: object -> map (keys as str, in the document's order),
 * array -> array, string -> str (escapes decoded, UTF-8), integer ->
 * the smallest int format that holds it, real -> float 64, true/false ->
 * bool, null -> nil.  Money and timestamps stay the strings they are in
 * the JSON, so both representations carry the same values.
 *
 * It reads the text itself, without a tree: a cache entry or a list page
 * is converted on every msgpack answer that misses the hot cache.
 */
#ifndef ORDERD_JSON_MSGPACK_H
#define ORDERD_JSON_MSGPACK_H

#include <stddef.h>

/*
 * json (len bytes of JSON text, RFC 8259: one value, strict grammar,
 * valid UTF-8, no lone surrogates) as one MessagePack document: a
 * malloc'd buffer (caller frees) of *out_len bytes.  Integers within
 * int64 become ints, any other number a float 64; an object's keys stay
 * as they come, a repeated one too.  NULL when json is no JSON, nests
 * more than 32 containers deep (what msgpack-c's unpacker reads), or
 * memory ran out.
 */
char *json_msgpack_from_text(const char *json, size_t len, size_t *out_len);

#endif
