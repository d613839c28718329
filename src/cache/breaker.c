/*
 * breaker.c - the Redis circuit breaker's state machine (see breaker.h).
 */
#include "orderd/cache/breaker.h"

void breaker_init(breaker *b, int failure_threshold)
{
    *b = (breaker){.state = BREAKER_CLOSED,
                   .failure_threshold = failure_threshold > 0 ? failure_threshold : 1};
}

bool breaker_allows(const breaker *b)
{
    return b->state == BREAKER_CLOSED;
}

bool breaker_record(breaker *b, bool success, uint64_t now_ns)
{
    if (b->state == BREAKER_OPEN)
        return false; /* late results from before the trip change nothing */
    if (success) {
        b->consecutive_failures = 0;
        return false;
    }
    if (++b->consecutive_failures < b->failure_threshold)
        return false;
    breaker_trip(b, now_ns);
    return true;
}

void breaker_trip(breaker *b, uint64_t now_ns)
{
    if (b->state == BREAKER_OPEN)
        return;
    b->state = BREAKER_OPEN;
    b->opened_at_ns = now_ns;
    b->times_opened++;
}

bool breaker_probe_result(breaker *b, bool success)
{
    if (b->state != BREAKER_OPEN || !success)
        return false;
    b->state = BREAKER_CLOSED;
    b->consecutive_failures = 0;
    return true;
}

const char *breaker_state_name(breaker_state s)
{
    return s == BREAKER_OPEN ? "open" : "closed";
}
