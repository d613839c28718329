/*
 * fuzz_accept.c - the Accept field (http/accept.h), as the two offers
 * GET /orders and GET /orders/:id make.
 *
 * Invariants:
 *  - every weight is 0..ACCEPT_Q_MAX, and accept_choose is the earliest
 *    offer of the highest non-zero weight, -1 only when all are 0;
 *  - names and parameter names compare without case: the field in upper
 *    case weighs the same;
 *  - a field without quoted strings followed by ",application/json"
 *    gives JSON the full weight, so JSON is chosen (whatever came before
 *    is ended by the comma, well-formed or skipped).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "orderd/http/accept.h"

static const char *const offers[] = {"application/json", "application/msgpack"};
#define OFFERS 2

static void check_choice(const char *accept, int weights[OFFERS])
{
    int best = -1, best_q = 0;
    for (int i = 0; i < OFFERS; i++) {
        weights[i] = accept_quality(accept, offers[i]);
        FUZZ_CHECK(weights[i] >= 0 && weights[i] <= ACCEPT_Q_MAX);
        if (weights[i] > best_q) {
            best = i;
            best_q = weights[i];
        }
    }
    FUZZ_CHECK(accept_choose(accept, offers, OFFERS) == best);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a header value is a C string: it ends at the first NUL */
    char *accept = malloc(size + sizeof ",application/json");
    char *upper = malloc(size + 1);
    if (!accept || !upper)
        abort();
    memcpy(accept, data, size);
    accept[size] = '\0';
    size_t len = strlen(accept);

    int weights[OFFERS], upper_weights[OFFERS];
    check_choice(accept, weights);

    for (size_t i = 0; i <= len; i++)
        upper[i] = (char)toupper((unsigned char)accept[i]);
    check_choice(upper, upper_weights);
    for (int i = 0; i < OFFERS; i++)
        FUZZ_CHECK(weights[i] == upper_weights[i]);

    if (!memchr(accept, '"', len)) {
        memcpy(accept + len, ",application/json", sizeof ",application/json");
        int appended[OFFERS];
        check_choice(accept, appended);
        FUZZ_CHECK(appended[0] == ACCEPT_Q_MAX);
        FUZZ_CHECK(accept_choose(accept, offers, OFFERS) == 0);
    }
    free(upper);
    free(accept);
    return 0;
}
