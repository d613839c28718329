/*
 * hot_lists.c - list pages in process memory (see hot_lists.h for why they
 * stay coherent).  16 shards, each a chained hash of pages plus a FIFO for
 * eviction under its own mutex and byte budget; the generation slots are
 * plain atomic counters beside them.
 */
#include "orderd/cache/hot_lists.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orderd/base/metrics.h"
#include "orderd/cache/cache_entry.h"

#define SHARDS            16
#define BUCKETS_PER_SHARD 1024
/* what a page costs beside its body and key: the entry, the blob header,
 * malloc's rounding */
#define PAGE_OVERHEAD 128

typedef struct page {
    char *key; /* "<gen key>|<suffix>", owned */
    uint64_t hash;
    uint32_t slot;
    uint64_t slot_seq, flushes; /* the ticket it was filled under */
    int64_t stored_ms;
    size_t cost;          /* bytes charged to the shard */
    bool refresh_claimed; /* a reader was told to refresh it (hot_lists_get) */
    blob *body;
    struct page *next_in_bucket;
    struct page *older, *newer; /* FIFO for eviction */
} page;

typedef struct shard {
    pthread_mutex_t lock;
    page *buckets[BUCKETS_PER_SHARD];
    page *oldest, *newest;
    size_t count, bytes, max_bytes;
} shard;

struct hot_lists {
    hot_cache *gate;
    atomic_uint_fast64_t flushes; /* hot_lists_flush's own, beside the gate's */
    shard shards[SHARDS];
    atomic_uint_fast64_t slots[HOT_LISTS_SLOTS];
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* FNV-1a: the generation key and the page key are short strings */
static uint64_t hash_text(const char *s)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * UINT64_C(0x100000001b3);
    return h ^ (h >> 31);
}

static uint32_t slot_of(const char *gen_key)
{
    return (uint32_t)(hash_text(gen_key) % HOT_LISTS_SLOTS);
}

/* Both counters only grow, so their sum moves whenever either does. */
static uint64_t flushes_now(hot_lists *hl)
{
    return hot_cache_flushes(hl->gate) + atomic_load(&hl->flushes);
}

/* q's generation key and page key ("<gen key>|<suffix>"). */
static void keys_of(const order_list_query *q, char gen_key[48], char key[48 + 1 + 160])
{
    char suffix[160];
    size_t n = cache_list_gen_key(q, gen_key);
    cache_list_suffix(q, suffix);
    memcpy(key, gen_key, n);
    key[n] = '|';
    strcpy(key + n + 1, suffix);
}

hot_lists *hot_lists_create(hot_cache *gate, size_t max_bytes)
{
    if (!gate || max_bytes == 0)
        return NULL;
    hot_lists *hl = calloc(1, sizeof *hl);
    if (!hl)
        return NULL;
    hl->gate = gate;
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_init(&hl->shards[i].lock, NULL);
        hl->shards[i].max_bytes = max_bytes / SHARDS;
    }
    return hl;
}

/* Unlinks p from its bucket and the FIFO and frees it; the caller holds the lock. */
static void remove_page(shard *s, page *p)
{
    page **at = &s->buckets[(p->hash / SHARDS) % BUCKETS_PER_SHARD];
    while (*at != p)
        at = &(*at)->next_in_bucket;
    *at = p->next_in_bucket;
    if (p->older)
        p->older->newer = p->newer;
    else
        s->oldest = p->newer;
    if (p->newer)
        p->newer->older = p->older;
    else
        s->newest = p->older;
    s->count--;
    s->bytes -= p->cost;
    blob_release(p->body);
    free(p->key);
    free(p);
}

void hot_lists_destroy(hot_lists *hl)
{
    if (!hl)
        return;
    for (int i = 0; i < SHARDS; i++) {
        shard *s = &hl->shards[i];
        while (s->oldest)
            remove_page(s, s->oldest);
        pthread_mutex_destroy(&s->lock);
    }
    free(hl);
}

static page *find(shard *s, const char *key, uint64_t hash)
{
    for (page *p = s->buckets[(hash / SHARDS) % BUCKETS_PER_SHARD]; p; p = p->next_in_bucket)
        if (p->hash == hash && strcmp(p->key, key) == 0)
            return p;
    return NULL;
}

static bool page_valid(hot_lists *hl, const page *p, uint64_t flushes, int64_t age_ms,
                       int64_t max_age_ms)
{
    return p->flushes == flushes && atomic_load(&hl->slots[p->slot]) == p->slot_seq &&
           age_ms <= max_age_ms;
}

/*
 * The first reader of a page past its refresh point, once.  The point is
 * between half and three quarters of the max age, by the page's hash:
 * pages filled in one moment (a cold start, a flush) are then refreshed
 * over a quarter of the max age, not all in one moment.
 */
static bool claim_refresh(page *p, int64_t age_ms, int64_t max_age_ms)
{
    int64_t spread_ms = max_age_ms / 4;
    int64_t point_ms = max_age_ms / 2 + (int64_t)((p->hash >> 32) % (uint64_t)(spread_ms + 1));
    if (p->refresh_claimed || age_ms < point_ms)
        return false;
    p->refresh_claimed = true;
    return true;
}

