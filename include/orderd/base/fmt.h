/*
 * fmt.h - the few number and address formats the hot path writes, without
 * printf: on a cached GET, snprintf and inet_ntop cost more instructions
 * than the rest of orderd's own work on the request.
 *
 * None of these writes a NUL; each returns the number of bytes written.
 */
#ifndef ORDERD_FMT_H
#define ORDERD_FMT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Decimal digits of v (at most 20). */
size_t fmt_u64(uint64_t v, char *out);
/* Non-negative ms with exactly three decimals, like "%.3f" (at most 32). */
size_t fmt_millis(double ms, char *out);
/* "a.b.c.d:port" or "[v6]:port" (at most INET6_ADDRSTRLEN + 8); 0 for other families. */
size_t fmt_sockaddr(const struct sockaddr *sa, char *out);
/* The 8 bytes of v, most significant first, as 16 lowercase hex digits. */
size_t fmt_hex_u64(uint64_t v, char *out);

#endif
