/*
 * request.c - small accessors on the per-request state.
 */
#include "orderd/http/request.h"

#include <stdlib.h>
#include <string.h>

void request_reply_json(request *req, int status, char *body, size_t len)
{
    free(req->reply.body);
    req->reply.status = status;
    req->reply.content_type = body ? "application/json" : NULL;
    req->reply.body = body;
    req->reply.body_len = body ? len : 0;
}
