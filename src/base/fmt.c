/*
 * fmt.c - see fmt.h.
 */
#include "orderd/base/fmt.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

size_t fmt_u64(uint64_t v, char *out)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

size_t fmt_millis(double ms, char *out)
{
    if (!(ms >= 0)) /* negative or NaN: never from a monotonic clock */
        ms = 0;
    if (ms > 1e12)
        ms = 1e12;
    uint64_t us = (uint64_t)(ms * 1000.0 + 0.5);
    size_t n = fmt_u64(us / 1000, out);
    out[n++] = '.';
    out[n++] = (char)('0' + us / 100 % 10);
    out[n++] = (char)('0' + us / 10 % 10);
    out[n++] = (char)('0' + us % 10);
    return n;
}

size_t fmt_sockaddr(const struct sockaddr *sa, char *out)
{
    size_t n = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        const unsigned char *b = (const unsigned char *)&in->sin_addr;
        for (int i = 0; i < 4; i++) {
            if (i)
                out[n++] = '.';
            n += fmt_u64(b[i], out + n);
        }
        out[n++] = ':';
        return n + fmt_u64(ntohs(in->sin_port), out + n);
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        out[n++] = '[';
        if (inet_ntop(AF_INET6, &in6->sin6_addr, out + n, INET6_ADDRSTRLEN))
            n += strlen(out + n);
        out[n++] = ']';
        out[n++] = ':';
        return n + fmt_u64(ntohs(in6->sin6_port), out + n);
    }
    return 0;
}
