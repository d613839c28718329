/*
 * auth_gate.c - see auth_gate.h.
 */
#include "orderd/api/auth_gate.h"

#include <stdio.h>
#include <string.h>

#include "orderd/api/app.h"
#include "orderd/auth/auth.h"
#include "orderd/base/metrics.h"
#include "orderd/http/problem.h"

/* What the gate keeps in req->gate_state. */
typedef struct gate_state {
    auth_principal principal;
    /* while a failed authentication waits for its budget: the 401's
     * detail and header (static); NULL otherwise */
    const char *refusal_detail;
    const char *refusal_header;
} gate_state;

_Static_assert(sizeof(gate_state) <= sizeof(((request *)0)->gate_state),
               "gate_state must fit in request.gate_state");

static gate_state *state_of(request *req)
{
    return (gate_state *)(void *)req->gate_state;
}

const auth_principal *auth_gate_principal(const request *req)
{
    return &((const gate_state *)(const void *)req->gate_state)->principal;
}

/* RFC 6750 3: no error code when the request had no credentials at all. */
#define CHALLENGE         "Bearer realm=\"orderd\""
#define CHALLENGE_INVALID CHALLENGE ", error=\"invalid_token\", error_description="

static const char *challenge_for(auth_token_status status, jwt_result why)
{
    if (status == AUTH_TOKEN_MISSING)
        return CHALLENGE;
    switch (why) {
    case JWT_EXPIRED:
        return CHALLENGE_INVALID "\"the token has expired\"";
    case JWT_NOT_YET_VALID:
        return CHALLENGE_INVALID "\"the token is not valid yet\"";
    case JWT_WRONG_ISSUER:
    case JWT_WRONG_AUDIENCE:
        return CHALLENGE_INVALID "\"the token is not meant for this service\"";
    case JWT_ALG_REFUSED:
        return CHALLENGE_INVALID "\"the token's algorithm is not accepted\"";
    case JWT_OK:
    case JWT_MALFORMED:
    case JWT_BAD_SIGNATURE:
        break;
    }
    return CHALLENGE_INVALID "\"the token is not valid\"";
}

/* ---- answers ------------------------------------------------------------ */

static void set_ratelimit(request *req, rate_limiter *rl, const rate_verdict *v)
{
    req->reply.ratelimit_policy = rate_limiter_policy(rl);
    snprintf(req->reply.ratelimit, sizeof req->reply.ratelimit, "\"%s\";r=%d;t=%d",
             rate_limiter_name(rl), v->remaining, v->reset_s);
}

static void reply_limited(request *req, rate_limiter *rl, const rate_verdict *v)
{
    metric_inc(METRIC_RATE_LIMITED);
    problem_reply(req, 429,
                  state_of(req)->refusal_detail
                      ? "too many requests with failed authentication from this address"
                      : "too many requests; the budget refills over time",
                  NULL);
    req->reply.retry_after_s = v->retry_after_s > 0 ? v->retry_after_s : 1;
    set_ratelimit(req, rl, v);
}

static void reply_unauthorized(request *req)
{
    gate_state *st = state_of(req);
    metric_inc(METRIC_AUTH_FAILURES);
    problem_reply(req, 401, st->refusal_detail, NULL);
    req->reply.www_authenticate = st->refusal_header;
}

/* The verdict into req: true when the route may run. */
static bool apply_verdict(request *req, rate_limiter *rl, const rate_verdict *v)
{
    if (!v->allowed) {
        reply_limited(req, rl, v);
        return false;
    }
    if (state_of(req)->refusal_detail) {
        reply_unauthorized(req); /* within the failure budget: the plain 401 */
        return false;
    }
    set_ratelimit(req, rl, v);
    return true;
}

/* ---- the budget, now or after Redis --------------------------------------- */

static void check_done(void *arg, const rate_verdict *v)
{
    request *req = arg;
    /* the limiter is the one the gate asked: the failure budget exactly
     * when a refusal waits */
    app *application = req->handler_ctx;
    rate_limiter *rl = state_of(req)->refusal_detail ? auth_failure_limiter(application->auth)
                                                     : auth_client_limiter(application->auth);
    if (apply_verdict(req, rl, v))
        request_resume_pass(req);
    else
        request_resume(req);
}

static gate_verdict spend(request *req, rate_limiter *rl, const char *key)
{
    rate_verdict v;
    if (rate_limiter_try_local(rl, key, &v))
        return apply_verdict(req, rl, &v) ? GATE_PASS : GATE_ANSWERED;
    request_suspend(req);
    if (rate_limiter_check_async(rl, key, check_done, req) != 0)
        request_resume_overloaded(req);
    return GATE_HANDED_ON;
}

static void address_key(app *application, request *req, char *key, size_t cap)
{
    char peer[CLIENT_ADDRESS_MAX + 1], client[CLIENT_ADDRESS_MAX + 1];
    request_peer_address(req, peer, sizeof peer);
    auth_client_address(application->auth, peer, req->forwarded_for, client);
    snprintf(key, cap, "ip:%s", client);
}

gate_verdict auth_gate(void *ctx, request *req)
{
    app *application = ctx;
    gate_state *st = state_of(req);
    memset(st, 0, sizeof *st);
    st->principal.unchecked = true;
    auth *a = application->auth;
    if (!a)
        return GATE_PASS;
    char key[RATE_LIMIT_KEY_MAX + 1] = "";
    if (auth_enabled(a)) {
        token_identity id;
        jwt_result why;
        auth_token_status status = auth_authenticate(a, req->authorization, &id, &why);
        if (status != AUTH_TOKEN_VALID) {
            st->refusal_detail = status == AUTH_TOKEN_MISSING
                                     ? "this resource needs an Authorization: Bearer token"
                                     : jwt_result_text(why);
            st->refusal_header = challenge_for(status, why);
            rate_limiter *failures = auth_failure_limiter(a);
            if (!failures) {
                reply_unauthorized(req);
                return GATE_ANSWERED;
            }
            address_key(application, req, key, sizeof key);
            return spend(req, failures, key);
        }
        st->principal = id.principal;
        if (id.sub[0])
            snprintf(key, sizeof key, "sub:%s", id.sub);
    }
    rate_limiter *clients = auth_client_limiter(a);
    if (!clients)
        return GATE_PASS;
    if (!key[0])
        address_key(application, req, key, sizeof key);
    return spend(req, clients, key);
}
