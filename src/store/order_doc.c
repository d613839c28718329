/*
 * order_doc.c - see order_doc.h.
 */
#include "orderd/store/order_doc.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/base/buf.h"

orderd_err order_doc_from_order(const order *o, order_doc *doc)
{
    size_t len;
    char *json = order_to_json(o, &len);
    if (!json)
        return ORDERD_ERR_INTERNAL;
    *doc = (order_doc){.json = json, .len = len, .id = o->id, .version = o->version};
    return ORDERD_OK;
}

orderd_err order_doc_from_stored_json(char *json, order_doc *doc)
{
    json_t *parsed = json_loads(json, 0, NULL);
    json_t *id = json_object_get(parsed, "id");
    json_t *version = json_object_get(parsed, "version");
    orderd_err err = ORDERD_ERR_INTERNAL;
    if (json_is_integer(id) && json_is_integer(version)) {
        *doc = (order_doc){.json = json,
                           .len = strlen(json),
                           .id = json_integer_value(id),
                           .version = json_integer_value(version)};
        err = ORDERD_OK;
    } else {
        free(json);
    }
    json_decref(parsed);
    return err;
}

void order_doc_clear(order_doc *doc)
{
    if (!doc)
        return;
    free(doc->json);
    memset(doc, 0, sizeof *doc);
}

orderd_err order_page_to_json(const order *rows, int count, bool has_more, char **json, size_t *len)
{
    buf b = BUF_INIT;
    buf_puts(&b, "{\"data\":[");
    for (int i = 0; i < count; i++) {
        size_t one_len;
        char *one = order_to_json(&rows[i], &one_len);
        if (!one) {
            buf_free(&b);
            return ORDERD_ERR_INTERNAL;
        }
        if (i > 0)
            buf_puts(&b, ",");
        buf_append(&b, one, one_len);
        free(one);
    }
    buf_puts(&b, "],\"next_cursor\":");
    if (has_more && count > 0) {
        char cursor[64];
        order_cursor_encode(rows[count - 1].created_at_us, rows[count - 1].id, cursor);
        buf_puts(&b, "\"");
        buf_puts(&b, cursor);
        buf_puts(&b, "\"}");
    } else {
        buf_puts(&b, "null}");
    }
    size_t n;
    char *out = buf_steal(&b, &n);
    if (!out)
        return ORDERD_ERR_INTERNAL;
    *json = out;
    *len = n;
    return ORDERD_OK;
}
