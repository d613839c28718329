/*
 * error.c - names of the orderd error vocabulary, stable for log fields.
 */
#include "orderd/error.h"

const char *orderd_err_name(orderd_err err)
{
    switch (err) {
    case ORDERD_OK:
        return "ok";
    case ORDERD_ERR_NOT_FOUND:
        return "not_found";
    case ORDERD_ERR_CONFLICT:
        return "conflict";
    case ORDERD_ERR_PRECONDITION:
        return "precondition";
    case ORDERD_ERR_IDEMPOTENCY:
        return "idempotency";
    case ORDERD_ERR_BUSY:
        return "busy";
    case ORDERD_ERR_UNAVAILABLE:
        return "unavailable";
    case ORDERD_ERR_TIMEOUT:
        return "timeout";
    case ORDERD_ERR_INTERNAL:
        return "internal";
    }
    return "unknown";
}
