/*
 * problem.c - application/problem+json bodies (RFC 9457).
 *
 * Error paths are not hot, so jansson does the escaping; a client-sent
 * field name or a parser message can contain anything.
 */
#include "orderd/http/problem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct status_info {
    int status;
    const char *title;
    const char *slug;
} status_info;

static const status_info statuses[] = {
    {400, "Bad Request", "bad-request"},
    {401, "Unauthorized", "unauthorized"},
    {403, "Forbidden", "forbidden"},
    {404, "Not Found", "not-found"},
    {405, "Method Not Allowed", "method-not-allowed"},
    {406, "Not Acceptable", "not-acceptable"},
    {409, "Conflict", "conflict"},
    {412, "Precondition Failed", "precondition-failed"},
    {413, "Content Too Large", "content-too-large"},
    {415, "Unsupported Media Type", "unsupported-media-type"},
    {422, "Unprocessable Content", "validation-failed"},
    {428, "Precondition Required", "precondition-required"},
    {429, "Too Many Requests", "too-many-requests"},
    {431, "Request Header Fields Too Large", "header-fields-too-large"},
    {500, "Internal Server Error", "internal"},
    {501, "Not Implemented", "not-implemented"},
    {503, "Service Unavailable", "unavailable"},
    {504, "Gateway Timeout", "timeout"},
};

static const status_info *find_status(int status)
{
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        if (statuses[i].status == status)
            return &statuses[i];
    return NULL;
}

/*
 * The request path as a URI reference (RFC 3986 path characters): the
 * path libmicrohttpd hands us is percent-decoded, so any byte that may
 * not stand in a path, "%" included, is encoded again.  NULL when out of
 * memory.
 */
static json_t *instance_from_path(const char *path)
{
    static const char hex[] = "0123456789ABCDEF";
    static const char allowed[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                                  "-._~!$&'()*+,;=:@/";
    size_t n = strlen(path);
    char *text = malloc(3 * n + 1);
    if (!text)
        return NULL;
    char *o = text;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if (strchr(allowed, *p)) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    json_t *value = json_string(text);
    free(text);
    return value;
}

char *problem_render(int status, const char *detail, const char *instance, const char *request_id,
                     const field_errors *errs, const json_t *extra, size_t *len)
{
    const status_info *info = find_status(status);
    char type[64];
    snprintf(type, sizeof type, "/problems/%s", info ? info->slug : "error");

    json_t *doc = json_object();
    json_object_set_new(doc, "type", json_string(type));
    json_object_set_new(doc, "title", json_string(info ? info->title : "Error"));
    json_object_set_new(doc, "status", json_integer(status));
    json_object_set_new(doc, "detail", json_string(detail ? detail : ""));
    if (instance)
        json_object_set_new(doc, "instance", instance_from_path(instance));
    json_object_set_new(doc, "request_id", json_string(request_id ? request_id : ""));
    if (errs && errs->count > 0) {
        json_t *list = json_array();
        for (size_t i = 0; i < errs->count; i++) {
            json_t *e = json_object();
            /* json_string rejects invalid UTF-8; client-sent field names
             * can be anything, so fall back to a lossless-enough marker */
            json_t *field = json_string(errs->list[i].field);
            json_object_set_new(e, "field", field ? field : json_string("(invalid utf-8)"));
            json_object_set_new(e, "message", json_string(errs->list[i].message));
            json_array_append_new(list, e);
        }
        json_object_set_new(doc, "errors", list);
    }
    if (extra) {
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)extra, key, value)
        {
            if (!json_object_get(doc, key)) /* never override the standard members */
                json_object_set(doc, key, value);
        }
    }
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (text && len)
        *len = strlen(text);
    return text;
}

static void reply_with(request *req, int status, const char *detail, const field_errors *errs,
                       const json_t *extra)
{
    size_t len = 0;
    char *body = problem_render(status, detail, req->path, req->request_id, errs, extra, &len);
    free(req->reply.body);
    req->reply.status = status;
    req->reply.content_type = PROBLEM_CONTENT_TYPE;
    req->reply.body = body;
    req->reply.body_len = body ? len : 0;
}

void problem_reply(request *req, int status, const char *detail, const field_errors *errs)
{
    reply_with(req, status, detail, errs, NULL);
}

void problem_reply_ext(request *req, int status, const char *detail, const json_t *extra)
{
    reply_with(req, status, detail, NULL, extra);
}
