/*
 * server.c - libmicrohttpd wiring: one request's life from the first
 * access-handler call to the completion callback.
 *
 * Before the access handler, the URI log callback sees the request target
 * as it was sent (libmicrohttpd decodes it in place afterwards): the
 * request state is allocated there, with the verdict on the raw target.
 * libmicrohttpd then calls the access handler several times per request:
 *   1. headers parsed, no body yet: we fill the request state and run the
 *      strict checks (request_guard.h).  We do not answer here, because in
 *      0.9.75 a response queued on this first call goes out with
 *      "Connection: close"; the exceptions are a head that fails the
 *      checks and a body announced larger than body_limit, where closing
 *      is what we want;
 *   2. zero or more calls with body bytes, which we buffer up to the limit;
 *   3. a final call with no data: we match the route table and run the
 *      row's handler as the row says (router.h): at once for I/O-free
 *      answers, or with the connection suspended on an I/O worker or on
 *      the handler's own threads, which resume it when the reply is ready;
 *   4. after a resume: we queue the reply.
 * The polling threads therefore never wait on PostgreSQL or Redis.
 *
 * Each connection also carries a receive deadline (conn_deadline.h) that
 * these callbacks move along; a sweeper thread disconnects slow clients.
 */
#include "orderd/http/server.h"

#include <microhttpd.h>
#include <netinet/in.h> /* INET6_ADDRSTRLEN */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "orderd/base/blob.h"
#include "orderd/base/buf.h"
#include "orderd/base/clock.h"
#include "orderd/base/fmt.h"
#include "orderd/base/log.h"
#include "orderd/http/conn_deadline.h"
#include "orderd/http/listener.h"
#include "orderd/http/problem.h"
#include "orderd/http/request_guard.h"
#include "orderd/http/request_headers.h"
#include "orderd/http/request_id.h"
#include "orderd/http/request_metrics.h"
#include "orderd/http/request_trace.h"
#include "orderd/http/router.h"
#include "orderd/base/worker_pool.h"

struct server {
    const orderd_config *cfg;
    router *router;
    void *handler_ctx;
    request_gate *gate;
    struct MHD_Daemon *daemon;
    worker_pool *workers;
    atomic_int in_flight;
    atomic_bool closing; /* draining: every response says Connection: close */
    listener *listener;  /* accepts for the daemon (listener.h says why not MHD) */
    /* the two settings a reload changes here (server_set_live); cfg's
     * copies are the start-up values and are not read after start */
    atomic_int request_timeout_ms;
    atomic_bool access_log;
    conn_deadlines *deadlines;
    uint64_t head_timeout_ns, body_timeout_ns, idle_timeout_ns;
    log_every refused_log; /* "connection limit reached", at most every 10 s */
};

/* ---- request state -------------------------------------------------------- */

static char *dup_or_null(const char *value)
{
    return value ? strdup(value) : NULL;
}

static enum MHD_Result copy_query_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                        const char *value)
{
    (void)kind;
    request *req = cls;
    if (req->query_count == REQUEST_QUERY_MAX) {
        req->query_overflow = true;
        return MHD_NO;
    }
    query_param *q = &req->query[req->query_count++];
    q->name = strdup(key);
    q->value = strdup(value ? value : "");
    return MHD_YES;
}

static bool is_json_media_type(const char *content_type)
{
    /* "application/json" optionally followed by parameters (";charset=utf-8") */
    static const char json[] = "application/json";
    if (strncasecmp(content_type, json, sizeof json - 1) != 0)
        return false;
    char next = content_type[sizeof json - 1];
    return next == '\0' || next == ';' || next == ' ' || next == '\t';
}