blob *hot_lists_get(hot_lists *hl, const order_list_query *q, bool *refresh_due)
{
    char gen_key[48], key[48 + 1 + 160];
    keys_of(q, gen_key, key);
    uint64_t hash = hash_text(key);
    shard *s = &hl->shards[hash % SHARDS];
    uint64_t flushes = flushes_now(hl);
    blob *body = NULL;
    bool refresh = false;
    int64_t max_age_ms = hot_cache_max_age_ms(hl->gate);
    pthread_mutex_lock(&s->lock);
    page *p = find(s, key, hash);
    int64_t age_ms = p ? now_ms() - p->stored_ms : 0;
    if (p && page_valid(hl, p, flushes, age_ms, max_age_ms)) {
        body = blob_retain(p->body);
        refresh = refresh_due && claim_refresh(p, age_ms, max_age_ms);
    } else if (p) {
        if (age_ms > max_age_ms)
            metric_inc(METRIC_HOT_LIST_EXPIRED);
        remove_page(s, p); /* invalidated or too old: it can never be served again */
    }
    pthread_mutex_unlock(&s->lock);
    /* after the lookup, as hot_cache's: an invalidation applied while we
     * looked cannot slip past both checks */
    if (body && !hot_cache_gate_open(hl->gate)) {
        blob_release(body);
        metric_inc(METRIC_HOT_LIST_GATE_CLOSED);
        return NULL;
    }
    if (body)
        metric_inc(METRIC_HOT_LIST_HITS);
    /* a claim made while the gate closed is not handed out: that page
     * then expires as it would have without refreshes */
    if (refresh_due)
        *refresh_due = body && refresh;
    return body;
}

hot_lists_ticket hot_lists_ticket_for(hot_lists *hl, const order_list_query *q)
{
    char gen_key[48];
    cache_list_gen_key(q, gen_key);
    /* the flushes first: a flush between the two loads then shows as a
     * changed count at the put */
    uint64_t flushes = flushes_now(hl);
    return (hot_lists_ticket){atomic_load(&hl->slots[slot_of(gen_key)]), flushes};
}

void hot_lists_put(hot_lists *hl, const order_list_query *q, const char *json, size_t len,
                   hot_lists_ticket ticket)
{
    char gen_key[48], key[48 + 1 + 160];
    keys_of(q, gen_key, key);
    uint32_t slot = slot_of(gen_key);
    uint64_t hash = hash_text(key);
    shard *s = &hl->shards[hash % SHARDS];
    size_t cost = len + strlen(key) + PAGE_OVERHEAD;
    if (cost > s->max_bytes)
        return; /* bigger than a shard's whole budget */
    /* Offline needs no check here: going online flushes, which refuses
     * or hides every page filled before. */
    if (atomic_load(&hl->slots[slot]) != ticket.slot_seq || flushes_now(hl) != ticket.flushes)
        return; /* a change came in after the read */
    page *p = calloc(1, sizeof *p);
    char *key_copy = strdup(key);
    blob *body = blob_create(json, len);
    if (!p || !key_copy || !body) {
        free(p);
        free(key_copy);
        blob_release(body);
        return;
    }
    *p = (page){.key = key_copy,
                .hash = hash,
                .slot = slot,
                .slot_seq = ticket.slot_seq,
                .flushes = ticket.flushes,
                .stored_ms = now_ms(),
                .cost = cost,
                .body = body};
    pthread_mutex_lock(&s->lock);
    page *old = find(s, key, hash);
    if (old)
        remove_page(s, old);
    while (s->bytes + cost > s->max_bytes && s->oldest) {
        remove_page(s, s->oldest);
        metric_inc(METRIC_HOT_LIST_EVICTIONS);
    }
    page **bucket = &s->buckets[(hash / SHARDS) % BUCKETS_PER_SHARD];
    p->next_in_bucket = *bucket;
    *bucket = p;
    p->older = s->newest;
    if (s->newest)
        s->newest->newer = p;
    else
        s->oldest = p;
    s->newest = p;
    s->count++;
    s->bytes += cost;
    pthread_mutex_unlock(&s->lock);
}

void hot_lists_invalidate_generation(hot_lists *hl, const char *gen_key)
{
    atomic_fetch_add(&hl->slots[slot_of(gen_key)], 1);
}

void hot_lists_invalidate_change(hot_lists *hl, const order_change *c)
{
    char gens[CACHE_CHANGE_GENS_MAX][48];
    int n = cache_change_gen_keys(c, gens);
    for (int i = 0; i < n; i++)
        hot_lists_invalidate_generation(hl, gens[i]);
}

void hot_lists_flush(hot_lists *hl)
{
    atomic_fetch_add(&hl->flushes, 1);
}

void hot_lists_usage(hot_lists *hl, size_t *pages, size_t *bytes)
{
    *pages = *bytes = 0;
    for (int i = 0; i < SHARDS; i++) {
        shard *s = &hl->shards[i];
        pthread_mutex_lock(&s->lock);
        *pages += s->count;
        *bytes += s->bytes;
        pthread_mutex_unlock(&s->lock);
    }
}
