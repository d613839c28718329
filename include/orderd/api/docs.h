/*
 * docs.h - GET /docs, a page that renders /openapi.json with Redoc, and
 * GET /docs/redoc.standalone.js, the Redoc bundle it loads.  Both are
 * built into the binary; no I/O, so they are answered on the polling
 * thread.  Rows of the route table (api/routes.c).
 */
#ifndef ORDERD_DOCS_H
#define ORDERD_DOCS_H

#include "orderd/http/request.h"

void docs_api_page(void *ctx, request *req);
void docs_api_script(void *ctx, request *req);

#endif
