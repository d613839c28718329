/*
 * bg_thread.c - see bg_thread.h.
 */
#include "orderd/base/bg_thread.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orderd/base/clock.h"

#define NAME_MAX_LEN 15 /* Linux keeps 16 bytes, the NUL included */

static void *bg_thread_main(void *arg)
{
    bg_thread *t = arg;
    t->run(t, t->arg);
    return NULL;
}

/* Waits are on CLOCK_MONOTONIC, like every deadline from clock_now_ns(). */
static int init_sync(bg_thread *t)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return -1;
    int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(&t->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0)
        return -1;
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        pthread_cond_destroy(&t->wake);
        return -1;
    }
    return 0;
}

int bg_thread_start(bg_thread *t, const char *name, int count, bg_thread_fn run, void *arg)
{
    memset(t, 0, sizeof *t);
    if (count < 1)
        return -1;
    t->ids = calloc((size_t)count, sizeof *t->ids);
    if (!t->ids)
        return -1;
    if (init_sync(t) != 0) {
        free(t->ids);
        memset(t, 0, sizeof *t);
        return -1;
    }
    t->run = run;
    t->arg = arg;
    for (int i = 0; i < count; i++) {
        if (pthread_create(&t->ids[t->count], NULL, bg_thread_main, t) != 0)
            break;
        char full[NAME_MAX_LEN + 1];
        if (count > 1)
            snprintf(full, sizeof full, "%s-%d", name, i);
        else
            snprintf(full, sizeof full, "%s", name);
        pthread_setname_np(t->ids[t->count], full); /* only a label: failure is harmless */
        t->count++;
    }
    if (t->count > 0)
        return 0;
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
    free(t->ids);
    memset(t, 0, sizeof *t);
    return -1;
}

static struct timespec monotonic_after(uint64_t timeout_ns)
{
    uint64_t now = clock_now_ns();
    uint64_t at = timeout_ns < UINT64_MAX - now ? now + timeout_ns : UINT64_MAX;
    return (struct timespec){.tv_sec = (time_t)(at / 1000000000u),
                             .tv_nsec = (long)(at % 1000000000u)};
}

bool bg_thread_wait(bg_thread *t, uint64_t timeout_ns)
{
    struct timespec until = monotonic_after(timeout_ns);
    pthread_mutex_lock(&t->lock);
    int rc = 0;
    /* looped: a spurious wake-up must not end the wait early */
    while (!atomic_load(&t->stopping) && !t->woken && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&t->wake, &t->lock, &until);
    t->woken = false;
    bool go_on = !atomic_load(&t->stopping);
    pthread_mutex_unlock(&t->lock);
    return go_on;
}

bool bg_thread_stopping(bg_thread *t)
{
    return atomic_load(&t->stopping);
}

void bg_thread_wake(bg_thread *t)
{
    pthread_mutex_lock(&t->lock);
    t->woken = true;
    pthread_cond_broadcast(&t->wake);
    pthread_mutex_unlock(&t->lock);
}

void bg_thread_stop(bg_thread *t)
{
    if (!t || t->count == 0)
        return;
    /* under the lock: a thread between its check and its wait still
     * sees the flag or gets the broadcast */
    pthread_mutex_lock(&t->lock);
    atomic_store(&t->stopping, true);
    pthread_cond_broadcast(&t->wake);
    pthread_mutex_unlock(&t->lock);
    for (int i = 0; i < t->count; i++)
        pthread_join(t->ids[i], NULL);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
    free(t->ids);
    memset(t, 0, sizeof *t);
}
