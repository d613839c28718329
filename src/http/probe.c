/*
 * probe.c - a minimal HTTP/1.1 client for one GET on the daemon itself.
 */
#include "orderd/http/probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int probe_get(const char *host, unsigned port, const char *path, const char *request_id,
              int timeout_ms)
{
    struct sockaddr_storage addr;
    socklen_t addr_len;
    memset(&addr, 0, sizeof addr);
    struct sockaddr_in *in4 = (struct sockaddr_in *)&addr;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&addr;
    /* a daemon listening on every address answers on loopback */
    const char *target = strcmp(host, "0.0.0.0") == 0 ? "127.0.0.1"
                         : strcmp(host, "::") == 0    ? "::1"
                                                      : host;
    if (inet_pton(AF_INET, target, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        addr_len = sizeof *in4;
    } else if (inet_pton(AF_INET6, target, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        addr_len = sizeof *in6;
    } else {
        return 1;
    }
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 1;
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int rc = 1;
    char request[256], response[64];
    int n = snprintf(request, sizeof request,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nX-Request-ID: %s\r\nConnection: close\r\n\r\n",
                     path, target, request_id);
    if (n < 0 || n >= (int)sizeof request) {
        close(fd);
        return 1;
    }
    if (connect(fd, (struct sockaddr *)&addr, addr_len) == 0 &&
        send(fd, request, (size_t)n, MSG_NOSIGNAL) == n) {
        ssize_t got = recv(fd, response, sizeof response - 1, 0);
        if (got > 0) {
            response[got] = '\0';
            rc = strncmp(response, "HTTP/1.1 200", 12) == 0 ? 0 : 1;
        }
    }
    close(fd);
    return rc;
}

int probe_ready(const char *host, unsigned port, int timeout_ms)
{
    return probe_get(host, port, "/readyz", "probe", timeout_ms);
}
