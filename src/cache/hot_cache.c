/*
 * hot_cache.c - the in-process order cache (see hot_cache.h for why it
 * stays coherent).  64 shards, each a chained hash plus a FIFO list for
 * eviction, under its own mutex; the polling threads mostly touch
 * different shards.
 */
#include "orderd/cache/hot_cache.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "orderd/base/metrics.h"

#define SHARDS 64

typedef struct hot_entry {
    int64_t id;
    int64_t version;
    blob *body;                 /* the JSON */
    blob *alt[HOT_CACHE_REPRS]; /* the same version in other representations, or NULL */
    int64_t stored_ms;
    struct hot_entry *next_in_bucket;
    struct hot_entry *older, *newer; /* FIFO for eviction */
} hot_entry;

typedef struct shard {
    pthread_mutex_t lock;
    hot_entry **buckets;
    size_t bucket_count;
    size_t count, capacity;
    hot_entry *oldest, *newest;
    atomic_uint_fast64_t seq; /* bumped by every invalidation and flush */
    /* the doorkeeper (hot_cache_admit): fingerprints of ids refused while
     * the shard was full, 0 for none; 2 * bucket_count slots */
    uint32_t *refused;
    size_t refused_mask;
} shard;

/* One stream of invalidations the cache depends on (hot_cache.h). */
typedef struct source {
    atomic_bool online;
    atomic_int fd; /* where its invalidations arrive; -1 offline */
    atomic_bool busy;
} source;

