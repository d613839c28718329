/*
 * buf.c - see buf.h.
 */
#include "orderd/base/buf.h"

#include <stdint.h>
#include <stdlib.h>

/* The first heap block: a request body or a list page mostly fits. */
#define BUF_FIRST_SIZE 1024

void buf_init_in(buf *b, char *storage, size_t size)
{
    *b = (buf){.data = storage, .cap = size, .storage = storage};
    storage[0] = '\0';
}

buf buf_adopt(char *data, size_t len, size_t cap)
{
    return (buf){.data = data, .len = len, .cap = cap};
}

bool buf_grow(buf *b, size_t n)
{
    if (b->failed)
        return false;
    if (n > SIZE_MAX - 1 - b->len)
        goto fail;
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : BUF_FIRST_SIZE;
    while (cap < need)
        cap = cap <= SIZE_MAX / 2 ? cap * 2 : need;
    /* out of the caller's storage: copy once, realloc from then on */
    bool in_storage = b->data != NULL && b->data == b->storage;
    char *grown = in_storage ? malloc(cap) : realloc(b->data, cap);
    if (!grown)
        goto fail;
    if (in_storage)
        memcpy(grown, b->data, b->len);
    grown[b->len] = '\0';
    b->data = grown;
    b->cap = cap;
    return true;
fail:
    b->failed = true;
    return false;
}

char *buf_steal(buf *b, size_t *len)
{
    char *out = NULL;
    size_t n = b->len;
    if (b->failed) {
        buf_free(b);
        return NULL;
    }
    if (b->data == NULL || b->data == b->storage) {
        /* nothing on the heap yet: the caller still gets heap bytes */
        out = malloc(n + 1);
        if (!out) {
            buf_free(b);
            return NULL;
        }
        if (n > 0)
            memcpy(out, b->data, n);
        out[n] = '\0';
    } else {
        out = b->data;
    }
    *b = BUF_INIT;
    if (len)
        *len = n;
    return out;
}

void buf_free(buf *b)
{
    if (!b)
        return;
    if (b->data != b->storage)
        free(b->data);
    *b = BUF_INIT;
}