/*
 * URI log callback: the request line is complete, the headers are not.
 * The target is still as the client sent it, so this is where a NUL or
 * "%00" can be seen.  What it returns becomes *req_cls.
 */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *conn)
{
    server *srv = cls;
    request *req = calloc(1, sizeof *req);
    if (!req)
        return NULL;
    /* not uri: should libmicrohttpd refuse the head, it may reuse that
     * buffer for its answer before the completion callback logs the line */
    req->path = "";
    req->raw_target_len = strlen(uri);
    req->target_status = request_guard_check_target(uri, &req->target_detail);
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    req->conn_slot = info ? info->socket_context : NULL;
    /* a kept-alive connection's next head: its deadline starts now */
    if (req->conn_slot)
        conn_slot_request_line(req->conn_slot, clock_now_ns() + srv->head_timeout_ns);
    atomic_fetch_add(&srv->in_flight, 1);
    return req;
}

static request *request_begin(server *srv, request *req, struct MHD_Connection *conn,
                              const char *url, const char *method)
{
    if (!req) {
        /* the URI callback could not allocate: the target went unchecked */
        req = calloc(1, sizeof *req);
        if (!req)
            return NULL;
        req->target_status = 503;
        req->target_detail = "the server is out of memory";
        atomic_fetch_add(&srv->in_flight, 1);
    }
    req->begun = true;
    req->connection = conn;
    req->workers = srv->workers;
    req->handler_ctx = srv->handler_ctx;
    req->start_ns = clock_now_ns();
    int timeout_ms = atomic_load_explicit(&srv->request_timeout_ms, memory_order_relaxed);
    req->deadline_ns = req->start_ns + (uint64_t)timeout_ms * UINT64_C(1000000);
    req->method_name = method;
    req->method = http_method_parse(method);
    req->path = request_guard_origin_path(url);
    req->route_pattern = "";
    request_headers h;
    request_headers_read(conn, &h);
    request_id_assign(h.request_id, req->request_id);
    request_trace_begin(req, h.traceparent, h.tracestate);
    req->if_none_match = dup_or_null(h.if_none_match);
    req->if_match = dup_or_null(h.if_match);
    req->idempotency_key = dup_or_null(h.idempotency_key);
    req->no_cache = request_cache_control_wants_fresh(h.cache_control);
    req->has_content_type = h.content_type != NULL;
    req->authorization = h.authorization;
    req->forwarded_for = h.forwarded_for;
    req->accept = h.accept;
    req->content_type_json = h.content_type && is_json_media_type(h.content_type);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, copy_query_param, req);
    return req;
}

static void request_free(request *req)
{
    for (int i = 0; i < req->query_count; i++) {
        free(req->query[i].name);
        free(req->query[i].value);
    }
    free(req->if_none_match);
    free(req->if_match);
    free(req->idempotency_key);
    free(req->body);
    free(req->reply.body);
    blob_release(req->reply.blob);
    free(req);
}

static void append_body(request *req, const char *data, size_t size, size_t limit)
{
    if (req->body_too_large)
        return; /* keep reading (and dropping) so the connection stays usable */
    buf body = buf_adopt(req->body, req->body_len, req->body_cap);
    /* more than the limit, or more than we can hold: the same answer */
    if (req->body_len + size > limit || !buf_append(&body, data, size)) {
        req->body_too_large = true;
        buf_free(&body);
    }
    req->body = body.data;
    req->body_len = body.len;
    req->body_cap = body.cap;
}

/* ---- replies ---------------------------------------------------------------- */

static void release_blob(void *shared)
{
    blob_release(shared);
}

static enum MHD_Result queue_reply(server *srv, request *req)
{
    http_reply *r = &req->reply;
    struct MHD_Response *resp;
    if (r->blob) {
        /* shared bytes: MHD drops our reference when it has sent them */
        resp = MHD_create_response_from_buffer_with_free_callback_cls(r->blob->len, r->blob->data,
                                                                      release_blob, r->blob);
        if (resp)
            r->blob = NULL;
    } else if (r->body && r->body_len > 0) {
        /* MHD takes the buffer and free()s it after sending */
        resp = MHD_create_response_from_buffer(r->body_len, r->body, MHD_RESPMEM_MUST_FREE);
        if (resp)
            r->body = NULL;
    } else {
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    }
    if (!resp)
        return MHD_NO;

