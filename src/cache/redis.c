/*
 * redis.c - hiredis with timeouts, per-thread connections, a circuit
 * breaker, a recovery thread and a journal of writes that must not be lost.
 */
#include "orderd/cache/redis.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "orderd/cache/breaker.h"
#include "orderd/base/bg_thread.h"
#include "orderd/base/buf.h"
#include "orderd/base/clock.h"
#include "orderd/base/fmt.h"
#include "orderd/base/log.h"
#include "orderd/base/metrics.h"
#include "orderd/base/sha1.h"

/* distinct scripts: order_cache.c registers 7 and every rate limiter the
 * same one (redis_client_script_add gives a source it has its id back);
 * room to spare, because past it a registration fails */
#define MAX_SCRIPTS 16

typedef struct journal_entry {
    int script;
    int nkeys;
    int argc;
    char **argv;
    size_t *argvlen;
} journal_entry;

struct redis_client {
    char host[256];
    int port;
    char password[256];
    int db;
    redis_client_options opts;

    pthread_key_t conn_key; /* this thread's redisContext */

    char *script_src[MAX_SCRIPTS];
    char script_sha[MAX_SCRIPTS][SHA1_HEX_SIZE];
    int script_count;

    pthread_mutex_t lock; /* breaker + journal */
    breaker brk;
    atomic_bool up;            /* breaker closed: read without the lock on the hot path */
    atomic_bool failures_seen; /* a failure since the last success: record() must lock */
    atomic_bool settled;       /* start-up decided: closed once, or found down once */
    journal_entry *journal;
    size_t journal_len;
    bool journal_overflowed;

    bg_thread recovery; /* probes while the breaker is open */
};

/* ---- URL ---------------------------------------------------------------------- */

static int parse_url(redis_client *c, const char *url)
{
    static const char scheme[] = "redis://";
    if (strncmp(url, scheme, sizeof scheme - 1) != 0)
        return -1;
    const char *p = url + sizeof scheme - 1;
    const char *at = strrchr(p, '@');
    if (at) {
        /* user:password@ or :password@ (Redis 6 ACL users are not used) */
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p;
        size_t n = (size_t)(at - pw);
        if (n >= sizeof c->password)
            return -1;
        memcpy(c->password, pw, n);
        c->password[n] = '\0';
        p = at + 1;
    }
    const char *end = p + strcspn(p, ":/");
    size_t hn = (size_t)(end - p);
    if (hn == 0 || hn >= sizeof c->host)
        return -1;
    memcpy(c->host, p, hn);
    c->host[hn] = '\0';
    c->port = 6379;
    p = end;
    if (*p == ':') {
        char *e;
        long port = strtol(p + 1, &e, 10);
        if (e == p + 1 || port < 1 || port > 65535)
            return -1;
        c->port = (int)port;
        p = e;
    }
    if (*p == '/' && p[1]) {
        char *e;
        long db = strtol(p + 1, &e, 10);
        if (*e || db < 0 || db > 1000)
            return -1;
        c->db = (int)db;
    } else if (*p && strcmp(p, "/") != 0) {
        return -1;
    }
    return 0;
}

/* ---- connections ------------------------------------------------------------------ */

