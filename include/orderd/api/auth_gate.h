/*
 * auth_gate.h - the server's gate (http/server.h request_gate): who is
 * calling, and may they call now.
 *
 *   1. With auth on, the bearer token (auth.h): missing or bad -> 401
 *      with WWW-Authenticate (RFC 6750), or 429 once the address has
 *      spent its failed-authentication budget.
 *   2. With a client rate limit, the caller's budget (the token's sub,
 *      else the address): over it -> 429 with Retry-After.  Admitted
 *      answers carry RateLimit and RateLimit-Policy
 *      (draft-ietf-httpapi-ratelimit-headers-10).
 * Decided on the polling thread whenever the local lease can
 * (rate_limit.h); otherwise the request waits, suspended, for one Redis
 * script call on a limiter thread, and its route runs after.
 *
 * The principal it finds is what the handlers check (permissions.h).
 */
#ifndef ORDERD_AUTH_GATE_H
#define ORDERD_AUTH_GATE_H

#include "orderd/auth/permissions.h"
#include "orderd/http/server.h"

/* The gate; ctx is the app (api/app.h), whose `auth` may be NULL (off). */
gate_verdict auth_gate(void *ctx, request *req);

/* The caller as the gate found it; "unchecked" (every right) with auth off. */
const auth_principal *auth_gate_principal(const request *req);

#endif