struct hot_cache {
    shard shards[SHARDS];
    _Atomic int64_t max_age_ms; /* a reload may change it (hot_cache_set_max_age) */
    int source_count;
    source sources[HOT_CACHE_SOURCES_MAX];
    atomic_int sources_online; /* serve only when it equals source_count */
    atomic_uint_fast64_t flushes;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t mix(int64_t id)
{
    uint64_t h = (uint64_t)id * UINT64_C(0x9e3779b97f4a7c15);
    return h ^ (h >> 29);
}

static shard *shard_of(hot_cache *hc, int64_t id)
{
    return &hc->shards[mix(id) % SHARDS];
}

/* The shard takes the hash's low bits, so the bucket takes the bits above
 * them: every id of a shard has the same low bits, and indexing by them
 * used only one bucket in SHARDS, which made each chain SHARDS times
 * longer (about 50 entries in a full cache of the default size). */
static hot_entry **bucket_of(shard *s, int64_t id)
{
    return &s->buckets[(mix(id) / SHARDS) & (s->bucket_count - 1)];
}

hot_cache *hot_cache_create(size_t max_entries, int64_t max_age_ms, int sources)
{
    if (max_entries == 0 || sources < 1 || sources > HOT_CACHE_SOURCES_MAX)
        return NULL;
    hot_cache *hc = calloc(1, sizeof *hc);
    if (!hc)
        return NULL;
    atomic_init(&hc->max_age_ms, max_age_ms);
    hc->source_count = sources;
    for (int i = 0; i < sources; i++)
        atomic_store(&hc->sources[i].fd, -1);
    size_t per_shard = max_entries / SHARDS + 1;
    for (int i = 0; i < SHARDS; i++) {
        shard *s = &hc->shards[i];
        pthread_mutex_init(&s->lock, NULL);
        s->capacity = per_shard;
        s->bucket_count = 16;
        while (s->bucket_count < per_shard)
            s->bucket_count *= 2;
        s->buckets = calloc(s->bucket_count, sizeof *s->buckets);
        s->refused_mask = 2 * s->bucket_count - 1;
        s->refused = calloc(s->refused_mask + 1, sizeof *s->refused);
        if (!s->buckets || !s->refused) {
            hot_cache_destroy(hc);
            return NULL;
        }
    }
    return hc;
}

/* Unlinks e from its bucket and the FIFO; the caller holds the lock. */
static void remove_entry(shard *s, hot_entry *e)
{
    hot_entry **p = bucket_of(s, e->id);
    while (*p != e)
        p = &(*p)->next_in_bucket;
    *p = e->next_in_bucket;
    if (e->older)
        e->older->newer = e->newer;
    else
        s->oldest = e->newer;
    if (e->newer)
        e->newer->older = e->older;
    else
        s->newest = e->older;
    s->count--;
    blob_release(e->body);
    for (int i = 0; i < HOT_CACHE_REPRS; i++)
        blob_release(e->alt[i]);
    free(e);
}

static hot_entry *find(shard *s, int64_t id)
{
    for (hot_entry *e = *bucket_of(s, id); e; e = e->next_in_bucket)
        if (e->id == id)
            return e;
    return NULL;
}

static void clear_shard(shard *s)
{
    while (s->oldest)
        remove_entry(s, s->oldest);
}

void hot_cache_set_max_age(hot_cache *hc, int64_t max_age_ms)
{
    atomic_store_explicit(&hc->max_age_ms, max_age_ms, memory_order_relaxed);
}

void hot_cache_destroy(hot_cache *hc)
{
    if (!hc)
        return;
    for (int i = 0; i < SHARDS; i++) {
        shard *s = &hc->shards[i];
        if (s->buckets)
            clear_shard(s);
        free(s->buckets);
        free(s->refused);
        pthread_mutex_destroy(&s->lock);
    }
    free(hc);
}

/*
 * Rule 2 of hot_cache.h: is an invalidation possibly on its way in?
 * One poll() over every source's socket: an ioctl(FIONREAD) per source
 * was one syscall each, and each took the socket's lock, on every hit.
 * Readable, hung up, in error or a failed poll all count as pending
 * (readable at EOF too: the safe side).
 */
static bool invalidation_pending(hot_cache *hc)
{
    struct pollfd fds[HOT_CACHE_SOURCES_MAX];
    int n = hc->source_count;
    for (int i = 0; i < n; i++) {
        source *src = &hc->sources[i];
        if (atomic_load(&src->busy))
            return true;
        int fd = atomic_load(&src->fd);
        if (fd < 0)
            return true;
        fds[i] = (struct pollfd){.fd = fd, .events = POLLIN};
    }
    if (poll(fds, (nfds_t)n, 0) != 0)
        return true;
    /* a listener may have taken the bytes between our two looks */
    for (int i = 0; i < n; i++)
        if (atomic_load(&hc->sources[i].busy))
            return true;
    return false;
}

static bool is_online(hot_cache *hc)
{
    return atomic_load_explicit(&hc->sources_online, memory_order_acquire) == hc->source_count;
}

/* repr < 0: the JSON alone. */
static blob *lookup(hot_cache *hc, int64_t id, int repr, int64_t *version, blob **alt)
{
    if (!is_online(hc))
        return NULL;
    shard *s = shard_of(hc, id);
    blob *body = NULL, *other = NULL;
    int64_t body_version = 0;
    pthread_mutex_lock(&s->lock);
    hot_entry *e = find(s, id);
    if (e &&
        now_ms() - e->stored_ms <= atomic_load_explicit(&hc->max_age_ms, memory_order_relaxed)) {
        body = blob_retain(e->body);
        body_version = e->version;
        if (repr >= 0 && e->alt[repr])
            other = blob_retain(e->alt[repr]);
    } else if (e) {
        remove_entry(s, e); /* too old: make room instead of keeping it */
        metric_inc(METRIC_HOT_CACHE_EVICTIONS_AGE);
    }
    pthread_mutex_unlock(&s->lock);
    /* checked after the lookup, so an invalidation applied while we
     * looked cannot slip past both checks */
    if (body && invalidation_pending(hc)) {
        blob_release(body);
        blob_release(other);
        return NULL;
    }
    if (body) {
        metric_inc(METRIC_HOT_CACHE_HITS); /* per-thread: no shared line on the hot path */
        *version = body_version;
        if (alt)
            *alt = other;
    }
    return body;
}

blob *hot_cache_get(hot_cache *hc, int64_t id, int64_t *version)
{
    return lookup(hc, id, -1, version, NULL);
}

blob *hot_cache_get_with(hot_cache *hc, int64_t id, hot_cache_repr repr, int64_t *version,
                         blob **alt)
{
    return lookup(hc, id, (int)repr, version, alt);
}

void hot_cache_attach(hot_cache *hc, int64_t id, int64_t version, hot_cache_repr repr, blob *body)
{
    shard *s = shard_of(hc, id);
    pthread_mutex_lock(&s->lock);
    hot_entry *e = find(s, id);
    /* the same version is the same order, whichever read filled it */
    if (e && e->version == version && !e->alt[repr])
        e->alt[repr] = blob_retain(body);
    pthread_mutex_unlock(&s->lock);
}

bool hot_cache_holds(hot_cache *hc, int64_t id)
{
    shard *s = shard_of(hc, id);
    pthread_mutex_lock(&s->lock);
    bool held = find(s, id) != NULL;
    pthread_mutex_unlock(&s->lock);
    return held;
}

uint64_t hot_cache_ticket(hot_cache *hc, int64_t id)
{
    return atomic_load(&shard_of(hc, id)->seq);
}

bool hot_cache_admit(hot_cache *hc, int64_t id)
{
    shard *s = shard_of(hc, id);
    /* a hash of its own: the shard's and the bucket's bits are alike
     * for every id of a shard */
    uint64_t h = (uint64_t)id * UINT64_C(0xc2b2ae3d27d4eb4f);
    h ^= h >> 31;
    uint32_t fingerprint = (uint32_t)(h >> 40) | 1; /* never 0, the empty slot */
    pthread_mutex_lock(&s->lock);
    uint32_t *slot = &s->refused[(h >> 7) & s->refused_mask];
    bool admit = s->count < s->capacity || *slot == fingerprint || find(s, id);
    if (!admit)
        *slot = fingerprint;
    else if (*slot == fingerprint)
        *slot = 0; /* admitted: a later refusal of it starts over */
    pthread_mutex_unlock(&s->lock);
    if (!admit)
        metric_inc(METRIC_HOT_CACHE_ADMISSIONS_REFUSED);
    return admit;
}

void hot_cache_put(hot_cache *hc, int64_t id, int64_t version, const char *json, size_t len,
                   uint64_t ticket)
{
    if (!is_online(hc))
        return;
    blob *body = blob_create(json, len);
    if (!body)
        return;

    shard *s = shard_of(hc, id);
    pthread_mutex_lock(&s->lock);
    if (atomic_load(&s->seq) != ticket || !is_online(hc)) {
        pthread_mutex_unlock(&s->lock);
        blob_release(body); /* an invalidation came in after our read */
        return;
    }
    hot_entry *e = find(s, id);
    if (e && e->version > version) {
        pthread_mutex_unlock(&s->lock);
        blob_release(body);
        return;
    }
    if (e)
        remove_entry(s, e);
    if (s->count >= s->capacity) {
        remove_entry(s, s->oldest);
        metric_inc(METRIC_HOT_CACHE_EVICTIONS_CAPACITY);
    }
    e = calloc(1, sizeof *e);
    if (!e) {
        pthread_mutex_unlock(&s->lock);
        blob_release(body);
        return;
    }
    e->id = id;
    e->version = version;
    e->body = body;
    e->stored_ms = now_ms();
    hot_entry **bucket = bucket_of(s, id);
    e->next_in_bucket = *bucket;
    *bucket = e;
    e->older = s->newest;
    if (s->newest)
        s->newest->newer = e;
    else
        s->oldest = e;
    s->newest = e;
    s->count++;
    pthread_mutex_unlock(&s->lock);
}

bool hot_cache_invalidate(hot_cache *hc, int64_t id)
{
    shard *s = shard_of(hc, id);
    pthread_mutex_lock(&s->lock);
    atomic_fetch_add(&s->seq, 1);
    hot_entry *e = find(s, id);
    if (e)
        remove_entry(s, e);
    pthread_mutex_unlock(&s->lock);
    return e != NULL;
}

void hot_cache_flush(hot_cache *hc)
{
    atomic_fetch_add(&hc->flushes, 1); /* first: a list page put from now on is refused */
    for (int i = 0; i < SHARDS; i++) {
        shard *s = &hc->shards[i];
        pthread_mutex_lock(&s->lock);
        atomic_fetch_add(&s->seq, 1);
        clear_shard(s);
        pthread_mutex_unlock(&s->lock);
    }
}

void hot_cache_set_online(hot_cache *hc, int source_index, bool online, int fd)
{
    source *src = &hc->sources[source_index];
    if (!online) {
        if (atomic_exchange(&src->online, false))
            atomic_fetch_sub(&hc->sources_online, 1);
        atomic_store(&src->fd, -1);
        hot_cache_flush(hc);
        return;
    }
    hot_cache_flush(hc); /* nothing from before this connection is trusted */
    atomic_store(&src->fd, fd);
    if (!atomic_exchange(&src->online, true))
        atomic_fetch_add_explicit(&hc->sources_online, 1, memory_order_release);
}

void hot_cache_set_busy(hot_cache *hc, int source_index, bool busy)
{
    atomic_store(&hc->sources[source_index].busy, busy);
}

bool hot_cache_gate_open(hot_cache *hc)
{
    return is_online(hc) && !invalidation_pending(hc);
}

uint64_t hot_cache_flushes(hot_cache *hc)
{
    return atomic_load(&hc->flushes);
}

int64_t hot_cache_max_age_ms(hot_cache *hc)
{
    return atomic_load_explicit(&hc->max_age_ms, memory_order_relaxed);
}

size_t hot_cache_size(hot_cache *hc)
{
    size_t n = 0;
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_lock(&hc->shards[i].lock);
        n += hc->shards[i].count;
        pthread_mutex_unlock(&hc->shards[i].lock);
    }
    return n;
}
