/*
 * base64url.h - RFC 4648 section 5 base64url without padding, the form
 * JWTs (RFC 7515) and our list cursors use.
 */
#ifndef ORDERD_BASE64URL_H
#define ORDERD_BASE64URL_H

#include <stdbool.h>
#include <stddef.h>

/* Characters base64url_encode writes for n bytes (no NUL counted). */
#define BASE64URL_ENCODED_LEN(n) (((n) / 3) * 4 + ((n) % 3 ? (n) % 3 + 1 : 0))
/* Most bytes n characters decode to. */
#define BASE64URL_DECODED_MAX(n) (((n) / 4) * 3 + 2)

/* Writes BASE64URL_ENCODED_LEN(n) characters and a NUL into out; returns
 * the characters written. */
size_t base64url_encode(const unsigned char *in, size_t n, char *out);

/*
 * Decodes n characters into out (room for BASE64URL_DECODED_MAX(n)
 * bytes), *out_len set.  false on a character outside the alphabet,
 * padding, a length no encoding has (n % 4 == 1), or non-zero unused
 * bits: one text per value, so two different texts never mean the same
 * bytes.
 */
bool base64url_decode(const char *in, size_t n, unsigned char *out, size_t *out_len);

#endif
