/*
 * sha1.h - SHA-1 (FIPS 180-4) of a byte string, for the names Redis gives
 * Lua scripts: EVALSHA takes the lower-case hex SHA-1 of the script's
 * source, so orderd can name a script without asking the server.
 *
 * Not for anything that needs collision resistance: SHA-1 has none left.
 * No allocation and no state: safe from any thread.
 */
#ifndef ORDERD_SHA1_H
#define ORDERD_SHA1_H

#include <stddef.h>

#define SHA1_DIGEST_SIZE 20
#define SHA1_HEX_SIZE    41 /* 40 lower-case hex digits and a NUL */

/* The 20-byte digest of len bytes at data (data may be NULL when len is 0). */
void sha1_digest(const void *data, size_t len, unsigned char digest[SHA1_DIGEST_SIZE]);

/* The digest as 40 lower-case hex digits, NUL-terminated, as Redis prints it. */
void sha1_hex(const void *data, size_t len, char hex[SHA1_HEX_SIZE]);

#endif
