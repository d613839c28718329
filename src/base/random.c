/*
 * random.c - per-thread xoshiro256** (see random.h).
 *
 * Request ids and cache jitter need uniqueness and spread, not secrecy;
 * a getrandom() syscall per call would cost more than the rest of the
 * middleware, so each thread seeds once and then only does arithmetic.
 */
#include "orderd/base/random.h"

#include <sys/random.h>
#include <time.h>

static _Thread_local uint64_t state[4];
static _Thread_local int seeded;

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static void seed(void)
{
    if (getrandom(state, sizeof state, 0) != (ssize_t)sizeof state) {
        /* cannot really fail for 32 bytes; fall back to the clock and
         * the stack address so threads still differ */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        state[0] = (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)&ts;
        state[1] = (uint64_t)ts.tv_sec * 0x9e3779b97f4a7c15ull;
        state[2] = state[0] * 0xbf58476d1ce4e5b9ull + 1;
        state[3] = state[1] ^ 0x94d049bb133111ebull;
    }
    seeded = 1;
}

uint64_t random_u64(void)
{
    if (!seeded)
        seed();
    uint64_t *s = state;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double random_unit(void)
{
    return (double)(random_u64() >> 11) * 0x1.0p-53;
}