static struct timeval ms_to_tv(int ms)
{
    return (struct timeval){.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
}

static bool reply_ok(redisReply *r)
{
    return r && r->type != REDIS_REPLY_ERROR;
}

/* A new, authenticated, selected connection with both timeouts, or NULL. */
static redisContext *connect_redis(redis_client *c)
{
    redisContext *ctx =
        redisConnectWithTimeout(c->host, c->port, ms_to_tv(c->opts.connect_timeout_ms));
    if (!ctx || ctx->err) {
        redisFree(ctx);
        return NULL;
    }
    /* must follow every connect: redisReconnect() would drop it */
    redisSetTimeout(ctx, ms_to_tv(c->opts.command_timeout_ms));
    redisReply *r = NULL;
    if (c->password[0]) {
        r = redisCommand(ctx, "AUTH %s", c->password);
        if (!reply_ok(r))
            goto fail;
        freeReplyObject(r);
    }
    if (c->db) {
        r = redisCommand(ctx, "SELECT %d", c->db);
        if (!reply_ok(r))
            goto fail;
        freeReplyObject(r);
    }
    return ctx;
fail:
    if (r)
        freeReplyObject(r);
    redisFree(ctx);
    return NULL;
}

redisContext *redis_client_open_connection(redis_client *c)
{
    return connect_redis(c);
}

static void free_thread_conn(void *ctx)
{
    redisFree(ctx);
}

/* Drops this thread's connection; the next thread_conn() opens a new one. */
static void drop_thread_conn(redis_client *c)
{
    redisFree(pthread_getspecific(c->conn_key));
    pthread_setspecific(c->conn_key, NULL);
}

/*
 * Did the command fail because the connection was already dead (closed
 * by a restarted Redis, reset) rather than slow?  Such a failure says
 * nothing about Redis now, so it is retried once on a new connection
 * instead of counting against the breaker.  Timeouts are not retried:
 * that would double the time a request waits on a sick Redis.
 */
static bool connection_was_dead(const redisContext *ctx)
{
    return ctx && (ctx->err == REDIS_ERR_EOF ||
                   (ctx->err == REDIS_ERR_IO && (errno == ECONNRESET || errno == EPIPE)));
}

static redisContext *thread_conn(redis_client *c)
{
    redisContext *ctx = pthread_getspecific(c->conn_key);
    if (ctx && ctx->err) {
        /* after a timeout the reply stream may be out of step: start over */
        drop_thread_conn(c);
        ctx = NULL;
    }
    if (!ctx) {
        ctx = connect_redis(c);
        pthread_setspecific(c->conn_key, ctx);
    }
    return ctx;
}

/* ---- breaker ---------------------------------------------------------------------- */

static void record(redis_client *c, bool success)
{
    /* the common case (success, no failure since the last success) takes no lock */
    if (success && !atomic_load_explicit(&c->failures_seen, memory_order_relaxed))
        return;
    pthread_mutex_lock(&c->lock);
    atomic_store(&c->failures_seen, !success);
    bool opened = breaker_record(&c->brk, success, clock_now_ns());
    if (opened)
        atomic_store(&c->up, false);
    pthread_mutex_unlock(&c->lock);
    if (opened) {
        metric_inc(METRIC_REDIS_BREAKER_OPENED);
        LOG(LOG_WARN, NULL, "redis %s:%d unreachable: cache bypassed until it answers again",
            c->host, c->port);
        bg_thread_wake(&c->recovery);
    }
}

bool redis_client_is_settled(redis_client *c)
{
    return atomic_load(&c->settled);
}

bool redis_client_is_up(redis_client *c)
{
    return atomic_load_explicit(&c->up, memory_order_relaxed);
}

uint64_t redis_client_times_opened(redis_client *c)
{
    pthread_mutex_lock(&c->lock);
    uint64_t n = c->brk.times_opened;
    pthread_mutex_unlock(&c->lock);
    return n;
}

/* "<prefix><n>\r\n", a RESP header */
static void resp_header(buf *b, char prefix, size_t n)
{
    char text[24];
    text[0] = prefix;
    size_t len = 1 + fmt_u64(n, text + 1);
    text[len++] = '\r';
    text[len++] = '\n';
    buf_append(b, text, len);
}

/*
 * Runs a command on a connection; NULL when there is none or Redis
 * failed.  The command is written in RESP here, in one buffer:
 * redisCommandArgv builds it with an sds printf per argument, which was
 * most of the cost of a group commit's invalidation script.
 */
static redisReply *run_argv(redisContext *ctx, int argc, const char **argv, const size_t *argvlen)
{
    if (!ctx)
        return NULL;
    char inline_storage[2048];
    buf cmd;
    buf_init_in(&cmd, inline_storage, sizeof inline_storage);
    resp_header(&cmd, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        size_t n = argvlen ? argvlen[i] : strlen(argv[i]);
        resp_header(&cmd, '$', n);
        buf_append(&cmd, argv[i], n);
        buf_append(&cmd, "\r\n", 2);
    }
    void *reply = NULL;
    if (cmd.failed || redisAppendFormattedCommand(ctx, cmd.data, cmd.len) != REDIS_OK ||
        redisGetReply(ctx, &reply) != REDIS_OK)
        reply = NULL;
    int failed_errno = errno; /* count_failure tells a timeout by it */
    buf_free(&cmd);
    errno = failed_errno;
    return reply;
}

/* Why a command on ctx gave reply r, not a good answer, for the metric. */
static void count_failure(const redisContext *ctx, const redisReply *r)
{
    if (r)
        metric_inc(METRIC_REDIS_FAILED_REPLY);
    else if (ctx && ctx->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK))
        metric_inc(METRIC_REDIS_FAILED_TIMEOUT); /* the socket's SO_RCVTIMEO ran out */
    else
        metric_inc(METRIC_REDIS_FAILED_CONNECTION);
}

