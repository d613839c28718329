/*
 * request_metrics.c - request counts and latency by route (see
 * request_metrics.h).
 *
 * The cost on the hot path is the point: per request, one thread-local
 * load, a pointer compare per route pattern until the request's own, two
 * table lookups and four adds to this thread's own cells; no lock and no
 * atomic read-modify-write.  The price is memory: every polling thread
 * holds a dense [route][method][status] table (about 60 KiB), so a status
 * is an index into the IANA registry instead of a key to look up.
 */
#include "orderd/http/request_metrics.h"

#include <stdio.h>
#include <stdlib.h>

#include "orderd/base/fmt.h"
#include "orderd/base/metrics.h"

#define ROUTE_SLOTS     (REQUEST_METRICS_ROUTES_MAX + 1) /* the last: "unmatched" */
#define UNMATCHED       REQUEST_METRICS_ROUTES_MAX
#define METHOD_SLOTS    (HTTP_OTHER + 1)
#define STATUS_CODE_MAX 600

/* The IANA registry's codes, and nginx's 499 (the client went away);
 * slot 0 counts any other code, which orderd never sends. */
static const short status_codes[] = {
    0,   100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300,
    301, 302, 303, 304, 305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408,
    409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421, 422, 423, 424, 425, 426,
    428, 429, 431, 451, 499, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
};
#define STATUS_SLOTS (sizeof status_codes / sizeof status_codes[0])

/* nanoseconds: a hot-cache GET takes tens of microseconds, a cold one
 * a few milliseconds, and request_timeout_ms bounds the rest */
static const uint64_t duration_bounds_ns[] = {
    25000,     50000,     100000,     250000,     500000,     1000000,
    2500000,   5000000,   10000000,   25000000,   50000000,   100000000,
    250000000, 500000000, 1000000000, 2500000000, 5000000000, 10000000000,
};
#define DURATION_BOUNDS (sizeof duration_bounds_ns / sizeof duration_bounds_ns[0])
static const metrics_buckets duration_buckets = {duration_bounds_ns, DURATION_BOUNDS, 1e-9};

#define COUNT_CELLS    (ROUTE_SLOTS * METHOD_SLOTS * STATUS_SLOTS)
#define DURATION_CELLS (DURATION_BOUNDS + 2) /* METRICS_HISTOGRAM_CELLS, as a constant */
#define ALL_CELLS      (COUNT_CELLS + ROUTE_SLOTS * DURATION_CELLS)

static metrics_family *family;
static const char *route_labels[ROUTE_SLOTS];
static size_t route_count;
static unsigned char status_slot[STATUS_CODE_MAX];

int request_metrics_start(const router *r, const char **why)
{
    size_t n = router_pattern_count(r);
    if (n > REQUEST_METRICS_ROUTES_MAX) {
        *why = "more route patterns than request metrics can label (REQUEST_METRICS_ROUTES_MAX)";
        return -1;
    }
    if (!family && !(family = metrics_family_create(ALL_CELLS))) {
        *why = "out of memory (request metrics)";
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        route_labels[i] = router_pattern(r, i);
    route_count = n;
    route_labels[UNMATCHED] = "unmatched";
    for (size_t s = 1; s < STATUS_SLOTS; s++)
        status_slot[status_codes[s]] = (unsigned char)s;
    return 0;
}

static size_t route_slot(const char *pattern)
{
    for (size_t i = 0; i < route_count; i++)
        if (route_labels[i] == pattern)
            return i;
    return UNMATCHED;
}

void request_metrics_record(const request *req, int status, uint64_t duration_ns)
{
    if (!family)
        return; /* a server that never started (tests of the parts) */
    metrics_cell *cells = metrics_cells(family);
    size_t r = route_slot(req->route_pattern);
    size_t method = (unsigned)req->method < METHOD_SLOTS ? (size_t)req->method : HTTP_OTHER;
    size_t code = status > 0 && status < STATUS_CODE_MAX ? status_slot[status] : 0;
    metrics_cell_add(&cells[(r * METHOD_SLOTS + method) * STATUS_SLOTS + code], 1);
    metrics_observe(cells + COUNT_CELLS + r * DURATION_CELLS, &duration_buckets, duration_ns);
}

/* ---- rendering ------------------------------------------------------------ */

/* route="..." and, when given (>= 0), ,method="..." and ,status="..." */
static void format_labels(char *out, size_t cap, size_t r, int method, int status_slot_index)
{
    int n = snprintf(out, cap, "route=\"%s\"", route_labels[r]);
    if (method >= 0 && n > 0 && (size_t)n < cap)
        n += snprintf(out + n, cap - (size_t)n, ",method=\"%s\"",
                      http_method_name((http_method)method));
    if (status_slot_index >= 0 && n > 0 && (size_t)n < cap) {
        if (status_slot_index == 0)
            snprintf(out + n, cap - (size_t)n, ",status=\"other\"");
        else
            snprintf(out + n, cap - (size_t)n, ",status=\"%d\"", status_codes[status_slot_index]);
    }
}

static bool route_in_use(size_t r)
{
    return r == UNMATCHED || r < route_count;
}

static void render_counts(buf *out, const uint64_t *cells)
{
    metrics_render_header(out, "orderd_http_requests_total", "counter",
                          "HTTP requests answered, by route pattern, method and status");
    char labels[160], num[24];
    for (size_t r = 0; r < ROUTE_SLOTS; r++) {
        for (int m = 0; m < METHOD_SLOTS && route_in_use(r); m++) {
            for (size_t s = 0; s < STATUS_SLOTS; s++) {
                uint64_t v = cells[(r * METHOD_SLOTS + (size_t)m) * STATUS_SLOTS + s];
                if (v == 0)
                    continue; /* a series appears with its first request */
                format_labels(labels, sizeof labels, r, m, (int)s);
                buf_puts(out, "orderd_http_requests_total{");
                buf_puts(out, labels);
                buf_puts(out, "} ");
                buf_append(out, num, fmt_u64(v, num));
                buf_puts(out, "\n");
            }
        }
    }
}

void request_metrics_render(buf *out)
{
    uint64_t *sum = family ? malloc(ALL_CELLS * sizeof *sum) : NULL;
    if (!sum)
        return; /* no server started, or out of memory: nothing to show */
    metrics_family_sum(family, sum);
    render_counts(out, sum);
    metrics_render_header(out, "orderd_http_request_duration_seconds", "histogram",
                          "Time from a request's headers to its answer sent, by route pattern");
    char labels[160];
    for (size_t r = 0; r < ROUTE_SLOTS; r++) {
        const uint64_t *h = sum + COUNT_CELLS + r * DURATION_CELLS;
        uint64_t total = 0;
        for (size_t b = 0; b <= duration_buckets.count; b++)
            total += h[b];
        if (total == 0 || !route_in_use(r))
            continue;
        format_labels(labels, sizeof labels, r, -1, -1);
        metrics_render_histogram(out, "orderd_http_request_duration_seconds", labels,
                                 &duration_buckets, h);
    }
    free(sum);
}
