/*
 * tracking.c - the invalidation listener (see tracking.h).
 */
#include "orderd/cache/tracking.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/cache/cache_entry.h"
#include "orderd/base/bg_thread.h"
#include "orderd/base/log.h"

#define INVALIDATE_CHANNEL "__redis__:invalidate"
#define KEY_PREFIX         "order:"
#define GEN_PREFIX         "gen:" /* list generations, for hot_lists */

/* keys re-read after one batch of invalidations, at most */
#define REFRESH_MAX 512

struct tracking {
    redis_client *redis;
    hot_cache *hot;
    hot_lists *lists;             /* NULL: no list pages in memory, "gen:" keys not tracked */
    redisContext *reader;         /* listener thread only: re-reads invalidated keys */
    int64_t refresh[REFRESH_MAX]; /* ids dropped by the batch being applied */
    size_t refresh_count;
    int retry_interval_ms;
    int source_index; /* ours among the hot cache's invalidation sources */
    bg_thread listener;
};

static bool command_ok(redisContext *ctx, const char *cmd, long long *integer)
{
    redisReply *r = redisCommand(ctx, cmd);
    bool ok = r && r->type != REDIS_REPLY_ERROR;
    if (ok && integer)
        *integer = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (r && r->type == REDIS_REPLY_ERROR)
        LOG(LOG_WARN, NULL, "redis tracking: %s: %s", cmd, r->str);
    if (r)
        freeReplyObject(r);
    return ok;
}

/* Applies one pushed message: ["message", channel, [keys...] | nil]. */
static void apply_message(tracking *t, redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "message") != 0)
        return;
    redisReply *keys = r->element[2];
    if (keys->type != REDIS_REPLY_ARRAY) {
        hot_cache_flush(t->hot); /* nil: FLUSHALL/FLUSHDB, everything went */
        return;
    }
    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *k = keys->element[i];
        if (k->type != REDIS_REPLY_STRING)
            continue;
        if (t->lists && strncmp(k->str, GEN_PREFIX, sizeof GEN_PREFIX - 1) == 0) {
            hot_lists_invalidate_generation(t->lists, k->str);
            continue;
        }
        if (strncmp(k->str, KEY_PREFIX, sizeof KEY_PREFIX - 1))
            continue;
        char *end;
        long long id = strtoll(k->str + sizeof KEY_PREFIX - 1, &end, 10);
        if (*end == '\0') {
            /* a key we held is wanted: read its new value after the batch */
            if (hot_cache_invalidate(t->hot, id) && t->refresh_count < REFRESH_MAX)
                t->refresh[t->refresh_count++] = id;
        } else
            hot_cache_flush(t->hot); /* an order key we cannot parse: play safe */
    }
}

/*
 * Re-reads the keys this batch dropped (one MGET) and puts back those that
 * hold a present order.  Why this is safe: the values are read after the
 * invalidations that dropped them, so they are at least that new; a
 * change made during the MGET sits unread on the subscriber socket, which
 * closes the hot cache's gate until it is applied (and then drops the
 * entry again).  Why it is worth it: our own fills come back to us as
 * invalidations too (BCAST reports every change), so without re-reading,
 * a key could never stay cached.
 */
static void refresh_dropped(tracking *t)
{
    if (t->refresh_count == 0 || !t->reader)
        return;
    static const char mget[] = "MGET";
    const char *argv[REFRESH_MAX + 1];
    size_t argvlen[REFRESH_MAX + 1];
    char keys[REFRESH_MAX][32];
    uint64_t tickets[REFRESH_MAX];
    argv[0] = mget;
    argvlen[0] = sizeof mget - 1;
    for (size_t i = 0; i < t->refresh_count; i++) {
        int n = snprintf(keys[i], sizeof keys[i], KEY_PREFIX "%" PRId64, t->refresh[i]);
        argv[i + 1] = keys[i];
        argvlen[i + 1] = (size_t)n;
        tickets[i] = hot_cache_ticket(t->hot, t->refresh[i]);
    }
    redisReply *r = redisCommandArgv(t->reader, (int)t->refresh_count + 1, argv, argvlen);
    /* Checked after the read: while this process's breaker is open its
     * own tombstones may be journaled, not in Redis, so what Redis holds
     * may be older than what it has invalidated (the journaling drops the
     * hot entries again after tripping the breaker, so a put that got past
     * this check is dropped or refused). */
    bool trusted = redis_client_is_up(t->redis);
    if (trusted && r && r->type == REDIS_REPLY_ARRAY && r->elements == t->refresh_count) {
        for (size_t i = 0; i < r->elements; i++) {
            cache_entry e;
            redisReply *v = r->element[i];
            if (v->type == REDIS_REPLY_STRING && cache_entry_parse(v->str, v->len, &e) &&
                e.kind == CACHE_ENTRY_PRESENT)
                hot_cache_put(t->hot, t->refresh[i], e.version, e.json, e.json_len, tickets[i]);
        }
    } else if (!r || t->reader->err) {
        redisFree(t->reader); /* reopened by the next session */
        t->reader = NULL;
    }
    if (r)
        freeReplyObject(r);
    t->refresh_count = 0;
}

