/*
 * cache_entry.h - what orderd stores in Redis, and under which keys.
 * Pure code: no I/O.
 *
 * An order key order:{id} holds one string: a header then, for a present
 * order, its JSON exactly as the API serves it:
 *
 *   P<version>:<expires_ms>:<delta_ms>:<json>   the order at <version>
 *   T<version>:                                 tombstone: a write made
 *                                               <version>; older fills lose
 *   N0:                                         negative entry: no such order
 *   D<version>:                                 deleted: 404, nothing may fill
 *
 * The version in the header is what makes fills safe against the classic
 * race (see order_store.c): a reader may only fill over an entry whose
 * version is not newer than the one it read from PostgreSQL.
 * expires_ms (unix ms) and delta_ms (how long the PostgreSQL read took)
 * feed probabilistic early refresh ("XFetch", Vattani et al., VLDB 2015).
 */
#ifndef ORDERD_CACHE_ENTRY_H
#define ORDERD_CACHE_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orderd/domain/order.h"
#include "orderd/domain/order_change.h"

typedef enum cache_entry_kind {
    CACHE_ENTRY_PRESENT = 'P',
    CACHE_ENTRY_TOMBSTONE = 'T',
    CACHE_ENTRY_NEGATIVE = 'N',
    CACHE_ENTRY_DELETED = 'D',
} cache_entry_kind;

typedef struct cache_entry {
    cache_entry_kind kind;
    int64_t version;
    int64_t expires_ms; /* PRESENT only */
    int64_t delta_ms;   /* PRESENT only */
    const char *json;   /* PRESENT only: points into the parsed text */
    size_t json_len;
} cache_entry;

/* "order:42" */
size_t cache_key_order(int64_t id, char out[48]);

/*
 * Generation keys that list keys depend on; every write bumps all that
 * could contain the order: global, the customer's, the old and new status.
 */
size_t cache_key_gen_all(char out[48]);
size_t cache_key_gen_customer(int64_t customer_id, char out[48]);
size_t cache_key_gen_status(order_status status, char out[48]);

/* The most generations one change can bump (cache_change_gen_keys). */
#define CACHE_CHANGE_GENS_MAX 5

/*
 * Every list generation a change can move an order into or out of:
 * gen:all, its customers' (new and old) and its statuses' (old and new),
 * each once.  Returns how many went into out.
 */
int cache_change_gen_keys(const order_change *c, char out[CACHE_CHANGE_GENS_MAX][48]);

/*
 * The generation key a list query depends on (the narrowest one that
 * every write to a matching order bumps), and the list key's suffix that
 * names the query: "c=7;s=paid;l=20;k=<cursor>" style.  The full list key
 * is "list:<gen key>:<generation>:<suffix>", built by the script that
 * reads the generation, so one round trip does both.
 */
size_t cache_list_gen_key(const order_list_query *q, char out[48]);
size_t cache_list_suffix(const order_list_query *q, char out[160]);

/*
 * Renders "P<version>:<expires_ms>:<delta_ms>:" + json into a malloc'd
 * buffer (caller frees); *len gets its length.
 */
char *cache_entry_render_present(int64_t version, int64_t expires_ms, int64_t delta_ms,
                                 const char *json, size_t json_len, size_t *len);
/* "T<version>:", "N0:", "D<version>:" into out (>= 32 bytes). */
size_t cache_entry_render_marker(cache_entry_kind kind, int64_t version, char out[32]);

/* Parses text (len bytes); false when it is no entry of ours. */
bool cache_entry_parse(const char *text, size_t len, cache_entry *out);

/*
 * base_ttl_ms +/- jitter_pct percent, uniformly, from random value r in
 * [0, 1): spreads the expiry of keys filled together.
 */
int64_t cache_ttl_jitter(int64_t base_ttl_ms, int jitter_pct, double r);

/*
 * XFetch: true when a reader should refresh now, before expiry:
 * now - delta * beta * ln(r) >= expires, r uniform in (0, 1].
 */
bool cache_should_refresh_early(int64_t now_ms, int64_t expires_ms, int64_t delta_ms, double beta,
                                double r);

#endif
