/*
 * order_cache.c - versioned order entries and list generations in Redis.
 * The protocol and the reasons for it are in order_cache.h.
 */
#include "orderd/cache/order_cache.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/cache/cache_entry.h"
#include "orderd/base/clock.h"
#include "orderd/base/metrics.h"
#include "orderd/base/random.h"

/*
 * KEYS[1] order key, KEYS[2..] generation keys.
 * ARGV: new version, marker entry, marker ttl_ms, generation ttl_ms.
 * Sets the marker unless something at least as new is there (a replayed
 * or late invalidation must not undo a newer one), then bumps every
 * generation.  "D" (deleted) always wins.
 */
static const char invalidate_script[] =
    "local cur = redis.call('GET', KEYS[1])\n"
    "local deleting = string.sub(ARGV[2], 1, 1) == 'D'\n"
    "local set = true\n"
    "if cur then\n"
    "  local kind, v = string.match(cur, '^(%u)(%d+):')\n"
    "  if kind == 'D' then set = false\n"
    "  elseif (not deleting) and v and tonumber(v) >= tonumber(ARGV[1]) then set = false end\n"
    "end\n"
    "if set then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end\n"
    "for i = 2, #KEYS do\n"
    "  redis.call('INCR', KEYS[i])\n"
    "  redis.call('PEXPIRE', KEYS[i], ARGV[4])\n"
    "end\n"
    "return 1\n";

/* KEYS[1] generation key; ARGV[1] list suffix -> {generation, value|nil}.
 * One round trip instead of GET generation + GET list key. */
static const char list_get_script[] =
    "local g = redis.call('GET', KEYS[1]) or '0'\n"
    "return {g, redis.call('GET', 'list:' .. KEYS[1] .. ':' .. g .. ':' .. ARGV[1])}\n";

/* The same for a batch: KEYS[i] generation key, ARGV[i] its list's
 * suffix -> {generation, value} per list, flattened; the value is false
 * (nil) where no page is cached. */
static const char list_get_many_script[] =
    "local out = {}\n"
    "for i = 1, #KEYS do\n"
    "  local g = redis.call('GET', KEYS[i]) or '0'\n"
    "  out[2 * i - 1] = g\n"
    "  out[2 * i] = redis.call('GET', 'list:' .. KEYS[i] .. ':' .. g .. ':' .. ARGV[i])\n"
    "end\n"
    "return out\n";

/* KEYS[i] a list page's key; ARGV[2i-1] the page, ARGV[2i] its TTL in ms.
 * One round trip for every page a batch of misses read. */
static const char list_fill_many_script[] =
    "for i = 1, #KEYS do\n"
    "  redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'PX', ARGV[2 * i])\n"
    "end\n"
    "return #KEYS\n";

/*
 * Fills a loader batch in one round trip.  A present order is set unless
 * a newer version (or a "deleted" marker) is cached, so a reader that
 * loaded an old row can never overwrite a writer's tombstone; a "no such
 * order" entry only where nothing is (a tombstone means it exists now).  ARGV[1] = '1' for the
 * classic (unsafe, test-only) design; then per key: version, entry, ttl_ms, nx ('1' for a "no such
 * order" entry).  Returns 1/0 per key: accepted or refused.
 */
static const char fill_many_script[] =
    "local classic = ARGV[1] == '1'\n"
    "local out = {}\n"
    "for i = 1, #KEYS do\n"
    "  local b = 4 * i - 2\n"
    "  local v, entry, ttl, nx = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]\n"
    "  local allow = true\n"
    "  if not classic then\n"
    "    local cur = redis.call('GET', KEYS[i])\n"
    "    if cur then\n"
    "      local kind, cv = string.match(cur, '^(%u)(%d+):')\n"
    "      if nx == '1' or kind == 'D' or (cv and tonumber(cv) > tonumber(v)) then\n"
    "        allow = false\n"
    "      end\n"
    "    end\n"
    "  end\n"
    "  if allow then redis.call('SET', KEYS[i], entry, 'PX', ttl) end\n"
    "  out[i] = allow and 1 or 0\n"
    "end\n"
    "return out\n";

