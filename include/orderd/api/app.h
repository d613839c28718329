/*
 * app.h - what every handler may use, wired once by main.c.
 *
 * Everything here is created before the server starts and destroyed after
 * it stops; handlers only borrow it.
 */
#ifndef ORDERD_APP_H
#define ORDERD_APP_H

#include <stdatomic.h>

#include "orderd/auth/auth.h"
#include "orderd/base/config.h"
#include "orderd/db/db_pool.h"
#include "orderd/cache/hot_cache.h"
#include "orderd/cache/hot_lists.h"
#include "orderd/store/order_store.h"

typedef struct app {
    const orderd_config *cfg;
    db_pool *db;
    order_store *store;
    hot_cache *hot;       /* NULL when there is no in-process cache */
    hot_lists *hot_lists; /* list pages beside it; NULL when off */
    auth *auth;           /* tokens and rate limits (api/auth_gate.h); NULL = neither */
    atomic_bool draining; /* set on SIGTERM: /readyz answers 503 */
} app;

#endif
