/*
 * test_hooks.c - reads the test-only switches (see test_hooks.h).
 */
#include "orderd/base/test_hooks.h"

#include <stdlib.h>
#include <string.h>

#include "orderd/base/log.h"

/* Below a second: the reader sleeps with a timespec of nanoseconds only,
 * which must stay under 10^9. */
static long delay_ms_from_env(const char *name, const char *what)
{
    const char *v = getenv(name);
    long ms = v ? strtol(v, NULL, 10) : 0;
    if (ms <= 0 || ms >= 1000)
        return 0;
    LOG(LOG_WARN, NULL, "%s=%ld: %s are delayed; for tests only", name, ms, what);
    return ms;
}

static bool unsafe_classic_cache_from_env(void)
{
    const char *v = getenv("ORDERD_TEST_UNSAFE_CLASSIC_CACHE");
    if (!v || strcmp(v, "1") != 0)
        return false;
    LOG(LOG_WARN, NULL,
        "ORDERD_TEST_UNSAFE_CLASSIC_CACHE=1: cache fills and invalidations are NOT race-safe; "
        "for tests only");
    return true;
}

/* name=1: writes commits and then fails; warns that it is on */
static bool unknown_outcome_from_env(const char *name, const char *writes)
{
    const char *v = getenv(name);
    if (!v || strcmp(v, "1") != 0)
        return false;
    LOG(LOG_WARN, NULL, "%s=1: every %s commits and then fails; for tests only", name, writes);
    return true;
}

test_hooks test_hooks_from_env(void)
{
    test_hooks hooks = {0};
    hooks.unsafe_classic_cache = unsafe_classic_cache_from_env();
    hooks.fill_delay_ms = delay_ms_from_env("ORDERD_TEST_FILL_DELAY_MS", "cache fills");
    hooks.list_lookup_delay_ms =
        delay_ms_from_env("ORDERD_TEST_LIST_LOOKUP_DELAY_MS", "list lookups");
    hooks.list_load_delay_ms =
        delay_ms_from_env("ORDERD_TEST_LIST_LOAD_DELAY_MS", "list reads from PostgreSQL");
    hooks.amend_unknown_outcome =
        unknown_outcome_from_env("ORDERD_TEST_AMEND_UNKNOWN_OUTCOME", "PATCH and DELETE");
    hooks.create_unknown_outcome =
        unknown_outcome_from_env("ORDERD_TEST_CREATE_UNKNOWN_OUTCOME", "POST /orders");
    return hooks;
}
