/*
 * change_feed.c - LISTEN, catch up from the log, follow (change_feed.h).
 */
#include "orderd/db/change_feed.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/base/bg_thread.h"
#include "orderd/base/buf.h"
#include "orderd/base/clock.h"
#include "orderd/base/fmt.h"
#include "orderd/base/log.h"
#include "orderd/base/metrics.h"

#define CHANNEL "orderd_order_changes"
/* changes handed to the sink per call, at most */
#define APPLY_MAX 256
/* a stop is noticed within this while the thread waits on PostgreSQL */
#define STOP_CHECK_MS 50
/* how often the log is pruned, by whichever process gets there first */
#define PRUNE_INTERVAL_NS (UINT64_C(60) * 1000 * 1000 * 1000)
/* notified transactions remembered between two log reads, so the read
 * does not apply them again; past this, they are simply applied twice */
#define SEEN_MAX 4096

struct change_feed {
    change_feed_options
        opts; /* opts.replay_window_ms unused: see below; opts.own_origin, own_origin */
    char *url;
    char own_origin[ORDER_CHANGE_ORIGIN_MAX + 1];
    _Atomic int64_t replay_window_ms; /* widened on a reload (change_feed_widen_replay_window) */
    atomic_bool reread;               /* change_feed_reread: the window again, ours included */
    bg_thread thread;
    atomic_int state;

    /* the feed thread's own */
    PGconn *pg;
    char *snapshot; /* pg_snapshot text of the last log read; NULL before the first */
    uint64_t snapshot_ns;
    uint64_t pruned_ns;
    uint64_t seen[SEEN_MAX]; /* txids notified since the last log read */
    int seen_count;
    uint64_t replayed; /* log rows applied since start, for the log line */
};

const char *change_feed_state_name(change_feed_state state)
{
    switch (state) {
    case CHANGE_FEED_CAUGHT_UP:
        return "caught_up";
    case CHANGE_FEED_CATCHING_UP:
        return "catching_up";
    case CHANGE_FEED_DOWN:
        break;
    }
    return "down";
}

static void set_state(change_feed *f, change_feed_state state, int fd)
{
    atomic_store(&f->state, (int)state);
    f->opts.sink.state(f->opts.sink.ctx, state, fd);
}

/* ---- payloads ------------------------------------------------------------- */

/*
 * Counts the changes of a payload this process wrote itself.  Its writer
 * has tombstoned them in Redis (or journaled that) and dropped them from
 * memory before answering; applying them again only doubled the Redis
 * work of every write.  false when the payload is malformed.
 */
static bool count_own(order_change_reader *reader)
{
    order_change change;
    int rc;
    while ((rc = order_change_reader_next(reader, &change)) == 1)
        metric_inc(METRIC_INVALIDATIONS_OWN);
    return rc == 0;
}

/* Hands one payload's changes to the sink. false when it is malformed. */
static bool deliver(change_feed *f, const char *payload, size_t len, bool pushed)
{
    order_change_reader reader;
    if (!order_change_reader_open(&reader, payload, len))
        return false;
    /*
     * Only a notification of our own is left alone.  A change of ours the
     * log brings back was not notified to this feed (it was reconnecting:
     * a PostgreSQL restart, say), and then its writer may have lost its
     * connection after the commit and never invalidated: apply it.
     */
    if (pushed && f->own_origin[0] != '\0' && strcmp(reader.origin, f->own_origin) == 0) {
        if (f->seen_count < SEEN_MAX)
            f->seen[f->seen_count++] = reader.txid; /* the log read need not send it */
        return count_own(&reader);
    }
    order_change batch[APPLY_MAX];
    int n = 0, rc;
    while ((rc = order_change_reader_next(&reader, &batch[n])) == 1) {
        if (++n == APPLY_MAX) {
            f->opts.sink.apply(f->opts.sink.ctx, batch, n, reader.changed_at_us, pushed);
            n = 0;
        }
    }
    if (n > 0)
        f->opts.sink.apply(f->opts.sink.ctx, batch, n, reader.changed_at_us, pushed);
    if (pushed && f->seen_count < SEEN_MAX)
        f->seen[f->seen_count++] = reader.txid;
    return rc == 0;
}

