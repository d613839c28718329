/*
 * systemd_notify.c - sd_notify's socket protocol (systemd_notify.h).
 */
#include "orderd/base/systemd_notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "orderd/base/log.h"
#include "orderd/base/parse.h"

struct systemd_notify {
    int fd;
    struct sockaddr_un addr;
    socklen_t addr_len;
};

systemd_notify *systemd_notify_create(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !*path)
        return NULL;
    size_t len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof((struct sockaddr_un *)0)->sun_path) {
        LOG(LOG_WARN, NULL, "NOTIFY_SOCKET=\"%s\" is not a unix socket path; not notifying systemd",
            path);
        return NULL;
    }
    systemd_notify *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->addr.sun_family = AF_UNIX;
    memcpy(n->addr.sun_path, path, len);
    if (path[0] == '@')
        n->addr.sun_path[0] = '\0'; /* abstract: the name is the bytes after the NUL */
    /* the abstract name has no terminator; a path's length includes none either */
    n->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (n->fd < 0) {
        LOG(LOG_WARN, NULL, "cannot open a socket for NOTIFY_SOCKET: %s", strerror(errno));
        free(n);
        return NULL;
    }
    return n;
}

void systemd_notify_destroy(systemd_notify *n)
{
    if (!n)
        return;
    close(n->fd);
    free(n);
}

int systemd_notify_send(systemd_notify *n, const char *state)
{
    if (!n)
        return 0;
    size_t len = strlen(state);
    ssize_t sent =
        sendto(n->fd, state, len, MSG_NOSIGNAL, (struct sockaddr *)&n->addr, n->addr_len);
    if (sent == (ssize_t)len)
        return 0;
    LOG(LOG_WARN, NULL, "notifying systemd failed: %s", sent < 0 ? strerror(errno) : "short send");
    return -1;
}

uint64_t systemd_watchdog_usec(void)
{
    const char *usec = getenv("WATCHDOG_USEC");
    const char *pid = getenv("WATCHDOG_PID");
    int64_t value, owner = 0;
    if (!usec || !parse_positive_i64(usec, &value))
        return 0;
    /* the variables may have been inherited from a parent the watchdog is for */
    if (pid && (!parse_positive_i64(pid, &owner) || owner != (int64_t)getpid()))
        return 0;
    return (uint64_t)value;
}
