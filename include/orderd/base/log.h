/*
 * log.h - structured JSON logging to stdout, one line per event.
 *
 * Every line: {"ts":"<RFC 3339 UTC, ms>","level":"info","msg":"...",
 * "request_id":"..." (when there is one), "trace_id":"...","span_id":"..."
 * (when the line is about a traced request), ...extra fields}.
 *
 * Lines go to a per-thread buffer (no global lock per line, no write(2)
 * per line); a flusher thread writes the buffers out every few
 * milliseconds, and a thread whose buffer fills writes it itself.
 * log_stop() flushes everything, so a clean stop loses no line.
 */
#ifndef ORDERD_LOG_H
#define ORDERD_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orderd/base/trace.h"

typedef enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

/* "debug" | "info" | "warn" | "error" */
const char *log_level_name(log_level level);
bool log_level_parse(const char *name, log_level *out);

/*
 * Starts logging to fd (1 for stdout) at min_level.  Safe to skip: before
 * log_start (and after log_stop) lines are written straight to fd 2 so
 * early start-up errors are never lost.  Called again while running, it
 * only moves logging to the new fd and level.  Returns 0, or -1 when the
 * flusher thread cannot start.
 */
int log_start(log_level min_level, int fd);
/* Flushes every thread's buffer and stops the flusher. Idempotent. */
void log_stop(void);
/* Writes out every buffer now (used by tests and before exit paths). */
void log_flush(void);

bool log_enabled(log_level level);

/*
 * Changes the least severe level logged, from any thread, at any time
 * (a reload).  One relaxed atomic store: a line being written on another
 * thread meanwhile is judged by the old level or the new, never by half.
 */
void log_set_level(log_level min_level);

/*
 * Logs msg (printf-style, JSON-escaped) with an optional request id
 * (NULL for none).  Costs one branch when the level is off.
 */
#define LOG(level, request_id, ...)                                                                \
    do {                                                                                           \
        if (log_enabled(level))                                                                    \
            log_write((level), (request_id), NULL, __VA_ARGS__);                                   \
    } while (0)

/*
 * As LOG, with extra_json: NULL or a pre-rendered list of JSON members
 * without braces, e.g. "\"error\":\"timeout\",\"attempt\":2", appended
 * to the line as is.
 */
void log_write(log_level level, const char *request_id, const char *extra_json, const char *fmt,
               ...) __attribute__((format(printf, 4, 5)));

/*
 * Whom a line is about: a request id and the request's trace (either may
 * be NULL).  Both borrowed.
 */
typedef struct log_tag {
    const char *request_id;
    const trace_context *trace;
} log_tag;

/*
 * Binds the calling thread to the requests it works for now (n == 0
 * unbinds): until then, a line logged on this thread with a NULL request
 * id carries each tag's request_id, trace_id and span_id, so a database
 * or cache line deep below a handler names its request and trace.  With
 * n > 1 (a batch serving n requests), the line is written once per tag,
 * each with "batch_size" and "batch_trace_id" (the first tag's trace,
 * which the batch's SQL carries, see db_pool.h), so every request's log
 * holds every line of the work done for it.  tags is borrowed and must
 * outlive the binding.
 */
void log_bind(const log_tag *tags, int n);
/* What log_bind bound on this thread (*n == 0: nothing). */
const log_tag *log_bound(int *n);

#define LOG_REQUEST_ID_MAX 128

/*
 * An owned copy of one tag, for work that outlives the binding it was
 * taken under (a job of the batched reader or writer), so its own
 * bindings name the same request and trace.  Plain data: copy it freely.
 */
typedef struct log_origin {
    char request_id[LOG_REQUEST_ID_MAX + 1]; /* "" = none */
    trace_context trace;                     /* trace_id "" = none */
} log_origin;

/* The calling thread's first bound tag, copied (empty when nothing is bound). */
void log_origin_capture(log_origin *out);
/* A tag borrowing o's strings (valid while o is). */
log_tag log_origin_tag(const log_origin *o);

/*
 * At most one line per interval for an event that can repeat thousands
 * of times a second (a refused connection): log_every_due() is true for
 * the first call of each interval and then returns, in *suppressed, how
 * many calls since the last true one it swallowed.  Zero-initialise;
 * any thread.
 */
typedef struct log_every {
    _Atomic uint64_t next_ns;
    _Atomic uint64_t suppressed;
} log_every;

bool log_every_due(log_every *every, uint64_t interval_ns, uint64_t *suppressed);

/* The one access-log line per request (msg "request", level info). */
typedef struct access_record {
    int64_t ts_us; /* wall clock at completion, unix microseconds */
    const char *request_id;
    const trace_context *trace; /* NULL: no trace fields */
    const char *method;
    const char *path;
    const char *route; /* pattern such as "/orders/:id"; "" when unrouted */
    int status;
    double duration_ms;
    uint64_t bytes;     /* response body bytes */
    const char *remote; /* "127.0.0.1:53412" */
    const char *cache;  /* X-Cache value or NULL */
} access_record;

void log_access(const access_record *rec);

/* Appends s to out as a JSON string body (no quotes), escaping as JSON
 * requires; returns the bytes that would be needed (like snprintf). */
size_t log_json_escape(char *out, size_t outlen, const char *s);

#endif