/*
 * After a batch insert: KEYS are n order keys, then generation keys.
 * ARGV: n, version, marker, marker ttl_ms, generation ttl_ms.  Each new
 * id gets its tombstone (clearing a cached "no such order") unless
 * something at least as new is there, as invalidate_script does.
 */
static const char invalidate_created_script[] =
    "local n = tonumber(ARGV[1])\n"
    "for i = 1, n do\n"
    "  local cur = redis.call('GET', KEYS[i])\n"
    "  local set = true\n"
    "  if cur then\n"
    "    local kind, v = string.match(cur, '^(%u)(%d+):')\n"
    "    if kind == 'D' or (v and tonumber(v) >= tonumber(ARGV[2])) then set = false end\n"
    "  end\n"
    "  if set then redis.call('SET', KEYS[i], ARGV[3], 'PX', ARGV[4]) end\n"
    "end\n"
    "for i = n + 1, #KEYS do\n"
    "  redis.call('INCR', KEYS[i])\n"
    "  redis.call('PEXPIRE', KEYS[i], ARGV[5])\n"
    "end\n"
    "return 1\n";

/*
 * Invalidation from the change feed: KEYS are n order keys, then the
 * generation keys.  ARGV: n, marker ttl_ms, generation ttl_ms, then per
 * order: new version, marker, k, and the k indexes (into KEYS) of the
 * generations it touches.  Each order key is set as invalidate_script
 * sets one.  The same change usually arrives twice (the writer's own
 * invalidation, then the feed): when the tombstone of exactly this
 * change (its version) is there, some invalidation of it has run and
 * bumped a superset of its generations, so they are not bumped again and
 * lists filled since stay cached.  Anything else proves nothing (a newer
 * tombstone belongs to another change, a present entry may be a fill that
 * came first), so it gets the bump.
 */
static const char invalidate_changes_script[] =
    "local n = tonumber(ARGV[1])\n"
    "local bumped = {}\n"
    "local a = 4\n"
    "for i = 1, n do\n"
    "  local v, marker, k = tonumber(ARGV[a]), ARGV[a + 1], tonumber(ARGV[a + 2])\n"
    "  local deleting = string.sub(marker, 1, 1) == 'D'\n"
    "  local cur = redis.call('GET', KEYS[i])\n"
    "  local set, applied = true, false\n"
    "  if cur then\n"
    "    local kind, cv = string.match(cur, '^(%u)(%d+):')\n"
    "    cv = tonumber(cv)\n"
    "    if kind == 'D' then set = false\n"
    "    elseif (not deleting) and cv and cv >= v then set = false end\n"
    "    applied = cv == v and ((kind == 'T' and not deleting) or (kind == 'D' and deleting))\n"
    "  end\n"
    "  if set then redis.call('SET', KEYS[i], marker, 'PX', ARGV[2]) end\n"
    "  for j = 1, k do\n"
    "    local g = tonumber(ARGV[a + 2 + j])\n"
    "    if not applied and not bumped[g] then\n"
    "      bumped[g] = true\n"
    "      redis.call('INCR', KEYS[g])\n"
    "      redis.call('PEXPIRE', KEYS[g], ARGV[3])\n"
    "    end\n"
    "  end\n"
    "  a = a + 3 + k\n"
    "end\n"
    "return 1\n";

/* TEST ONLY, the classic design: KEYS[1] order key, KEYS[2..] generations. */
static const char unsafe_invalidate_script[] = "redis.call('DEL', KEYS[1])\n"
                                               "for i = 2, #KEYS do\n"
                                               "  redis.call('INCR', KEYS[i])\n"
                                               "end\n"
                                               "return 1\n";

/* generations outlive every list entry made under them by far */
#define GENERATION_TTL_MS "86400000"

/*
 * The lifetimes can change while running (order_cache_set_ttls, on a
 * reload): each is its own atomic, read relaxed where it is used.  They
 * are independent numbers, so a fill that reads the old TTL and the new
 * jitter is as good as any; opts keeps the rest, which never changes.
 */