    char timing[48] = "app;dur=";
    size_t n = sizeof "app;dur=" - 1;
    n += fmt_millis((double)(clock_now_ns() - req->start_ns) / 1e6, timing + n);
    timing[n] = '\0';
    MHD_add_response_header(resp, "X-Request-ID", req->request_id);
    request_trace_add_headers(req, resp);
    MHD_add_response_header(resp, "Server-Timing", timing);
    if (r->content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
    if (r->location[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location);
    if (r->etag[0])
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, r->etag);
    if (r->allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    if (r->cache)
        MHD_add_response_header(resp, "X-Cache", r->cache);
    if (r->vary)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, r->vary);
    if (r->idempotent_replay)
        MHD_add_response_header(resp, "Idempotent-Replayed", "true");
    if (r->www_authenticate)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, r->www_authenticate);
    if (r->ratelimit_policy)
        MHD_add_response_header(resp, "RateLimit-Policy", r->ratelimit_policy);
    if (r->ratelimit[0])
        MHD_add_response_header(resp, "RateLimit", r->ratelimit);
    if (r->retry_after_s > 0) {
        char secs[16];
        snprintf(secs, sizeof secs, "%d", r->retry_after_s);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, secs);
    }
    if (atomic_load_explicit(&srv->closing, memory_order_relaxed))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");

    enum MHD_Result ret = MHD_queue_response(req->connection, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    req->reply_queued = true;
    return ret;
}

/* ---- dispatch ---------------------------------------------------------------- */

/* Runs the row's handler the way the row says. */
static void run_route(server *srv, request *req, const route *row)
{
    switch (row->mode) {
    case ROUTE_ON_WORKER:
        request_run_on_worker(req, row->handler);
        return;
    case ROUTE_INLINE:
    case ROUTE_SELF_SCHEDULED:
        /* both start here; a self-scheduled one may hand req on (and
         * what it hands on copies the binding: log.h log_origin) */
        log_bind(&req->log, 1);
        row->handler(srv->handler_ctx, req);
        log_bind(NULL, 0);
        return;
    }
}

/* Routes req, asks the gate, then runs the row. */
static void dispatch(server *srv, request *req)
{
    route_match match;
    route_status status = router_match(srv->router, req->method, req->path, &match);
    req->route_pattern = match.pattern;
    req->path_id = match.id;
    req->dispatched = true;

    if (req->body_too_large) {
        problem_reply(req, 413, "the request body is larger than the configured limit", NULL);
        return;
    }
    switch (status) {
    case ROUTE_NOT_FOUND:
        problem_reply(req, 404, "no such resource", NULL);
        return;
    case ROUTE_METHOD_NOT_ALLOWED:
        problem_reply(req, 405, "this method is not allowed on this resource", NULL);
        req->reply.allow = match.allow;
        return;
    case ROUTE_BAD_ID:
        problem_reply(req, 400, match.route->bad_id_detail, NULL);
        return;
    case ROUTE_MATCHED:
        break;
    }
    if (srv->gate && !match.route->ungated) {
        req->matched_route = match.route;
        gate_verdict verdict = srv->gate(srv->handler_ctx, req);
        if (verdict != GATE_PASS)
            return; /* answered, or another thread has req (run_route follows) */
    }
    run_route(srv, req, match.route);
}

static void set_deadline(request *req, uint64_t deadline_ns)
{
    if (req->conn_slot)
        conn_slot_set_deadline(req->conn_slot, deadline_ns);
}

/*
 * The target's verdict, then the head's (request_guard.h): 0 or a status.
 * A head over half of connection_memory_limit gets our 431: libmicrohttpd
 * builds the response in the same pool, and with a fuller pool it answers
 * an HTML 431 itself or, a little below that, closes without any answer.
 */
