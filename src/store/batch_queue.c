/*
 * batch_queue.c - see batch_queue.h.
 */
#include "orderd/store/batch_queue.h"

#include <stddef.h>
#include <string.h>
#include <time.h>

#include "orderd/base/clock.h"

void batch_queue_init(batch_queue *q)
{
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->ready, NULL);
    /* standbys wait until a clock_now_ns() time */
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->standby_wake, &attr);
    pthread_condattr_destroy(&attr);
    q->head = q->tail = NULL;
    q->stopping = false;
    q->standby_after_ns = 0;
    q->standby_counted = 0; /* read only with standby_after_ns set */
    q->consumers = 0;
    q->first_busy_since_ns = 0;
}

void batch_queue_set_standby(batch_queue *q, uint64_t after_ns, metric_id counted)
{
    pthread_mutex_lock(&q->lock);
    q->standby_after_ns = after_ns;
    q->standby_counted = counted;
    pthread_mutex_unlock(&q->lock);
}

void batch_queue_destroy(batch_queue *q)
{
    if (!q)
        return;
    pthread_cond_destroy(&q->ready);
    pthread_cond_destroy(&q->standby_wake);
    pthread_mutex_destroy(&q->lock);
}

bool batch_queue_push(batch_queue *q, batch_item *item)
{
    pthread_mutex_lock(&q->lock);
    bool ok = !q->stopping;
    if (ok) {
        bool was_empty = !q->head;
        item->next = NULL;
        if (q->tail)
            q->tail->next = item;
        else
            q->head = item;
        q->tail = item;
        pthread_cond_signal(&q->ready);
        /* the first work behind a busy first consumer starts the
         * standbys' clock (with work already waiting, they are timing) */
        if (was_empty && q->first_busy_since_ns)
            pthread_cond_broadcast(&q->standby_wake);
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

/* Moves up to max items from the front into batch; called locked. */
static int take_locked(batch_queue *q, batch_item **batch, int max)
{
    int n = 0;
    while (q->head && n < max) {
        batch[n++] = q->head;
        q->head = q->head->next;
    }
    if (!q->head)
        q->tail = NULL;
    /* more left over: let another consumer start on it */
    if (q->head)
        pthread_cond_signal(&q->ready);
    return n;
}

int batch_queue_take(batch_queue *q, batch_item **batch, int max)
{
    pthread_mutex_lock(&q->lock);
    while (!q->head && !q->stopping)
        pthread_cond_wait(&q->ready, &q->lock);
    int n = take_locked(q, batch, max);
    pthread_mutex_unlock(&q->lock);
    return n;
}

int batch_queue_take_ready(batch_queue *q, batch_item **batch, int max)
{
    pthread_mutex_lock(&q->lock);
    int n = take_locked(q, batch, max);
    pthread_mutex_unlock(&q->lock);
    return n;
}

/* The first consumer's take: as batch_queue_take, and it marks the time
 * its batch starts (0 while it waits), which the standbys go by. */
static int take_first(batch_queue *q, batch_item **batch, int max)
{
    pthread_mutex_lock(&q->lock);
    q->first_busy_since_ns = 0;
    while (!q->head && !q->stopping)
        pthread_cond_wait(&q->ready, &q->lock);
    int n = take_locked(q, batch, max);
    if (n > 0 && q->standby_after_ns) {
        q->first_busy_since_ns = clock_now_ns();
        /* work already waiting behind this batch: start the standbys' clock */
        if (q->head)
            pthread_cond_broadcast(&q->standby_wake);
    }
    pthread_mutex_unlock(&q->lock);
    return n;
}

static struct timespec monotonic_at(uint64_t ns)
{
    return (struct timespec){.tv_sec = (time_t)(ns / 1000000000u),
                             .tv_nsec = (long)(ns % 1000000000u)};
}

/* A standby's take: waits until there is work and the first consumer has
 * been on its batch for standby_after_ns, or the queue is stopping. */
static int take_standby(batch_queue *q, batch_item **batch, int max)
{
    pthread_mutex_lock(&q->lock);
    for (;;) {
        if (q->stopping)
            break;
        uint64_t since = q->first_busy_since_ns;
        if (q->head && since) {
            uint64_t due = since + q->standby_after_ns;
            if (clock_now_ns() >= due)
                break;
            struct timespec at = monotonic_at(due);
            pthread_cond_timedwait(&q->standby_wake, &q->lock, &at);
        } else {
            /* nothing waiting, or the first consumer is free to take it */
            pthread_cond_wait(&q->standby_wake, &q->lock);
        }
    }
    int n = take_locked(q, batch, max);
    metric_id counted = q->standby_counted;
    pthread_mutex_unlock(&q->lock);
    if (n > 0)
        metric_inc(counted);
    return n;
}

void batch_queue_stop(batch_queue *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    q->stopping = true;
    pthread_cond_broadcast(&q->ready);
    pthread_cond_broadcast(&q->standby_wake);
    pthread_mutex_unlock(&q->lock);
}

void batch_queue_consume(batch_queue *q, int max, batch_fn process, void *ctx)
{
    pthread_mutex_lock(&q->lock);
    bool first = q->consumers++ == 0;
    bool standby = !first && q->standby_after_ns;
    pthread_mutex_unlock(&q->lock);
    batch_item *batch[max];
    int n;
    for (;;) {
        if (first)
            n = take_first(q, batch, max);
        else if (standby)
            n = take_standby(q, batch, max);
        else
            n = batch_queue_take(q, batch, max);
        if (n == 0)
            break;
        process(ctx, batch, n);
    }
}

int batch_drop_expired(batch_item **batch, int n, uint64_t now, void (*expire)(batch_item *item))
{
    int live = 0;
    for (int i = 0; i < n; i++) {
        if (now >= batch[i]->deadline_ns)
            expire(batch[i]);
        else
            batch[live++] = batch[i];
    }
    return live;
}

int batch_deadline_group(batch_item *const *batch, int n, uint64_t slack_ns)
{
    if (n <= 0)
        return 0;
    uint64_t lo = batch[0]->deadline_ns, hi = lo;
    int k = 1;
    for (; k < n; k++) {
        uint64_t d = batch[k]->deadline_ns;
        uint64_t new_lo = d < lo ? d : lo, new_hi = d > hi ? d : hi;
        if (new_hi - new_lo > slack_ns)
            break;
        lo = new_lo;
        hi = new_hi;
    }
    return k;
}

uint64_t batch_latest_deadline(batch_item *const *batch, int n)
{
    uint64_t latest = 0;
    for (int i = 0; i < n; i++)
        if (batch[i]->deadline_ns > latest)
            latest = batch[i]->deadline_ns;
    return latest;
}

int batch_partition(batch_item **batch, int n, bool (*first)(const batch_item *item))
{
    batch_item *rest[n > 0 ? n : 1];
    int front = 0, behind = 0;
    for (int i = 0; i < n; i++) {
        if (first(batch[i]))
            batch[front++] = batch[i];
        else
            rest[behind++] = batch[i];
    }
    memcpy(batch + front, rest, (size_t)behind * sizeof *rest);
    return front;
}

void batch_run_groups(batch_item **batch, int n, const batch_group_rules *rules, batch_group_fn run,
                      void *ctx)
{
    while (n > 0) {
        /* never send what can no longer be acknowledged in time */
        n = batch_drop_expired(batch, n, clock_now_ns(), rules->expire);
        int g = batch_deadline_group(batch, n, rules->slack_ns);
        if (g == 0)
            break;
        int go = rules->same ? batch_distinct_first(batch, g, rules->same) : g;
        int again = run(ctx, batch, go);
        /* the ones to send again are at batch[0..again): close up the rest behind them */
        memmove(batch + again, batch + go, (size_t)(n - go) * sizeof *batch);
        n = again + (n - go);
    }
}

int batch_distinct_first(batch_item **batch, int n,
                         bool (*same)(const batch_item *a, const batch_item *b))
{
    batch_item *later[n > 0 ? n : 1];
    int front = 0, behind = 0;
    for (int i = 0; i < n; i++) {
        bool seen = false;
        for (int k = 0; k < front && !seen; k++)
            seen = same(batch[k], batch[i]);
        /* behind one of its kind already: every later one goes behind too */
        for (int k = 0; k < behind && !seen; k++)
            seen = same(later[k], batch[i]);
        if (seen)
            later[behind++] = batch[i];
        else
            batch[front++] = batch[i];
    }
    memcpy(batch + front, later, (size_t)behind * sizeof *later);
    return front;
}
