/*
 * blob.h - immutable, reference-counted bytes: one copy of a body shared
 * by everyone who sends or keeps it.
 *
 * The bytes never change after blob_create, so any thread holding a
 * reference may read them without a lock; the last blob_release frees
 * them.  This is how a hot-cache hit hands the cached bytes to
 * libmicrohttpd without copying while an invalidation drops the cache's
 * own reference.
 */
#ifndef ORDERD_BLOB_H
#define ORDERD_BLOB_H

#include <stdatomic.h>
#include <stddef.h>

typedef struct blob {
    atomic_int refs;
    size_t len;
    char data[]; /* len bytes + NUL */
} blob;

/* A copy of data[0, len) holding one reference, the caller's; NULL when
 * out of memory. */
blob *blob_create(const char *data, size_t len);

/*
 * One more reference, for a caller that already holds one (or holds the
 * lock of whoever does).  Inline: a hot-cache hit takes one per request.
 */
static inline blob *blob_retain(blob *b)
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

/* Drops one reference; the last frees the blob. NULL-safe. */
void blob_release(blob *b);

#endif
