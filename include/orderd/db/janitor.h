/*
 * janitor.h - periodic housekeeping off the request path: deletes
 * idempotency keys older than 24 hours (requests already treat them as
 * absent; this only keeps the table from growing forever).
 */
#ifndef ORDERD_JANITOR_H
#define ORDERD_JANITOR_H

#include "orderd/db/db_pool.h"

typedef struct janitor janitor;

/* Runs once soon after start, then every interval_s. db is borrowed. */
janitor *janitor_start(db_pool *db, int interval_s);
/* Stops and joins the thread. NULL-safe. */
void janitor_stop(janitor *j);

#endif
