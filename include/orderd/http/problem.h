/*
 * problem.h - errors as RFC 9457 application/problem+json.
 *
 * {"type":"/problems/<slug>","title":"<reason phrase>","status":N,
 *  "detail":"...","request_id":"...","errors":[{"field":..,"message":..}]}
 */
#ifndef ORDERD_PROBLEM_H
#define ORDERD_PROBLEM_H

#include <jansson.h>
#include <stddef.h>

#include "orderd/base/field_errors.h"
#include "orderd/http/request.h"

#define PROBLEM_CONTENT_TYPE "application/problem+json"

/*
 * Renders a problem document; errs and extra may be NULL.  extra is a
 * JSON object whose members are added as extension members (borrowed).
 * Returns a malloc'd string (caller frees) and its length, or NULL on
 * allocation failure.
 */
char *problem_render(int status, const char *detail, const char *request_id,
                     const field_errors *errs, const json_t *extra, size_t *len);

/* Puts a problem in req->reply (status, content type, body). */
void problem_reply(request *req, int status, const char *detail, const field_errors *errs);
/* As problem_reply, with extension members from extra (borrowed). */
void problem_reply_ext(request *req, int status, const char *detail, const json_t *extra);

#endif
