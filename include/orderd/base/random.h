/*
 * random.h - fast per-thread pseudo-random numbers (xoshiro256**),
 * seeded once per thread from getrandom().  For ids, jitter and
 * sampling; not for secrets.
 */
#ifndef ORDERD_RANDOM_H
#define ORDERD_RANDOM_H

#include <stdint.h>

uint64_t random_u64(void);
/* Uniform in [0, 1). */
double random_unit(void);

#endif
