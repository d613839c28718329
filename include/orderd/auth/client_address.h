/*
 * client_address.h - which address a request comes from, when a proxy
 * may stand in front: X-Forwarded-For is believed only from the
 * addresses listed in trusted_proxies.
 *
 * The client is the TCP peer, unless the peer is trusted: then the
 * X-Forwarded-For entries are walked from the right (the ones our own
 * proxies appended) and the first address that is not trusted is the
 * client.  A client can put anything at the left of the header; it
 * cannot change what our proxy appended after it.
 */
#ifndef ORDERD_AUTH_CLIENT_ADDRESS_H
#define ORDERD_AUTH_CLIENT_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

#define CLIENT_ADDRESS_MAX 46 /* INET6_ADDRSTRLEN */

typedef struct proxy_list proxy_list;

/*
 * Parses "addr, addr/prefix, ..." (IPv4 or IPv6).  An empty text is an
 * empty list.  NULL with a message in err on a bad entry.
 */
proxy_list *proxy_list_parse(const char *text, char *err, size_t errlen);
void proxy_list_destroy(proxy_list *list);

/* Is addr (text) one of the list's? */
bool proxy_list_contains(const proxy_list *list, const char *addr);

/* The client's address (see above) into out (CLIENT_ADDRESS_MAX + 1).
 * peer is the TCP peer's text; forwarded_for may be NULL. */
void client_address(const proxy_list *list, const char *peer, const char *forwarded_for, char *out);

#endif
