/*
 * log.c - JSON lines through per-thread buffers and one flusher thread.
 *
 * Each thread that logs gets a 64 KiB buffer of its own, registered once
 * in a global list.  Appending a line locks only that buffer's mutex,
 * which nobody else takes except the flusher, so logging threads never
 * contend with each other and never call write(2) until their own buffer
 * is full.  The flusher wakes every FLUSH_INTERVAL_MS, copies each
 * non-empty buffer out and writes it.  All writes to the fd go under
 * logger.write_lock, so whole buffers never interleave and every line
 * arrives intact; lines of one thread stay in order.
 *
 * Lock order: logger.list_lock -> buffer lock -> logger.write_lock.
 */
#include "orderd/base/log.h"

#include <errno.h>
#include <math.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "orderd/base/bg_thread.h"
#include "orderd/base/buf.h"
#include "orderd/base/clock.h"
#include "orderd/base/fmt.h"

#define LOG_BUFFER_SIZE   (64 * 1024)
#define FLUSH_INTERVAL_MS 20
#define LINE_INLINE_SIZE  2048
#define MSG_INLINE_SIZE   1024

typedef struct log_buffer {
    pthread_mutex_t lock;
    size_t used;
    struct log_buffer *prev, *next; /* logger.buffers, under logger.list_lock */
    char data[LOG_BUFFER_SIZE];
} log_buffer;

enum { STATE_OFF = 0, STATE_RUNNING = 1 };

/* The process's one logger: there is one stdout to share. */
static struct logger {
    atomic_int state; /* STATE_OFF: lines go straight to fd 2 */
    atomic_int min_level;

    pthread_mutex_t write_lock;
    int fd; /* under write_lock */

    pthread_mutex_t list_lock;
    log_buffer *buffers;           /* every thread's, under list_lock */
    char scratch[LOG_BUFFER_SIZE]; /* the flusher's copy, under list_lock */

    pthread_mutex_t control_lock;
    bool flusher_started; /* under control_lock */
    bg_thread flusher;

    pthread_once_t once;
    pthread_key_t buffer_key; /* frees a thread's buffer when it exits */
} logger = {
    .state = STATE_OFF,
    .min_level = LOG_INFO,
    .write_lock = PTHREAD_MUTEX_INITIALIZER,
    .fd = 2,
    .list_lock = PTHREAD_MUTEX_INITIALIZER,
    .control_lock = PTHREAD_MUTEX_INITIALIZER,
    .once = PTHREAD_ONCE_INIT,
};

static _Thread_local log_buffer *thread_buffer;

/* ---- writing ----------------------------------------------------------- */

/*
 * Writes all of p, retrying on EINTR and partial writes.  A non-blocking
 * fd that stays full for a second, or a real error, drops the rest: a
 * logger has nowhere better to report its own failure.
 */
static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            if (poll(&pfd, 1, 1000) <= 0)
                return;
        } else {
            return;
        }
    }
}

#define LOG_FD (-1) /* for write_whole: logger.fd, read under the lock */

/* One write of whole lines that no other write can interleave with. */
static void write_whole(int fd, const char *p, size_t n)
{
    pthread_mutex_lock(&logger.write_lock);
    write_all(fd == LOG_FD ? logger.fd : fd, p, n);
    pthread_mutex_unlock(&logger.write_lock);
}

/*
 * Writes out one thread's buffer; the caller holds logger.list_lock (for
 * logger.scratch).  The copy lets the owning thread keep appending while
 * the flusher waits on I/O; taking the write lock before releasing the
 * buffer keeps that thread's lines in order.
 */
static void flush_one(log_buffer *b)
{
    pthread_mutex_lock(&b->lock);
    size_t n = b->used;
    if (n == 0) {
        pthread_mutex_unlock(&b->lock);
        return;
    }
    memcpy(logger.scratch, b->data, n);
    b->used = 0;
    pthread_mutex_lock(&logger.write_lock);
    pthread_mutex_unlock(&b->lock);
    write_all(logger.fd, logger.scratch, n);
    pthread_mutex_unlock(&logger.write_lock);
}

void log_flush(void)
{
    pthread_mutex_lock(&logger.list_lock);
    for (log_buffer *b = logger.buffers; b; b = b->next)
        flush_one(b);
    pthread_mutex_unlock(&logger.list_lock);
}

/* ---- per-thread buffers ------------------------------------------------ */

