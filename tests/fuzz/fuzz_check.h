/*
 * fuzz_check.h - the one assertion the fuzz targets use.
 *
 * A broken invariant must crash in every build (assert() vanishes under
 * NDEBUG, and RelWithDebInfo defines it), so libFuzzer saves the input;
 * the message says which check and where.
 */
#ifndef ORDERD_FUZZ_CHECK_H
#define ORDERD_FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Every target defines this (libFuzzer's entry point). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
