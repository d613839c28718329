/*
 * watchdog.h - systemd's watchdog (WatchdogSec=), fed only while the
 * daemon can prove it works.
 *
 * A thread runs check every period; only when check passes does it send
 * WATCHDOG=1.  main.c's check is a GET /healthz to the daemon itself,
 * answered on an HTTP polling thread, so a daemon whose polling threads
 * are stuck (or that no longer accepts connections) stops feeding the
 * watchdog and systemd restarts it, while a merely busy one keeps going.
 * The period should be half of WATCHDOG_USEC (sd_watchdog_enabled(3)),
 * and check must give up well inside it.
 */
#ifndef ORDERD_WATCHDOG_H
#define ORDERD_WATCHDOG_H

#include <stdbool.h>
#include <stdint.h>

#include "orderd/base/systemd_notify.h"

typedef struct watchdog watchdog;

/* true when the daemon is healthy; runs on the watchdog thread */
typedef bool (*watchdog_check_fn)(void *ctx);

/*
 * Starts the thread.  notify and ctx are borrowed until watchdog_stop.
 * NULL when the thread cannot start (logged).
 */
watchdog *watchdog_start(systemd_notify *notify, uint64_t period_ns, watchdog_check_fn check,
                         void *ctx);

/* Stops feeding and joins the thread. NULL-safe. */
void watchdog_stop(watchdog *w);

#endif