static int check_head(server *srv, request *req, struct MHD_Connection *conn, const char *url,
                      const char *method, const char *version, request_framing *framing,
                      const char **detail)
{
    framing->content_length = -1;
    framing->chunked = false;
    if (req->target_status != 0) {
        *detail = req->target_detail;
        return req->target_status;
    }
    const union MHD_ConnectionInfo *size =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    size_t head_size = size ? size->header_size : 0;
    if (head_size > srv->cfg->connection_memory_limit / 2) {
        *detail = "the request head is larger than half of connection_memory_limit";
        return 431;
    }
    request_head head = {
        .method = method,
        .target = url, /* the buffer the URI callback saw, decoded in place since */
        .target_len = req->raw_target_len,
        .version = version,
        .head_size = head_size,
    };
    return request_guard_check_head(&head, framing, detail);
}

/* First call: the head is complete.  Answers at once (and closes) only
 * when the head is refused. */
static enum MHD_Result on_head(server *srv, request *req, struct MHD_Connection *conn,
                               const char *url, const char *method, const char *version)
{
    size_t limit = srv->cfg->body_limit;
    request_framing framing;
    const char *detail = NULL;
    int status = check_head(srv, req, conn, url, method, version, &framing, &detail);
    if (status == 0 && framing.content_length > (long long)limit) {
        /* answer before reading a byte of it */
        req->body_too_large = true;
        status = 413;
        detail = "the request body is larger than the configured limit";
    }
    if (status != 0) {
        set_deadline(req, 0);
        req->dispatched = true;
        problem_reply(req, status, detail, NULL);
        return queue_reply(srv, req);
    }
    long long announced = framing.content_length;
    if (announced > 0 && (size_t)announced < limit) {
        req->body = malloc((size_t)announced + 1);
        req->body_cap = req->body ? (size_t)announced + 1 : 0;
    }
    bool has_body = announced > 0 || framing.chunked;
    set_deadline(req, has_body ? clock_now_ns() + srv->body_timeout_ns : 0);
    return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls)
{
    server *srv = cls;
    request *req = *req_cls;
    size_t limit = srv->cfg->body_limit;

    if (!req || !req->begun) {
        req = request_begin(srv, req, conn, url, method);
        if (!req)
            return MHD_NO;
        *req_cls = req;
        return on_head(srv, req, conn, url, method, version);
    }
    if (*upload_data_size > 0) {
        if (!req->reply_queued)
            append_body(req, upload_data, *upload_data_size, limit);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->reply_queued)
        return MHD_YES;
    if (!req->dispatched) {
        set_deadline(req, 0); /* the body is in; request_timeout_ms from here */
        dispatch(srv, req);
        if (req->suspended)
            return MHD_YES; /* another thread has req until request_resume */
    } else if (req->gate_passed) {
        /* the gate decided on another thread: the route runs here */
        req->gate_passed = false;
        req->suspended = false;
        run_route(srv, req, req->matched_route);
        if (req->suspended)
            return MHD_YES;
    }
    req->suspended = false; /* called again after request_resume */
    if (req->reply.status == 0)
        problem_reply(req, 500, "the handler produced no response", NULL);
    return queue_reply(srv, req);
}

static void format_remote(struct MHD_Connection *conn, char *out)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    size_t n = info && info->client_addr ? fmt_sockaddr(info->client_addr, out) : 0;
    out[n] = '\0';
}

/* The status of a head libmicrohttpd refused itself (bad Content-Length,
 * 431, 505...) and answered without calling us; 0 when it sent none. */
