/*
 * listener.h - the listening socket and the thread that accepts on it,
 * handing each new connection to libmicrohttpd (MHD_add_connection).
 *
 * Why orderd accepts instead of libmicrohttpd: the only way 0.9.75 offers
 * to stop accepting while requests finish is MHD_quiesce_daemon(), and
 * with a thread pool in epoll mode it races the polling threads (both
 * remove the listening socket from a thread's epoll set; whichever loses
 * gets ENOENT, and libmicrohttpd aborts the process: "Failed to remove
 * listen FD from epoll set").  A SIGTERM under load then ended in abort()
 * instead of a drain.  Owning the socket makes "stop accepting" a join
 * and a close(): from then on connects are refused at once.
 */
#ifndef ORDERD_HTTP_LISTENER_H
#define ORDERD_HTTP_LISTENER_H

#include <stdint.h>

struct MHD_Daemon;
typedef struct listener listener;

/* Binds and listens on host (an IPv4 or IPv6 literal) and port.  NULL
 * with *why set (a static string; errno tells more) when it cannot. */
listener *listener_open(const char *host, uint16_t port, const char **why);

/* Starts accepting: every accepted connection goes to daemon (which
 * closes it itself when it is over its per-address limit).  While daemon
 * holds max_open connections, new ones wait in the listen backlog.  0,
 * or -1 when the thread cannot start. */
int listener_start(listener *l, struct MHD_Daemon *daemon, unsigned max_open);

/* libmicrohttpd's polling thread took a handed-over connection (its
 * MHD_CONNECTION_NOTIFY_STARTED).  NULL-safe; any thread. */
void listener_connection_started(listener *l);

/* A connection of daemon closed: room for the next one.  Cheap unless the
 * listener is waiting for room.  NULL-safe; any thread. */
void listener_connection_closed(listener *l);

/* Stops accepting and closes the socket: new connects are refused from
 * here on.  Connections already handed over are untouched.  Idempotent. */
void listener_stop(listener *l);

/* listener_stop, then frees it.  NULL-safe. */
void listener_destroy(listener *l);

#endif
