/*
 * blob.c - see blob.h.
 */
#include "orderd/base/blob.h"

#include <stdlib.h>
#include <string.h>

blob *blob_create(const char *data, size_t len)
{
    blob *b = malloc(sizeof *b + len + 1);
    if (!b)
        return NULL;
    atomic_init(&b->refs, 1);
    b->len = len;
    memcpy(b->data, data, len);
    b->data[len] = '\0';
    return b;
}

void blob_release(blob *b)
{
    /* acq_rel: every reader's use of the bytes happens before the free */
    if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        free(b);
}