/* Thread exit: whatever the thread logged last still reaches the fd. */
static void thread_buffer_destroy(void *arg)
{
    log_buffer *b = arg;
    pthread_mutex_lock(&logger.list_lock);
    if (b->prev)
        b->prev->next = b->next;
    else
        logger.buffers = b->next;
    if (b->next)
        b->next->prev = b->prev;
    pthread_mutex_unlock(&logger.list_lock);

    if (b->used > 0)
        write_whole(LOG_FD, b->data, b->used);
    pthread_mutex_destroy(&b->lock);
    free(b);
    thread_buffer = NULL;
}

static void init_once(void)
{
    pthread_key_create(&logger.buffer_key, thread_buffer_destroy);
}

/* The calling thread's buffer, registered on its first line; NULL when out of memory. */
static log_buffer *thread_buffer_get(void)
{
    if (thread_buffer)
        return thread_buffer;
    log_buffer *b = malloc(sizeof *b);
    if (!b)
        return NULL;
    pthread_mutex_init(&b->lock, NULL);
    b->used = 0;
    b->prev = NULL;
    pthread_mutex_lock(&logger.list_lock);
    b->next = logger.buffers;
    if (logger.buffers)
        logger.buffers->prev = b;
    logger.buffers = b;
    pthread_mutex_unlock(&logger.list_lock);
    pthread_setspecific(logger.buffer_key, b);
    thread_buffer = b;
    return b;
}

/*
 * Appends one complete line to b, the caller holding b->lock.  A line
 * that does not fit writes the buffer out first, and one larger than a
 * whole buffer goes straight to the fd after it.
 */
static void buffer_append_line(log_buffer *b, const char *line, size_t len)
{
    if (len > LOG_BUFFER_SIZE - b->used) {
        pthread_mutex_lock(&logger.write_lock);
        write_all(logger.fd, b->data, b->used);
        b->used = 0;
        if (len > LOG_BUFFER_SIZE) {
            write_all(logger.fd, line, len);
            len = 0;
        }
        pthread_mutex_unlock(&logger.write_lock);
    }
    memcpy(b->data + b->used, line, len);
    b->used += len;
}

/*
 * Hands one complete line (ending in '\n') to the current thread's
 * buffer, or straight to fd 2 when logging is not running.
 */
static void emit(const char *line, size_t len)
{
    if (atomic_load(&logger.state) != STATE_RUNNING) {
        write_whole(2, line, len);
        return;
    }
    log_buffer *b = thread_buffer_get();
    if (!b) {
        write_whole(LOG_FD, line, len); /* out of memory: unbuffered */
        return;
    }
    pthread_mutex_lock(&b->lock);
    /* Checked again under the buffer lock: log_stop flushes every
     * buffer after switching state, so a line appended here is never lost. */
    bool running = atomic_load(&logger.state) == STATE_RUNNING;
    if (running)
        buffer_append_line(b, line, len);
    pthread_mutex_unlock(&b->lock);
    if (!running)
        write_whole(2, line, len);
}

/* ---- start and stop ---------------------------------------------------- */

static void flusher_run(bg_thread *self, void *arg)
{
    (void)arg;
    while (bg_thread_wait(self, FLUSH_INTERVAL_MS * UINT64_C(1000000)))
        log_flush();
}

/* Starts the flusher with every signal blocked; the caller holds control_lock. */
static int start_flusher(void)
{
    sigset_t all, old;
    /* Signals belong to the main thread, never to the flusher. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = bg_thread_start(&logger.flusher, "log-flusher", 1, flusher_run, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0) {
        logger.flusher_started = true;
        atomic_store(&logger.state, STATE_RUNNING);
    }
    return rc;
}

int log_start(log_level min_level, int fd)
{
    pthread_once(&logger.once, init_once);
    pthread_mutex_lock(&logger.control_lock);
    /* Re-init while running: what was logged so far goes to the old fd. */
    if (logger.flusher_started)
        log_flush();
    atomic_store(&logger.min_level, (int)min_level);
    pthread_mutex_lock(&logger.write_lock);
    logger.fd = fd;
    pthread_mutex_unlock(&logger.write_lock);
    int rc = logger.flusher_started ? 0 : start_flusher();
    pthread_mutex_unlock(&logger.control_lock);
    return rc;
}

void log_stop(void)
{
    pthread_mutex_lock(&logger.control_lock);
    if (!logger.flusher_started) {
        pthread_mutex_unlock(&logger.control_lock);
        return;
    }
    logger.flusher_started = false;
    /* the flusher never takes control_lock: joining under it is safe, and
     * a log_start meanwhile waits instead of racing the stop */
    bg_thread_stop(&logger.flusher);
    pthread_mutex_unlock(&logger.control_lock);

    atomic_store(&logger.state, STATE_OFF);
    log_flush();
}

