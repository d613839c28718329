/*
 * lookup_policy.c - ask Redis only while it answers (see lookup_policy.h).
 */
#include "orderd/store/lookup_policy.h"

void lookup_policy_init(lookup_policy *p, int min_hit_pct)
{
    *p = (lookup_policy){.min_hit_pct = min_hit_pct < 0     ? 0
                                        : min_hit_pct > 100 ? 100
                                                            : min_hit_pct};
    atomic_init(&p->skipping, false);
    atomic_init(&p->reads_while_skipping, 0);
}

bool lookup_policy_should_ask(lookup_policy *p)
{
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
    /* 64-bit: a window may end far past LOOKUP_POLICY_WINDOW on one big batch */
    bool poor =
        (uint64_t)p->window_hits * 100 < (uint64_t)p->window_lookups * (uint64_t)p->min_hit_pct;
    atomic_store_explicit(&p->skipping, poor, memory_order_relaxed);
    p->window_lookups = p->window_hits = 0;
}
