/*
 * fuzz_json_load.c - base/json_load.h's fast path against jansson.
 *
 * Invariant: whenever the fast path returns a document, jansson
 * (json_loadb with JSON_REJECT_DUPLICATES) accepts the same bytes and
 * returns an equal one, value for value and type for type.  And
 * json_load_strict accepts exactly what jansson accepts.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "orderd/base/json_load.h"

/* Equal values of the same type (json_equal tells 1 from 1.0 too). */
static void check_same(const json_t *fast, const json_t *slow)
{
    FUZZ_CHECK(json_typeof(fast) == json_typeof(slow));
    FUZZ_CHECK(json_equal(fast, slow));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    json_t *fast = json_load_fast_path(text, size);
    json_error_t error;
    json_t *slow = json_loadb(text, size, JSON_REJECT_DUPLICATES, &error);
    if (fast) {
        FUZZ_CHECK(slow != NULL);
        check_same(fast, slow);
    }
    json_t *strict = json_load_strict(text, size, NULL);
    FUZZ_CHECK((strict != NULL) == (slow != NULL));
    if (strict)
        check_same(strict, slow);
    json_decref(strict);
    json_decref(slow);
    json_decref(fast);
    return 0;
}
