/*
 * request_id.h - the X-Request-ID middleware.
 *
 * A client's id is kept when it matches [A-Za-z0-9._-]{1,128}; otherwise
 * (absent or invalid) a random UUID v4 is generated.
 */
#ifndef ORDERD_REQUEST_ID_H
#define ORDERD_REQUEST_ID_H

#include <stdbool.h>

#include "orderd/http/request.h"

bool request_id_is_valid(const char *id);

/* Writes a random RFC 4122 version-4 UUID (36 chars + NUL).
 * Thread-safe: per-thread generator seeded from getrandom(). */
void request_id_generate(char out[37]);

/* Fills out with client_id when valid, else a new UUID. */
void request_id_assign(const char *client_id, char out[REQUEST_ID_MAX + 1]);

#endif
