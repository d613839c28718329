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

/* two digits per byte: trace and request ids format 40 bytes per request */
static const char hex_pairs[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
                                "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
                                "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
                                "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
                                "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
                                "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
                                "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
                                "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

size_t fmt_hex_u64(uint64_t v, char *out)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        memcpy(out + 2 * i, hex_pairs + 2 * (v & 0xff), 2);
    return 16;
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
