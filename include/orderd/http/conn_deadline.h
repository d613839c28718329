/*
 * conn_deadline.h - firm deadlines for receiving a request, per client
 * connection, against slow clients (slowloris).
 *
 * libmicrohttpd's only timer is an idle timeout that every received byte
 * resets, so a client dribbling one byte a second holds a connection (and
 * its memory) for ever.  Here every open connection has a slot with a
 * deadline on the monotonic clock; a sweeper thread shuts down (shutdown(2),
 * never close) the socket of every connection past its deadline, and
 * libmicrohttpd then sees the socket fail and closes it on its own thread.
 *
 * The server moves the deadline as a request advances:
 *   connect                 -> now + head timeout (the first request's head)
 *   request line seen       -> now + head timeout (later requests only)
 *   head complete           -> now + body timeout, or none without a body
 *   body complete, handled  -> none (request_timeout_ms governs the handler)
 *   response sent           -> now + idle timeout (waiting for the next one)
 * Every call on a slot but the sweeper's comes from the thread that runs
 * its connection.
 *
 * Slots are added at connect and removed at close, before libmicrohttpd
 * closes the descriptor, so the sweeper never touches a descriptor that
 * may already belong to another connection.
 */
#ifndef ORDERD_CONN_DEADLINE_H
#define ORDERD_CONN_DEADLINE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct conn_deadlines conn_deadlines;
typedef struct conn_slot conn_slot;

/*
 * Starts the sweeper, which looks every sweep_interval_ms.  max_connections
 * is only for the "limit reached" log line, written at most every 10 s.
 * NULL when the thread cannot start.
 */
conn_deadlines *conn_deadlines_create(int sweep_interval_ms, int max_connections);

/* Stops the sweeper and frees every slot still registered.  NULL-safe. */
void conn_deadlines_destroy(conn_deadlines *d);

/* Registers the connection on socket fd with a first deadline (monotonic
 * ns, 0 = none).  NULL on allocation failure (the connection then has no
 * deadline).  The slot is d's until conn_deadlines_remove. */
conn_slot *conn_deadlines_add(conn_deadlines *d, int fd, uint64_t deadline_ns);

/* Unregisters and frees slot (NULL: nothing).  Call before fd is closed. */
void conn_deadlines_remove(conn_deadlines *d, conn_slot *slot);

/* Sets the deadline (0 = none); any thread, lock-free. */
void conn_slot_set_deadline(conn_slot *slot, uint64_t deadline_ns);

/* A request line arrived: on a connection that has already answered a
 * request the deadline becomes head_deadline_ns; on a new connection the
 * one set at connect stays. */
void conn_slot_request_line(conn_slot *slot, uint64_t head_deadline_ns);

/* A response went out: the deadline becomes idle_deadline_ns. */
void conn_slot_response_sent(conn_slot *slot, uint64_t idle_deadline_ns);

/*
 * The peer's address as the access log writes it ("a.b.c.d:port"),
 * formatted once when the connection is registered rather than once per
 * request; "" when it was not known.  Valid while the slot is.
 */
void conn_slot_set_peer(conn_slot *slot, const struct sockaddr *peer);
const char *conn_slot_peer(const conn_slot *slot);

/* Connections registered now. */
size_t conn_deadlines_count(conn_deadlines *d);

/* Connections shut down for a missed deadline since start. */
uint64_t conn_deadlines_expired_total(conn_deadlines *d);

#endif
