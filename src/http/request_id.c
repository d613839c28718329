/*
 * request_id.c - X-Request-ID: keep a sane client id, else a UUID v4.
 * UUIDs come from the per-thread generator in random.c.
 */
#include "orderd/http/request_id.h"

#include <stdint.h>
#include <string.h>

#include "orderd/base/random.h"

bool request_id_is_valid(const char *id)
{
    if (id == NULL)
        return false;
    size_t n = 0;
    for (const char *p = id; *p; p++, n++) {
        char c = *p;
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok || n >= REQUEST_ID_MAX)
            return false;
    }
    return n >= 1;
}

void request_id_generate(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t b[16];
    uint64_t hi = random_u64(), lo = random_u64();
    memcpy(b, &hi, 8);
    memcpy(b + 8, &lo, 8);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
}

void request_id_assign(const char *client_id, char out[REQUEST_ID_MAX + 1])
{
    if (request_id_is_valid(client_id)) {
        size_t n = strlen(client_id);
        memcpy(out, client_id, n + 1);
        return;
    }
    request_id_generate(out);
}
