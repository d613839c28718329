/*
 * request.c - small accessors on the per-request state.
 */
#include "orderd/request.h"

#include <stdlib.h>
#include <string.h>

const char *request_query(const request *req, const char *name)
{
    for (int i = 0; i < req->query_count; i++)
        if (strcmp(req->query[i].name, name) == 0)
            return req->query[i].value;
    return NULL;
}

void request_reply_json(request *req, int status, char *body, size_t len)
{
    free(req->reply.body);
    req->reply.status = status;
    req->reply.content_type = body ? "application/json" : NULL;
    req->reply.body = body;
    req->reply.body_len = body ? len : 0;
}
