/*
 * router.c - route tables.  A handful of patterns does not need a trie:
 * router_create groups the rows by pattern once, and a request costs one
 * walk over the patterns with a character compare each, then an array
 * lookup by method.
 */
#include "orderd/http/router.h"

#include <stdlib.h>
#include <string.h>

#include "orderd/base/parse.h"

#define ID_SEGMENT ":id"
/* digits of INT64_MAX; a longer segment is never an id */
#define ID_DIGITS_MAX 19

static const char *const method_names[HTTP_OTHER] = {
    [HTTP_GET] = "GET", [HTTP_HEAD] = "HEAD",   [HTTP_POST] = "POST",
    [HTTP_PUT] = "PUT", [HTTP_PATCH] = "PATCH", [HTTP_DELETE] = "DELETE",
};

/* One pattern and every row that has it. */
typedef struct route_path {
    const char *pattern;
    const route *by_method[HTTP_OTHER];
    char allow[sizeof "GET, HEAD, POST, PUT, PATCH, DELETE"];
} route_path;

struct router {
    size_t count;
    route_path paths[]; /* in the order of each pattern's first row */
};

/* ---- building ------------------------------------------------------------ */

/* "/" then segments; ":" only as a whole ":id" segment, at most once. */
static bool pattern_is_valid(const char *pattern, bool *has_id)
{
    *has_id = false;
    if (!pattern || pattern[0] != '/')
        return false;
    for (const char *p = pattern; *p; p++) {
        if (*p != ':')
            continue;
        size_t n = sizeof ID_SEGMENT - 1;
        if (*has_id || p[-1] != '/' || strncmp(p, ID_SEGMENT, n) != 0 ||
            (p[n] != '/' && p[n] != '\0'))
            return false;
        *has_id = true;
    }
    return true;
}

static const char *check_row(const route *row)
{
    bool has_id;
    if ((unsigned)row->method >= HTTP_OTHER)
        return "a route has no method";
    if (!pattern_is_valid(row->pattern, &has_id))
        return "a route pattern is not \"/segment/...\" with at most one \":id\" segment";
    if (!row->handler)
        return "a route has no handler";
    if (row->mode != ROUTE_INLINE && row->mode != ROUTE_ON_WORKER &&
        row->mode != ROUTE_SELF_SCHEDULED)
        return "a route has no mode";
    if (has_id && !row->bad_id_detail)
        return "a route with \":id\" has no bad_id_detail";
    return NULL;
}

static route_path *path_for(router *r, const char *pattern)
{
    for (size_t i = 0; i < r->count; i++)
        if (strcmp(r->paths[i].pattern, pattern) == 0)
            return &r->paths[i];
    route_path *p = &r->paths[r->count++];
    p->pattern = pattern;
    return p;
}

/* HEAD where GET is, then "GET, HEAD, ..." in method order. */
static void finish_path(route_path *p)
{
    if (!p->by_method[HTTP_HEAD])
        p->by_method[HTTP_HEAD] = p->by_method[HTTP_GET];
    size_t n = 0;
    for (int m = 0; m < HTTP_OTHER; m++) {
        if (!p->by_method[m])
            continue;
        if (n > 0) {
            memcpy(p->allow + n, ", ", 2);
            n += 2;
        }
        size_t len = strlen(method_names[m]);
        memcpy(p->allow + n, method_names[m], len);
        n += len;
    }
    p->allow[n] = '\0';
}

static const char *add_row(router *r, const route *row)
{
    const char *why = check_row(row);
    if (why)
        return why;
    route_path *p = path_for(r, row->pattern);
    if (p->by_method[row->method])
        return "two routes have the same method and pattern";
    p->by_method[row->method] = row;
    return NULL;
}

router *router_create(const route *routes, size_t count, const char **why)
{
    router *r = calloc(1, sizeof *r + count * sizeof r->paths[0]);
    *why = r ? NULL : "out of memory";
    for (size_t i = 0; r && i < count && !*why; i++)
        *why = add_row(r, &routes[i]);
    if (*why) {
        free(r);
        return NULL;
    }
    for (size_t i = 0; i < r->count; i++)
        finish_path(&r->paths[i]);
    return r;
}

void router_destroy(router *r)
{
    free(r);
}

/* ---- matching ------------------------------------------------------------ */

/* Whether path has pattern's shape; *id is the ":id" segment's text. */
static bool path_matches(const char *pattern, const char *path, const char **id, size_t *id_len)
{
    while (*pattern) {
        if (*pattern == ':') {
            /* "/orders/" has an empty id: a bad id, not another path */
            *id = path;
            *id_len = strcspn(path, "/");
            path += *id_len;
            pattern += sizeof ID_SEGMENT - 1;
        } else if (*pattern++ != *path++) {
            return false;
        }
    }
    return *path == '\0';
}

static bool parse_id(const char *text, size_t len, int64_t *id)
{
    char digits[ID_DIGITS_MAX + 1];
    if (len == 0 || len > ID_DIGITS_MAX)
        return false;
    memcpy(digits, text, len);
    digits[len] = '\0';
    return parse_positive_i64(digits, id);
}

route_status router_match(const router *r, http_method method, const char *path, route_match *out)
{
    *out = (route_match){.route = NULL, .pattern = "", .allow = "", .id = 0};
    for (size_t i = 0; i < r->count; i++) {
        const route_path *p = &r->paths[i];
        const char *id = NULL;
        size_t id_len = 0;
        if (!path_matches(p->pattern, path, &id, &id_len))
            continue;
        out->pattern = p->pattern;
        out->allow = p->allow;
        const route *row = (unsigned)method < HTTP_OTHER ? p->by_method[method] : NULL;
        if (!row)
            return ROUTE_METHOD_NOT_ALLOWED;
        out->route = row;
        if (id && !parse_id(id, id_len, &out->id))
            return ROUTE_BAD_ID;
        return ROUTE_MATCHED;
    }
    return ROUTE_NOT_FOUND;
}

size_t router_pattern_count(const router *r)
{
    return r->count;
}

const char *router_pattern(const router *r, size_t index)
{
    return index < r->count ? r->paths[index].pattern : "";
}

const char *http_method_name(http_method m)
{
    return (unsigned)m < HTTP_OTHER ? method_names[m] : "OTHER";
}

http_method http_method_parse(const char *method)
{
    for (int m = 0; m < HTTP_OTHER; m++)
        if (strcmp(method, method_names[m]) == 0)
            return (http_method)m;
    return HTTP_OTHER;
}
