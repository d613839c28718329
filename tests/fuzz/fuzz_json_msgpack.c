/*
 * fuzz_json_msgpack.c - the JSON-to-MessagePack transcoder
 * (base/json_msgpack.h), against jansson as the oracle.
 *
 * Invariants:
 *  - what it produces is exactly one MessagePack document (msgpack-c's
 *    unpacker reads it whole);
 *  - it accepts what jansson accepts (JSON_DECODE_ANY | JSON_ALLOW_NUL
 *    | JSON_REJECT_DUPLICATES), up to its nesting bound, and refuses what
 *    jansson refuses, except a number jansson finds out of range (it
 *    makes a float of that), a repeated key (it keeps both) and a key
 *    with "\u0000" in it (valid JSON, which jansson refuses even with
 *    JSON_ALLOW_NUL; MessagePack keys are byte strings).  jansson
 *    passes over a raw NUL byte between tokens as if it were whitespace,
 *    which RFC 8259 does not allow: such input may be refused;
 *  - when both accept, the two values are equal: the same map keys in
 *    the same order, the same strings byte for byte, the same numbers.
 */
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_check.h"
#include "orderd/base/json_msgpack.h"

#define DEPTH_MAX 32 /* json_msgpack.h's bound: containers nested */

static size_t depth_of(const json_t *v)
{
    size_t deepest = 0;
    if (json_is_object(v)) {
        const char *key;
        json_t *member;
        json_object_foreach((json_t *)v, key, member)
        {
            size_t d = depth_of(member);
            deepest = d > deepest ? d : deepest;
        }
        return deepest + 1;
    }
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            size_t d = depth_of(json_array_get(v, i));
            deepest = d > deepest ? d : deepest;
        }
        return deepest + 1;
    }
    return 0;
}

/* msgpack-c leaves ptr NULL for an empty str, and memcmp(NULL, ...) is
 * undefined even for 0 bytes */
static bool same_bytes(const char *a, const char *b, size_t len)
{
    return len == 0 || memcmp(a, b, len) == 0;
}

static bool same(const msgpack_object *m, const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        if (m->type != MSGPACK_OBJECT_MAP || m->via.map.size != json_object_size(j))
            return false;
        size_t i = 0;
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)j, key, value)
        {
            const msgpack_object_kv *kv = &m->via.map.ptr[i++];
            size_t len = json_object_iter_key_len(json_object_key_to_iter(key));
            if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size != len ||
                !same_bytes(kv->key.via.str.ptr, key, len) || !same(&kv->val, value))
                return false;
        }
        return true;
    }
    case JSON_ARRAY:
        if (m->type != MSGPACK_OBJECT_ARRAY || m->via.array.size != json_array_size(j))
            return false;
        for (size_t i = 0; i < json_array_size(j); i++)
            if (!same(&m->via.array.ptr[i], json_array_get(j, i)))
                return false;
        return true;
    case JSON_STRING:
        return m->type == MSGPACK_OBJECT_STR && m->via.str.size == json_string_length(j) &&
               same_bytes(m->via.str.ptr, json_string_value(j), json_string_length(j));
    case JSON_INTEGER:
        if (m->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            return json_integer_value(j) >= 0 && m->via.u64 == (uint64_t)json_integer_value(j);
        return m->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && m->via.i64 == json_integer_value(j);
    case JSON_REAL:
        return m->type == MSGPACK_OBJECT_FLOAT64 && m->via.f64 == json_real_value(j);
    case JSON_TRUE:
    case JSON_FALSE:
        return m->type == MSGPACK_OBJECT_BOOLEAN && m->via.boolean == json_is_true(j);
    case JSON_NULL:
        return m->type == MSGPACK_OBJECT_NIL;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    json_error_t error;
    json_t *oracle =
        json_loadb(text, size, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &error);
    size_t len = 0;
    char *packed = json_msgpack_from_text(text, size, &len);

    if (oracle && depth_of(oracle) <= DEPTH_MAX && !memchr(text, '\0', size))
        FUZZ_CHECK(packed != NULL);
    if (!oracle && packed)
        FUZZ_CHECK(json_error_code(&error) == json_error_numeric_overflow ||
                   json_error_code(&error) == json_error_duplicate_key ||
                   json_error_code(&error) == json_error_null_byte_in_key);
    if (packed) {
        msgpack_unpacked result;
        msgpack_unpacked_init(&result);
        size_t offset = 0;
        FUZZ_CHECK(msgpack_unpack_next(&result, packed, len, &offset) == MSGPACK_UNPACK_SUCCESS);
        FUZZ_CHECK(offset == len);
        if (oracle)
            FUZZ_CHECK(same(&result.data, oracle));
        msgpack_unpacked_destroy(&result);
    }
    free(packed);
    json_decref(oracle);
    return 0;
}
