/*
 * static_file.c - files built into the binary, sent from one shared copy.
 *
 * The bytes already sit in the binary's read-only data, but the reply
 * can only send owned or shared (blob) memory, so each file is copied
 * once into a blob at its first request; every later request takes a
 * reference.  Two first requests may race: the loser drops its copy.
 */
#include "orderd/api/static_file.h"

#include <stdatomic.h>
#include <string.h>

#include "orderd/http/problem.h"

static blob *shared_blob(static_file *f)
{
    blob *b = atomic_load_explicit(&f->shared, memory_order_acquire);
    if (b)
        return b;
    blob *made = blob_create(f->file->data, f->file->len);
    if (!made)
        return NULL;
    if (atomic_compare_exchange_strong_explicit(&f->shared, &b, made, memory_order_acq_rel,
                                                memory_order_acquire))
        return made; /* kept for the life of the process */
    blob_release(made);
    return b; /* another thread's copy, stored first */
}

/* [p, p+n) without the spaces around it and a W/ prefix */
static bool tag_equals(const char *p, size_t n, const char *etag)
{
    while (n > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n >= 2 && strncmp(p, "W/", 2) == 0) {
        p += 2;
        n -= 2;
    }
    return n == strlen(etag) && memcmp(p, etag, n) == 0;
}

bool static_file_etag_listed(const char *if_none_match, const char *etag)
{
    if (!if_none_match)
        return false;
    const char *p = if_none_match;
    for (;;) {
        size_t n = strcspn(p, ",");
        if (tag_equals(p, n, "*") || tag_equals(p, n, etag))
            return true;
        if (p[n] == '\0')
            return false;
        p += n + 1;
    }
}

void static_file_reply(static_file *f, request *req)
{
    size_t n = strlen(f->file->etag);
    if (n >= sizeof req->reply.etag) {
        problem_reply(req, 500, "an embedded file's ETag does not fit", NULL);
        return;
    }
    memcpy(req->reply.etag, f->file->etag, n + 1);
    if (static_file_etag_listed(req->if_none_match, f->file->etag)) {
        req->reply.status = 304;
        return;
    }
    blob *b = shared_blob(f);
    if (!b) {
        req->reply.etag[0] = '\0';
        problem_reply(req, 500, "out of memory", NULL);
        return;
    }
    req->reply.status = 200;
    req->reply.content_type = f->content_type;
    req->reply.blob = blob_retain(b);
    req->reply.body_len = b->len; /* for the access log's byte count */
}