/* ---- scripts ---------------------------------------------------------------------- */

int redis_client_script_add(redis_client *c, const char *source)
{
    for (int i = 0; i < c->script_count; i++)
        if (strcmp(c->script_src[i], source) == 0)
            return i; /* a second limiter, or one rebuilt on reload */
    if (c->script_count == MAX_SCRIPTS) {
        /* said here: the caller's own message cannot know why */
        LOG(LOG_ERROR, NULL, "redis: cannot register another script: all %d slots are taken",
            MAX_SCRIPTS);
        return -1;
    }
    int id = c->script_count;
    c->script_src[id] = strdup(source);
    if (!c->script_src[id])
        return -1;
    sha1_hex(source, strlen(source), c->script_sha[id]);
    c->script_count++;
    return id;
}

/*
 * EVALSHA, falling back to EVAL when the server does not know the script
 * (it restarted, or SCRIPT FLUSH): EVAL also caches it for next time.
 */
static redisReply *eval_on(redis_client *c, redisContext *ctx, int script, int nkeys, int argc,
                           const char *const *argv, const size_t *argvlen)
{
    if (!ctx || script < 0 || script >= c->script_count || argc < 0)
        return NULL;
    enum { FIXED = 3, INLINE_ARGS = 16 };
    const char *av_inline[FIXED + INLINE_ARGS];
    size_t al_inline[FIXED + INLINE_ARGS];
    const char **av = av_inline;
    size_t *al = al_inline;
    if (argc > INLINE_ARGS) { /* batch scripts: one allocation per batch */
        av = malloc((size_t)(FIXED + argc) * sizeof *av);
        al = malloc((size_t)(FIXED + argc) * sizeof *al);
        if (!av || !al) {
            free(av);
            free(al);
            return NULL;
        }
    }
    char nk[12];
    snprintf(nk, sizeof nk, "%d", nkeys);
    av[0] = "EVALSHA";
    al[0] = 7;
    av[1] = c->script_sha[script];
    al[1] = 40;
    av[2] = nk;
    al[2] = strlen(nk);
    for (int i = 0; i < argc; i++) {
        av[FIXED + i] = argv[i];
        al[FIXED + i] = argvlen ? argvlen[i] : strlen(argv[i]);
    }
    redisReply *r = run_argv(ctx, FIXED + argc, av, al);
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        av[0] = "EVAL";
        al[0] = 4;
        av[1] = c->script_src[script];
        al[1] = strlen(c->script_src[script]);
        r = run_argv(ctx, FIXED + argc, av, al);
    }
    if (av != av_inline) {
        free(av);
        free(al);
    }
    return r;
}

/* ---- commands --------------------------------------------------------------------- */

static redisReply *run_on_thread(redis_client *c, int argc, const char **argv,
                                 const size_t *argvlen)
{
    redisContext *ctx = thread_conn(c);
    redisReply *r = run_argv(ctx, argc, argv, argvlen);
    if (!r && connection_was_dead(ctx)) {
        drop_thread_conn(c);
        ctx = thread_conn(c);
        r = run_argv(ctx, argc, argv, argvlen);
    }
    if (!reply_ok(r))
        count_failure(ctx, r);
    return r;
}

