/*
 * error.h - the one small error vocabulary of orderd.
 *
 * Modules below the HTTP edge return these; only the handlers
 * (orders_api.c, health.c) translate them to HTTP status codes.
 */
#ifndef ORDERD_ERROR_H
#define ORDERD_ERROR_H

typedef enum orderd_err {
    ORDERD_OK = 0,
    ORDERD_ERR_NOT_FOUND,    /* the row does not exist                       -> 404 */
    ORDERD_ERR_CONFLICT,     /* state transition not allowed                 -> 409 */
    ORDERD_ERR_PRECONDITION, /* If-Match / expected version mismatch         -> 412 */
    ORDERD_ERR_IDEMPOTENCY,  /* Idempotency-Key reused with another body     -> 422 */
    ORDERD_ERR_BUSY,         /* no pool connection before the deadline       -> 503 */
    ORDERD_ERR_UNAVAILABLE,  /* PostgreSQL unreachable / connection broken   -> 503 */
    ORDERD_ERR_TIMEOUT,      /* statement or request deadline passed         -> 504 */
    ORDERD_ERR_INTERNAL,     /* a bug or an unexpected database answer       -> 500 */
} orderd_err;

/* "ok", "not_found", ... for log lines. */
static inline const char *orderd_err_name(orderd_err err)
{
    static const char *const names[] = {"ok",           "not_found",   "conflict",
                                        "precondition", "idempotency", "busy",
                                        "unavailable",  "timeout",     "internal"};
    return (unsigned)err < sizeof names / sizeof names[0] ? names[err] : "unknown";
}

#endif
