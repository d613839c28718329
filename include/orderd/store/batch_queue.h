/*
 * batch_queue.h - a blocking FIFO that hands its consumer everything
 * waiting at once (up to a maximum): the shape of work that is cheaper
 * done together (order_reader.c, order_writer.c).
 *
 * Intrusive: a queued struct starts with a batch_item; the queue never
 * allocates and never owns what is in it.
 */
#ifndef ORDERD_BATCH_QUEUE_H
#define ORDERD_BATCH_QUEUE_H

#include <pthread.h>
#include <stdbool.h>

typedef struct batch_item {
    struct batch_item *next;
} batch_item;

typedef struct batch_queue {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    batch_item *head, *tail;
    bool stopping;
} batch_queue;

void batch_queue_init(batch_queue *q);
void batch_queue_destroy(batch_queue *q);
/* false (item not queued) once the queue is stopping. */
bool batch_queue_push(batch_queue *q, batch_item *item);
/*
 * Waits for work and moves up to max items into batch, oldest first.
 * Returns 0 only when the queue is stopping and empty, so everything
 * queued before batch_queue_stop is still handed out.
 */
int batch_queue_take(batch_queue *q, batch_item **batch, int max);
/* Refuses new items and wakes every consumer. */
void batch_queue_stop(batch_queue *q);

#endif