static redisReply *eval_on_thread(redis_client *c, int script, int nkeys, int argc,
                                  const char *const *argv, const size_t *argvlen)
{
    redisContext *ctx = thread_conn(c);
    redisReply *r = eval_on(c, ctx, script, nkeys, argc, argv, argvlen);
    if (!r && connection_was_dead(ctx)) {
        drop_thread_conn(c);
        ctx = thread_conn(c);
        r = eval_on(c, ctx, script, nkeys, argc, argv, argvlen);
    }
    if (!reply_ok(r))
        count_failure(ctx, r);
    return r;
}

redis_rc redis_client_command(redis_client *c, int argc, const char **argv, const size_t *argvlen,
                              redisReply **reply)
{
    *reply = NULL;
    if (!redis_client_is_up(c))
        return REDIS_RC_UNAVAILABLE;
    redisReply *r = run_on_thread(c, argc, argv, argvlen);
    record(c, reply_ok(r));
    if (!reply_ok(r)) {
        if (r)
            freeReplyObject(r);
        return REDIS_RC_UNAVAILABLE;
    }
    *reply = r;
    return REDIS_RC_OK;
}

redis_rc redis_client_set(redis_client *c, const char *key, const char *value, size_t len,
                          int64_t ttl_ms, bool only_if_absent)
{
    if (!redis_client_is_up(c))
        return REDIS_RC_UNAVAILABLE;
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    const char *argv[] = {"SET", key, value, "PX", ttl, "NX"};
    size_t argvlen[] = {3, strlen(key), len, 2, strlen(ttl), 2};
    redisReply *r = run_on_thread(c, only_if_absent ? 6 : 5, argv, argvlen);
    record(c, reply_ok(r));
    redis_rc rc = !reply_ok(r) ? REDIS_RC_UNAVAILABLE
                               : (r->type == REDIS_REPLY_NIL ? REDIS_RC_NIL : REDIS_RC_OK);
    if (r)
        freeReplyObject(r);
    return rc;
}

redis_rc redis_client_eval(redis_client *c, int script, int nkeys, int argc,
                           const char *const *argv, const size_t *argvlen, redisReply **reply)
{
    if (reply)
        *reply = NULL;
    if (!redis_client_is_up(c))
        return REDIS_RC_UNAVAILABLE;
    redisReply *r = eval_on_thread(c, script, nkeys, argc, argv, argvlen);
    bool ok = reply_ok(r);
    /* a script error is our bug, not Redis being down: don't trip on it */
    record(c, r != NULL);
    if (r && !ok)
        LOG(LOG_ERROR, NULL, "redis script %d failed: %s", script, r->str);
    if (ok && reply) {
        *reply = r;
        return REDIS_RC_OK;
    }
    if (r)
        freeReplyObject(r);
    return ok ? REDIS_RC_OK : REDIS_RC_UNAVAILABLE;
}

/* ---- the journal ---------------------------------------------------------------------- */

static void journal_entry_free(journal_entry *e)
{
    for (int i = 0; i < e->argc; i++)
        free(e->argv[i]);
    free(e->argv);
    free(e->argvlen);
}

static void journal_add(redis_client *c, int script, int nkeys, int argc, const char *const *argv,
                        const size_t *argvlen)
{
    journal_entry e = {.script = script, .nkeys = nkeys, .argc = argc};
    e.argv = calloc((size_t)argc, sizeof *e.argv);
    e.argvlen = calloc((size_t)argc, sizeof *e.argvlen);
    bool ok = e.argv && e.argvlen;
    for (int i = 0; ok && i < argc; i++) {
        size_t n = argvlen ? argvlen[i] : strlen(argv[i]);
        e.argv[i] = malloc(n + 1);
        ok = e.argv[i] != NULL;
        if (ok) {
            memcpy(e.argv[i], argv[i], n);
            e.argv[i][n] = '\0';
            e.argvlen[i] = n;
        }
    }
    pthread_mutex_lock(&c->lock);
    if (ok && c->journal_len < c->opts.journal_max) {
        c->journal[c->journal_len++] = e;
    } else {
        /* cannot remember it: flush everything on recovery instead */
        c->journal_overflowed = true;
        journal_entry_free(&e);
    }
    /* whatever happened to the write, this process must not trust the
     * cache until the journal is replayed */
    bool was_closed = breaker_allows(&c->brk);
    breaker_trip(&c->brk, clock_now_ns());
    atomic_store(&c->failures_seen, true);
    atomic_store(&c->up, false);
    pthread_mutex_unlock(&c->lock);
    if (was_closed)
        metric_inc(METRIC_REDIS_BREAKER_OPENED);
    bg_thread_wake(&c->recovery);
}

