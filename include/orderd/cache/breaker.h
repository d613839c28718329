/*
 * breaker.h - a circuit breaker state machine for the Redis cache.
 * Pure: time is passed in, no threads, no I/O; the caller locks.
 *
 * CLOSED: use Redis; `failure_threshold` consecutive failures open it.
 * OPEN: skip Redis at once (no request pays a timeout); a background
 * probe calls breaker_probe_result(); a successful probe closes it.
 */
#ifndef ORDERD_BREAKER_H
#define ORDERD_BREAKER_H

#include <stdbool.h>
#include <stdint.h>

typedef enum breaker_state { BREAKER_CLOSED = 0, BREAKER_OPEN } breaker_state;

typedef struct breaker {
    breaker_state state;
    int failure_threshold;
    int consecutive_failures;
    uint64_t opened_at_ns;
    uint64_t times_opened; /* for metrics and tests */
} breaker;

void breaker_init(breaker *b, int failure_threshold);
/* May a request use Redis now? */
bool breaker_allows(const breaker *b);
/* Record a command's outcome. Returns true when this call opened it. */
bool breaker_record(breaker *b, bool success, uint64_t now_ns);
/* Opens it whatever the count (start-up, a write that could not be made). */
void breaker_trip(breaker *b, uint64_t now_ns);
/* Record a probe's outcome while open. Returns true when it closed. */
bool breaker_probe_result(breaker *b, bool success);
const char *breaker_state_name(breaker_state s);

#endif
