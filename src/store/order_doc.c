/*
 * order_doc.c - see order_doc.h.
 */
#include "orderd/store/order_doc.h"

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

void order_doc_clear(order_doc *doc)
{
    if (!doc)
        return;
    free(doc->json);
    memset(doc, 0, sizeof *doc);
}
