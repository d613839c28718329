/*
 * health.c - liveness and readiness.
 *
 * /healthz proves the process answers HTTP and does no I/O, so it stays
 * fast even when PostgreSQL is stuck.  /readyz asks PostgreSQL (one short
 * round trip) and turns 503 while draining, so a load balancer stops
 * sending new work before the process goes away.
 */
#include "orderd/api/health.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/api/app.h"
#include "orderd/base/clock.h"
#include "orderd/http/problem.h"

/* /readyz must answer well inside a load balancer's probe timeout */
#define READY_PING_BUDGET_NS (UINT64_C(1000) * 1000 * 1000)

static void reply_static_json(request *req, int status, const char *text)
{
    size_t len = strlen(text);
    char *body = malloc(len + 1);
    if (!body) {
        problem_reply(req, 500, "out of memory", NULL);
        return;
    }
    memcpy(body, text, len + 1);
    request_reply_json(req, status, body, len);
}

void health_live(void *ctx, request *req)
{
    (void)ctx;
    reply_static_json(req, 200, "{\"status\":\"ok\"}");
}

/* What /readyz and the READY=1 notification decide on. */
typedef struct readiness {
    bool draining;
    orderd_err pg;
    bool settled;
} readiness;

static readiness check_readiness(app *application, uint64_t deadline_ns)
{
    readiness r = {.draining = atomic_load(&application->draining), .pg = ORDERD_OK};
    if (!r.draining)
        r.pg = db_pool_ping(application->db, deadline_ns);
    /* Redis being down never makes us unready: reads fall back to
     * PostgreSQL.  Not knowing yet whether it is up does, and so does a
     * change feed that has not caught up: until both have settled, a
     * write here could skip Redis while other processes trust it, and
     * our caches would serve what they cannot vouch for. */
    r.settled = order_store_caches_settled(application->store);
    return r;
}

static bool is_ready(const readiness *r)
{
    return !r->draining && r->pg == ORDERD_OK && r->settled;
}

bool health_is_ready(app *application, uint64_t deadline_ns)
{
    readiness r = check_readiness(application, deadline_ns);
    return is_ready(&r);
}

void health_ready(void *ctx, request *req)
{
    app *application = ctx;
    uint64_t deadline = clock_now_ns() + READY_PING_BUDGET_NS;
    if (deadline > req->deadline_ns)
        deadline = req->deadline_ns;
    readiness r = check_readiness(application, deadline);
    const char *redis = order_store_cache_state(application->store);
    int feed_state;
    const char *feed = order_store_invalidation_state(application->store, &feed_state);
    /* "off" is worth seeing from outside: every order is open to anyone */
    const char *auth_state = application->auth && auth_enabled(application->auth) ? "on" : "off";
    if (is_ready(&r)) {
        char body[160];
        snprintf(body, sizeof body,
                 "{\"status\":\"ready\",\"postgres\":\"up\",\"redis\":\"%s\","
                 "\"invalidation\":\"%s\",\"auth\":\"%s\"}",
                 redis, feed, auth_state);
        reply_static_json(req, 200, body);
        return;
    }
    json_t *extra = json_object();
    json_object_set_new(extra, "postgres", json_string(r.pg == ORDERD_OK ? "up" : "down"));
    json_object_set_new(extra, "redis", json_string(redis));
    json_object_set_new(extra, "invalidation", json_string(feed));
    json_object_set_new(extra, "auth", json_string(auth_state));
    json_object_set_new(extra, "draining", json_boolean(r.draining));
    const char *why = r.draining          ? "the server is shutting down"
                      : r.pg != ORDERD_OK ? "PostgreSQL is not reachable"
                                          : "the caches are not settled yet (Redis state or the "
                                            "PostgreSQL change feed)";
    problem_reply_ext(req, 503, why, extra);
    json_decref(extra);
}
