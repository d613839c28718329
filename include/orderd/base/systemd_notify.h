/*
 * systemd_notify.h - the service manager's notification protocol
 * (sd_notify(3)), spoken directly: one datagram of "KEY=value" lines to
 * the AF_UNIX socket named by $NOTIFY_SOCKET ('/' a path, '@' the
 * abstract namespace).  No libsystemd: the protocol is stable, documented
 * and twenty lines, and the daemon then runs the same without systemd
 * (the variable is simply unset) and links nothing more.
 *
 * What orderd sends (main.c): READY=1 once listening with its
 * dependencies settled, RELOADING=1 ... READY=1 around a SIGHUP reload,
 * STOPPING=1 when draining begins, WATCHDOG=1 from watchdog.c.
 */
#ifndef ORDERD_SYSTEMD_NOTIFY_H
#define ORDERD_SYSTEMD_NOTIFY_H

#include <stdint.h>

typedef struct systemd_notify systemd_notify;

/*
 * Opens a socket to $NOTIFY_SOCKET.  NULL when the variable is unset
 * (not started by systemd: every send is then a no-op) or names nothing
 * usable (logged once).  Destroy with systemd_notify_destroy.
 */
systemd_notify *systemd_notify_create(void);
void systemd_notify_destroy(systemd_notify *n);

/*
 * Sends state, e.g. "READY=1\nSTATUS=serving", as one datagram.  Any
 * thread may call it at any time.  0 when sent or n is NULL, -1 when the
 * send failed (the manager gone: nothing to do about it but say so).
 */
int systemd_notify_send(systemd_notify *n, const char *state);

/*
 * The watchdog period systemd asks for ($WATCHDOG_USEC, WatchdogSec= in
 * the unit) in microseconds, when $WATCHDOG_PID is unset or is this
 * process; 0 when there is no watchdog.
 */
uint64_t systemd_watchdog_usec(void);

#endif
