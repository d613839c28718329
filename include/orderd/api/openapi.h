/*
 * openapi.h - GET /openapi.json: the OpenAPI 3.1 document of this API
 * (api/openapi.json, built into the binary).  No I/O, so it is answered
 * on the polling thread.  A row of the route table (api/routes.c).
 */
#ifndef ORDERD_OPENAPI_H
#define ORDERD_OPENAPI_H

#include "orderd/http/request.h"

void openapi_api_get(void *ctx, request *req);

#endif
