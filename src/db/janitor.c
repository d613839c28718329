/*
 * janitor.c - the housekeeping thread (see janitor.h).
 */
#include "orderd/db/janitor.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "orderd/base/clock.h"
#include "orderd/base/log.h"
#include "orderd/db/order_db.h"

#define FIRST_RUN_DELAY_S   5
#define ACQUIRE_BUDGET_NS   (UINT64_C(2) * 1000 * 1000 * 1000)
#define STATEMENT_BUDGET_NS (UINT64_C(60) * 1000 * 1000 * 1000)

struct janitor {
    db_pool *db;
    int interval_s;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
    pthread_t thread;
};

static void expire_keys(janitor *j)
{
    orderd_err err;
    db_conn *conn = db_pool_acquire(j->db, clock_now_ns() + ACQUIRE_BUDGET_NS, &err);
    if (!conn)
        return; /* busy or down: next round */
    db_conn_set_deadline(conn, clock_now_ns() + STATEMENT_BUDGET_NS);
    long n = order_db_expire_idempotency_keys(conn);
    db_pool_release(j->db, conn);
    if (n > 0)
        LOG(LOG_INFO, NULL, "janitor: deleted %ld expired idempotency keys", n);
}

static void *janitor_main(void *arg)
{
    janitor *j = arg;
    int wait_s = FIRST_RUN_DELAY_S;
    pthread_mutex_lock(&j->lock);
    while (!j->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += wait_s;
        pthread_cond_timedwait(&j->wake, &j->lock, &until);
        if (j->stopping)
            break;
        pthread_mutex_unlock(&j->lock);
        expire_keys(j);
        pthread_mutex_lock(&j->lock);
        wait_s = j->interval_s;
    }
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

janitor *janitor_start(db_pool *db, int interval_s)
{
    janitor *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->db = db;
    j->interval_s = interval_s > 0 ? interval_s : 3600;
    pthread_mutex_init(&j->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&j->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&j->thread, NULL, janitor_main, j) != 0) {
        pthread_cond_destroy(&j->wake);
        pthread_mutex_destroy(&j->lock);
        free(j);
        return NULL;
    }
    return j;
}

void janitor_stop(janitor *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->lock);
    j->stopping = true;
    pthread_cond_signal(&j->wake);
    pthread_mutex_unlock(&j->lock);
    pthread_join(j->thread, NULL);
    pthread_cond_destroy(&j->wake);
    pthread_mutex_destroy(&j->lock);
    free(j);
}