typedef struct ttls {
    _Atomic int64_t ttl_ms, negative_ttl_ms, list_ttl_ms, tombstone_ttl_ms;
    atomic_int jitter_pct;
    _Atomic double xfetch_beta;
} ttls;

struct order_cache {
    order_cache_options opts; /* the redis client and the test hooks */
    ttls live;
    int invalidate_id, list_get_id, list_get_many_id, list_fill_many_id, unsafe_invalidate_id,
        fill_many_id, invalidate_created_id, invalidate_changes_id;
    /* entries may be read and filled only while every change that could
     * have made them stale is known to have been applied (set_trusted) */
    atomic_bool trusted;
};

order_cache *order_cache_create(const order_cache_options *opts)
{
    order_cache *oc = calloc(1, sizeof *oc);
    if (!oc)
        return NULL;
    oc->opts = *opts;
    atomic_init(&oc->live.tombstone_ttl_ms, 0);
    order_cache_set_ttls(oc, opts);
    oc->invalidate_id = redis_client_script_add(opts->redis, invalidate_script);
    oc->list_get_id = redis_client_script_add(opts->redis, list_get_script);
    oc->list_get_many_id = redis_client_script_add(opts->redis, list_get_many_script);
    oc->list_fill_many_id = redis_client_script_add(opts->redis, list_fill_many_script);
    oc->unsafe_invalidate_id = redis_client_script_add(opts->redis, unsafe_invalidate_script);
    oc->fill_many_id = redis_client_script_add(opts->redis, fill_many_script);
    oc->invalidate_created_id = redis_client_script_add(opts->redis, invalidate_created_script);
    oc->invalidate_changes_id = redis_client_script_add(opts->redis, invalidate_changes_script);
    if (oc->invalidate_id < 0 || oc->list_get_id < 0 || oc->list_get_many_id < 0 ||
        oc->list_fill_many_id < 0 || oc->unsafe_invalidate_id < 0 || oc->fill_many_id < 0 ||
        oc->invalidate_created_id < 0 || oc->invalidate_changes_id < 0) {
        free(oc);
        return NULL;
    }
    return oc;
}

#define LIVE(oc, field) atomic_load_explicit(&(oc)->live.field, memory_order_relaxed)

void order_cache_set_ttls(order_cache *oc, const order_cache_options *opts)
{
    atomic_store_explicit(&oc->live.ttl_ms, opts->ttl_ms, memory_order_relaxed);
    atomic_store_explicit(&oc->live.negative_ttl_ms, opts->negative_ttl_ms, memory_order_relaxed);
    atomic_store_explicit(&oc->live.list_ttl_ms, opts->list_ttl_ms, memory_order_relaxed);
    atomic_store_explicit(&oc->live.jitter_pct, opts->jitter_pct, memory_order_relaxed);
    atomic_store_explicit(&oc->live.xfetch_beta, opts->xfetch_beta, memory_order_relaxed);
    /* a read that started under the longer request deadline may still be
     * in flight, so its tombstones must keep the longer life: only raise.
     * Only the reload thread writes it, so load-then-store is no race. */
    if (opts->tombstone_ttl_ms > LIVE(oc, tombstone_ttl_ms))
        atomic_store_explicit(&oc->live.tombstone_ttl_ms, opts->tombstone_ttl_ms,
                              memory_order_relaxed);
}

void order_cache_destroy(order_cache *oc)
{
    free(oc);
}

bool order_cache_is_up(order_cache *oc)
{
    return atomic_load(&oc->trusted) && redis_client_is_up(oc->opts.redis);
}

bool order_cache_redis_is_up(order_cache *oc)
{
    return redis_client_is_up(oc->opts.redis);
}

void order_cache_set_trusted(order_cache *oc, bool trusted)
{
    atomic_store(&oc->trusted, trusted);
}

