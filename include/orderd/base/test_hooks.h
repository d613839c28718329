/*
 * test_hooks.h - TEST ONLY: the switches that let a test put the daemon
 * into a state a production run never enters.  All of them in one place.
 *
 * They are environment variables, not settings: no config file, flag or
 * --help ever offers them, and each one that is on logs a warning.  main
 * reads them once at start-up (test_hooks_from_env) and hands the struct
 * by value to the order store, which passes it on to the modules that
 * obey it (order_cache.h, order_reader.h, list_reader.h, list_loader.h);
 * nothing else reads them.
 *
 *   ORDERD_TEST_UNSAFE_CLASSIC_CACHE=1
 *       fill with plain SET and invalidate with DEL: the classic racy
 *       cache, so tests/integration/test_cache_race.py can show the race
 *       the default design closes.
 *   ORDERD_TEST_FILL_DELAY_MS=N   (1..999; anything else is off)
 *       sleep N ms after a batch's PostgreSQL read, before its hot-cache
 *       puts, its answers and its Redis fill (which follows the answers),
 *       so the race test hits that window on every write, not by luck.
 *   ORDERD_TEST_LIST_LOOKUP_DELAY_MS=N   (1..999; anything else is off)
 *       sleep N ms after the list reader takes a batch, before it asks
 *       Redis, so the pages of requests that arrive meanwhile go into the
 *       next batch together (tests/integration/test_cache.py ListBatches).
 *   ORDERD_TEST_LIST_LOAD_DELAY_MS=N   (1..999; anything else is off)
 *       sleep N ms after a list loader takes its pages, before it reads
 *       them from PostgreSQL, so the pages that arrive meanwhile share the
 *       next statement (list_loader.h; test_cache.py ListLoads).
 *   ORDERD_TEST_AMEND_UNKNOWN_OUTCOME=1
 *       every PATCH and DELETE commits and then fails as if its connection
 *       broke before the answer (503): the unknown outcome, which
 *       tests/integration/test_unknown_outcome.py shows leaves no stale read.
 *   ORDERD_TEST_CREATE_UNKNOWN_OUTCOME=1
 *       the same for every POST /orders, keyed or not.
 */
#ifndef ORDERD_TEST_HOOKS_H
#define ORDERD_TEST_HOOKS_H

#include <stdbool.h>

typedef struct test_hooks {
    bool unsafe_classic_cache;   /* ORDERD_TEST_UNSAFE_CLASSIC_CACHE */
    long fill_delay_ms;          /* ORDERD_TEST_FILL_DELAY_MS; 0 = off */
    bool amend_unknown_outcome;  /* ORDERD_TEST_AMEND_UNKNOWN_OUTCOME */
    bool create_unknown_outcome; /* ORDERD_TEST_CREATE_UNKNOWN_OUTCOME */
    long list_lookup_delay_ms;   /* ORDERD_TEST_LIST_LOOKUP_DELAY_MS; 0 = off */
    long list_load_delay_ms;     /* ORDERD_TEST_LIST_LOAD_DELAY_MS; 0 = off */
} test_hooks;

/* The hooks the environment asks for (all off when none is set); logs a
 * warning for each one that is on, so call it after log_init. */
test_hooks test_hooks_from_env(void);

#endif
