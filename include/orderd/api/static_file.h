/*
 * static_file.h - answering GET with a file built into the binary
 * (embedded.h): 200 with its bytes and ETag, or 304 when If-None-Match
 * names that ETag.
 */
#ifndef ORDERD_STATIC_FILE_H
#define ORDERD_STATIC_FILE_H

#include "orderd/api/embedded.h"
#include "orderd/base/blob.h"
#include "orderd/http/request.h"

typedef struct static_file {
    const embedded_file *file;
    const char *content_type; /* static */
    /* the bytes as a blob, made at the first request and kept for the
     * life of the process, so a request sends them without a copy */
    _Atomic(blob *) shared;
} static_file;

#define STATIC_FILE(embedded, type)                                                                \
    {                                                                                              \
        .file = &(embedded), .content_type = (type), .shared = NULL                                \
    }

/* Fills req->reply for f; no I/O, so it runs on the polling thread. */
void static_file_reply(static_file *f, request *req);

/*
 * Does an If-None-Match value ("*" or a comma-separated list of entity
 * tags, weak or strong) name etag (quotes included)?  The weak
 * comparison of RFC 9110 13.1.2, as If-None-Match asks.  NULL is no header.
 */
bool static_file_etag_listed(const char *if_none_match, const char *etag);

#endif