/* Applies every notification libpq has buffered. */
static void drain_notifications(change_feed *f)
{
    PGnotify *note;
    while ((note = PQnotifies(f->pg)) != NULL) {
        if (strcmp(note->relname, CHANNEL) == 0) {
            if (!deliver(f, note->extra, strlen(note->extra), true))
                LOG(LOG_ERROR, NULL, "change feed: malformed notification ignored: %.80s",
                    note->extra);
        }
        PQfreemem(note);
    }
}

/* ---- the log ----------------------------------------------------------------- */

/*
 * One statement, so the snapshot it returns is the one it read the log
 * under: every change visible in it is applied below, and every change
 * not visible in it either shows up in the next read or is notified.
 */
static const char read_since_snapshot[] =
    "SELECT pg_current_snapshot()::text, NULL::text "
    "UNION ALL SELECT NULL, payload FROM order_changes "
    "WHERE txid >= pg_snapshot_xmin($1::pg_snapshot) "
    "AND NOT pg_visible_in_snapshot(txid, $1::pg_snapshot) AND txid <> ALL($2::xid8[])";
static const char read_window[] = "SELECT pg_current_snapshot()::text, NULL::text "
                                  "UNION ALL SELECT NULL, payload FROM order_changes "
                                  "WHERE changed_at > now() - $1::bigint * interval '1 ms' "
                                  "AND txid <> ALL($2::xid8[])";

/*
 * The transactions notified since the last read, as an xid8[] literal
 * ("{741,742}"), so the read leaves them out on the server: under a
 * steady write load they are nearly all of the last second's rows.
 * malloc'd; NULL when out of memory.
 */
static char *seen_array(const change_feed *f)
{
    buf b = BUF_INIT;
    buf_puts(&b, "{");
    for (int i = 0; i < f->seen_count; i++) {
        char num[24];
        size_t n = fmt_u64(f->seen[i], num);
        if (i > 0)
            buf_puts(&b, ",");
        buf_append(&b, num, n);
    }
    buf_puts(&b, "}");
    return buf_steal(&b, NULL);
}

/*
 * Every statement on the feed's connection goes through here.  libpq
 * keeps the notifications that arrive while a statement runs in its own
 * buffer, where neither poll() nor the hot cache's gate can see them: so
 * they are applied as soon as the result is in.  And while the statement
 * is out, a change may be on its way that the gate cannot see either (a
 * cut-off connection shows up as a statement that does not come back):
 * the gate stays closed until then.  Caller PQclear()s the result.
 */
static PGresult *run_statement(change_feed *f, const char *sql, int nparams,
                               const char *const *params)
{
    f->opts.sink.busy(f->opts.sink.ctx, true);
    PGresult *res = PQexecParams(f->pg, sql, nparams, NULL, params, NULL, NULL, 0);
    drain_notifications(f);
    f->opts.sink.busy(f->opts.sink.ctx, false);
    return res;
}

/*
 * Reads what the last snapshot did not see (or, without one or when it
 * is older than the replay window, the window) and applies it.  false
 * when the connection failed.
 */
