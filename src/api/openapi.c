/*
 * openapi.c - GET /openapi.json.  The document is the file in the source
 * tree, byte for byte (tests/integration/test_openapi.py compares them),
 * so what clients read is what CI linted and the tests enforced.
 */
#include "orderd/api/openapi.h"

#include "orderd/api/static_file.h"

static static_file document = STATIC_FILE(embedded_openapi_json, "application/json");

void openapi_api_get(void *ctx, request *req)
{
    (void)ctx;
    static_file_reply(&document, req);
}
