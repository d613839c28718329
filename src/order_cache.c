/*
 * order_cache.c - versioned order entries and list generations in Redis.
 * The protocol and the reasons for it are in order_cache.h.
 */
#include "orderd/order_cache.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/cache_entry.h"
#include "orderd/clock.h"
#include "orderd/metrics.h"
#include "orderd/random.h"

/*
 * KEYS[1] order key.  ARGV: version, entry, ttl_ms.
 * Refuses when a newer version (or a "deleted" marker) is cached, so a
 * reader that loaded an old row can never overwrite a writer's tombstone.
 */
static const char fill_script[] =
    "local cur = redis.call('GET', KEYS[1])\n"
    "if cur then\n"
    "  local kind, v = string.match(cur, '^(%u)(%d+):')\n"
    "  if kind == 'D' then return 0 end\n"
    "  if v and tonumber(v) > tonumber(ARGV[1]) then return 0 end\n"
    "end\n"
    "redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])\n"
    "return 1\n";

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

/* TEST ONLY, the classic design: KEYS[1] order key, KEYS[2..] generations. */
static const char unsafe_invalidate_script[] = "redis.call('DEL', KEYS[1])\n"
                                               "for i = 2, #KEYS do\n"
                                               "  redis.call('INCR', KEYS[i])\n"
                                               "end\n"
                                               "return 1\n";

/* generations outlive every list entry made under them by far */
#define GENERATION_TTL_MS "86400000"

struct order_cache {
    order_cache_options opts;
    int fill_id, invalidate_id, list_get_id, unsafe_invalidate_id;
};

order_cache *order_cache_create(const order_cache_options *opts)
{
    order_cache *oc = calloc(1, sizeof *oc);
    if (!oc)
        return NULL;
    oc->opts = *opts;
    oc->fill_id = cache_script_add(opts->redis, fill_script);
    oc->invalidate_id = cache_script_add(opts->redis, invalidate_script);
    oc->list_get_id = cache_script_add(opts->redis, list_get_script);
    oc->unsafe_invalidate_id = cache_script_add(opts->redis, unsafe_invalidate_script);
    if (oc->fill_id < 0 || oc->invalidate_id < 0 || oc->list_get_id < 0 ||
        oc->unsafe_invalidate_id < 0) {
        free(oc);
        return NULL;
    }
    return oc;
}

void order_cache_destroy(order_cache *oc)
{
    free(oc);
}

bool order_cache_is_up(order_cache *oc)
{
    return cache_is_up(oc->opts.redis);
}

order_cache_result order_cache_lookup(order_cache *oc, int64_t id, char **json, size_t *len,
                                      int64_t *version)
{
    char key[48];
    cache_key_order(id, key);
    char *text = NULL;
    size_t text_len = 0;
    cache_rc rc = cache_get(oc->opts.redis, key, &text, &text_len);
    if (rc == CACHE_UNAVAILABLE)
        return ORDER_CACHE_DOWN;
    if (rc == CACHE_NIL)
        return ORDER_CACHE_MISS;

    cache_entry entry;
    order_cache_result result = ORDER_CACHE_MISS;
    *version = 0;
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
        if (oc->opts.xfetch_beta > 0 &&
            cache_should_refresh_early(clock_wall_us() / 1000, entry.expires_ms, entry.delta_ms,
                                       oc->opts.xfetch_beta, 1.0 - random_unit()))
            result = ORDER_CACHE_REFRESH;
    }
    free(text);
    return result;
}

bool order_cache_fill(order_cache *oc, int64_t id, int64_t version, const char *json, size_t len,
                      int64_t read_ms)
{
    char key[48], version_text[24], ttl_text[24];
    cache_key_order(id, key);
    int64_t ttl = cache_ttl_jitter(oc->opts.ttl_ms, oc->opts.jitter_pct, random_unit());
    int64_t expires_ms = clock_wall_us() / 1000 + ttl;
    size_t entry_len;
    char *entry = cache_entry_render_present(version, expires_ms, read_ms, json, len, &entry_len);
    if (!entry)
        return false;
    bool accepted = false;
    if (oc->opts.unsafe_classic) {
        accepted = cache_set(oc->opts.redis, key, entry, entry_len, ttl, false) == CACHE_OK;
    } else {
        snprintf(version_text, sizeof version_text, "%" PRId64, version);
        snprintf(ttl_text, sizeof ttl_text, "%" PRId64, ttl);
        const char *argv[] = {key, version_text, entry, ttl_text};
        size_t argvlen[] = {strlen(key), strlen(version_text), entry_len, strlen(ttl_text)};
        redisReply *reply = NULL;
        if (cache_eval(oc->opts.redis, oc->fill_id, 1, 4, argv, argvlen, &reply) == CACHE_OK)
            accepted = reply && reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
        if (reply)
            freeReplyObject(reply);
    }
    free(entry);
    metric_inc(accepted ? METRIC_CACHE_FILLS : METRIC_CACHE_FILLS_REFUSED);
    return accepted;
}

void order_cache_fill_absent(order_cache *oc, int64_t id)
{
    char key[48], marker[32];
    cache_key_order(id, key);
    size_t n = cache_entry_render_marker(CACHE_ENTRY_NEGATIVE, 0, marker);
    /* NX: a tombstone means the order exists now; never cover it */
    cache_set(oc->opts.redis, key, marker, n, oc->opts.negative_ttl_ms, !oc->opts.unsafe_classic);
}

void order_cache_invalidate(order_cache *oc, int64_t id, int64_t new_version, bool deleted,
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
    if (oc->opts.unsafe_classic) {
        cache_eval_durable(oc->opts.redis, oc->unsafe_invalidate_id, nkeys, nkeys, argv, NULL);
        return;
    }
    cache_entry_render_marker(deleted ? CACHE_ENTRY_DELETED : CACHE_ENTRY_TOMBSTONE, new_version,
                              marker);
    snprintf(version_text, sizeof version_text, "%" PRId64, new_version);
    snprintf(ttl_text, sizeof ttl_text, "%" PRId64, oc->opts.tombstone_ttl_ms);
    int argc = nkeys;
    argv[argc++] = version_text;
    argv[argc++] = marker;
    argv[argc++] = ttl_text;
    argv[argc++] = GENERATION_TTL_MS;
    cache_eval_durable(oc->opts.redis, oc->invalidate_id, nkeys, argc, argv, NULL);
}

order_cache_result order_cache_list_lookup(order_cache *oc, const order_list_query *q,
                                           char **json, size_t *len, char generation[24])
{
    char gen_key[48], suffix[160];
    cache_list_gen_key(q, gen_key);
    cache_list_suffix(q, suffix);
    const char *argv[] = {gen_key, suffix};
    redisReply *reply = NULL;
    if (cache_eval(oc->opts.redis, oc->list_get_id, 1, 2, argv, NULL, &reply) != CACHE_OK)
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

void order_cache_list_fill(order_cache *oc, const order_list_query *q, const char *generation,
                           const char *json, size_t len)
{
    char gen_key[48], suffix[160], key[256];
    cache_list_gen_key(q, gen_key);
    cache_list_suffix(q, suffix);
    snprintf(key, sizeof key, "list:%s:%s:%s", gen_key, generation, suffix);
    int64_t ttl = cache_ttl_jitter(oc->opts.list_ttl_ms, oc->opts.jitter_pct, random_unit());
    cache_set(oc->opts.redis, key, json, len, ttl, false);
}
