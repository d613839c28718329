/*
 * client_address.c - see client_address.h.
 */
#include "orderd/auth/client_address.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROXIES_MAX 64

typedef struct net {
    int family; /* AF_INET or AF_INET6 */
    unsigned char bytes[16];
    int prefix; /* bits */
} net;

struct proxy_list {
    net nets[PROXIES_MAX];
    int count;
};

static bool parse_addr(const char *text, int *family, unsigned char bytes[16])
{
    if (inet_pton(AF_INET, text, bytes) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, text, bytes) == 1) {
        *family = AF_INET6;
        return true;
    }
    return false;
}

static bool parse_net(const char *text, net *out)
{
    char addr[64];
    const char *slash = strchr(text, '/');
    size_t n = slash ? (size_t)(slash - text) : strlen(text);
    if (n == 0 || n >= sizeof addr)
        return false;
    memcpy(addr, text, n);
    addr[n] = '\0';
    if (!parse_addr(addr, &out->family, out->bytes))
        return false;
    int max = out->family == AF_INET ? 32 : 128;
    out->prefix = max;
    if (slash) {
        const char *d = slash + 1;
        int bits = 0;
        if (*d == '\0' || strlen(d) > 3)
            return false;
        for (; *d; d++) {
            if (*d < '0' || *d > '9')
                return false;
            bits = bits * 10 + (*d - '0');
        }
        if (bits > max)
            return false;
        out->prefix = bits;
    }
    return true;
}

proxy_list *proxy_list_parse(const char *text, char *err, size_t errlen)
{
    proxy_list *list = calloc(1, sizeof *list);
    if (!list)
        return NULL;
    const char *p = text ? text : "";
    while (*p) {
        p += strspn(p, " ,");
        size_t n = strcspn(p, " ,");
        if (n == 0)
            break;
        char item[80];
        if (n >= sizeof item || list->count == PROXIES_MAX) {
            snprintf(err, errlen, "trusted_proxies: too long or more than %d entries", PROXIES_MAX);
            goto fail;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        if (!parse_net(item, &list->nets[list->count])) {
            snprintf(err, errlen, "trusted_proxies: \"%s\" is not an address or CIDR", item);
            goto fail;
        }
        list->count++;
        p += n;
    }
    return list;
fail:
    free(list);
    return NULL;
}

void proxy_list_destroy(proxy_list *list)
{
    free(list);
}

static bool net_contains(const net *n, int family, const unsigned char *bytes)
{
    if (n->family != family)
        return false;
    int full = n->prefix / 8, rest = n->prefix % 8;
    if (memcmp(n->bytes, bytes, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (n->bytes[full] & mask) == (bytes[full] & mask);
}

bool proxy_list_contains(const proxy_list *list, const char *addr)
{
    int family;
    unsigned char bytes[16];
    if (!list || list->count == 0 || !parse_addr(addr, &family, bytes))
        return false;
    for (int i = 0; i < list->count; i++)
        if (net_contains(&list->nets[i], family, bytes))
            return true;
    return false;
}

void client_address(const proxy_list *list, const char *peer, const char *forwarded_for, char *out)
{
    snprintf(out, CLIENT_ADDRESS_MAX + 1, "%s", peer);
    if (!forwarded_for || !proxy_list_contains(list, peer))
        return;
    /* from the right: the first hop our proxies did not vouch for */
    const char *end = forwarded_for + strlen(forwarded_for);
    while (end > forwarded_for) {
        const char *start = end;
        while (start > forwarded_for && start[-1] != ',')
            start--;
        const char *a = start, *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        char hop[CLIENT_ADDRESS_MAX + 1];
        int family;
        unsigned char bytes[16];
        size_t n = (size_t)(b - a);
        if (n == 0 || n > CLIENT_ADDRESS_MAX)
            return; /* junk: stay with the last address we could trust */
        memcpy(hop, a, n);
        hop[n] = '\0';
        if (!parse_addr(hop, &family, bytes))
            return;
        memcpy(out, hop, n + 1);
        if (!proxy_list_contains(list, hop))
            return;
        end = start > forwarded_for ? start - 1 : forwarded_for;
    }
}