/* Interprets one cached value (owned text, or NULL for none). */
static order_cache_result classify(order_cache *oc, char *text, size_t text_len, char **json,
                                   size_t *len, int64_t *version)
{
    *version = 0;
    if (!text)
        return ORDER_CACHE_MISS;

    cache_entry entry;
    order_cache_result result = ORDER_CACHE_MISS;
    if (!cache_entry_parse(text, text_len, &entry)) {
        result = ORDER_CACHE_MISS; /* not ours or damaged: reload and overwrite */
    } else if (entry.kind == CACHE_ENTRY_TOMBSTONE) {
        *version = entry.version;
    } else if (entry.kind == CACHE_ENTRY_NEGATIVE || entry.kind == CACHE_ENTRY_DELETED) {
        result = ORDER_CACHE_ABSENT;
    } else if (entry.kind == CACHE_ENTRY_PRESENT) {
        /* hand out the cached bytes as they are: move the JSON to the
         * front of the buffer we already own instead of copying it */
        memmove(text, entry.json, entry.json_len);
        text[entry.json_len] = '\0';
        *json = text;
        *len = entry.json_len;
        *version = entry.version;
        text = NULL;
        result = ORDER_CACHE_HIT;
        double beta = LIVE(oc, xfetch_beta);
        if (beta > 0 && cache_should_refresh_early(clock_wall_us() / 1000, entry.expires_ms,
                                                   entry.delta_ms, beta, 1.0 - random_unit()))
            result = ORDER_CACHE_REFRESH;
    }
    free(text);
    return result;
}

void order_cache_lookup_many(order_cache *oc, const int64_t *ids, int n, order_cache_read *out)
{
    const char **argv = malloc(((size_t)n + 1) * sizeof *argv);
    char(*keys)[48] = malloc((size_t)n * sizeof *keys);
    redisReply *reply = NULL;
    bool ok = argv && keys && atomic_load(&oc->trusted);
    if (ok) {
        argv[0] = "MGET";
        for (int i = 0; i < n; i++) {
            cache_key_order(ids[i], keys[i]);
            argv[i + 1] = keys[i];
        }
        ok = redis_client_command(oc->opts.redis, n + 1, argv, NULL, &reply) == REDIS_RC_OK &&
             reply->type == REDIS_REPLY_ARRAY && reply->elements == (size_t)n;
    }
    for (int i = 0; i < n; i++) {
        order_cache_read *r = &out[i];
        memset(r, 0, sizeof *r);
        r->result = ORDER_CACHE_DOWN;
        if (!ok)
            continue;
        redisReply *v = reply->element[i];
        char *text = NULL;
        if (v->type == REDIS_REPLY_STRING && (text = malloc(v->len + 1)) != NULL) {
            memcpy(text, v->str, v->len);
            text[v->len] = '\0';
        }
        r->result = classify(oc, text, text ? v->len : 0, &r->json, &r->len, &r->version);
    }
    if (reply)
        freeReplyObject(reply);
    free(argv);
    free(keys);
}

