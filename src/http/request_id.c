/*
 * request_id.c - X-Request-ID: keep a sane client id, else a UUID v4.
 * UUIDs come from the per-thread generator in random.c.
 */
#include "orderd/http/request_id.h"

#include <stdint.h>
#include <string.h>

#include "orderd/base/fmt.h"
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
    uint64_t hi = random_u64(), lo = random_u64();
    hi = (hi & ~UINT64_C(0xf000)) | UINT64_C(0x4000);             /* version 4 */
    lo = (lo & ~(UINT64_C(0xc0) << 56)) | (UINT64_C(0x80) << 56); /* RFC 4122 variant */
    char hex[32];
    fmt_hex_u64(hi, hex);
    fmt_hex_u64(lo, hex + 16);
    /* 8-4-4-4-12 */
    memcpy(out, hex, 8);
    out[8] = '-';
    memcpy(out + 9, hex + 8, 4);
    out[13] = '-';
    memcpy(out + 14, hex + 12, 4);
    out[18] = '-';
    memcpy(out + 19, hex + 16, 4);
    out[23] = '-';
    memcpy(out + 24, hex + 20, 12);
    out[36] = '\0';
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
