/*
 * order_doc.c - see order_doc.h.
 */
#include "orderd/store/order_doc.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

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
