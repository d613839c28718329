/*
 * server.c - libmicrohttpd wiring: one request's life from the first
 * access-handler call to the completion callback.
 *
 * libmicrohttpd calls the access handler several times per request:
 *   1. headers parsed, no body yet: we create the request state.  We do
 *      not answer here, because in 0.9.75 a response queued on this first
 *      call goes out with "Connection: close" (the one exception: a body
 *      announced larger than body_limit, where closing is what we want);
 *   2. zero or more calls with body bytes, which we buffer up to the limit;
 *   3. a final call with no data: we match the route table and run the
 *      row's handler as the row says (router.h): at once for I/O-free
 *      answers, or with the connection suspended on an I/O worker or on
 *      the handler's own threads, which resume it when the reply is ready;
 *   4. after a resume: we queue the reply.
 * The polling threads therefore never wait on PostgreSQL or Redis.
 */
#include "orderd/http/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "orderd/base/blob.h"
#include "orderd/base/buf.h"
#include "orderd/base/clock.h"
#include "orderd/base/fmt.h"
#include "orderd/base/log.h"
#include "orderd/http/problem.h"
#include "orderd/http/request_id.h"
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
    atomic_bool closing;    /* draining: every response says Connection: close */
    MHD_socket quiesced_fd; /* the listening socket after quiesce; ours to close */
};

/* ---- request state -------------------------------------------------------- */

static char *dup_header(struct MHD_Connection *conn, const char *name)
{
    const char *value = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
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

static request *request_begin(server *srv, struct MHD_Connection *conn, const char *url,
                              const char *method)
{
    request *req = calloc(1, sizeof *req);
    if (!req)
        return NULL;
    req->connection = conn;
    req->workers = srv->workers;
    req->handler_ctx = srv->handler_ctx;
    req->start_ns = clock_now_ns();
    req->deadline_ns = req->start_ns + (uint64_t)srv->cfg->request_timeout_ms * UINT64_C(1000000);
    req->method_name = method;
    req->method = http_method_parse(method);
    req->path = url;
    req->route_pattern = "";
    request_id_assign(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-ID"),
                      req->request_id);
    req->if_none_match = dup_header(conn, MHD_HTTP_HEADER_IF_NONE_MATCH);
    req->if_match = dup_header(conn, MHD_HTTP_HEADER_IF_MATCH);
    req->idempotency_key = dup_header(conn, "Idempotency-Key");
    req->no_cache = request_cache_control_wants_fresh(
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CACHE_CONTROL));
    const char *content_type =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    req->has_content_type = content_type != NULL;
    req->authorization =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    req->forwarded_for = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Forwarded-For");
    req->content_type_json = content_type && is_json_media_type(content_type);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, copy_query_param, req);
    atomic_fetch_add(&srv->in_flight, 1);
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

/* Content-Length, or -1 when absent (chunked) or unparsable. */
static long long announced_length(struct MHD_Connection *conn)
{
    const char *text =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!text || !*text)
        return -1;
    char *end;
    long long n = strtoll(text, &end, 10);
    return (*end == '\0' && n >= 0) ? n : -1;
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
        /* both start here; a self-scheduled one may hand req on */
        row->handler(srv->handler_ctx, req);
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

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls)
{
    (void)version;
    server *srv = cls;
    request *req = *req_cls;
    size_t limit = srv->cfg->body_limit;

    if (!req) {
        req = request_begin(srv, conn, url, method);
        if (!req)
            return MHD_NO;
        *req_cls = req;
        long long announced = announced_length(conn);
        if (announced > (long long)limit) {
            /* answer before reading a byte of it; the connection closes */
            req->body_too_large = true;
            req->dispatched = true;
            problem_reply(req, 413, "the request body is larger than the configured limit", NULL);
            return queue_reply(srv, req);
        }
        if (announced > 0 && (size_t)announced < limit) {
            req->body = malloc((size_t)announced + 1);
            req->body_cap = req->body ? (size_t)announced + 1 : 0;
        }
        return MHD_YES;
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

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode why)
{
    (void)why;
    server *srv = cls;
    request *req = *req_cls;
    if (!req)
        return;
    *req_cls = NULL;
    if (srv->cfg->access_log && log_enabled(LOG_INFO)) {
        char remote[INET6_ADDRSTRLEN + 16];
        format_remote(conn, remote);
        access_record rec = {
            .ts_us = clock_wall_us(),
            .request_id = req->request_id,
            .method = req->method_name,
            .path = req->path,
            .route = req->route_pattern,
            /* 499: the client went away before we answered (nginx's code) */
            .status = req->reply_queued ? req->reply.status : 499,
            .duration_ms = (double)(clock_now_ns() - req->start_ns) / 1e6,
            .bytes = req->reply_queued ? req->reply.body_len : 0,
            .remote = remote,
            .cache = req->reply.cache,
        };
        log_access(&rec);
    }
    request_free(req);
    atomic_fetch_sub(&srv->in_flight, 1);
}

static void on_mhd_error(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
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
    srv->gate = opts->gate;
    srv->quiesced_fd = MHD_INVALID_SOCKET;

    const char *why;
    srv->router = router_create(opts->routes, opts->route_count, &why);
    if (!srv->router) {
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

    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    struct sockaddr_in *in4 = (struct sockaddr_in *)&addr;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&addr;
    if (inet_pton(AF_INET, cfg->listen_host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(cfg->listen_port);
    } else if (inet_pton(AF_INET6, cfg->listen_host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(cfg->listen_port);
        flags |= MHD_USE_IPv6;
    } else {
        LOG(LOG_ERROR, NULL, "listen: \"%s\" is not an IP address", cfg->listen_host);
        goto fail;
    }

    /* the logger goes first so it also receives what the other options say */
    srv->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_error, srv,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)cfg->threads, MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->connection_memory_limit,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_END);
    if (!srv->daemon) {
        LOG(LOG_ERROR, NULL, "cannot listen on %s:%u (in use, or not permitted)", cfg->listen_host,
            (unsigned)cfg->listen_port);
        goto fail;
    }
    return srv;

fail:
    worker_pool_destroy(srv->workers);
    router_destroy(srv->router);
    free(srv);
    return NULL;
}

void server_stop_accepting(server *srv)
{
    atomic_store(&srv->closing, true);
    srv->quiesced_fd = MHD_quiesce_daemon(srv->daemon);
    /* MHD forbids closing the socket before MHD_stop_daemon, but a
     * quiesced socket left listening would still complete handshakes
     * that nobody accepts; shutdown() makes new connects fail at once
     * while the descriptor stays valid */
    if (srv->quiesced_fd != MHD_INVALID_SOCKET)
        shutdown(srv->quiesced_fd, SHUT_RDWR);
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
    if (srv->quiesced_fd != MHD_INVALID_SOCKET)
        close(srv->quiesced_fd);
    router_destroy(srv->router);
    free(srv);
}
