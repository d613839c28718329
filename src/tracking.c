/*
 * tracking.c - the invalidation listener (see tracking.h).
 */
#include "orderd/tracking.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orderd/log.h"

#define INVALIDATE_CHANNEL "__redis__:invalidate"
#define KEY_PREFIX         "order:"

struct tracking {
    cache *redis;
    hot_cache *hot;
    int retry_interval_ms;
    atomic_bool stopping;
    pthread_t thread;
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
        if (k->type != REDIS_REPLY_STRING || strncmp(k->str, KEY_PREFIX, sizeof KEY_PREFIX - 1))
            continue;
        char *end;
        long long id = strtoll(k->str + sizeof KEY_PREFIX - 1, &end, 10);
        if (*end == '\0')
            hot_cache_invalidate(t->hot, id);
        else
            hot_cache_flush(t->hot); /* an order key we cannot parse: play safe */
    }
}

/*
 * Reads (when read_socket) and applies everything S has for us; false
 * when S broke.  Busy from before the read until the batch is applied:
 * the hot cache's gate (hot_cache.h, rule 2) then never sees "nothing
 * pending" while an invalidation is in our hands.
 */
static bool drain_subscriber(tracking *t, redisContext *s, bool read_socket)
{
    hot_cache_set_busy(t->hot, true);
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
    hot_cache_set_busy(t->hot, false);
    return ok;
}

/* One connected session: returns when a connection breaks or on stop. */
static void run_session(tracking *t)
{
    redisContext *s = cache_open_connection(t->redis);
    redisContext *tr = s ? cache_open_connection(t->redis) : NULL;
    long long client_id = -1;
    char tracking_cmd[160];
    if (!tr || !command_ok(s, "CLIENT ID", &client_id) || client_id < 0)
        goto out;
    snprintf(tracking_cmd, sizeof tracking_cmd,
             "CLIENT TRACKING on REDIRECT %lld BCAST PREFIX " KEY_PREFIX, client_id);
    if (!command_ok(tr, tracking_cmd, NULL) ||
        !command_ok(s, "SUBSCRIBE " INVALIDATE_CHANNEL, NULL))
        goto out;
    /* the subscriber now only waits: no read timeout, we poll() instead */
    redisSetTimeout(s, (struct timeval){0, 0});

    hot_cache_set_online(t->hot, true, s->fd);
    /* anything that came in with the SUBSCRIBE reply is already buffered */
    if (!drain_subscriber(t, s, false))
        goto offline;
    LOG(LOG_INFO, NULL, "hot cache online (redis client tracking, subscriber id %lld)", client_id);
    while (!atomic_load(&t->stopping)) {
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
    hot_cache_set_online(t->hot, false, -1);
    if (!atomic_load(&t->stopping))
        LOG(LOG_WARN, NULL, "hot cache offline: lost the redis invalidation connections");
out:
    redisFree(tr);
    redisFree(s);
}

static void *listener_main(void *arg)
{
    tracking *t = arg;
    while (!atomic_load(&t->stopping)) {
        run_session(t);
        for (int waited = 0; waited < t->retry_interval_ms && !atomic_load(&t->stopping);
             waited += 10)
            nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    return NULL;
}

tracking *tracking_start(cache *redis, hot_cache *hot, int retry_interval_ms)
{
    tracking *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->redis = redis;
    t->hot = hot;
    t->retry_interval_ms = retry_interval_ms > 0 ? retry_interval_ms : 100;
    if (pthread_create(&t->thread, NULL, listener_main, t) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

void tracking_stop(tracking *t)
{
    if (!t)
        return;
    atomic_store(&t->stopping, true);
    pthread_join(t->thread, NULL);
    hot_cache_set_online(t->hot, false, -1);
    free(t);
}
