/*
 * listener.c - accept() in a thread of our own (listener.h says why).
 */
/* accept4 needs _GNU_SOURCE, which the build defines */
#include "orderd/http/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "orderd/base/clock.h"
#include "orderd/base/log.h"

struct listener {
    int fd;      /* the listening socket; -1 once stopped */
    int wake_fd; /* eventfd: written to stop the thread, or when room came free */
    struct MHD_Daemon *daemon;
    unsigned max_open;
    pthread_t thread;
    bool started;
    atomic_bool stopping;
    atomic_bool full; /* waiting for a connection to close */
    /* handed to libmicrohttpd, not yet counted by it: its polling thread
     * counts (and checks the limit) a moment after MHD_add_connection */
    atomic_uint pending;
    uint64_t last_add_ns; /* the accept thread's own */
};

/* A handed-over connection that has not started by then was refused
 * (libmicrohttpd's limit check in its polling thread): stop counting it. */
#define PENDING_EXPIRY_NS (50 * 1000 * 1000)

static int bind_and_listen(const char *host, uint16_t port, const char **why)
{
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    struct sockaddr_in *in4 = (struct sockaddr_in *)&addr;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&addr;
    socklen_t len;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        len = sizeof *in4;
    } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        len = sizeof *in6;
    } else {
        *why = "not an IP address";
        return -1;
    }
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *why = "socket() failed";
        return -1;
    }
    int on = 1;
    /* a restart must not wait for the old process's TIME_WAIT sockets */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (bind(fd, (struct sockaddr *)&addr, len) != 0) {
        *why = "in use, or not permitted";
        close(fd);
        return -1;
    }
    if (listen(fd, SOMAXCONN) != 0) {
        *why = "listen() failed";
        close(fd);
        return -1;
    }
    return fd;
}

listener *listener_open(const char *host, uint16_t port, const char **why)
{
    listener *l = calloc(1, sizeof *l);
    if (!l) {
        *why = "out of memory";
        return NULL;
    }
    l->fd = bind_and_listen(host, port, why);
    l->wake_fd = l->fd < 0 ? -1 : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->fd < 0 || l->wake_fd < 0) {
        if (l->fd >= 0) {
            *why = "eventfd() failed";
            close(l->fd);
        }
        free(l);
        return NULL;
    }
    return l;
}

/* Connections libmicrohttpd holds now (summed over its polling threads),
 * plus those handed to it that it has not counted yet. */
static unsigned open_connections(listener *l)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(l->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    if (atomic_load(&l->pending) > 0 && clock_now_ns() - l->last_add_ns > PENDING_EXPIRY_NS)
        atomic_store(&l->pending, 0);
    return (info ? info->num_connections : 0) + atomic_load(&l->pending);
}

/*
 * Accepts what is waiting while there is room; false when the socket
 * failed for good.  At the limit the rest stay in the listen backlog, as
 * they would with libmicrohttpd's own listening socket, instead of being
 * accepted only to be closed.
 */
static bool accept_pending(listener *l)
{
    while (open_connections(l) < l->max_open) {
        struct sockaddr_storage addr;
        socklen_t len = sizeof addr;
        int s = accept4(l->fd, (struct sockaddr *)&addr, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (s < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
                return true;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* out of descriptors: back off rather than spin; the
                 * connects wait in the backlog meanwhile */
                LOG(LOG_WARN, NULL, "accept: %s; pausing 10 ms", strerror(errno));
                poll(NULL, 0, 10);
                return true;
            }
            LOG(LOG_ERROR, NULL, "accept failed: %s", strerror(errno));
            return false;
        }
        /* over the per-address limit, libmicrohttpd closes it itself */
        if (MHD_add_connection(l->daemon, s, (struct sockaddr *)&addr, len) == MHD_YES) {
            atomic_fetch_add(&l->pending, 1);
            l->last_add_ns = clock_now_ns();
        }
    }
    return true;
}

static void *accept_loop(void *arg)
{
    listener *l = arg;
    struct pollfd fds[2] = {{.fd = l->fd, .events = POLLIN}, {.fd = l->wake_fd, .events = POLLIN}};
    while (!atomic_load(&l->stopping)) {
        bool room = open_connections(l) < l->max_open;
        atomic_store(&l->full, !room);
        fds[0].events = room ? POLLIN : 0;
        /* full: a closing connection wakes us; the timeout is a backstop
         * (and lets a refused hand-over expire) */
        if (poll(fds, 2, room ? -1 : 10) < 0) {
            if (errno == EINTR)
                continue;
            LOG(LOG_ERROR, NULL, "accept thread: poll failed: %s", strerror(errno));
            break;
        }
        if (atomic_load(&l->stopping))
            break;
        if (fds[1].revents) {
            uint64_t n;
            ssize_t got = read(l->wake_fd, &n, sizeof n);
            (void)got; /* nonblocking: nothing to read just means another wake took it */
        }
        if (room && fds[0].revents && !accept_pending(l))
            break;
    }
    return NULL;
}

int listener_start(listener *l, struct MHD_Daemon *daemon, unsigned max_open)
{
    l->daemon = daemon;
    l->max_open = max_open;
    if (pthread_create(&l->thread, NULL, accept_loop, l) != 0)
        return -1;
    l->started = true;
    return 0;
}

void listener_connection_started(listener *l)
{
    if (!l)
        return;
    unsigned n = atomic_load(&l->pending);
    while (n > 0 && !atomic_compare_exchange_weak(&l->pending, &n, n - 1))
        ;
}

void listener_connection_closed(listener *l)
{
    if (l && atomic_load_explicit(&l->full, memory_order_relaxed)) {
        uint64_t one = 1;
        ssize_t n = write(l->wake_fd, &one, sizeof one);
        (void)n; /* a full counter means it is awake already */
    }
}

void listener_stop(listener *l)
{
    if (!l || l->fd < 0)
        return;
    atomic_store(&l->stopping, true);
    if (l->started) {
        uint64_t one = 1;
        ssize_t n = write(l->wake_fd, &one, sizeof one);
        (void)n; /* an eventfd write only fails when the counter is full, and then it is awake */
        pthread_join(l->thread, NULL);
        l->started = false;
    }
    close(l->fd);
    l->fd = -1;
}

void listener_destroy(listener *l)
{
    if (!l)
        return;
    listener_stop(l);
    close(l->wake_fd);
    free(l);
}
