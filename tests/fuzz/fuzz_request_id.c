/*
 * fuzz_request_id.c - the X-Request-ID check and assignment.
 *
 * Invariants: request_id_is_valid agrees with an independent reading of
 * [A-Za-z0-9._-]{1,128}; request_id_assign keeps exactly a valid id and
 * otherwise writes a version-4 UUID that is itself valid, never more than
 * REQUEST_ID_MAX + 1 bytes (the buffer is exactly that big).
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "orderd/http/request_id.h"

static bool oracle(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > REQUEST_ID_MAX)
        return false;
    static const char allowed[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";
    return strspn(s, allowed) == n;
}

static bool is_uuid_v4(const char *s)
{
    if (strlen(s) != 36 || s[14] != '4' || !strchr("89ab", s[19]))
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i]))
            return false;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *id = malloc(size + 1);
    char *out = malloc(REQUEST_ID_MAX + 1);
    if (!id || !out)
        abort();
    memcpy(id, data, size);
    id[size] = '\0'; /* a header value is a C string: it ends at the first NUL */

    bool valid = request_id_is_valid(id);
    FUZZ_CHECK(valid == oracle(id));
    request_id_assign(id, out);
    if (valid)
        FUZZ_CHECK(strcmp(out, id) == 0);
    else
        FUZZ_CHECK(is_uuid_v4(out) && request_id_is_valid(out));
    free(out);
    free(id);
    return 0;
}
