/*
 * embedded.h - files built into the binary (cmake/embed.cmake generates
 * their definitions from the source tree and node_modules at build time),
 * so an installed orderd serves them with no file beside it.
 */
#ifndef ORDERD_EMBEDDED_H
#define ORDERD_EMBEDDED_H

#include <stddef.h>

typedef struct embedded_file {
    const char *data; /* len bytes, then a NUL; static */
    size_t len;
    const char *etag; /* "\"<16 hex digits of SHA-256>\"", quotes included */
} embedded_file;

/* api/openapi.json: the OpenAPI document, the contract the tests enforce */
extern const embedded_file embedded_openapi_json;
/* api/docs.html: the page at /docs */
extern const embedded_file embedded_docs_html;
/* Redoc's standalone bundle (npm package redoc), which the page loads */
extern const embedded_file embedded_redoc_js;

#endif