/* ---- levels ------------------------------------------------------------ */

static const char *const level_names[] = {"debug", "info", "warn", "error"};

const char *log_level_name(log_level level)
{
    if ((int)level < LOG_DEBUG || (int)level > LOG_ERROR)
        return "unknown";
    return level_names[level];
}

bool log_level_parse(const char *name, log_level *out)
{
    for (int i = LOG_DEBUG; i <= LOG_ERROR; i++) {
        if (name && strcasecmp(name, level_names[i]) == 0) {
            *out = (log_level)i;
            return true;
        }
    }
    return false;
}

void log_set_level(log_level min_level)
{
    atomic_store_explicit(&logger.min_level, (int)min_level, memory_order_relaxed);
}

bool log_enabled(log_level level)
{
    return (int)level >= atomic_load_explicit(&logger.min_level, memory_order_relaxed);
}

/* ---- JSON -------------------------------------------------------------- */

/*
 * Length of the valid UTF-8 sequence at p (1..4), or 0 when it is not
 * valid: overlong forms, surrogates and code points above U+10FFFF.
 */
static size_t utf8_valid_len(const unsigned char *p)
{
    unsigned char c = p[0];
    if (c >= 0xc2 && c <= 0xdf)
        return (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
        if (p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80)
            return 0;
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
        if (p[1] < lo || p[1] > hi || (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

/*
 * What the character at p becomes inside a JSON string: *unit points at
 * its n bytes (into esc, a static string, or p itself).  Returns how many
 * input bytes it took.
 */
static size_t json_escape_unit(const unsigned char *p, char esc[8], const char **unit, size_t *n)
{
    static const char *const short_escapes[128] = {
        ['"'] = "\\\"", ['\\'] = "\\\\", ['\n'] = "\\n", ['\r'] = "\\r",
        ['\t'] = "\\t", ['\b'] = "\\b",  ['\f'] = "\\f",
    };
    if (*p < 0x80 && short_escapes[*p]) {
        *unit = short_escapes[*p];
        *n = 2;
        return 1;
    }
    if (*p < 0x20) {
        snprintf(esc, 8, "\\u%04x", *p);
        *unit = esc;
        *n = 6;
        return 1;
    }
    size_t len = *p < 0x80 ? 1 : utf8_valid_len(p);
    if (len == 0) {
        *unit = "\\ufffd";
        *n = 6;
        return 1;
    }
    *unit = (const char *)p;
    *n = len;
    return len;
}

/*
 * Only whole escape sequences and whole characters are written, so a
 * truncated result is still a valid JSON string body.  Bytes that are
 * not valid UTF-8 become U+FFFD: a JSON parser would reject the line.
 */
size_t log_json_escape(char *out, size_t outlen, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t need = 0, len = 0;
    bool fits = true;
    while (*p != '\0') {
        char esc[8];
        const char *unit;
        size_t n;
        p += json_escape_unit(p, esc, &unit, &n);
        need += n;
        if (fits && out && len + n < outlen) {
            memcpy(out + len, unit, n);
            len += n;
        } else {
            fits = false;
        }
    }
    if (out && outlen > 0)
        out[len] = '\0';
    return need;
}

/* ---- line building ----------------------------------------------------- */

/* Bytes a JSON string may hold as they are: printable ASCII but '"' and
 * '\\'.  One lookup per byte: every access line scans ~150 bytes. */
static bool json_plain[256];

__attribute__((constructor)) static void json_plain_init(void)
{
    for (int c = 0x20; c < 0x80; c++)
        json_plain[c] = c != '"' && c != '\\';
}

/* Length of s when no byte of it needs escaping, else (size_t)-1. */
static size_t plain_len(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (json_plain[*p])
        p++;
    return *p == '\0' ? (size_t)(p - (const unsigned char *)s) : (size_t)-1;
}

/*
 * Appends key (the text ,"name":" ) and the escaped value with its closing
 * quote.  Request ids, methods, routes and addresses never need escaping:
 * one scan and one copy instead of the two passes of log_json_escape.
 */
static void lb_field_key(buf *lb, const char *key, size_t key_len, const char *value)
{
    size_t plain = plain_len(value);
    if (plain != (size_t)-1) {
        if (!buf_reserve(lb, key_len + plain + 1))
            return;
        char *out = lb->data + lb->len;
        memcpy(out, key, key_len);
        memcpy(out + key_len, value, plain);
        out[key_len + plain] = '"';
        buf_commit(lb, key_len + plain + 1);
        return;
    }
    buf_append(lb, key, key_len);
    size_t need = log_json_escape(NULL, 0, value);
    if (!buf_reserve(lb, need))
        return;
    log_json_escape(lb->data + lb->len, lb->cap - lb->len, value);
    buf_commit(lb, need);
    buf_puts(lb, "\"");
}

/* Appends ,"name":"<escaped value>"; name is a string literal. */
#define lb_field(lb, name, value)                                                                  \
    lb_field_key((lb), ",\"" name "\":\"", sizeof(",\"" name "\":\"") - 1, (value))

/*
 * RFC 3339 with milliseconds.  gmtime_r is most of the cost of a log
 * line, so each thread keeps the text of the current second and only
 * writes the milliseconds.
 */
static size_t format_ts(int64_t ts_us, char out[32])
{
    static _Thread_local int64_t cached_second = INT64_MIN;
    static _Thread_local char cached[32];
    static _Thread_local size_t cached_len; /* up to and including the '.' */
    int64_t second = ts_us >= 0 ? ts_us / 1000000 : (ts_us - 999999) / 1000000;
    if (second != cached_second) {
        size_t n = clock_format_rfc3339(second * 1000000, 3, cached); /* "...SS.000Z" */
        if (n < 5)
            return clock_format_rfc3339(ts_us, 3, out);
        cached_len = n - 4;
        cached_second = second;
    }
    int ms = (int)((ts_us - second * 1000000) / 1000);
    memcpy(out, cached, cached_len);
    out[cached_len] = (char)('0' + ms / 100);
    out[cached_len + 1] = (char)('0' + ms / 10 % 10);
    out[cached_len + 2] = (char)('0' + ms % 10);
    out[cached_len + 3] = 'Z';
    out[cached_len + 4] = '\0';
    return cached_len + 4;
}

/* Starts a line with the fields every line has: ts, level and msg. */
/* A line is built in the caller's stack storage unless it outgrows it. */
static void lb_start(buf *lb, char storage[LINE_INLINE_SIZE], int64_t ts_us, log_level level,
                     const char *msg)
{
    buf_init_in(lb, storage, LINE_INLINE_SIZE);
    char ts[32];
    format_ts(ts_us, ts);
    buf_puts(lb, "{\"ts\":\"");
    buf_puts(lb, ts);
    buf_puts(lb, "\",\"level\":\"");
    buf_puts(lb, log_level_name(level));
    buf_puts(lb, "\"");
    lb_field(lb, "msg", msg);
}

/* Closes the line and emits it, unless building it ran out of memory. */
static void lb_finish_and_emit(buf *lb)
{
    buf_puts(lb, "}\n");
    if (!lb->failed)
        emit(lb->data, lb->len);
    buf_free(lb);
}

/* ---- the public lines -------------------------------------------------- */

static _Thread_local const log_tag *thread_tags;
static _Thread_local int thread_tag_count;

void log_bind(const log_tag *tags, int n)
{
    thread_tags = n > 0 ? tags : NULL;
    thread_tag_count = n > 0 ? n : 0;
}

const log_tag *log_bound(int *n)
{
    *n = thread_tag_count;
    return thread_tags;
}

void log_origin_capture(log_origin *out)
{
    memset(out, 0, sizeof *out);
    if (thread_tag_count == 0)
        return;
    const log_tag *t = &thread_tags[0];
    if (t->request_id) {
        size_t n = strnlen(t->request_id, LOG_REQUEST_ID_MAX);
        memcpy(out->request_id, t->request_id, n);
    }
    if (t->trace)
        out->trace = *t->trace;
}

log_tag log_origin_tag(const log_origin *o)
{
    return (log_tag){.request_id = o->request_id,
                     .trace = o->trace.trace_id[0] != '\0' ? &o->trace : NULL};
}

/* request_id, trace_id and span_id of tag, as far as it has them. */
static void lb_tag(buf *lb, const log_tag *tag)
{
    if (tag->request_id && tag->request_id[0] != '\0')
        lb_field(lb, "request_id", tag->request_id);
    if (tag->trace && tag->trace->trace_id[0] != '\0') {
        lb_field(lb, "trace_id", tag->trace->trace_id);
        lb_field(lb, "span_id", tag->trace->span_id);
    }
}

/*
 * The formatted message: in inline[] when it fits, else in a malloc'd
 * copy (caller frees it when it is not inline); out of memory, the
 * message truncated to inline[].
 */
static char *format_message(char inline_msg[MSG_INLINE_SIZE], const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(inline_msg, MSG_INLINE_SIZE, fmt, ap);
    char *msg = inline_msg;
    if (n < 0) {
        inline_msg[0] = '\0';
    } else if (n >= MSG_INLINE_SIZE) {
        msg = malloc((size_t)n + 1);
        if (msg)
            vsnprintf(msg, (size_t)n + 1, fmt, again);
        else
            msg = inline_msg;
    }
    va_end(again);
    return msg;
}

/* One line about tag, one of a batch of batch_size (1: no batch fields). */
static void write_line(log_level level, int64_t ts_us, const char *msg, const log_tag *tag,
                       int batch_size, const trace_context *batch_trace, const char *extra_json)
{
    char line[LINE_INLINE_SIZE];
    buf lb;
    lb_start(&lb, line, ts_us, level, msg);
    lb_tag(&lb, tag);
    if (batch_size > 1) {
        char num[24];
        buf_puts(&lb, ",\"batch_size\":");
        buf_append(&lb, num, fmt_u64((uint64_t)batch_size, num));
        if (batch_trace && batch_trace->trace_id[0] != '\0')
            lb_field(&lb, "batch_trace_id", batch_trace->trace_id);
    }
    if (extra_json && extra_json[0] != '\0') {
        buf_puts(&lb, ",");
        buf_puts(&lb, extra_json);
    }
    lb_finish_and_emit(&lb);
}

void log_write(log_level level, const char *request_id, const char *extra_json, const char *fmt,
               ...)
{
    if (!log_enabled(level))
        return;
    char inline_msg[MSG_INLINE_SIZE];
    va_list ap;
    va_start(ap, fmt);
    char *msg = format_message(inline_msg, fmt, ap);
    va_end(ap);

    int64_t now = clock_wall_us();
    log_tag explicit = {.request_id = request_id};
    const log_tag *tags = &explicit;
    int n = 1;
    if (!request_id && thread_tag_count > 0) {
        /* deep modules log without knowing the request */
        tags = thread_tags;
        n = thread_tag_count;
    }
    for (int i = 0; i < n; i++)
        write_line(level, now, msg, &tags[i], n, tags[0].trace, extra_json);
    if (msg != inline_msg)
        free(msg);
}

void log_access(const access_record *rec)
{
    if (!log_enabled(LOG_INFO))
        return;
    /* NaN or infinity would make the line invalid JSON; the clamp keeps
     * "%.3f" inside num. */
    double ms = isfinite(rec->duration_ms) ? rec->duration_ms : 0.0;
    if (fabs(ms) > 1e12)
        ms = ms < 0 ? -1e12 : 1e12;

    char line[LINE_INLINE_SIZE];
    buf lb;
    char num[64];
    lb_start(&lb, line, rec->ts_us != 0 ? rec->ts_us : clock_wall_us(), LOG_INFO, "request");
    lb_field(&lb, "request_id", rec->request_id ? rec->request_id : "");
    if (rec->trace && rec->trace->trace_id[0] != '\0') {
        lb_field(&lb, "trace_id", rec->trace->trace_id);
        lb_field(&lb, "span_id", rec->trace->span_id);
    }
    lb_field(&lb, "method", rec->method ? rec->method : "");
    lb_field(&lb, "path", rec->path ? rec->path : "");
    lb_field(&lb, "route", rec->route ? rec->route : "");
    buf_puts(&lb, ",\"status\":");
    buf_append(&lb, num, fmt_u64((uint64_t)(rec->status < 0 ? 0 : rec->status), num));
    buf_puts(&lb, ",\"duration_ms\":");
    buf_append(&lb, num, fmt_millis(ms, num));
    buf_puts(&lb, ",\"bytes\":");
    buf_append(&lb, num, fmt_u64(rec->bytes, num));
    lb_field(&lb, "remote", rec->remote ? rec->remote : "");
    if (rec->cache)
        lb_field(&lb, "cache", rec->cache);
    lb_finish_and_emit(&lb);
}

bool log_every_due(log_every *every, uint64_t interval_ns, uint64_t *suppressed)
{
    uint64_t now = clock_now_ns();
    uint64_t next = atomic_load_explicit(&every->next_ns, memory_order_relaxed);
    /* one thread wins the interval; the others count themselves */
    if (now < next || !atomic_compare_exchange_strong(&every->next_ns, &next, now + interval_ns)) {
        atomic_fetch_add_explicit(&every->suppressed, 1, memory_order_relaxed);
        return false;
    }
    *suppressed = atomic_exchange_explicit(&every->suppressed, 0, memory_order_relaxed);
    return true;
}
