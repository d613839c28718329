/*
 * test_request_metrics.c - request counts by route pattern, method and
 * status, and latency by route, from the polling threads' own cells.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "orderd/api/routes.h"
#include "orderd/base/buf.h"
#include "orderd/http/request_metrics.h"

static router *rt;

static int setup(void **state)
{
    (void)state;
    const char *why;
    rt = router_create(api_routes, api_route_count, &why);
    assert_non_null(rt);
    return request_metrics_start(rt, &why);
}

static int teardown(void **state)
{
    (void)state;
    router_destroy(rt);
    return 0;
}

/* Records one request as server.c does: routed, then finished. */
static void finish(http_method method, const char *path, int status, uint64_t ns)
{
    request req = {.method = method, .route_pattern = ""};
    route_match m;
    router_match(rt, method, path, &m);
    req.route_pattern = m.pattern;
    request_metrics_record(&req, status, ns);
}

static void *polling_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++)
        finish(HTTP_GET, "/orders/7", 200, 40000);
    return NULL;
}

static char *render(void)
{
    buf out = BUF_INIT;
    request_metrics_render(&out);
    return buf_steal(&out, NULL);
}

static void counts_are_by_pattern_method_and_status(void **state)
{
    (void)state;
    pthread_t threads[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, polling_thread, NULL), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(threads[i], NULL);
    finish(HTTP_GET, "/orders/8", 304, 30000);
    finish(HTTP_POST, "/orders", 201, 2000000);
    finish(HTTP_POST, "/orders", 201, 3000000);
    finish(HTTP_PUT, "/orders/1", 405, 10000);
    finish(HTTP_GET, "/nope", 404, 10000);
    finish(HTTP_OTHER, "/nope", 404, 10000);
    finish(HTTP_GET, "/orders/1", 299, 10000); /* not a registered code */
    finish(HTTP_HEAD, "/healthz", 499, 10000);
    char *text = render();
    static const char *const want[] = {
        "orderd_http_requests_total{route=\"/orders/:id\",method=\"GET\",status=\"200\"} 300\n",
        "orderd_http_requests_total{route=\"/orders/:id\",method=\"GET\",status=\"304\"} 1\n",
        "orderd_http_requests_total{route=\"/orders/:id\",method=\"GET\",status=\"other\"} 1\n",
        "orderd_http_requests_total{route=\"/orders\",method=\"POST\",status=\"201\"} 2\n",
        "orderd_http_requests_total{route=\"/orders/:id\",method=\"PUT\",status=\"405\"} 1\n",
        "orderd_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1\n",
        "orderd_http_requests_total{route=\"unmatched\",method=\"OTHER\",status=\"404\"} 1\n",
        "orderd_http_requests_total{route=\"/healthz\",method=\"HEAD\",status=\"499\"} 1\n",
        /* 300 at 40 us, one at 30 us, two at 10 us (PUT, the 299) */
        "orderd_http_request_duration_seconds_bucket{route=\"/orders/:id\",le=\"2.5e-05\"} 2\n",
        "orderd_http_request_duration_seconds_bucket{route=\"/orders/:id\",le=\"5e-05\"} 303\n",
        "orderd_http_request_duration_seconds_count{route=\"/orders/:id\"} 303\n",
        "orderd_http_request_duration_seconds_bucket{route=\"/orders\",le=\"0.001\"} 0\n",
        "orderd_http_request_duration_seconds_bucket{route=\"/orders\",le=\"0.005\"} 2\n",
        "orderd_http_request_duration_seconds_sum{route=\"/orders\"} 0.005\n",
        "# TYPE orderd_http_requests_total counter\n",
        "# TYPE orderd_http_request_duration_seconds histogram\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(text, want[i]))
            fail_msg("missing: %s\nin:\n%s", want[i], text);
    /* a route nobody asked has no series */
    assert_null(strstr(text, "route=\"/readyz\""));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts_are_by_pattern_method_and_status),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