void order_cache_fill_many(order_cache *oc, order_cache_fill_item *items, int n, int64_t read_ms)
{
    /* KEYS, then the classic flag, then four values per key */
    int argc = n + 1 + 4 * n;
    const char **argv = calloc((size_t)argc, sizeof *argv);
    size_t *argvlen = calloc((size_t)argc, sizeof *argvlen);
    char(*keys)[48] = malloc((size_t)n * sizeof *keys);
    char(*nums)[2][24] = malloc((size_t)n * sizeof *nums);
    char **entries = calloc((size_t)n, sizeof *entries);
    char marker[32];
    size_t marker_len = cache_entry_render_marker(CACHE_ENTRY_NEGATIVE, 0, marker);
    redisReply *reply = NULL;
    for (int i = 0; i < n; i++)
        items[i].accepted = false;
    if (!atomic_load(&oc->trusted))
        goto out;
    if (!argv || !argvlen || !keys || !nums || !entries)
        goto out;
    int64_t now_ms = clock_wall_us() / 1000;
    int a = n;
    argv[a] = oc->opts.test_hooks.unsafe_classic_cache ? "1" : "0";
    argvlen[a++] = 1;
    for (int i = 0; i < n; i++) {
        order_cache_fill_item *it = &items[i];
        cache_key_order(it->id, keys[i]);
        argv[i] = keys[i];
        argvlen[i] = strlen(keys[i]);
        int64_t ttl = it->absent
                          ? LIVE(oc, negative_ttl_ms)
                          : cache_ttl_jitter(LIVE(oc, ttl_ms), LIVE(oc, jitter_pct), random_unit());
        snprintf(nums[i][0], sizeof nums[i][0], "%" PRId64, it->absent ? 0 : it->version);
        snprintf(nums[i][1], sizeof nums[i][1], "%" PRId64, ttl);
        size_t entry_len = marker_len;
        const char *entry = marker;
        if (!it->absent) {
            entries[i] = cache_entry_render_present(it->version, now_ms + ttl, read_ms, it->json,
                                                    it->len, &entry_len);
            if (!entries[i])
                goto out;
            entry = entries[i];
        }
        argv[a] = nums[i][0];
        argvlen[a++] = strlen(nums[i][0]);
        argv[a] = entry;
        argvlen[a++] = entry_len;
        argv[a] = nums[i][1];
        argvlen[a++] = strlen(nums[i][1]);
        argv[a] = it->absent && !oc->opts.test_hooks.unsafe_classic_cache ? "1" : "0";
        argvlen[a++] = 1;
    }
    if (redis_client_eval(oc->opts.redis, oc->fill_many_id, n, argc, argv, argvlen, &reply) ==
            REDIS_RC_OK &&
        reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == (size_t)n) {
        for (int i = 0; i < n; i++) {
            items[i].accepted =
                reply->element[i]->type == REDIS_REPLY_INTEGER && reply->element[i]->integer == 1;
            if (!items[i].absent)
                metric_inc(items[i].accepted ? METRIC_CACHE_FILLS : METRIC_CACHE_FILLS_REFUSED);
        }
    }
out:
    if (reply)
        freeReplyObject(reply);
    for (int i = 0; entries && i < n; i++)
        free(entries[i]);
    free(entries);
    free(nums);
    free(keys);
    free(argvlen);
    free(argv);
}

bool order_cache_invalidate(order_cache *oc, int64_t id, int64_t new_version, bool deleted,
                            int64_t customer_id, const order_status *statuses, int nstatuses)
{
    enum { MAX_STATUSES = ORDER_STATUS_COUNT };
    char key[48], gen_all[48], gen_customer[48], gen_status[MAX_STATUSES][48];
    char marker[32], version_text[24], ttl_text[24];
    const char *argv[3 + MAX_STATUSES + 4];
    int nkeys = 0;

    cache_key_order(id, key);
    cache_key_gen_all(gen_all);
    cache_key_gen_customer(customer_id, gen_customer);
    argv[nkeys++] = key;
    argv[nkeys++] = gen_all;
    argv[nkeys++] = gen_customer;
    for (int i = 0; i < nstatuses && i < MAX_STATUSES; i++) {
        cache_key_gen_status(statuses[i], gen_status[i]);
        argv[nkeys++] = gen_status[i];
    }
    if (oc->opts.test_hooks.unsafe_classic_cache) {
        return redis_client_eval_durable(oc->opts.redis, oc->unsafe_invalidate_id, nkeys, nkeys,
                                         argv, NULL);
    }
    cache_entry_render_marker(deleted ? CACHE_ENTRY_DELETED : CACHE_ENTRY_TOMBSTONE, new_version,
                              marker);
    snprintf(version_text, sizeof version_text, "%" PRId64, new_version);
    snprintf(ttl_text, sizeof ttl_text, "%" PRId64, LIVE(oc, tombstone_ttl_ms));
    int argc = nkeys;
    argv[argc++] = version_text;
    argv[argc++] = marker;
    argv[argc++] = ttl_text;
    argv[argc++] = GENERATION_TTL_MS;
    return redis_client_eval_durable(oc->opts.redis, oc->invalidate_id, nkeys, argc, argv, NULL);
}

/*
 * What order_cache_invalidate_created and _maybe_created share: n new
 * orders (pending), either created (ids and customers known) or, when
 * that is NULL, of customer_ids with ids not known: then only their lists
 * move.
 */
