/*
 * conn_deadline.c - the registry of open connections and the sweeper that
 * shuts down those past their receive deadline (conn_deadline.h).
 *
 * One mutex guards the list; it is taken at connect, at close and once per
 * sweep, never per request: a request only stores its deadline into its
 * slot with a relaxed atomic.
 */
#include "orderd/http/conn_deadline.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "orderd/base/bg_thread.h"
#include "orderd/base/clock.h"
#include "orderd/base/fmt.h"
#include "orderd/base/log.h"

#define LIMIT_LOG_INTERVAL_NS (UINT64_C(10) * 1000 * 1000 * 1000)
/* shutdown() calls per hold of the lock: the polling threads take it at
 * every connect and close, and must not wait for thousands of calls */
#define SWEEP_BATCH 64
/* shutdowns per sweep: connections opened together (a slowloris opens
 * thousands at once) expire together, and closing them all in one go
 * would make the polling threads close thousands of sockets, and then
 * accept the attacker's thousands of reconnects, in one burst while other
 * clients wait; spread over sweeps, their requests slip in between */
#define SWEEP_MAX 256
/* connections that must have closed since the peak before memory is
 * handed back to the kernel (see give_back_memory) */
#define TRIM_AFTER_CLOSED 256

struct conn_slot {
    conn_slot *prev, *next; /* under the registry lock */
    int fd;
    _Atomic uint64_t deadline_ns;     /* 0 = none */
    bool kept_alive;                  /* a response went out: the connection's thread only */
    char peer[INET6_ADDRSTRLEN + 16]; /* conn_slot_peer; written once, at connect */
};

struct conn_deadlines {
    pthread_mutex_t lock;
    conn_slot head; /* sentinel of a circular list */
    size_t count;   /* under lock */
    int max_connections;
    uint64_t interval_ns;
    atomic_uint_fast64_t expired_total;
    size_t peak_since_trim; /* sweeper thread only */
    log_every limit_log;
    log_every expired_log;
    bg_thread sweeper;
};

/* Shuts down up to SWEEP_BATCH connections past their deadline. */
static unsigned sweep_batch(conn_deadlines *d, uint64_t now)
{
    unsigned expired = 0;
    pthread_mutex_lock(&d->lock);
    for (conn_slot *s = d->head.next; s != &d->head && expired < SWEEP_BATCH; s = s->next) {
        uint64_t deadline = atomic_load_explicit(&s->deadline_ns, memory_order_relaxed);
        if (deadline == 0 || deadline > now)
            continue;
        /* libmicrohttpd owns the descriptor and closes it when it sees the
         * socket fail; the slot stays until then, with no deadline, so the
         * next batch starting from the head again skips it */
        shutdown(s->fd, SHUT_RDWR);
        atomic_store_explicit(&s->deadline_ns, 0, memory_order_relaxed);
        expired++;
    }
    pthread_mutex_unlock(&d->lock);
    return expired;
}

/* Shuts down up to SWEEP_MAX connections past their deadline (the rest
 * go in the next sweeps); returns how many. */
static unsigned sweep(conn_deadlines *d)
{
    uint64_t now = clock_now_ns();
    unsigned expired = 0, batch;
    do {
        batch = sweep_batch(d, now);
        expired += batch;
    } while (batch == SWEEP_BATCH && expired < SWEEP_MAX);
    return expired;
}

/*
 * After a flood of connections has gone, the memory libmicrohttpd
 * malloc'd for them (a connection_memory_limit pool each) is free but
 * still counted in RSS: glibc keeps freed chunks in its arenas.  Handing
 * it back once the count has fallen far from its peak makes RSS return
 * to its baseline after an attack; it is rare, and on this thread.
 */
static void give_back_memory(conn_deadlines *d)
{
    size_t now = conn_deadlines_count(d);
    if (now > d->peak_since_trim)
        d->peak_since_trim = now;
    if (d->peak_since_trim - now < TRIM_AFTER_CLOSED || now > d->peak_since_trim / 2)
        return;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    d->peak_since_trim = now;
}