static bool read_log(change_feed *f)
{
    uint64_t now = clock_now_ns();
    int64_t window_ms = atomic_load_explicit(&f->replay_window_ms, memory_order_relaxed);
    /* asked to (change_feed_reread): the whole window, and the changes
     * this feed was notified of too, our own among them */
    bool reread = atomic_exchange(&f->reread, false);
    bool by_snapshot =
        !reread && f->snapshot && now - f->snapshot_ns < (uint64_t)window_ms * 1000000u;
    char window[24];
    snprintf(window, sizeof window, "%lld", (long long)window_ms);
    if (reread)
        f->seen_count = 0;
    char *seen = seen_array(f);
    if (!seen)
        return false;
    const char *params[2] = {by_snapshot ? f->snapshot : window, seen};
    /* what is notified from here on is new to this read's exclusions */
    f->seen_count = 0;
    PGresult *res = run_statement(f, by_snapshot ? read_since_snapshot : read_window, 2, params);
    free(seen);
    bool ok = PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok) {
        LOG(LOG_WARN, NULL, "change feed: reading the log failed: %s", PQerrorMessage(f->pg));
        PQclear(res);
        return false;
    }
    char *snapshot = NULL;
    for (int row = 0; row < PQntuples(res); row++) {
        if (!PQgetisnull(res, row, 0)) {
            free(snapshot);
            snapshot = strdup(PQgetvalue(res, row, 0));
            continue;
        }
        const char *payload = PQgetvalue(res, row, 1);
        size_t len = (size_t)PQgetlength(res, row, 1);
        f->replayed++;
        if (!deliver(f, payload, len, false))
            LOG(LOG_ERROR, NULL, "change feed: malformed log row ignored: %.80s", payload);
    }
    PQclear(res);
    if (!snapshot)
        return false;
    free(f->snapshot);
    f->snapshot = snapshot;
    f->snapshot_ns = now;
    return true;
}

/*
 * Deletes log rows older than the retention: twice the replay window, so
 * a catch-up by snapshot (never older than the window) finds every row
 * it needs.  Every process does it; a row already deleted costs nothing.
 */
static void prune_log(change_feed *f)
{
    uint64_t now = clock_now_ns();
    if (now - f->pruned_ns < PRUNE_INTERVAL_NS)
        return;
    f->pruned_ns = now;
    char retention[24];
    snprintf(retention, sizeof retention, "%lld",
             (long long)(2 * atomic_load_explicit(&f->replay_window_ms, memory_order_relaxed)));
    const char *param = retention;
    PGresult *res = run_statement(
        f, "DELETE FROM order_changes WHERE changed_at < now() - $1::bigint * interval '1 ms'", 1,
        &param);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        LOG(LOG_WARN, NULL, "change feed: pruning the log failed: %s", PQerrorMessage(f->pg));
    PQclear(res);
}

/* ---- one session ------------------------------------------------------------------ */

