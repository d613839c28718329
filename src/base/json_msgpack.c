/*
 * json_msgpack.c - JSON values packed as MessagePack with msgpack-c's
 * packer, writing into the one growable buffer (base/buf.h).
 */
#include "orderd/base/json_msgpack.h"

#include <msgpack.h>
#include <stdlib.h>

/* msgpack-c's write callback: 0 on success, as it expects. */
static int write_to_buf(void *data, const char *bytes, size_t len)
{
    return buf_append(data, bytes, len) ? 0 : -1;
}

/* The packer stops at the first failed write; buf remembers it failed. */
static void pack_value(msgpack_packer *pk, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        msgpack_pack_map(pk, json_object_size(v));
        const char *key;
        json_t *member;
        json_object_foreach((json_t *)v, key, member)
        {
            size_t key_len = strlen(key);
            msgpack_pack_str(pk, key_len);
            msgpack_pack_str_body(pk, key, key_len);
            pack_value(pk, member);
        }
        return;
    }
    case JSON_ARRAY:
        msgpack_pack_array(pk, json_array_size(v));
        for (size_t i = 0; i < json_array_size(v); i++)
            pack_value(pk, json_array_get(v, i));
        return;
    case JSON_STRING: {
        size_t len = json_string_length(v);
        msgpack_pack_str(pk, len);
        msgpack_pack_str_body(pk, json_string_value(v), len);
        return;
    }
    case JSON_INTEGER:
        msgpack_pack_int64(pk, json_integer_value(v));
        return;
    case JSON_REAL:
        msgpack_pack_double(pk, json_real_value(v));
        return;
    case JSON_TRUE:
        msgpack_pack_true(pk);
        return;
    case JSON_FALSE:
        msgpack_pack_false(pk);
        return;
    case JSON_NULL:
        msgpack_pack_nil(pk);
        return;
    }
}

bool json_msgpack_pack(const json_t *v, buf *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, write_to_buf);
    pack_value(&pk, v);
    return !out->failed;
}

char *json_msgpack_from_text(const char *json, size_t len, size_t *out_len)
{
    /* orderd's own rendering: keys unique, integers within int64 */
    json_t *doc = json_loadb(json, len, JSON_DECODE_ANY, NULL);
    if (!doc)
        return NULL;
    buf out = BUF_INIT;
    bool packed = json_msgpack_pack(doc, &out);
    json_decref(doc);
    if (!packed) {
        buf_free(&out);
        return NULL;
    }
    return buf_steal(&out, out_len);
}
