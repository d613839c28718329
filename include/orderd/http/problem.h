/*
 * problem.h - errors as RFC 9457 application/problem+json.
 *
 * {"type":"/problems/<slug>","title":"<reason phrase>","status":N,
 *  "detail":"...","instance":"<request path>","request_id":"...",
 *  "errors":[{"field":..,"message":..}]}
 *
 * api/openapi.json describes these documents (schemas Problem and
 * ValidationProblem); a title or member changed here must change there.
 */
#ifndef ORDERD_PROBLEM_H
#define ORDERD_PROBLEM_H

#include <jansson.h>
#include <stddef.h>

#include "orderd/base/field_errors.h"
#include "orderd/http/request.h"

#define PROBLEM_CONTENT_TYPE "application/problem+json"

/*
 * Renders a problem document; instance, errs and extra may be NULL.
 * instance is the request's path (decoded; it is percent-encoded again
 * as needed).  extra is a JSON object whose members are added as
 * extension members (borrowed).
 * Returns a malloc'd string (caller frees) and its length, or NULL on
 * allocation failure.
 */
char *problem_render(int status, const char *detail, const char *instance, const char *request_id,
                     const field_errors *errs, const json_t *extra, size_t *len);

/* Puts a problem in req->reply (status, content type, body); its
 * instance is req->path. */
void problem_reply(request *req, int status, const char *detail, const field_errors *errs);
/* As problem_reply, with extension members from extra (borrowed). */
void problem_reply_ext(request *req, int status, const char *detail, const json_t *extra);

#endif