bool redis_client_eval_durable(redis_client *c, int script, int nkeys, int argc,
                               const char *const *argv, const size_t *argvlen)
{
    if (redis_client_is_up(c)) {
        redisReply *r = eval_on_thread(c, script, nkeys, argc, argv, argvlen);
        bool ok = reply_ok(r);
        if (r)
            freeReplyObject(r);
        if (ok) {
            record(c, true);
            return true;
        }
    }
    journal_add(c, script, nkeys, argc, argv, argvlen);
    return false;
}

/*
 * Probe side: replays the journal on ctx.  Entries are taken out under
 * the lock and run without it; any failure puts the rest back.
 */
static bool journal_replay(redis_client *c, redisContext *ctx)
{
    pthread_mutex_lock(&c->lock);
    bool flush = c->journal_overflowed;
    size_t n = c->journal_len;
    journal_entry *batch = NULL;
    if (n > 0) {
        batch = malloc(n * sizeof *batch);
        if (!batch) {
            pthread_mutex_unlock(&c->lock);
            return false;
        }
        memcpy(batch, c->journal, n * sizeof *batch);
        c->journal_len = 0;
    }
    c->journal_overflowed = false;
    pthread_mutex_unlock(&c->lock);

    bool ok = true;
    if (flush) {
        redisReply *r = redisCommand(ctx, "FLUSHDB");
        ok = reply_ok(r);
        if (r)
            freeReplyObject(r);
        if (ok)
            LOG(LOG_WARN, NULL, "redis: invalidation journal overflowed; flushed the cache db");
    }
    /* done counts only what Redis took: the entry that failed goes back
     * with the rest (a for loop's increment would have skipped it, and
     * lost both its memory and its invalidation) */
    size_t done = 0;
    while (ok && done < n) {
        journal_entry *e = &batch[done];
        redisReply *r =
            eval_on(c, ctx, e->script, e->nkeys, e->argc, (const char *const *)e->argv, e->argvlen);
        ok = reply_ok(r);
        if (r)
            freeReplyObject(r);
        if (ok) {
            journal_entry_free(e);
            done++;
        }
    }
    if (!ok) {
        pthread_mutex_lock(&c->lock);
        c->journal_overflowed |= flush;
        size_t left = n - done;
        if (c->journal_len + left <= c->opts.journal_max) {
            memmove(c->journal + left, c->journal, c->journal_len * sizeof *c->journal);
            memcpy(c->journal, batch + done, left * sizeof *batch);
            c->journal_len += left;
        } else {
            for (size_t i = done; i < n; i++)
                journal_entry_free(&batch[i]);
            c->journal_overflowed = true;
        }
        pthread_mutex_unlock(&c->lock);
    } else if (n > 0) {
        LOG(LOG_INFO, NULL, "redis: replayed %zu journaled invalidations", n);
    }
    free(batch);
    return ok;
}

/* ---- recovery -------------------------------------------------------------------------- */

/*
 * One recovery step: PING; on the first success replay the journal at
 * once; close the breaker only after Redis has kept answering for the
 * grace period.  The wait is for the other orderd processes: one that
 * could not invalidate during the outage replays its journal on its own
 * first successful probe, and nobody may read Redis before that lands.
 */