static int mhd_own_status(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_HTTP_STATUS);
    return info ? (int)info->http_status : 0;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode why)
{
    server *srv = cls;
    request *req = *req_cls;
    if (!req)
        return;
    *req_cls = NULL;
    /* the client may now take up to idle_timeout_s for its next request */
    if (why == MHD_REQUEST_TERMINATED_COMPLETED_OK && req->conn_slot)
        conn_slot_response_sent(req->conn_slot, clock_now_ns() + srv->idle_timeout_ns);
    bool log_it =
        atomic_load_explicit(&srv->access_log, memory_order_relaxed) && log_enabled(LOG_INFO);
    if (!req->begun) {
        /* its head never completed: libmicrohttpd refused it (its status
         * is logged), or the client left or was cut by its deadline, which
         * is not a request at all (conn_deadline.c counts those) */
        int own_status = mhd_own_status(conn);
        log_it = log_it && own_status != 0;
        request_id_assign(NULL, req->request_id);
        req->method_name = "";
        req->route_pattern = "";
        req->reply.status = own_status;
        req->reply_queued = true;
        req->start_ns = clock_now_ns();
    }
    /* 499: the client went away before we answered (nginx's code) */
    int status = req->reply_queued ? req->reply.status : 499;
    uint64_t duration_ns = clock_now_ns() - req->start_ns;
    if (status != 0) /* a connection that never sent a request is not one */
        request_metrics_record(req, status, duration_ns);
    if (log_it) {
        char remote_buf[INET6_ADDRSTRLEN + 16];
        const char *remote = remote_buf;
        if (req->conn_slot) /* formatted once per connection */
            remote = conn_slot_peer(req->conn_slot);
        else
            format_remote(conn, remote_buf);
        access_record rec = {
            .ts_us = clock_wall_us(),
            .request_id = req->request_id,
            .trace = &req->trace,
            .method = req->method_name,
            .path = req->path,
            .route = req->route_pattern,
            .status = status,
            .duration_ms = (double)duration_ns / 1e6,
            .bytes = req->reply_queued ? req->reply.body_len : 0,
            .remote = remote,
            .cache = req->reply.cache,
        };
        log_access(&rec);
    }
    request_free(req);
    atomic_fetch_sub(&srv->in_flight, 1);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    server *srv = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        listener_connection_started(srv->listener);
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn_slot *slot = info ? conn_deadlines_add(srv->deadlines, info->connect_fd,
                                                    clock_now_ns() + srv->head_timeout_ns)
                               : NULL;
        const union MHD_ConnectionInfo *peer =
            slot ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
        if (slot)
            conn_slot_set_peer(slot, peer ? peer->client_addr : NULL);
        *socket_context = slot;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        /* libmicrohttpd closes the descriptor only after this returns */
        conn_deadlines_remove(srv->deadlines, *socket_context);
        *socket_context = NULL;
        listener_connection_closed(srv->listener);
    }
}

static void on_mhd_error(void *cls, const char *fmt, va_list ap)
{
    server *srv = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    if (strstr(msg, "reached connection limit")) {
        /* one line per refused connection would let a flood fill the log */
        uint64_t quiet;
        if (log_every_due(&srv->refused_log, UINT64_C(10) * 1000 * 1000 * 1000, &quiet))
            LOG(LOG_WARN, NULL,
                "connection limit reached: refusing connections (max_connections=%d, "
                "max_connections_per_address=%d); %llu more refused since the last report",
                srv->cfg->max_connections, srv->cfg->max_connections_per_address,
                (unsigned long long)quiet);
        return;
    }
    LOG(LOG_WARN, NULL, "libmicrohttpd: %s", msg);
}

/* ---- lifecycle ---------------------------------------------------------------- */

