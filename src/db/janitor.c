/*
 * janitor.c - the housekeeping thread (see janitor.h).
 */
#include "orderd/db/janitor.h"

#include <stdlib.h>

#include "orderd/base/bg_thread.h"
#include "orderd/base/clock.h"
#include "orderd/base/log.h"
#include "orderd/db/order_db.h"

#define FIRST_RUN_DELAY_NS  (UINT64_C(5) * 1000 * 1000 * 1000)
#define ACQUIRE_BUDGET_MS   2000
#define STATEMENT_BUDGET_NS (UINT64_C(60) * 1000 * 1000 * 1000)

struct janitor {
    db_pool *db;
    uint64_t interval_ns;
    bg_thread thread;
};

static void expire_keys(janitor *j)
{
    orderd_err err;
    db_conn *conn =
        db_pool_acquire_for(j->db, ACQUIRE_BUDGET_MS, clock_now_ns() + STATEMENT_BUDGET_NS, &err);
    if (!conn)
        return; /* busy or down: next round */
    long n = order_db_expire_idempotency_keys(conn);
    db_pool_release(j->db, conn);
    if (n > 0)
        LOG(LOG_INFO, NULL, "janitor: deleted %ld expired idempotency keys", n);
}

static void janitor_run(bg_thread *self, void *arg)
{
    janitor *j = arg;
    uint64_t wait_ns = FIRST_RUN_DELAY_NS;
    while (bg_thread_wait(self, wait_ns)) {
        expire_keys(j);
        wait_ns = j->interval_ns;
    }
}

janitor *janitor_start(db_pool *db, int interval_s)
{
    janitor *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->db = db;
    j->interval_ns = (uint64_t)(interval_s > 0 ? interval_s : 3600) * 1000000000u;
    if (bg_thread_start(&j->thread, "janitor", 1, janitor_run, j) != 0) {
        free(j);
        return NULL;
    }
    return j;
}

void janitor_stop(janitor *j)
{
    if (!j)
        return;
    bg_thread_stop(&j->thread);
    free(j);
}