static bool invalidate_new_orders(order_cache *oc, const order *created,
                                  const int64_t *customer_ids, int n)
{
#define CUSTOMER_OF(i) (created ? created[i].customer_id : customer_ids[i])
    int id_count = created ? n : 0;
    /* the order keys, then gen:all, gen:status:pending and each customer's */
    int cap = id_count + n + 2;
    char(*keys)[48] = malloc((size_t)cap * sizeof *keys);
    const char **argv = malloc(((size_t)cap + 5) * sizeof *argv);
    if (!keys || !argv) {
        free(keys);
        free(argv);
        return false;
    }
    int nkeys = 0;
    for (int i = 0; i < id_count; i++)
        cache_key_order(created[i].id, keys[nkeys++]);
    cache_key_gen_all(keys[nkeys++]);
    cache_key_gen_status(ORDER_PENDING, keys[nkeys++]);
    for (int i = 0; i < n; i++) {
        bool seen = false;
        for (int k = 0; k < i && !seen; k++)
            seen = CUSTOMER_OF(k) == CUSTOMER_OF(i);
        if (!seen)
            cache_key_gen_customer(CUSTOMER_OF(i), keys[nkeys++]);
    }
#undef CUSTOMER_OF
    for (int k = 0; k < nkeys; k++)
        argv[k] = keys[k];
    char count[16], marker[32], ttl[24];
    snprintf(count, sizeof count, "%d", id_count);
    cache_entry_render_marker(CACHE_ENTRY_TOMBSTONE, 1, marker);
    snprintf(ttl, sizeof ttl, "%" PRId64, LIVE(oc, tombstone_ttl_ms));
    int argc = nkeys;
    argv[argc++] = count;
    argv[argc++] = "1"; /* a new order's version */
    argv[argc++] = marker;
    argv[argc++] = ttl;
    argv[argc++] = GENERATION_TTL_MS;
    bool ran = redis_client_eval_durable(oc->opts.redis, oc->invalidate_created_id, nkeys, argc,
                                         argv, NULL);
    free(argv);
    free(keys);
    return ran;
}

bool order_cache_invalidate_created(order_cache *oc, const order *created, int n)
{
    if (oc->opts.test_hooks.unsafe_classic_cache) { /* the test-only design has no batch form */
        order_status pending = ORDER_PENDING;
        for (int i = 0; i < n; i++)
            order_cache_invalidate(oc, created[i].id, created[i].version, false,
                                   created[i].customer_id, &pending, 1);
        return false; /* as if journaled: the change feed applies it too */
    }
    return n < 1 || invalidate_new_orders(oc, created, NULL, n);
}

bool order_cache_invalidate_maybe_created(order_cache *oc, const int64_t *customer_ids, int n)
{
    return n < 1 || invalidate_new_orders(oc, NULL, customer_ids, n);
}

/* The index of key in keys[0..*n), added at the end when absent. */
static int key_index(char (*keys)[48], int *n, const char *key)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(keys[i], key) == 0)
            return i;
    strcpy(keys[*n], key);
    return (*n)++;
}

/* The generations of c (cache_change_gen_keys) as indexes into keys,
 * added there once.  Returns how many went into idx. */
static int change_generations(const order_change *c, char (*keys)[48], int *n,
                              int idx[CACHE_CHANGE_GENS_MAX])
{
    char gens[CACHE_CHANGE_GENS_MAX][48];
    int k = cache_change_gen_keys(c, gens);
    for (int i = 0; i < k; i++)
        idx[i] = key_index(keys, n, gens[i]);
    return k;
}

