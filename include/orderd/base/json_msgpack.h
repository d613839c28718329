/*
 * json_msgpack.h - a JSON document as MessagePack, value for value: the
 * application/msgpack representation of what orderd renders as JSON.
 *
 * The mapping: object -> map (keys as str, in the document's order),
 * array -> array, string -> str (the same UTF-8 bytes), integer -> the
 * smallest int format that holds it, real -> float 64, true/false ->
 * bool, null -> nil.  Money and timestamps stay the strings they are in
 * the JSON, so both representations carry the same values.
 */
#ifndef ORDERD_JSON_MSGPACK_H
#define ORDERD_JSON_MSGPACK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "orderd/base/buf.h"

/* Appends v to out.  false when out failed (out of memory). */
bool json_msgpack_pack(const json_t *v, buf *out);

/*
 * Parses json (len bytes) and packs it: one parse, no JSON text in
 * between.  A malloc'd buffer (caller frees) of *out_len bytes; NULL when
 * json is no JSON document or memory ran out.
 */
char *json_msgpack_from_text(const char *json, size_t len, size_t *out_len);

#endif
