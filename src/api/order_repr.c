/*
 * order_repr.c - negotiation and entity tags of the order representations
 * (see order_repr.h).
 */
#include "orderd/api/order_repr.h"

#include <string.h>

#include "orderd/base/fmt.h"
#include "orderd/base/parse.h"
#include "orderd/http/accept.h"
#include "orderd/http/problem.h"

/* in order of preference: JSON wins a tie */
static const char *const offered[] = {
    [ORDER_REPR_JSON] = "application/json",
    [ORDER_REPR_MSGPACK] = "application/msgpack",
};

/* What tells a msgpack tag from a JSON one: "\"<version>.m\"". */
#define MSGPACK_TAG_SUFFIX ".m"

const char *order_repr_media_type(order_repr r)
{
    return r == ORDER_REPR_MSGPACK ? offered[ORDER_REPR_MSGPACK] : offered[ORDER_REPR_JSON];
}

order_repr order_repr_choose(const request *req)
{
    if (!req->accept)
        return ORDER_REPR_JSON; /* most clients: no parse at all */
    return (order_repr)accept_choose(req->accept, offered, sizeof offered / sizeof *offered);
}

order_repr order_repr_negotiate(request *req)
{
    order_repr r = order_repr_choose(req);
    if (r != ORDER_REPR_NONE)
        return r;
    req->reply.vary = "Accept";
    problem_reply(req, 406, "Accept allows neither application/json nor application/msgpack", NULL);
    return r;
}

void order_repr_set_etag(request *req, int64_t version, order_repr r)
{
    char *e = req->reply.etag;
    size_t n = 0;
    e[n++] = '"';
    n += fmt_u64((uint64_t)version, e + n);
    if (r == ORDER_REPR_MSGPACK) {
        memcpy(e + n, MSGPACK_TAG_SUFFIX, sizeof MSGPACK_TAG_SUFFIX - 1);
        n += sizeof MSGPACK_TAG_SUFFIX - 1;
    }
    e[n++] = '"';
    e[n] = '\0';
}

bool order_repr_parse_etag(const char *text, int64_t *version, order_repr *r)
{
    while (*text == ' ')
        text++;
    if (strncmp(text, "W/", 2) == 0)
        text += 2;
    size_t n = strlen(text);
    while (n > 0 && text[n - 1] == ' ')
        n--;
    if (n < 3 || text[0] != '"' || text[n - 1] != '"')
        return false;
    const char *opaque = text + 1;
    size_t len = n - 2;
    const size_t suffix = sizeof MSGPACK_TAG_SUFFIX - 1;
    *r = ORDER_REPR_JSON;
    if (len > suffix && memcmp(opaque + len - suffix, MSGPACK_TAG_SUFFIX, suffix) == 0) {
        *r = ORDER_REPR_MSGPACK;
        len -= suffix;
    }
    char digits[24];
    if (len >= sizeof digits)
        return false;
    memcpy(digits, opaque, len);
    digits[len] = '\0';
    return parse_positive_i64(digits, version);
}

bool order_repr_if_none_match_hits(const char *header, int64_t version, order_repr r)
{
    const char *p = header;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char tag[64];
        if (n > 0 && n < sizeof tag) {
            memcpy(tag, p, n);
            tag[n] = '\0';
            int64_t v;
            order_repr tag_repr;
            if (order_repr_parse_etag(tag, &v, &tag_repr) && v == version && tag_repr == r)
                return true;
        }
        p += n;
    }
    return false;
}