void order_cache_invalidate_changes(order_cache *oc, const order_change *changes, int n)
{
    if (n <= 0)
        return;
    /* n order keys, then at most five generations each */
    int cap = 6 * n;
    char(*keys)[48] = malloc((size_t)cap * sizeof *keys);
    char(*nums)[8][24] = malloc((size_t)n * sizeof *nums);
    char(*markers)[32] = malloc((size_t)n * sizeof *markers);
    const char **argv = malloc(((size_t)cap + 3 + 8 * (size_t)n) * sizeof *argv);
    int(*gens)[CACHE_CHANGE_GENS_MAX] = malloc((size_t)n * sizeof *gens);
    int *gen_count = malloc((size_t)n * sizeof *gen_count);
    if (!keys || !nums || !markers || !argv || !gens || !gen_count)
        goto out;
    int nkeys = 0;
    for (int i = 0; i < n; i++)
        cache_key_order(changes[i].id, keys[nkeys++]);
    for (int i = 0; i < n; i++)
        gen_count[i] = change_generations(&changes[i], keys, &nkeys, gens[i]);
    char count[16], ttl[24];
    snprintf(count, sizeof count, "%d", n);
    snprintf(ttl, sizeof ttl, "%" PRId64, LIVE(oc, tombstone_ttl_ms));
    int argc = 0;
    for (int k = 0; k < nkeys; k++)
        argv[argc++] = keys[k];
    argv[argc++] = count;
    argv[argc++] = ttl;
    argv[argc++] = GENERATION_TTL_MS;
    for (int i = 0; i < n; i++) {
        bool deleted = changes[i].op == ORDER_CHANGE_DELETE;
        /* as order_store.c does: nothing read before the delete may fill */
        int64_t version = deleted ? changes[i].version + 1 : changes[i].version;
        snprintf(nums[i][0], sizeof nums[i][0], "%" PRId64, version);
        cache_entry_render_marker(deleted ? CACHE_ENTRY_DELETED : CACHE_ENTRY_TOMBSTONE, version,
                                  markers[i]);
        snprintf(nums[i][1], sizeof nums[i][1], "%d", gen_count[i]);
        argv[argc++] = nums[i][0];
        argv[argc++] = markers[i];
        argv[argc++] = nums[i][1];
        for (int j = 0; j < gen_count[i]; j++) {
            /* Lua indexes KEYS from 1 */
            snprintf(nums[i][2 + j], sizeof nums[i][2 + j], "%d", gens[i][j] + 1);
            argv[argc++] = nums[i][2 + j];
        }
    }
    redis_client_eval_durable(oc->opts.redis, oc->invalidate_changes_id, nkeys, argc, argv, NULL);
out:
    free(gen_count);
    free(gens);
    free(argv);
    free(markers);
    free(nums);
    free(keys);
}

order_cache_result order_cache_list_lookup(order_cache *oc, const order_list_query *q, char **json,
                                           size_t *len, char generation[24])
{
    char gen_key[48], suffix[160];
    cache_list_gen_key(q, gen_key);
    cache_list_suffix(q, suffix);
    const char *argv[] = {gen_key, suffix};
    redisReply *reply = NULL;
    if (!atomic_load(&oc->trusted) ||
        redis_client_eval(oc->opts.redis, oc->list_get_id, 1, 2, argv, NULL, &reply) != REDIS_RC_OK)
        return ORDER_CACHE_DOWN;
    order_cache_result result = ORDER_CACHE_DOWN;
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[0]->type == REDIS_REPLY_STRING && reply->element[0]->len < 24) {
        memcpy(generation, reply->element[0]->str, reply->element[0]->len);
        generation[reply->element[0]->len] = '\0';
        redisReply *value = reply->element[1];
        result = ORDER_CACHE_MISS;
        if (value->type == REDIS_REPLY_STRING) {
            *json = malloc(value->len + 1);
            if (*json) {
                memcpy(*json, value->str, value->len);
                (*json)[value->len] = '\0';
                *len = value->len;
                result = ORDER_CACHE_HIT;
            }
        }
    }
    if (reply)
        freeReplyObject(reply);
    metric_inc(result == ORDER_CACHE_HIT ? METRIC_LIST_CACHE_HITS : METRIC_LIST_CACHE_MISSES);
    return result;
}

