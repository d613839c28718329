/*
 * order_doc.h - an order as the store hands it out, and the types every
 * store path shares: the front door (order_store.h) and the batched
 * reader, writer and amender (order_reader.h, order_writer.h,
 * order_amender.h).
 *
 * A doc is the order already rendered as JSON, the form both the cache
 * and the HTTP response want, with the id and version beside it (for
 * Location and ETag) so nobody parses the JSON again.
 */
#ifndef ORDERD_ORDER_DOC_H
#define ORDERD_ORDER_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orderd/base/error.h"
#include "orderd/domain/order.h"

typedef struct order_doc {
    char *json; /* owned, NUL-terminated; freed by order_doc_clear */
    size_t len;
    int64_t id;
    int64_t version;
} order_doc;

/* X-Cache values; static strings. */
#define CACHE_STATUS_HIT    "HIT"
#define CACHE_STATUS_MISS   "MISS"
#define CACHE_STATUS_BYPASS "BYPASS"

/* Renders o into *doc (which the caller clears); takes nothing from o.
 * ORDERD_ERR_INTERNAL, doc untouched, when out of memory. */
orderd_err order_doc_from_order(const order *o, order_doc *doc);

/* A doc of a stored response (an Idempotency-Key's): takes json (frees
 * it on failure) and reads the id and version from it.
 * ORDERD_ERR_INTERNAL when it has neither. */
orderd_err order_doc_from_stored_json(char *json, order_doc *doc);

/* Frees doc->json and zeroes the doc. NULL-safe. */
void order_doc_clear(order_doc *doc);

/* A list page as the API answers it, {"data":[...],"next_cursor":
 * "..."|null}, into *json (malloc'd, the caller's) and *len; takes
 * nothing from rows.  ORDERD_ERR_INTERNAL when out of memory. */
orderd_err order_page_to_json(const order *rows, int count, bool has_more, char **json,
                              size_t *len);

/*
 * The answer to one read: err ORDERD_OK with doc (the callee owns
 * doc->json), ORDERD_ERR_NOT_FOUND, or an error; cache_status says where
 * it came from.  Runs on a reader thread and must not block.
 */
typedef void (*order_read_done)(void *arg, orderd_err err, order_doc *doc,
                                const char *cache_status);

/* The answer to one create: ORDERD_OK with doc (callee owns doc->json) or
 * an error.  replayed: the doc is the response first sent for its
 * Idempotency-Key. */
typedef void (*order_create_done)(void *arg, orderd_err err, order_doc *doc, bool replayed);

/* The answer to one PATCH or DELETE: ORDERD_OK with the new row's doc
 * (callee owns doc->json; NULL for a delete) or an error.  to: the
 * status the PATCH asked for (its 409 names it). */
typedef void (*order_amend_done)(void *arg, orderd_err err, order_status to, order_doc *doc);

#endif
