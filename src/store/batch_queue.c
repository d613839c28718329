/*
 * batch_queue.c - see batch_queue.h.
 */
#include "orderd/store/batch_queue.h"

#include <stddef.h>
#include <string.h>

#include "orderd/base/clock.h"

void batch_queue_init(batch_queue *q)
{
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->ready, NULL);
    q->head = q->tail = NULL;
    q->stopping = false;
}

void batch_queue_destroy(batch_queue *q)
{
    if (!q)
        return;
    pthread_cond_destroy(&q->ready);
    pthread_mutex_destroy(&q->lock);
}

bool batch_queue_push(batch_queue *q, batch_item *item)
{
    pthread_mutex_lock(&q->lock);
    bool ok = !q->stopping;
    if (ok) {
        item->next = NULL;
        if (q->tail)
            q->tail->next = item;
        else
            q->head = item;
        q->tail = item;
        pthread_cond_signal(&q->ready);
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

int batch_queue_take(batch_queue *q, batch_item **batch, int max)
{
    pthread_mutex_lock(&q->lock);
    while (!q->head && !q->stopping)
        pthread_cond_wait(&q->ready, &q->lock);
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
    pthread_mutex_unlock(&q->lock);
    return n;
}

void batch_queue_stop(batch_queue *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->lock);
    q->stopping = true;
    pthread_cond_broadcast(&q->ready);
    pthread_mutex_unlock(&q->lock);
}

void batch_queue_consume(batch_queue *q, int max, batch_fn process, void *ctx)
{
    batch_item *batch[max];
    int n;
    while ((n = batch_queue_take(q, batch, max)) > 0)
        process(ctx, batch, n);
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