/*
 * Reads (when read_socket) and applies everything S has for us; false
 * when S broke.  Busy from before the read until the batch is applied:
 * the hot cache's gate (hot_cache.h, rule 2) then never sees "nothing
 * pending" while an invalidation is in our hands.
 */
static bool drain_subscriber(tracking *t, redisContext *s, bool read_socket)
{
    hot_cache_set_busy(t->hot, t->source_index, true);
    bool ok = !read_socket || redisBufferRead(s) == REDIS_OK;
    while (ok) {
        void *reply = NULL;
        if (redisGetReplyFromReader(s, &reply) != REDIS_OK) {
            ok = false;
            break;
        }
        if (!reply)
            break;
        apply_message(t, reply);
        freeReplyObject(reply);
    }
    hot_cache_set_busy(t->hot, t->source_index, false);
    refresh_dropped(t);
    return ok;
}

/* One connected session: returns when a connection breaks or on stop. */
static void run_session(tracking *t)
{
    redisContext *s = redis_client_open_connection(t->redis);
    redisContext *tr = s ? redis_client_open_connection(t->redis) : NULL;
    t->reader = tr ? redis_client_open_connection(t->redis) : NULL;
    long long client_id = -1;
    char tracking_cmd[160];
    if (!tr || !command_ok(s, "CLIENT ID", &client_id) || client_id < 0)
        goto out;
    snprintf(tracking_cmd, sizeof tracking_cmd,
             "CLIENT TRACKING on REDIRECT %lld BCAST PREFIX " KEY_PREFIX "%s", client_id,
             t->lists ? " PREFIX " GEN_PREFIX : "");
    if (!command_ok(tr, tracking_cmd, NULL) ||
        !command_ok(s, "SUBSCRIBE " INVALIDATE_CHANNEL, NULL))
        goto out;
    /* the subscriber now only waits: no read timeout, we poll() instead */
    redisSetTimeout(s, (struct timeval){0, 0});

    hot_cache_set_online(t->hot, t->source_index, true, s->fd);
    /* anything that came in with the SUBSCRIBE reply is already buffered */
    if (!drain_subscriber(t, s, false))
        goto offline;
    LOG(LOG_INFO, NULL, "hot cache online (redis client tracking, subscriber id %lld)", client_id);
    while (!bg_thread_stopping(&t->listener)) {
        struct pollfd fds[2] = {{.fd = s->fd, .events = POLLIN}, {.fd = tr->fd, .events = POLLIN}};
        int n = poll(fds, 2, 200);
        if (n < 0 && errno != EINTR)
            break;
        if (n <= 0)
            continue;
        /* the tracker never gets data; readable means it was closed */
        if (fds[1].revents)
            break;
        if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL))
            break;
        if ((fds[0].revents & POLLIN) && !drain_subscriber(t, s, true))
            break;
    }
offline:
    hot_cache_set_online(t->hot, t->source_index, false, -1);
    if (!bg_thread_stopping(&t->listener))
        LOG(LOG_WARN, NULL, "hot cache offline: lost the redis invalidation connections");
out:
    redisFree(t->reader);
    t->reader = NULL;
    t->refresh_count = 0;
    redisFree(tr);
    redisFree(s);
}

static void listener_run(bg_thread *self, void *arg)
{
    tracking *t = arg;
    do
        run_session(t);
    while (bg_thread_wait(self, (uint64_t)t->retry_interval_ms * 1000000u));
}

tracking *tracking_start(redis_client *redis, hot_cache *hot, hot_lists *lists, int source_index,
                         int retry_interval_ms)
{
    tracking *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->redis = redis;
    t->hot = hot;
    t->lists = lists;
    t->retry_interval_ms = retry_interval_ms > 0 ? retry_interval_ms : 100;
    t->source_index = source_index;
    if (bg_thread_start(&t->listener, "hot-tracking", 1, listener_run, t) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

void tracking_stop(tracking *t)
{
    if (!t)
        return;
    bg_thread_stop(&t->listener);
    hot_cache_set_online(t->hot, t->source_index, false, -1);
    free(t);
}
