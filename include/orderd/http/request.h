/*
 * request.h - one HTTP request's state, from the first access-handler
 * call to the completion callback.
 *
 * Ownership: server.c allocates a request when libmicrohttpd first calls
 * us, and frees it (and everything it points to) in the completion
 * callback.  Handlers read the inputs and fill `reply`; any buffer they put
 * in reply.body becomes the request's (freed with it or handed to MHD).
 * While a handler runs on an I/O worker the connection is suspended, so
 * nothing else touches the request.
 */
#ifndef ORDERD_REQUEST_H
#define ORDERD_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum http_method {
    HTTP_GET = 0,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_PATCH,
    HTTP_DELETE,
    HTTP_OTHER,
} http_method;

#define REQUEST_ID_MAX    128
#define REQUEST_QUERY_MAX 8

typedef struct query_param {
    char *name;  /* owned */
    char *value; /* owned; "" for "?flag" */
} query_param;

typedef struct http_reply {
    int status;               /* 0 = not decided yet */
    const char *content_type; /* static string; NULL when there is no body */
    char *body;               /* owned (malloc'd) */
    size_t body_len;          /* of body, or of blob */
    char location[48];        /* "" = none */
    char etag[32];            /* "" = none; includes the quotes */
    int retry_after_s;        /* > 0 adds Retry-After */
    const char *allow;        /* static; for 405 */
    const char *cache;        /* static X-Cache value or NULL */
    bool idempotent_replay;   /* adds Idempotent-Replayed: true */
    /* instead of body: a shared immutable body from the hot cache; one
     * reference owned by the request, handed to libmicrohttpd */
    struct hot_blob *blob;
} http_reply;

typedef struct request {
    /* what was asked; path and method_name are libmicrohttpd's, valid
     * until completion */
    http_method method;
    const char *method_name;
    const char *path;
    int route;       /* router.h route_id */
    int64_t path_id; /* /orders/:id when route needs it */
    char request_id[REQUEST_ID_MAX + 1];
    uint64_t start_ns;    /* clock_now_ns() at the first call */
    uint64_t deadline_ns; /* start + request_timeout_ms */

    /* inputs copied out of libmicrohttpd in the polling thread */
    query_param query[REQUEST_QUERY_MAX];
    int query_count;
    bool query_overflow; /* more than REQUEST_QUERY_MAX parameters */
    char *if_none_match; /* owned or NULL */
    char *if_match;
    char *idempotency_key;
    bool content_type_json; /* Content-Type is application/json (any params) */
    bool no_cache;          /* Cache-Control: no-cache or max-age=0: answer from the source */
    bool has_content_type;

    char *body; /* owned, NUL-terminated, body_len bytes */
    size_t body_len;
    size_t body_cap;
    bool body_too_large;

    http_reply reply;

    /* server.c internals */
    struct MHD_Connection *connection;
    struct server *server;
    bool suspended;
    bool dispatched;
    void (*async_resume)(struct request *req); /* orders_api_read/create's callback */
    bool reply_queued;
} request;

/*
 * Does a request Cache-Control value (RFC 9111 5.2.1) ask for an answer
 * validated at the origin: a "no-cache" or "max-age=0" directive?  NULL
 * is no header.
 */
bool request_cache_control_wants_fresh(const char *value);

/* Sets reply.status / content type / body (takes ownership of body). */
void request_reply_json(request *req, int status, char *body, size_t len);

#endif