static void try_recover(redis_client *c, redisContext **ctx, uint64_t *alive_since_ns)
{
    if (!*ctx || (*ctx)->err) {
        redisFree(*ctx);
        *ctx = connect_redis(c);
    }
    redisReply *r = *ctx ? redisCommand(*ctx, "PING") : NULL;
    bool alive = reply_ok(r);
    if (r)
        freeReplyObject(r);
    if (!alive) {
        *alive_since_ns = 0;
        atomic_store(&c->settled, true); /* known down: reads bypass it */
        return;
    }
    uint64_t now = clock_now_ns();
    if (*alive_since_ns == 0)
        *alive_since_ns = now;
    if (!journal_replay(c, *ctx)) {
        *alive_since_ns = 0;
        return;
    }
    if (now - *alive_since_ns < (uint64_t)c->opts.recovery_grace_ms * 1000000u)
        return;
    pthread_mutex_lock(&c->lock);
    /* a write journaled while we replayed needs another round first */
    bool closed =
        c->journal_len == 0 && !c->journal_overflowed && breaker_probe_result(&c->brk, true);
    if (closed) {
        atomic_store(&c->failures_seen, false);
        atomic_store(&c->up, true);
        atomic_store(&c->settled, true);
    }
    pthread_mutex_unlock(&c->lock);
    if (closed) {
        metric_inc(METRIC_REDIS_BREAKER_CLOSED);
        *alive_since_ns = 0;
        LOG(LOG_INFO, NULL, "redis %s:%d answers: cache in use", c->host, c->port);
    }
}

static void recovery_run(bg_thread *self, void *arg)
{
    redis_client *c = arg;
    redisContext *ctx = NULL;
    uint64_t alive_since_ns = 0;
    /* woken early when the breaker opens (record, journal_add) */
    do {
        if (!redis_client_is_up(c))
            try_recover(c, &ctx, &alive_since_ns);
    } while (bg_thread_wait(self, (uint64_t)c->opts.probe_interval_ms * 1000000u));
    redisFree(ctx);
}

/* ---- lifecycle ---------------------------------------------------------------------- */

redis_client *redis_client_create(const redis_client_options *opts, const char **why)
{
    redis_client *c = calloc(1, sizeof *c);
    if (!c) {
        *why = "out of memory";
        return NULL;
    }
    c->opts = *opts;
    if (c->opts.failure_threshold < 1)
        c->opts.failure_threshold = 1;
    if (c->opts.probe_interval_ms < 10)
        c->opts.probe_interval_ms = 10;
    if (c->opts.journal_max < 1)
        c->opts.journal_max = 1;
    if (parse_url(c, opts->url) != 0) {
        *why = "not a redis://[:password@]host[:port][/db] URL";
        free(c);
        return NULL;
    }
    c->opts.url = NULL; /* not kept: parsed into host/port/password/db */
    c->journal = calloc(c->opts.journal_max, sizeof *c->journal);
    if (!c->journal || pthread_key_create(&c->conn_key, free_thread_conn) != 0) {
        free(c->journal);
        free(c);
        *why = "out of memory";
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    breaker_init(&c->brk, c->opts.failure_threshold);
    /* start open: the probe closes it once Redis has answered for the
     * grace period, so /readyz never reports a Redis nobody reached, and
     * start-up with Redis down costs no request a timeout */
    breaker_trip(&c->brk, clock_now_ns());
    atomic_store(&c->up, false);
    if (bg_thread_start(&c->recovery, "redis-recovery", 1, recovery_run, c) != 0) {
        *why = "cannot start the recovery thread";
        pthread_mutex_destroy(&c->lock);
        pthread_key_delete(c->conn_key);
        free(c->journal);
        free(c);
        return NULL;
    }
    return c;
}

void redis_client_destroy(redis_client *c)
{
    if (!c)
        return;
    bg_thread_stop(&c->recovery);
    /* the calling thread's own connection, if it used one */
    redisFree(pthread_getspecific(c->conn_key));
    pthread_key_delete(c->conn_key);
    for (size_t i = 0; i < c->journal_len; i++)
        journal_entry_free(&c->journal[i]);
    free(c->journal);
    for (int i = 0; i < c->script_count; i++)
        free(c->script_src[i]);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