server *server_start(const server_options *opts)
{
    const orderd_config *cfg = opts->cfg;
    server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return NULL;
    srv->cfg = cfg;
    srv->handler_ctx = opts->handler_ctx;
    server_set_live(srv, cfg);
    srv->head_timeout_ns = (uint64_t)cfg->request_head_timeout_ms * UINT64_C(1000000);
    srv->body_timeout_ns = (uint64_t)cfg->request_body_timeout_ms * UINT64_C(1000000);
    srv->idle_timeout_ns = (uint64_t)cfg->idle_timeout_s * UINT64_C(1000000000);
    srv->gate = opts->gate;

    const char *why;
    srv->router = router_create(opts->routes, opts->route_count, &why);
    if (!srv->router) {
        LOG(LOG_ERROR, NULL, "route table: %s", why);
        goto fail;
    }
    if (request_metrics_start(srv->router, &why) != 0) {
        LOG(LOG_ERROR, NULL, "route table: %s", why);
        goto fail;
    }
    int workers = cfg->io_workers > 0 ? cfg->io_workers : cfg->db_pool_size;
    /* the queue bounds waiting work: beyond one job per allowed connection
     * there is nobody left to answer anyway */
    srv->workers = worker_pool_create(workers, (size_t)cfg->max_connections + 16);
    if (!srv->workers) {
        LOG(LOG_ERROR, NULL, "cannot start %d I/O worker threads", workers);
        goto fail;
    }

    /* a tenth of the shorter deadline: a slow client is cut within 10% */
    int shorter = cfg->request_head_timeout_ms < cfg->request_body_timeout_ms
                      ? cfg->request_head_timeout_ms
                      : cfg->request_body_timeout_ms;
    srv->deadlines =
        conn_deadlines_create(shorter / 10 > 100 ? 100 : shorter / 10 + 1, cfg->max_connections);
    if (!srv->deadlines) {
        LOG(LOG_ERROR, NULL, "cannot start the connection deadline thread");
        goto fail;
    }

    const char *why_not;
    srv->listener = listener_open(cfg->listen_host, cfg->listen_port, &why_not);
    if (!srv->listener) {
        LOG(LOG_ERROR, NULL, "cannot listen on %s:%u (%s)", cfg->listen_host,
            (unsigned)cfg->listen_port, why_not);
        goto fail;
    }
    /* no listening socket of its own (ITC: connections handed over by
     * the listener's thread are seen at once) */
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    /* the logger goes first so it also receives what the other options say */
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, srv,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)cfg->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)cfg->idle_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        cfg->connection_memory_limit, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)cfg->max_connections_per_address, MHD_OPTION_URI_LOG_CALLBACK, on_request_line,
        srv, MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, srv, MHD_OPTION_END);
    if (!srv->daemon) {
        LOG(LOG_ERROR, NULL, "cannot start the HTTP daemon");
        goto fail;
    }
    if (listener_start(srv->listener, srv->daemon, (unsigned)cfg->max_connections) != 0) {
        LOG(LOG_ERROR, NULL, "cannot start the accept thread");
        MHD_stop_daemon(srv->daemon);
        goto fail;
    }
    return srv;

fail:
    listener_destroy(srv->listener);
    conn_deadlines_destroy(srv->deadlines);
    worker_pool_destroy(srv->workers);
    router_destroy(srv->router);
    free(srv);
    return NULL;
}

void server_set_live(server *srv, const orderd_config *cfg)
{
    atomic_store_explicit(&srv->request_timeout_ms, cfg->request_timeout_ms, memory_order_relaxed);
    atomic_store_explicit(&srv->access_log, cfg->access_log, memory_order_relaxed);
}

void server_stop_accepting(server *srv)
{
    atomic_store(&srv->closing, true);
    listener_stop(srv->listener); /* new connects are refused from here on */
}

static unsigned open_connections(server *srv)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return info ? info->num_connections : 0;
}

int server_wait_idle(server *srv, uint64_t deadline_ns)
{
    /*
     * Idle keep-alive connections count too: a proxy may pick one for its
     * next request at any moment, and if we closed it under that request
     * a POST could not be retried.  Every response now says "Connection:
     * close", so clients let go of their connections one by one.
     */
    for (;;) {
        int n = atomic_load(&srv->in_flight);
        if ((n == 0 && open_connections(srv) == 0) || clock_now_ns() >= deadline_ns)
            return n;
        struct timespec tick = {0, 10 * 1000 * 1000};
        nanosleep(&tick, NULL);
    }
}

void server_stop(server *srv)
{
    if (!srv)
        return;
    /* finish queued blocking work first: every suspended connection is
     * resumed by its job, and MHD must not stop with one suspended */
    worker_pool_destroy(srv->workers);
    MHD_stop_daemon(srv->daemon);
    listener_destroy(srv->listener);
    conn_deadlines_destroy(srv->deadlines); /* after MHD: it removed every slot */
    router_destroy(srv->router);
    free(srv);
}
