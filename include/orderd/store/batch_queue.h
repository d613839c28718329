/*
 * batch_queue.h - a blocking FIFO that hands its consumer everything
 * waiting at once (up to a maximum): the shape of work that is cheaper
 * done together (order_reader.c, order_writer.c).  With it, the two
 * steps every batch starts with: drop what is already too late, and
 * find the deadline the rest share.
 *
 * Intrusive: a queued struct starts with a batch_item; the queue never
 * allocates and never owns what is in it.
 */
#ifndef ORDERD_BATCH_QUEUE_H
#define ORDERD_BATCH_QUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "orderd/base/metrics.h"

typedef struct batch_item {
    struct batch_item *next; /* the queue's */
    uint64_t deadline_ns;    /* clock_now_ns() base; set by whoever queues the item */
} batch_item;

typedef struct batch_queue {
    pthread_mutex_t lock;
    pthread_cond_t ready;        /* the first consumer waits here (every one, without standbys) */
    pthread_cond_t standby_wake; /* standby consumers wait here */
    batch_item *head, *tail;
    bool stopping;
    uint64_t standby_after_ns;    /* 0: no standbys (batch_queue_set_standby) */
    metric_id standby_counted;    /* counts the batches standbys take */
    int consumers;                /* batch_queue_consume calls so far */
    uint64_t first_busy_since_ns; /* the first consumer's batch started; 0: it is waiting */
} batch_queue;

void batch_queue_init(batch_queue *q);
/*
 * Makes every consumer but the first a standby: it takes work only once
 * the first has spent after_ns on one batch (a statement waiting on a
 * row lock, a slow commit), and then as usual until it has none.  The
 * first takes everything waiting whenever it is free.  So in the usual
 * case one batch is in flight and the next one fills while it is: fewer,
 * bigger batches, where each statement and commit has a cost of its own
 * (order_writer.c, order_amender.c).  Every batch a standby takes adds
 * one to the counter counted: how often a batch ran that long.  Call
 * before the consumers start; after_ns 0 turns standbys off (the
 * default: every consumer takes work at once).
 */
void batch_queue_set_standby(batch_queue *q, uint64_t after_ns, metric_id counted);
/* The queue must be stopped and empty (its consumers joined). NULL-safe. */
void batch_queue_destroy(batch_queue *q);
/* false (item not queued) once the queue is stopping. */
bool batch_queue_push(batch_queue *q, batch_item *item);
/*
 * Waits for work and moves up to max items into batch, oldest first.
 * Returns 0 only when the queue is stopping and empty, so everything
 * queued before batch_queue_stop is still handed out.
 */
int batch_queue_take(batch_queue *q, batch_item **batch, int max);
/*
 * Moves up to max items already queued into batch, oldest first, without
 * waiting: 0 when there are none.  For a consumer that lingers to merge
 * what arrives just after a batch it took.
 */
int batch_queue_take_ready(batch_queue *q, batch_item **batch, int max);
/* Refuses new items and wakes every consumer. Idempotent; NULL-safe. */
void batch_queue_stop(batch_queue *q);

/* Does the work of one batch of n (>= 1) items. */
typedef void (*batch_fn)(void *ctx, batch_item **batch, int n);

/*
 * The body of a consumer thread: takes batches of at most max (>= 1)
 * items and hands each to process, until the queue is stopped and empty.
 * The first call on a queue is its first consumer (see
 * batch_queue_set_standby).
 */
void batch_queue_consume(batch_queue *q, int max, batch_fn process, void *ctx);

/*
 * Hands every item of batch whose deadline has passed at now to expire
 * (in batch order; expire may free it), keeps the others at the front in
 * their order, and returns how many those are.
 */
int batch_drop_expired(batch_item **batch, int n, uint64_t now, void (*expire)(batch_item *item));

/*
 * The latest deadline of the n items (0 when n is 0): the deadline of a
 * statement shared by all of them, so none is cancelled for another's sake.
 */
uint64_t batch_latest_deadline(batch_item *const *batch, int n);

/*
 * How many items from the front (at least 1 when n > 0) have deadlines
 * within slack_ns of each other: one statement for them, cancelled at
 * their latest deadline, ends each at most slack_ns after its own.  Under
 * load a batch is one group (its items arrived within a commit's time);
 * behind a lock, items queued over seconds would otherwise all wait for
 * the last one's deadline.
 */
int batch_deadline_group(batch_item *const *batch, int n, uint64_t slack_ns);

/*
 * Stable partition: the items for which first() holds move to the front,
 * the others behind them, each side in batch order; returns how many are
 * in front.  (The writer sends creates with and without a key apart.)
 */
int batch_partition(batch_item **batch, int n, bool (*first)(const batch_item *item));

/*
 * Moves the first item of each kind (same() says which are of one kind)
 * to the front, in batch order, and every later item of a kind already
 * there behind them, in theirs; returns how many are in front.  For a
 * statement that must not name one order (or one key) twice, and where a
 * second request for it must see the first's result: it waits for the
 * next statement.
 */
int batch_distinct_first(batch_item **batch, int n,
                         bool (*same)(const batch_item *a, const batch_item *b));

/* Does one group's work; returns how many of its items it moved to the
 * group's front to be sent again (0: it answered them all). */
typedef int (*batch_group_fn)(void *ctx, batch_item **group, int n);

typedef struct batch_group_rules {
    uint64_t slack_ns;                /* batch_deadline_group's */
    void (*expire)(batch_item *item); /* answers an item past its deadline */
    /* NULL, or two items that must not share a group (batch_distinct_first) */
    bool (*same)(const batch_item *a, const batch_item *b);
} batch_group_rules;

/*
 * The loop every batcher runs over a batch: drop the expired, take the
 * front group of close deadlines (and, with rules->same, distinct
 * kinds), run it, put what it left to send again back in front, and
 * go on until nothing is left.
 */
void batch_run_groups(batch_item **batch, int n, const batch_group_rules *rules, batch_group_fn run,
                      void *ctx);

#endif
