/*
 * request_headers.c - one pass over the request's header fields (see
 * request_headers.h).
 */
#include "orderd/http/request_headers.h"

#include <microhttpd.h>
#include <stddef.h>
#include <strings.h>

#define FIELD(name, member)                                                                        \
    {                                                                                              \
        name, sizeof name - 1, offsetof(request_headers, member)                                   \
    }

static const struct wanted_field {
    const char *name;
    size_t len;
    size_t offset; /* of the const char * in request_headers */
} wanted[] = {
    FIELD("X-Request-ID", request_id),
    FIELD("traceparent", traceparent),
    FIELD("tracestate", tracestate),
    FIELD("If-None-Match", if_none_match),
    FIELD("If-Match", if_match),
    FIELD("Idempotency-Key", idempotency_key),
    FIELD("Cache-Control", cache_control),
    FIELD("Content-Type", content_type),
    FIELD("Authorization", authorization),
    FIELD("X-Forwarded-For", forwarded_for),
    FIELD("Accept", accept),
};

static enum MHD_Result take_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                  size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    (void)value_size;
    request_headers *out = cls;
    for (size_t i = 0; i < sizeof wanted / sizeof *wanted; i++) {
        /* the length first: most fields are none of ours */
        if (wanted[i].len != key_size || strncasecmp(key, wanted[i].name, key_size) != 0)
            continue;
        const char **slot = (const char **)((char *)out + wanted[i].offset);
        if (*slot == NULL)
            *slot = value;
        break;
    }
    return MHD_YES;
}

void request_headers_read(struct MHD_Connection *conn, request_headers *out)
{
    *out = (request_headers){0};
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, take_field, out);
}
