/*
 * request.c - small accessors on the per-request state, and its trips to
 * other threads: suspend, run on an I/O worker, resume.
 */
#include "orderd/http/request.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <microhttpd.h>

#include "orderd/base/clock.h"
#include "orderd/base/log.h"
#include "orderd/http/problem.h"

void request_reply_body(request *req, int status, const char *content_type, char *body, size_t len)
{
    free(req->reply.body);
    req->reply.status = status;
    req->reply.content_type = body ? content_type : NULL;
    req->reply.body = body;
    req->reply.body_len = body ? len : 0;
}

void request_reply_json(request *req, int status, char *body, size_t len)
{
    request_reply_body(req, status, "application/json", body, len);
}

void request_suspend(request *req)
{
    MHD_suspend_connection(req->connection);
    req->suspended = true;
}

void request_resume(request *req)
{
    /* the reply is queued by the access-handler call that follows; the
     * resuming thread writes nothing after this line, so the polling
     * thread may read req again as soon as libmicrohttpd calls it */
    MHD_resume_connection(req->connection);
}

void request_resume_pass(request *req)
{
    req->gate_passed = true;
    request_resume(req);
}

void request_peer_address(const request *req, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(req->connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = info ? info->client_addr : NULL;
    out[0] = '\0';
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)cap);
}

void request_resume_overloaded(request *req)
{
    problem_reply(req, 503, "the server is overloaded", NULL);
    req->reply.retry_after_s = 1;
    request_resume(req);
}

static void run_on_worker(void *arg)
{
    request *req = arg;
    if (clock_now_ns() >= req->deadline_ns) {
        /* it waited in the queue past its deadline: don't start the work */
        problem_reply(req, 503, "the server is overloaded; the request timed out in the queue",
                      NULL);
        req->reply.retry_after_s = 1;
    } else {
        log_bind(&req->log, 1);
        req->worker_handler(req->handler_ctx, req);
        log_bind(NULL, 0);
    }
    request_resume(req);
}

void request_run_on_worker(request *req, request_handler *handler)
{
    request_suspend(req);
    request_continue_on_worker(req, handler);
}

void request_continue_on_worker(request *req, request_handler *handler)
{
    req->worker_handler = handler;
    if (worker_pool_submit(req->workers, run_on_worker, req) != 0)
        request_resume_overloaded(req);
}

int request_run_detached(const request *req, void (*fn)(void *arg), void *arg)
{
    return worker_pool_submit(req->workers, fn, arg);
}

/* Is [s, s+n) the token tok, ignoring case? */
static bool token_is(const char *s, size_t n, const char *tok)
{
    return strlen(tok) == n && strncasecmp(s, tok, n) == 0;
}

/* max-age's argument: delta-seconds, optionally quoted; is it zero? */
static bool age_is_zero(const char *s, size_t n)
{
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s++;
        n -= 2;
    }
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '0')
            return false;
    return true;
}

bool request_cache_control_wants_fresh(const char *value)
{
    if (!value)
        return false;
    const char *p = value;
    while (*p) {
        /* one directive: token [ "=" ( token / quoted-string ) ], then "," */
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *name = p;
        while (*p && *p != '=' && *p != ',' && *p != ' ' && *p != '\t')
            p++;
        size_t name_len = (size_t)(p - name);
        const char *arg = NULL;
        size_t arg_len = 0;
        if (*p == '=') {
            arg = ++p;
            while (*p && *p != ',' && *p != ' ' && *p != '\t')
                p++;
            arg_len = (size_t)(p - arg);
        }
        while (*p && *p != ',')
            p++;
        if (token_is(name, name_len, "no-cache") && !arg)
            return true;
        if (token_is(name, name_len, "max-age") && arg && age_is_zero(arg, arg_len))
            return true;
    }
    return false;
}
