/*
 * fuzz_router.c - router_match over the real route table (api/routes.c).
 *
 * The first byte picks the method (HTTP_OTHER included), the rest is the
 * decoded path as server.c passes it.  The method string is also run
 * through http_method_parse.
 *
 * Invariants, per answer:
 *  - MATCHED: the row's method is the one asked (or GET for HEAD), and the
 *    path is exactly the row's pattern with the id printed into ":id";
 *  - METHOD_NOT_ALLOWED: the path's pattern is known and Allow is set;
 *  - BAD_ID: the row has its 400 detail;
 *  - NOT_FOUND: nothing is filled in.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "orderd/api/routes.h"

static router *table;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *why;
    table = router_create(api_routes, api_route_count, &why);
    FUZZ_CHECK(table);
    return 0;
}

/* pattern with ":id" replaced by id, into out. */
static void expand(const char *pattern, int64_t id, char *out, size_t cap)
{
    const char *colon = strstr(pattern, ":id");
    if (!colon) {
        snprintf(out, cap, "%s", pattern);
        return;
    }
    snprintf(out, cap, "%.*s%" PRId64 "%s", (int)(colon - pattern), pattern, id, colon + 3);
}

static void check_match(http_method method, const char *path, route_status st, const route_match *m)
{
    char expected[256];
    switch (st) {
    case ROUTE_MATCHED:
        FUZZ_CHECK(m->route && strcmp(m->route->pattern, m->pattern) == 0);
        FUZZ_CHECK(m->route->method == method ||
                   (method == HTTP_HEAD && m->route->method == HTTP_GET));
        FUZZ_CHECK(strstr(m->pattern, ":id") ? m->id >= 1 : m->id == 0);
        expand(m->pattern, m->id, expected, sizeof expected);
        FUZZ_CHECK(strcmp(expected, path) == 0);
        return;
    case ROUTE_METHOD_NOT_ALLOWED:
        FUZZ_CHECK(!m->route && m->pattern[0] == '/' && m->allow[0] != '\0');
        return;
    case ROUTE_BAD_ID:
        FUZZ_CHECK(m->route && m->route->bad_id_detail && strstr(m->pattern, ":id"));
        return;
    case ROUTE_NOT_FOUND:
        FUZZ_CHECK(!m->route && m->pattern[0] == '\0' && m->allow[0] == '\0' && m->id == 0);
        return;
    }
    FUZZ_CHECK(!"router_match returned no route_status");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    http_method method = (http_method)(data[0] % (HTTP_OTHER + 1));
    char *path = malloc(size); /* exact size: ASan sees any over-read */
    if (!path)
        return 0;
    memcpy(path, data + 1, size - 1);
    path[size - 1] = '\0';

    route_match m;
    check_match(method, path, router_match(table, method, path, &m), &m);

    http_method parsed = http_method_parse(path);
    FUZZ_CHECK((unsigned)parsed <= HTTP_OTHER);
    free(path);
    return 0;
}
