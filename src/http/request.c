/*
 * request.c - small accessors on the per-request state.
 */
#include "orderd/http/request.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void request_reply_json(request *req, int status, char *body, size_t len)
{
    free(req->reply.body);
    req->reply.status = status;
    req->reply.content_type = body ? "application/json" : NULL;
    req->reply.body = body;
    req->reply.body_len = body ? len : 0;
}

/* Is [s, s+n) the token tok, ignoring case? */
static bool token_is(const char *s, size_t n, const char *tok)
{
    return strlen(tok) == n && strncasecmp(s, tok, n) == 0;
}

/* max-age's argument: delta-seconds, optionally quoted; is it zero? */
static bool age_is_zero(const char *s, size_t n)
{
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s++;
        n -= 2;
    }
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '0')
            return false;
    return true;
}

bool request_cache_control_wants_fresh(const char *value)
{
    if (!value)
        return false;
    const char *p = value;
    while (*p) {
        /* one directive: token [ "=" ( token / quoted-string ) ], then "," */
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *name = p;
        while (*p && *p != '=' && *p != ',' && *p != ' ' && *p != '\t')
            p++;
        size_t name_len = (size_t)(p - name);
        const char *arg = NULL;
        size_t arg_len = 0;
        if (*p == '=') {
            arg = ++p;
            while (*p && *p != ',' && *p != ' ' && *p != '\t')
                p++;
            arg_len = (size_t)(p - arg);
        }
        while (*p && *p != ',')
            p++;
        if (token_is(name, name_len, "no-cache") && !arg)
            return true;
        if (token_is(name, name_len, "max-age") && arg && age_is_zero(arg, arg_len))
            return true;
    }
    return false;
}