static void sweeper_run(bg_thread *self, void *arg)
{
    conn_deadlines *d = arg;
    while (bg_thread_wait(self, d->interval_ns)) {
        unsigned expired = sweep(d);
        give_back_memory(d);
        if (expired == 0)
            continue;
        uint64_t total = atomic_fetch_add(&d->expired_total, expired) + expired;
        uint64_t quiet;
        if (log_every_due(&d->expired_log, LIMIT_LOG_INTERVAL_NS, &quiet))
            LOG(LOG_WARN, NULL,
                "closed %u connections that did not send their request in time "
                "(%llu since start)",
                expired, (unsigned long long)total);
    }
}

conn_deadlines *conn_deadlines_create(int sweep_interval_ms, int max_connections)
{
    conn_deadlines *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    pthread_mutex_init(&d->lock, NULL);
    d->head.next = d->head.prev = &d->head;
    d->max_connections = max_connections;
    d->interval_ns = (uint64_t)(sweep_interval_ms > 0 ? sweep_interval_ms : 1) * 1000000;
    if (bg_thread_start(&d->sweeper, "conn-deadline", 1, sweeper_run, d) != 0) {
        pthread_mutex_destroy(&d->lock);
        free(d);
        return NULL;
    }
    return d;
}

void conn_deadlines_destroy(conn_deadlines *d)
{
    if (!d)
        return;
    bg_thread_stop(&d->sweeper);
    conn_slot *s = d->head.next;
    while (s != &d->head) {
        conn_slot *next = s->next;
        free(s);
        s = next;
    }
    pthread_mutex_destroy(&d->lock);
    free(d);
}

conn_slot *conn_deadlines_add(conn_deadlines *d, int fd, uint64_t deadline_ns)
{
    conn_slot *s = malloc(sizeof *s);
    if (!s)
        return NULL;
    s->fd = fd;
    s->kept_alive = false;
    s->peer[0] = '\0';
    atomic_init(&s->deadline_ns, deadline_ns);
    pthread_mutex_lock(&d->lock);
    s->next = &d->head;
    s->prev = d->head.prev;
    d->head.prev->next = s;
    d->head.prev = s;
    size_t count = ++d->count;
    pthread_mutex_unlock(&d->lock);
    uint64_t quiet;
    if (count >= (size_t)d->max_connections &&
        log_every_due(&d->limit_log, LIMIT_LOG_INTERVAL_NS, &quiet))
        LOG(LOG_WARN, NULL,
            "connection limit reached: %zu connections open (max_connections=%d); "
            "new connections wait in the listen backlog",
            count, d->max_connections);
    return s;
}

void conn_deadlines_remove(conn_deadlines *d, conn_slot *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&d->lock);
    s->prev->next = s->next;
    s->next->prev = s->prev;
    d->count--;
    pthread_mutex_unlock(&d->lock);
    free(s);
}

void conn_slot_set_deadline(conn_slot *s, uint64_t deadline_ns)
{
    atomic_store_explicit(&s->deadline_ns, deadline_ns, memory_order_relaxed);
}

void conn_slot_request_line(conn_slot *s, uint64_t head_deadline_ns)
{
    /* the first request's head is due by the deadline set at connect */
    if (s->kept_alive)
        atomic_store_explicit(&s->deadline_ns, head_deadline_ns, memory_order_relaxed);
}

void conn_slot_response_sent(conn_slot *s, uint64_t idle_deadline_ns)
{
    s->kept_alive = true;
    atomic_store_explicit(&s->deadline_ns, idle_deadline_ns, memory_order_relaxed);
}

void conn_slot_set_peer(conn_slot *s, const struct sockaddr *peer)
{
    size_t n = peer ? fmt_sockaddr(peer, s->peer) : 0;
    s->peer[n] = '\0';
}

const char *conn_slot_peer(const conn_slot *s)
{
    return s->peer;
}

size_t conn_deadlines_count(conn_deadlines *d)
{
    pthread_mutex_lock(&d->lock);
    size_t n = d->count;
    pthread_mutex_unlock(&d->lock);
    return n;
}

uint64_t conn_deadlines_expired_total(conn_deadlines *d)
{
    return atomic_load(&d->expired_total);
}