static PGconn *connect_feed(const change_feed *f)
{
    char timeout[16], user_timeout[16];
    snprintf(timeout, sizeof timeout, "%d", (f->opts.connect_timeout_ms + 999) / 1000);
    /* a connection that silently stops delivering must be noticed: TCP
     * gives up on unacknowledged data after two log-read intervals */
    int user_timeout_ms = 2 * f->opts.sync_interval_ms < 2000 ? 2000 : 2 * f->opts.sync_interval_ms;
    snprintf(user_timeout, sizeof user_timeout, "%d", user_timeout_ms);
    /* application_name first, so a URL can override it; timeouts last, so
     * the settings win (as db_pool.c does) */
    const char *keys[] = {"application_name", "dbname",
                          "connect_timeout",  "tcp_user_timeout",
                          "keepalives_idle",  "keepalives_interval",
                          "keepalives_count", NULL};
    const char *values[] = {
        "orderd-change-feed", f->url, timeout, user_timeout, "2", "1", "2", NULL};
    PGconn *pg = PQconnectdbParams(keys, values, 1);
    if (PQstatus(pg) != CONNECTION_OK) {
        LOG(LOG_DEBUG, NULL, "change feed: connect failed: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return NULL;
    }
    PGresult *res = PQexec(pg, "LISTEN " CHANNEL);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    if (!ok) {
        LOG(LOG_WARN, NULL, "change feed: LISTEN failed: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

/* Waits for notifications until the next log read is due; false on error or stop. */
static bool follow_until_next_read(change_feed *f)
{
    uint64_t due = f->snapshot_ns + (uint64_t)f->opts.sync_interval_ms * 1000000u;
    for (;;) {
        uint64_t now = clock_now_ns();
        if (now >= due || atomic_load(&f->reread))
            return true;
        struct pollfd pg = {.fd = PQsocket(f->pg), .events = POLLIN};
        int wait_ms = (int)((due - now) / 1000000u) + 1;
        if (poll(&pg, 1, wait_ms < STOP_CHECK_MS ? wait_ms : STOP_CHECK_MS) < 0 && errno != EINTR)
            return false;
        if (bg_thread_stopping(&f->thread))
            return false;
        if (pg.revents == 0)
            continue;
        f->opts.sink.busy(f->opts.sink.ctx, true);
        bool ok = PQconsumeInput(f->pg) == 1;
        if (ok)
            drain_notifications(f);
        f->opts.sink.busy(f->opts.sink.ctx, false);
        if (!ok || PQstatus(f->pg) != CONNECTION_OK) {
            LOG(LOG_WARN, NULL, "change feed: connection lost: %s", PQerrorMessage(f->pg));
            return false;
        }
    }
}

static void run_session(change_feed *f)
{
    set_state(f, CHANGE_FEED_CATCHING_UP, -1);
    uint64_t started = clock_now_ns();
    if (!read_log(f))
        return;
    LOG(LOG_INFO, NULL, "change feed caught up in %.1f ms (%llu log rows replayed so far)",
        (double)(clock_now_ns() - started) / 1e6, (unsigned long long)f->replayed);
    set_state(f, CHANGE_FEED_CAUGHT_UP, PQsocket(f->pg));
    while (!bg_thread_stopping(&f->thread) && follow_until_next_read(f)) {
        if (!read_log(f))
            return;
        prune_log(f);
    }
}

static void feed_run(bg_thread *self, void *arg)
{
    change_feed *f = arg;
    int backoff_ms = 100;
    while (!bg_thread_stopping(self)) {
        f->pg = connect_feed(f);
        if (f->pg) {
            backoff_ms = 100;
            run_session(f);
            PQfinish(f->pg);
            f->pg = NULL;
        }
        if (atomic_load(&f->state) != CHANGE_FEED_DOWN) {
            LOG(LOG_WARN, NULL, "change feed down: caches are bypassed until it catches up");
            metric_inc(METRIC_CHANGE_FEED_LOSSES);
            set_state(f, CHANGE_FEED_DOWN, -1);
        }
        if (!bg_thread_wait(self, (uint64_t)backoff_ms * 1000000u))
            break;
        backoff_ms = backoff_ms * 2 > f->opts.retry_max_ms ? f->opts.retry_max_ms : backoff_ms * 2;
    }
}

/* ---- lifecycle ------------------------------------------------------------------------ */

change_feed *change_feed_start(const change_feed_options *opts)
{
    change_feed *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->opts = *opts;
    snprintf(f->own_origin, sizeof f->own_origin, "%s", opts->own_origin ? opts->own_origin : "");
    f->opts.own_origin = NULL; /* not borrowed: own_origin */
    atomic_init(&f->replay_window_ms, opts->replay_window_ms);
    if (f->opts.sync_interval_ms < 10)
        f->opts.sync_interval_ms = 10;
    if (f->opts.retry_max_ms < 100)
        f->opts.retry_max_ms = 100;
    f->url = strdup(opts->url);
    if (!f->url)
        goto fail;
    set_state(f, CHANGE_FEED_DOWN, -1);
    if (bg_thread_start(&f->thread, "change-feed", 1, feed_run, f) != 0)
        goto fail;
    return f;
fail:
    free(f->url);
    free(f);
    return NULL;
}

void change_feed_reread(change_feed *feed)
{
    if (feed)
        atomic_store(&feed->reread, true);
}

void change_feed_widen_replay_window(change_feed *feed, int64_t replay_window_ms)
{
    /* one writer (the reload), so load-then-store cannot lose an update */
    if (replay_window_ms > atomic_load_explicit(&feed->replay_window_ms, memory_order_relaxed))
        atomic_store_explicit(&feed->replay_window_ms, replay_window_ms, memory_order_relaxed);
}

void change_feed_stop(change_feed *feed)
{
    if (!feed)
        return;
    bg_thread_stop(&feed->thread);
    set_state(feed, CHANGE_FEED_DOWN, -1);
    free(feed->snapshot);
    free(feed->url);
    free(feed);
}

change_feed_state change_feed_get_state(change_feed *feed)
{
    return (change_feed_state)atomic_load(&feed->state);
}
