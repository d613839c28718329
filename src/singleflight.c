/*
 * singleflight.c - the in-flight table (see singleflight.h).
 *
 * A small open hash of flights under one mutex: the table is touched
 * only on a cache miss, and the mutex is never held during I/O.
 */
#include "orderd/singleflight.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BUCKETS 256

struct flight {
    int64_t key;
    flight *next;
    int refs; /* the leader and every waiter */
    bool done;
    orderd_err err;
    char *data;
    size_t len;
    int64_t version;
};

struct singleflight {
    pthread_mutex_t lock;
    pthread_cond_t done; /* broadcast when any flight finishes */
    flight *buckets[BUCKETS];
};

singleflight *singleflight_create(void)
{
    singleflight *sf = calloc(1, sizeof *sf);
    if (!sf)
        return NULL;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&sf->done, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&sf->lock, NULL);
    return sf;
}

void singleflight_destroy(singleflight *sf)
{
    if (!sf)
        return;
    pthread_cond_destroy(&sf->done);
    pthread_mutex_destroy(&sf->lock);
    free(sf);
}

static size_t bucket_of(int64_t key)
{
    uint64_t h = (uint64_t)key * UINT64_C(0x9e3779b97f4a7c15);
    return (size_t)(h >> 56) % BUCKETS;
}

static void unref_locked(flight *f)
{
    if (--f->refs == 0) {
        free(f->data);
        free(f);
    }
}

flight *singleflight_begin(singleflight *sf, int64_t key, bool *leader)
{
    size_t b = bucket_of(key);
    pthread_mutex_lock(&sf->lock);
    for (flight *f = sf->buckets[b]; f; f = f->next) {
        if (f->key == key) {
            f->refs++;
            pthread_mutex_unlock(&sf->lock);
            *leader = false;
            return f;
        }
    }
    flight *f = calloc(1, sizeof *f);
    if (f) {
        f->key = key;
        f->refs = 1;
        f->next = sf->buckets[b];
        sf->buckets[b] = f;
    }
    pthread_mutex_unlock(&sf->lock);
    *leader = true; /* without memory the caller still loads, just alone */
    return f;
}

void singleflight_finish(singleflight *sf, flight *f, orderd_err err, const char *data, size_t len,
                         int64_t version)
{
    if (!f)
        return;
    char *copy = NULL;
    if (err == ORDERD_OK && data) {
        copy = malloc(len + 1);
        if (copy) {
            memcpy(copy, data, len);
            copy[len] = '\0';
        } else {
            err = ORDERD_ERR_INTERNAL;
        }
    }
    size_t b = bucket_of(f->key);
    pthread_mutex_lock(&sf->lock);
    for (flight **p = &sf->buckets[b]; *p; p = &(*p)->next) {
        if (*p == f) {
            *p = f->next; /* later misses start a fresh flight */
            break;
        }
    }
    f->done = true;
    f->err = err;
    f->data = copy;
    f->len = copy ? len : 0;
    f->version = version;
    pthread_cond_broadcast(&sf->done);
    unref_locked(f);
    pthread_mutex_unlock(&sf->lock);
}

orderd_err singleflight_wait(singleflight *sf, flight *f, uint64_t deadline_ns, char **data,
                             size_t *len, int64_t *version)
{
    struct timespec until = {.tv_sec = (time_t)(deadline_ns / 1000000000u),
                             .tv_nsec = (long)(deadline_ns % 1000000000u)};
    orderd_err err = ORDERD_ERR_TIMEOUT;
    *data = NULL;
    pthread_mutex_lock(&sf->lock);
    while (!f->done) {
        if (pthread_cond_timedwait(&sf->done, &sf->lock, &until) != 0 && !f->done)
            break;
    }
    if (f->done) {
        err = f->err;
        if (err == ORDERD_OK && f->data) {
            *data = malloc(f->len + 1);
            if (*data) {
                memcpy(*data, f->data, f->len + 1);
                *len = f->len;
                *version = f->version;
            } else {
                err = ORDERD_ERR_INTERNAL;
            }
        }
    }
    unref_locked(f);
    pthread_mutex_unlock(&sf->lock);
    return err;
}
