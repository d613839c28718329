/*
 * sha1.c - plain FIPS 180-4 SHA-1 (see sha1.h).
 *
 * orderd hashes each Lua script once at start-up, so this is written for
 * clarity, not speed: one block at a time, straight from the input, with
 * the padding built in a two-block tail on the stack.
 */
#include "orderd/base/sha1.h"

#include <stdint.h>
#include <string.h>

#define BLOCK_SIZE 64

static uint32_t rotl32(uint32_t x, int k)
{
    return (x << k) | (x >> (32 - k));
}

/* The message schedule: 16 big-endian words of the block, stretched to 80. */
static void expand_block(const unsigned char block[BLOCK_SIZE], uint32_t w[80])
{
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)block[4 * i] << 24 | (uint32_t)block[4 * i + 1] << 16 |
               (uint32_t)block[4 * i + 2] << 8 | (uint32_t)block[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rotl32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
}

/* Folds one 64-byte block into the state h. */
static void compress_block(uint32_t h[5], const unsigned char block[BLOCK_SIZE])
{
    uint32_t w[80];
    expand_block(block, w);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5A827999;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ED9EBA1;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8F1BBCDC;
        } else {
            f = b ^ c ^ d;
            k = 0xCA62C1D6;
        }
        uint32_t t = rotl32(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rotl32(b, 30);
        b = a;
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void sha1_digest(const void *data, size_t len, unsigned char digest[SHA1_DIGEST_SIZE])
{
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    const unsigned char *bytes = data;
    size_t whole = len - len % BLOCK_SIZE;
    for (size_t off = 0; off < whole; off += BLOCK_SIZE)
        compress_block(h, bytes + off);

    /* The rest, 0x80, zeros, and the length in bits (big endian) end
     * the message: one block, or two when the rest leaves no room. */
    unsigned char tail[2 * BLOCK_SIZE] = {0};
    size_t rest = len - whole;
    if (rest > 0)
        memcpy(tail, bytes + whole, rest);
    tail[rest] = 0x80;
    size_t tail_len = rest < BLOCK_SIZE - 8 ? BLOCK_SIZE : 2 * BLOCK_SIZE;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++)
        tail[tail_len - 1 - i] = (unsigned char)(bits >> (8 * i));
    for (size_t off = 0; off < tail_len; off += BLOCK_SIZE)
        compress_block(h, tail + off);

    for (int i = 0; i < SHA1_DIGEST_SIZE; i++)
        digest[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
}

void sha1_hex(const void *data, size_t len, char hex[SHA1_HEX_SIZE])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char digest[SHA1_DIGEST_SIZE];
    sha1_digest(data, len, digest);
    for (int i = 0; i < SHA1_DIGEST_SIZE; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[2 * SHA1_DIGEST_SIZE] = '\0';
}
