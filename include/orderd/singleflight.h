/*
 * singleflight.h - one loader per key inside a process.
 *
 * When N threads miss the cache for one order at once, the first becomes
 * the leader and reads PostgreSQL; the others wait (with a deadline) for
 * its result instead of sending N identical queries.
 */
#ifndef ORDERD_SINGLEFLIGHT_H
#define ORDERD_SINGLEFLIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orderd/error.h"

typedef struct singleflight singleflight;
typedef struct flight flight;

singleflight *singleflight_create(void);
/* All flights must have ended. NULL-safe. */
void singleflight_destroy(singleflight *sf);

/*
 * Joins or starts the flight for key.  Returns the flight; *leader tells
 * whether the caller must load and then call singleflight_finish.
 */
flight *singleflight_begin(singleflight *sf, int64_t key, bool *leader);

/*
 * Leader: publishes the result (err, and a copy of data when err is OK)
 * to every waiter and ends the flight.  data is copied.
 */
void singleflight_finish(singleflight *sf, flight *f, orderd_err err, const char *data,
                         size_t len, int64_t version);

/*
 * Follower: waits until the leader finishes or deadline_ns passes
 * (ORDERD_ERR_TIMEOUT).  On ORDERD_OK *data is a malloc'd copy (caller
 * frees).  Always releases the caller's reference to f.
 */
orderd_err singleflight_wait(singleflight *sf, flight *f, uint64_t deadline_ns, char **data,
                             size_t *len, int64_t *version);

#endif
