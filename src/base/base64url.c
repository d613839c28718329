/*
 * base64url.c - see base64url.h.
 */
#include "orderd/base/base64url.h"

#include <stdint.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t base64url_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t g = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = alphabet[g >> 18 & 63];
        out[o++] = alphabet[g >> 12 & 63];
        out[o++] = alphabet[g >> 6 & 63];
        out[o++] = alphabet[g & 63];
    }
    if (n - i == 1) {
        uint32_t g = (uint32_t)in[i] << 16;
        out[o++] = alphabet[g >> 18 & 63];
        out[o++] = alphabet[g >> 12 & 63];
    } else if (n - i == 2) {
        uint32_t g = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = alphabet[g >> 18 & 63];
        out[o++] = alphabet[g >> 12 & 63];
        out[o++] = alphabet[g >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

static int value_of(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

bool base64url_decode(const char *in, size_t n, unsigned char *out, size_t *out_len)
{
    if (n % 4 == 1)
        return false;
    size_t o = 0;
    uint32_t group = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = value_of((unsigned char)in[i]);
        if (v < 0)
            return false;
        group = group << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(group >> bits & 0xff);
        }
    }
    if (bits > 0 && (group & ((1u << bits) - 1)) != 0)
        return false;
    *out_len = o;
    return true;
}
