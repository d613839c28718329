/*
 * order_repr.h - the representations GET /orders and GET /orders/:id
 * offer, and what tells them apart on the wire: the media type chosen
 * from Accept, and an entity tag per representation.
 *
 * application/json is the default and wins ties; application/msgpack
 * carries the same document (base/json_msgpack.h).  A strong ETag names
 * bytes, so the two differ: "<version>" for JSON (as before the msgpack
 * representation existed) and "<version>.m" for msgpack.
 */
#ifndef ORDERD_ORDER_REPR_H
#define ORDERD_ORDER_REPR_H

#include <stdbool.h>
#include <stdint.h>

#include "orderd/http/request.h"

typedef enum order_repr {
    ORDER_REPR_NONE = -1, /* Accept allows neither: 406 */
    ORDER_REPR_JSON = 0,
    ORDER_REPR_MSGPACK,
} order_repr;

/* The Content-Type of r (static). */
const char *order_repr_media_type(order_repr r);

/* What req's Accept takes best (http/accept.h); no I/O, no reply. */
order_repr order_repr_choose(const request *req);

/*
 * order_repr_choose; ORDER_REPR_NONE with a 406 problem reply (problems
 * are JSON whatever Accept says) that carries Vary: Accept.  The handler
 * sets Vary on its 200 and 304 itself.
 */
order_repr order_repr_negotiate(request *req);

/* ETag "\"<version>\"" or "\"<version>.m\"" into req->reply. */
void order_repr_set_etag(request *req, int64_t version, order_repr r);

/*
 * One entity tag of ours (weak "W/" and surrounding spaces allowed) into
 * *version and *r.  false when text is no tag this service issues.
 */
bool order_repr_parse_etag(const char *text, int64_t *version, order_repr *r);

/*
 * If-None-Match (header; "*" or a comma-separated list of tags): does it
 * name version in representation r?  The weak comparison RFC 9110 13.1.2
 * asks for, so W/"1" matches "1", but "1" never matches "1.m".
 */
bool order_repr_if_none_match_hits(const char *header, int64_t version, order_repr r);

#endif
