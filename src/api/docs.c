/*
 * docs.c - the API reference page.  The page (api/docs.html) names the
 * script and the document by relative URLs, so it also works behind a
 * proxy that serves orderd under a path prefix.
 */
#include "orderd/api/docs.h"

#include "orderd/api/static_file.h"

static static_file page = STATIC_FILE(embedded_docs_html, "text/html; charset=utf-8");
static static_file script = STATIC_FILE(embedded_redoc_js, "text/javascript; charset=utf-8");

void docs_api_page(void *ctx, request *req)
{
    (void)ctx;
    static_file_reply(&page, req);
}

void docs_api_script(void *ctx, request *req)
{
    (void)ctx;
    static_file_reply(&script, req);
}
