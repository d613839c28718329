/*
 * watchdog.c - WATCHDOG=1 only after a passing check (watchdog.h).
 */
#include "orderd/base/watchdog.h"

#include <stdlib.h>

#include "orderd/base/bg_thread.h"
#include "orderd/base/log.h"

struct watchdog {
    bg_thread thread;
    systemd_notify *notify;
    uint64_t period_ns;
    watchdog_check_fn check;
    void *ctx;
};

static void watchdog_run(bg_thread *self, void *arg)
{
    watchdog *w = arg;
    bool failing = false;
    /* check first, then wait: the first ping goes out at once */
    do {
        bool ok = w->check(w->ctx);
        if (ok)
            systemd_notify_send(w->notify, "WATCHDOG=1");
        /* one line per change of state, not one per period */
        if (ok && failing)
            LOG(LOG_WARN, NULL, "watchdog: the daemon answers again; feeding the watchdog");
        else if (!ok && !failing)
            LOG(LOG_ERROR, NULL,
                "watchdog: the daemon did not answer its own GET /healthz; not feeding the "
                "watchdog (systemd restarts the service if this lasts)");
        failing = !ok;
    } while (bg_thread_wait(self, w->period_ns));
}

watchdog *watchdog_start(systemd_notify *notify, uint64_t period_ns, watchdog_check_fn check,
                         void *ctx)
{
    watchdog *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->notify = notify;
    w->period_ns = period_ns;
    w->check = check;
    w->ctx = ctx;
    if (bg_thread_start(&w->thread, "watchdog", 1, watchdog_run, w) != 0) {
        LOG(LOG_ERROR, NULL, "cannot start the watchdog thread");
        free(w);
        return NULL;
    }
    return w;
}

void watchdog_stop(watchdog *w)
{
    if (!w)
        return;
    bg_thread_stop(&w->thread);
    free(w);
}
