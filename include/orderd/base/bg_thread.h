/*
 * bg_thread.h - the one way to run and stop a background thread (or a
 * few alike): a name, a stop flag, timed waits that end on stop or wake,
 * and stop = raise the flag, wake, join.
 *
 *     static void sweeper_run(bg_thread *self, void *arg)
 *     {
 *         while (bg_thread_wait(self, interval_ns))
 *             sweep(arg);
 *     }
 *     bg_thread_start(&s->thread, "sweeper", 1, sweeper_run, s);
 *     ...
 *     bg_thread_stop(&s->thread);
 *
 * A thread that blocks on something else ends its own way: one polling a
 * socket checks bg_thread_stopping each round; one that consumes a queue
 * returns when the queue is stopped, so its owner stops the queue first,
 * then calls bg_thread_stop to join.
 *
 * Lifecycle words, here and in every module: X_create / X_destroy make
 * and free an object (destroy stops what create started); X_start /
 * X_stop start and stop threads or a service; X_init / X_destroy set up
 * and tear down a struct the caller embeds; X_clear frees what a value
 * (an order, a doc) owns; acquire / release borrow and give back.  Every
 * destroy, stop, clear and release accepts NULL (or a struct that never
 * started) and then does nothing.
 */
#ifndef ORDERD_BG_THREAD_H
#define ORDERD_BG_THREAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct bg_thread bg_thread;
typedef void (*bg_thread_fn)(bg_thread *self, void *arg);

/* Embedded in its owner, which must not move it while it runs; zeroed
 * (or stopped) it is "not running".  Fields are bg_thread.c's. */
struct bg_thread {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* CLOCK_MONOTONIC */
    bool woken;          /* under lock: a wake no wait has taken yet */
    atomic_bool stopping;
    int count; /* threads running; 0 = none */
    pthread_t *ids;
    bg_thread_fn run;
    void *arg;
};

/*
 * Starts count (>= 1) threads, each running run(t, arg), named name
 * ("name-<i>" when count > 1; at most 15 characters, as top and gdb show
 * them).  0 when at least one started (fewer than count only when the
 * system refused more), -1 when none did (t is then not running).
 */
int bg_thread_start(bg_thread *t, const char *name, int count, bg_thread_fn run, void *arg);

/*
 * For the thread itself: waits until timeout_ns has passed, bg_thread_wake
 * is called or bg_thread_stop begins.  Returns false when the thread must
 * end (stopping), true otherwise.
 */
bool bg_thread_wait(bg_thread *t, uint64_t timeout_ns);

/* True once bg_thread_stop has begun: for threads that wait elsewhere. */
bool bg_thread_stopping(bg_thread *t);

/* Ends the current wait early, or the next one if none is in progress,
 * so a wake is never lost.  Any thread may call it while t runs. */
void bg_thread_wake(bg_thread *t);

/* Raises the stop flag, wakes and joins every thread.  NULL, a zeroed
 * bg_thread or one already stopped: nothing to do. */
void bg_thread_stop(bg_thread *t);

#endif
