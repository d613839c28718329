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

#include "orderd/base/log.h"

struct listener {
    int fd;      /* the listening socket; -1 once stopped */
    int wake_fd; /* eventfd: written to stop the thread */
    struct MHD_Daemon *daemon;
    pthread_t thread;
    bool started;
    atomic_bool stopping;
};

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

/* Accepts everything that is waiting; false when the socket failed for good. */
static bool accept_pending(listener *l)
{
    for (;;) {
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
        /* over a connection limit, libmicrohttpd closes it itself */
        MHD_add_connection(l->daemon, s, (struct sockaddr *)&addr, len);
    }
}

static void *accept_loop(void *arg)
{
    listener *l = arg;
    struct pollfd fds[2] = {{.fd = l->fd, .events = POLLIN}, {.fd = l->wake_fd, .events = POLLIN}};
    while (!atomic_load(&l->stopping)) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            LOG(LOG_ERROR, NULL, "accept thread: poll failed: %s", strerror(errno));
            break;
        }
        if (fds[1].revents || atomic_load(&l->stopping))
            break;
        if (fds[0].revents && !accept_pending(l))
            break;
    }
    return NULL;
}

int listener_start(listener *l, struct MHD_Daemon *daemon)
{
    l->daemon = daemon;
    if (pthread_create(&l->thread, NULL, accept_loop, l) != 0)
        return -1;
    l->started = true;
    return 0;
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
