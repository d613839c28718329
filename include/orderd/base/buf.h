/*
 * buf.h - the one growable byte buffer: append, reserve, hand the bytes on.
 *
 * The bytes are always NUL-terminated (data[len] == '\0' once anything
 * was appended), so a buffer of text is a C string as it grows.  A failed
 * allocation marks the buffer failed: every later append and reserve does
 * nothing and returns false, so a writer can append a whole document and
 * check once at the end (buf_steal returns NULL).
 *
 * Ownership: the buffer owns data until buf_steal hands it to the caller
 * (caller frees) or buf_free releases it.  A buffer may start in storage
 * the caller provides (a stack array, buf_init_in) and moves to the heap
 * only when it outgrows it, so a short line costs no allocation.
 *
 * The fields are readable; write them only through these functions.
 * Appends that fit are inline (the log line builder runs them per field).
 */
#ifndef ORDERD_BUF_H
#define ORDERD_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct buf {
    char *data;    /* len bytes and a NUL; NULL until the first append (or storage) */
    size_t len;    /* bytes, without the NUL */
    size_t cap;    /* bytes data can hold, the NUL included */
    bool failed;   /* an allocation failed: the contents are incomplete */
    char *storage; /* the caller's initial storage (not ours to free), or NULL */
} buf;

/* An empty buffer that allocates on the first append: buf b = BUF_INIT; */
#define BUF_INIT ((buf){.data = NULL})

/* An empty buffer over the caller's storage of size bytes (>= 1), which
 * must outlive it; the bytes move to the heap only if they outgrow it. */
void buf_init_in(buf *b, char *storage, size_t size);

/* Takes over a malloc'd block of cap bytes holding len bytes (data may be
 * NULL when len and cap are 0), e.g. one preallocated for a known size. */
buf buf_adopt(char *data, size_t len, size_t cap);

/* Out of line: grows b so that n more bytes and the NUL fit. */
bool buf_grow(buf *b, size_t n);

/*
 * Room for n more bytes and the NUL at data + len; false when the buffer
 * failed.  Write at most n bytes there, then buf_commit what was written.
 */
static inline bool buf_reserve(buf *b, size_t n)
{
    if (b->failed)
        return false;
    return n < b->cap - b->len || buf_grow(b, n);
}

/* Counts n bytes written into reserved room as appended. */
static inline void buf_commit(buf *b, size_t n)
{
    b->len += n;
    b->data[b->len] = '\0';
}

/* Appends n bytes; false (and nothing appended) when the buffer failed. */
static inline bool buf_append(buf *b, const void *bytes, size_t n)
{
    if (!buf_reserve(b, n))
        return false;
    memcpy(b->data + b->len, bytes, n);
    buf_commit(b, n);
    return true;
}

static inline bool buf_puts(buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

/*
 * Hands the bytes to the caller (who frees them) with their length in
 * *len (may be NULL) and leaves b empty.  Never NULL for a buffer that did
 * not fail (an empty one gives ""); NULL, with b freed, for one that did.
 */
char *buf_steal(buf *b, size_t *len);

/* Frees what b allocated and leaves it empty and usable. NULL does nothing. */
void buf_free(buf *b);

#endif
