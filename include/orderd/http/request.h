/*
 * request.h - one HTTP request's state, from the first access-handler
 * call to the completion callback, and how a handler hands it to another
 * thread.
 *
 * Ownership: server.c allocates a request when libmicrohttpd first calls
 * us, and frees it (and everything it points to) in the completion
 * callback.  Handlers read the inputs and fill `reply`; any buffer they put
 * in reply.body becomes the request's (freed with it or handed to MHD).
 *
 * A request belongs to one thread at a time: the polling thread, until a
 * handler hands it on (request_suspend, request_run_on_worker); then the
 * thread that has it, until that thread calls request_resume.  The
 * connection stays suspended in between, so nothing else touches it.
 */
#ifndef ORDERD_REQUEST_H
#define ORDERD_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orderd/base/log.h"
#include "orderd/base/trace.h"
#include "orderd/base/worker_pool.h"

typedef struct request request;

/* Fills req->reply, or hands req on (below).  ctx is the context the
 * server was started with (server.h), borrowed. */
typedef void request_handler(void *ctx, request *req);

typedef enum http_method {
    HTTP_GET = 0,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_PATCH,
    HTTP_DELETE,
    HTTP_OTHER,
} http_method;

#define REQUEST_ID_MAX    LOG_REQUEST_ID_MAX /* one limit, so batch jobs copy it whole */
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
    const char *allow;        /* for 405: static or the router's */
    const char *cache;        /* static X-Cache value or NULL */
    const char *vary;         /* static Vary value or NULL */
    bool idempotent_replay;   /* adds Idempotent-Replayed: true */
    /* instead of body: shared immutable bytes (base/blob.h); one
     * reference owned by the request, handed to libmicrohttpd */
    struct blob *blob;
    /* the gate's (server.h): a static WWW-Authenticate value, and the
     * rate-limit fields (draft-ietf-httpapi-ratelimit-headers), the
     * policy borrowed for the server's life; NULL / "" = none */
    const char *www_authenticate;
    const char *ratelimit_policy;
    char ratelimit[64];
} http_reply;

struct request {
    /* what was asked; path and method_name are libmicrohttpd's, valid
     * until completion */
    http_method method;
    const char *method_name;
    const char *path;
    const char *route_pattern; /* the matched pattern (router.h), for logs; "" if none */
    int64_t path_id;           /* the pattern's ":id", when it has one */
    char request_id[REQUEST_ID_MAX + 1];
    uint64_t start_ns;    /* clock_now_ns() at the first call */
    uint64_t deadline_ns; /* start + request_timeout_ms */

    /* W3C trace context (http/request_trace.h) */
    trace_context trace;
    const char *tracestate; /* the caller's, carried on; libmicrohttpd's, or NULL */
    log_tag log;            /* request_id and trace, for log_bind */

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
    /* libmicrohttpd's, valid until completion; NULL when absent */
    const char *authorization;
    const char *forwarded_for; /* X-Forwarded-For */
    const char *accept;        /* for content negotiation (http/accept.h) */

    /* what the gate (server.h) learned about the caller, for the
     * handlers; the http layer never reads it */
    _Alignas(8) unsigned char gate_state[48];
    /* a short text a handler's polling-thread part leaves for the part it
     * hands to a worker (request_continue_on_worker); "" until then, and
     * the http layer never reads it */
    char handler_note[32];

    char *body; /* owned, NUL-terminated, body_len bytes */
    size_t body_len;
    size_t body_cap;
    bool body_too_large;

    http_reply reply;

    /* server.c and request.c internals */
    struct MHD_Connection *connection;
    worker_pool *workers;            /* the server's, for request_run_on_worker */
    void *handler_ctx;               /* the server's, passed to handlers */
    request_handler *worker_handler; /* what request_run_on_worker runs */
    const void *matched_route;       /* the route row, while the gate decides */
    bool gate_passed;                /* the gate let it through after a hand-over */
    bool suspended;                  /* polling thread only: handed on */
    bool dispatched;
    bool reply_queued;
    bool begun; /* request_begin has run: the head was complete */
    /* from the URI log callback, which sees the target before decoding */
    size_t raw_target_len;
    int target_status; /* request_guard_check_target: 0 or 400 */
    const char *target_detail;
    struct conn_slot *conn_slot; /* the connection's deadline (conn_deadline.h); may be NULL */
};

/*
 * Does a request Cache-Control value (RFC 9111 5.2.1) ask for an answer
 * validated at the origin: a "no-cache" or "max-age=0" directive?  NULL
 * is no header.
 */
bool request_cache_control_wants_fresh(const char *value);

/* Sets reply.status / content type / body (takes ownership of body). */
void request_reply_json(request *req, int status, char *body, size_t len);
/* The same with content_type (a static string) for any other media type. */
void request_reply_body(request *req, int status, const char *content_type, char *body, size_t len);

/* ---- handing a request to another thread ------------------------------ */

/*
 * Suspends req's connection so the polling thread can serve others.  Call
 * it on the polling thread before any other thread can see req; that
 * thread then owns req until it calls request_resume.
 */
void request_suspend(request *req);

/*
 * Gives a suspended req back: the polling thread sends req->reply (a 500
 * when it is still empty).  Any thread; do not touch req afterwards.
 */
void request_resume(request *req);

/*
 * For a gate that handed req on (server.h): let it through to its route,
 * which then runs on the polling thread as its row says.  Any thread; do
 * not touch req afterwards.
 */
void request_resume_pass(request *req);

/* The caller's address as text ("127.0.0.1", "::1"): the TCP peer, not
 * X-Forwarded-For.  "" when unknown.  Any thread that has req. */
void request_peer_address(const request *req, char *out, size_t cap);

/* The hand-over failed (a queue full or stopping): 503 with Retry-After,
 * then request_resume.  Any thread, for a suspended req. */
void request_resume_overloaded(request *req);

/*
 * Suspends req and runs handler(req->handler_ctx, req) on the server's I/O
 * worker pool, where it may block; the reply goes out when it returns.
 * 503 when the queue is full, or when req's deadline passes before a
 * worker takes it.  On the polling thread.
 */
void request_run_on_worker(request *req, request_handler *handler);

/* request_run_on_worker for a req already suspended (handed on): any
 * thread that owns req; do not touch req afterwards. */
void request_continue_on_worker(request *req, request_handler *handler);

/* Runs fn(arg) on the worker pool, apart from req (which may be gone by
 * then): for work no reply waits on, such as a cache refresh.  -1 when
 * the queue is full (fn is then not called). */
int request_run_detached(const request *req, void (*fn)(void *arg), void *arg);

#endif