bool order_cache_list_lookup_many(order_cache *oc, const order_list_query *const *queries, int n,
                                  char **json, size_t *len, char (*generation)[24])
{
    for (int i = 0; i < n; i++) {
        json[i] = NULL;
        len[i] = 0;
        generation[i][0] = '\0';
    }
    if (n < 1 || n > ORDER_CACHE_LIST_BATCH_MAX || !atomic_load(&oc->trusted))
        return false;
    char gen_keys[ORDER_CACHE_LIST_BATCH_MAX][48], suffixes[ORDER_CACHE_LIST_BATCH_MAX][160];
    const char *argv[2 * ORDER_CACHE_LIST_BATCH_MAX];
    for (int i = 0; i < n; i++) {
        cache_list_gen_key(queries[i], gen_keys[i]);
        cache_list_suffix(queries[i], suffixes[i]);
        argv[i] = gen_keys[i];
        argv[n + i] = suffixes[i];
    }
    redisReply *reply = NULL;
    if (redis_client_eval(oc->opts.redis, oc->list_get_many_id, n, 2 * n, argv, NULL, &reply) !=
        REDIS_RC_OK)
        return false;
    bool ok = reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 * (size_t)n;
    for (int i = 0; ok && i < n; i++) {
        redisReply *gen = reply->element[2 * i], *value = reply->element[2 * i + 1];
        if (gen->type != REDIS_REPLY_STRING || gen->len >= 24)
            continue; /* no generation: the worker asks again */
        if (value->type == REDIS_REPLY_STRING) {
            json[i] = malloc(value->len + 1);
            if (!json[i])
                continue; /* read from PostgreSQL instead (asking again) */
            memcpy(json[i], value->str, value->len);
            json[i][value->len] = '\0';
            len[i] = value->len;
            metric_inc(METRIC_LIST_CACHE_HITS);
        } else {
            metric_inc(METRIC_LIST_CACHE_MISSES);
        }
        memcpy(generation[i], gen->str, gen->len);
        generation[i][gen->len] = '\0';
    }
    if (reply)
        freeReplyObject(reply);
    return ok;
}

/* "list:<generation key>:<generation>:<suffix>", and a TTL for it. */
static size_t list_page_key(const order_list_query *q, const char *generation, char key[256])
{
    char gen_key[48], suffix[160];
    cache_list_gen_key(q, gen_key);
    cache_list_suffix(q, suffix);
    snprintf(key, 256, "list:%s:%s:%s", gen_key, generation, suffix);
    return strlen(key);
}

static int64_t list_page_ttl_ms(order_cache *oc)
{
    return cache_ttl_jitter(LIVE(oc, list_ttl_ms), LIVE(oc, jitter_pct), random_unit());
}

void order_cache_list_fill(order_cache *oc, const order_list_query *q, const char *generation,
                           const char *json, size_t len)
{
    char key[256];
    list_page_key(q, generation, key);
    redis_client_set(oc->opts.redis, key, json, len, list_page_ttl_ms(oc), false);
}

void order_cache_list_fill_many(order_cache *oc, const order_cache_list_fill_item *items, int n)
{
    if (n < 1 || n > ORDER_CACHE_LIST_BATCH_MAX || !atomic_load(&oc->trusted))
        return;
    char keys[ORDER_CACHE_LIST_BATCH_MAX][256], page_ttls[ORDER_CACHE_LIST_BATCH_MAX][24];
    const char *argv[3 * ORDER_CACHE_LIST_BATCH_MAX];
    size_t argvlen[3 * ORDER_CACHE_LIST_BATCH_MAX];
    for (int i = 0; i < n; i++) {
        argv[i] = keys[i];
        argvlen[i] = list_page_key(items[i].query, items[i].generation, keys[i]);
        snprintf(page_ttls[i], sizeof page_ttls[i], "%" PRId64, list_page_ttl_ms(oc));
        argv[n + 2 * i] = items[i].json;
        argvlen[n + 2 * i] = items[i].len;
        argv[n + 2 * i + 1] = page_ttls[i];
        argvlen[n + 2 * i + 1] = strlen(page_ttls[i]);
    }
    redis_client_eval(oc->opts.redis, oc->list_fill_many_id, n, 3 * n, argv, argvlen, NULL);
}
