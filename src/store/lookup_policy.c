/*
 * lookup_policy.c - ask Redis only while it answers, or would (see
 * lookup_policy.h).
 */
#include "orderd/store/lookup_policy.h"

#include <stdlib.h>

int lookup_policy_init(lookup_policy *p, int min_hit_pct)
{
    *p = (lookup_policy){.min_hit_pct = min_hit_pct < 0     ? 0
                                        : min_hit_pct > 100 ? 100
                                                            : min_hit_pct};
    atomic_init(&p->skipping, false);
    atomic_init(&p->reads_while_skipping, 0);
    atomic_init(&p->misses, 0);
    atomic_init(&p->rereads, 0);
    atomic_init(&p->reread_pct, 100);
    atomic_init(&p->hit_pct, 100);
    if (p->min_hit_pct == 0)
        return 0; /* never skips: nothing to remember */
    p->recent = calloc((size_t)1 << LOOKUP_POLICY_RECENT_BITS, sizeof *p->recent);
    return p->recent ? 0 : -1;
}

void lookup_policy_destroy(lookup_policy *p)
{
    free((void *)p->recent);
    p->recent = NULL;
}

/* Skip only while neither rate reaches the minimum. */
static void decide(lookup_policy *p)
{
    bool poor = atomic_load_explicit(&p->reread_pct, memory_order_relaxed) < p->min_hit_pct &&
                atomic_load_explicit(&p->hit_pct, memory_order_relaxed) < p->min_hit_pct;
    atomic_store_explicit(&p->skipping, poor, memory_order_relaxed);
}

static int pct(uint32_t part, uint32_t whole)
{
    return whole ? (int)((uint64_t)part * 100 / whole) : 100;
}

/* Notes a miss of id; true when it missed recently too. */
static bool note_miss(lookup_policy *p, int64_t id)
{
    uint64_t h = (uint64_t)id * UINT64_C(0x9e3779b97f4a7c15);
    uint32_t slot = (uint32_t)(h >> (64 - LOOKUP_POLICY_RECENT_BITS));
    uint32_t fingerprint = (uint32_t)h | 1; /* never 0, the empty slot */
    return atomic_exchange_explicit(&p->recent[slot], fingerprint, memory_order_relaxed) ==
           fingerprint;
}

bool lookup_policy_should_ask(lookup_policy *p, int64_t id)
{
    if (p->min_hit_pct == 0)
        return true;
    if (note_miss(p, id))
        atomic_fetch_add_explicit(&p->rereads, 1, memory_order_relaxed);
    if (atomic_fetch_add_explicit(&p->misses, 1, memory_order_relaxed) + 1 ==
        LOOKUP_POLICY_WINDOW) {
        /* this caller closed the window; reads racing with it count in the next */
        atomic_store_explicit(&p->misses, 0, memory_order_relaxed);
        uint32_t rereads = atomic_exchange_explicit(&p->rereads, 0, memory_order_relaxed);
        atomic_store_explicit(&p->reread_pct, pct(rereads, LOOKUP_POLICY_WINDOW),
                              memory_order_relaxed);
        decide(p);
    }
    if (!atomic_load_explicit(&p->skipping, memory_order_relaxed))
        return true;
    /* wraps around harmlessly: 2^32 is a multiple of SAMPLE_EVERY */
    unsigned n = atomic_fetch_add_explicit(&p->reads_while_skipping, 1, memory_order_relaxed);
    return n % LOOKUP_POLICY_SAMPLE_EVERY == LOOKUP_POLICY_SAMPLE_EVERY - 1;
}

void lookup_policy_record(lookup_policy *p, uint32_t asked, uint32_t hits)
{
    if (p->min_hit_pct == 0)
        return;
    p->window_lookups += asked;
    p->window_hits += hits;
    if (p->window_lookups < LOOKUP_POLICY_WINDOW)
        return;
    atomic_store_explicit(&p->hit_pct, pct(p->window_hits, p->window_lookups),
                          memory_order_relaxed);
    p->window_lookups = p->window_hits = 0;
    decide(p);
}
