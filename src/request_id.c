/*
 * request_id.c - X-Request-ID: keep a sane client id, else a UUID v4.
 *
 * UUIDs come from a per-thread xoshiro256** generator seeded once from
 * getrandom(): request ids need uniqueness, not secrecy, and a syscall
 * per request would cost more than the rest of the middleware.
 */
#include "orderd/request_id.h"

#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

bool request_id_is_valid(const char *id)
{
    if (id == NULL)
        return false;
    size_t n = 0;
    for (const char *p = id; *p; p++, n++) {
        char c = *p;
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok || n >= REQUEST_ID_MAX)
            return false;
    }
    return n >= 1;
}

static _Thread_local uint64_t rng_state[4];
static _Thread_local int rng_seeded;

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(void)
{
    if (!rng_seeded) {
        if (getrandom(rng_state, sizeof rng_state, 0) != (ssize_t)sizeof rng_state) {
            /* getrandom cannot really fail for 32 bytes; fall back to the
             * clock and the stack address so ids still differ */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            rng_state[0] = (uint64_t)ts.tv_nsec ^ (uint64_t)(uintptr_t)&ts;
            rng_state[1] = (uint64_t)ts.tv_sec * 0x9e3779b97f4a7c15ull;
            rng_state[2] = rng_state[0] * 0xbf58476d1ce4e5b9ull + 1;
            rng_state[3] = rng_state[1] ^ 0x94d049bb133111ebull;
        }
        rng_seeded = 1;
    }
    uint64_t *s = rng_state;
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

void request_id_generate(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[16];
    uint64_t hi = rng_next(), lo = rng_next();
    memcpy(b, &hi, 8);
    memcpy(b + 8, &lo, 8);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
}

void request_id_assign(const char *client_id, char out[REQUEST_ID_MAX + 1])
{
    if (request_id_is_valid(client_id)) {
        size_t n = strlen(client_id);
        memcpy(out, client_id, n + 1);
        return;
    }
    request_id_generate(out);
}
