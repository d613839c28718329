/*
 * fuzz_cache_entry.c - the Redis entry decoder.  What comes back from
 * Redis is input too: another writer, a bad restore or an attacker with
 * access to Redis can put anything under order:{id}.
 *
 * The input is the value's bytes, in a buffer of exactly that size and
 * not NUL-terminated (hiredis gives a length), so ASan sees any read past
 * the end.
 *
 * Invariants: an accepted entry has a known kind and non-negative numbers;
 * a present entry's JSON is the non-empty tail of the text; rendering the
 * parsed entry with cache_entry_render_* parses back to the same entry.
 * The XFetch check is run on the parsed numbers (no UB on any of them).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "orderd/cache/cache_entry.h"

static bool same_entry(const cache_entry *a, const cache_entry *b)
{
    if (a->kind != b->kind || a->version != b->version)
        return false;
    if (a->kind != CACHE_ENTRY_PRESENT)
        return true;
    return a->expires_ms == b->expires_ms && a->delta_ms == b->delta_ms &&
           a->json_len == b->json_len && memcmp(a->json, b->json, a->json_len) == 0;
}

static void check_present(const cache_entry *e, const char *text, size_t size)
{
    FUZZ_CHECK(e->expires_ms >= 0 && e->delta_ms >= 0);
    FUZZ_CHECK(e->json > text && e->json_len >= 1 && e->json + e->json_len == text + size);

    size_t len = 0;
    char *again = cache_entry_render_present(e->version, e->expires_ms, e->delta_ms, e->json,
                                             e->json_len, &len);
    FUZZ_CHECK(again && len <= size);
    cache_entry back;
    FUZZ_CHECK(cache_entry_parse(again, len, &back) && same_entry(e, &back));
    free(again);

    /* XFetch over the whole range of what Redis may hold */
    static const double rs[] = {0.0, 1e-300, 0.5, 1.0, 2.0, NAN};
    for (size_t i = 0; i < sizeof rs / sizeof rs[0]; i++)
        (void)cache_should_refresh_early(INT64_MAX, e->expires_ms, e->delta_ms, 1.0, rs[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);
    if (!text)
        abort();
    memcpy(text, data, size);

    cache_entry e;
    if (cache_entry_parse(text, size, &e)) {
        FUZZ_CHECK(e.kind == CACHE_ENTRY_PRESENT || e.kind == CACHE_ENTRY_TOMBSTONE ||
                   e.kind == CACHE_ENTRY_NEGATIVE || e.kind == CACHE_ENTRY_DELETED);
        FUZZ_CHECK(e.version >= 0);
        if (e.kind == CACHE_ENTRY_PRESENT) {
            check_present(&e, text, size);
        } else {
            FUZZ_CHECK(!e.json && e.json_len == 0);
            char marker[32];
            size_t n = cache_entry_render_marker(e.kind, e.version, marker);
            FUZZ_CHECK(n < sizeof marker && n <= size);
            cache_entry back;
            FUZZ_CHECK(cache_entry_parse(marker, n, &back) && same_entry(&e, &back));
        }
    }
    free(text);
    return 0;
}
