/*
 * hello.c - the benchmark's baseline: what libmicrohttpd itself can do in
 * exactly the mode orderd runs it, with no application work at all.
 *
 *   orderd_hello [PORT [THREADS]]     (defaults: 8081 and 2)
 *
 * It listens on 127.0.0.1 only and answers every request with a small
 * JSON body.  Everything that shapes the HTTP layer's cost is copied from
 * src/server.c: epoll with an internal thread pool, suspend/resume allowed
 * (it adds an inter-thread channel and resume bookkeeping to MHD's loop),
 * the same connection limit, timeout and memory limit, a response created per
 * request, and the reply queued on the *second* access-handler call,
 * because in 0.9.75 a reply queued on the first call goes out with
 * "Connection: close" and would turn the baseline into a connect benchmark.
 * A ratio "orderd / hello" therefore measures only what orderd adds.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HELLO_DEFAULT_PORT    8081
#define HELLO_DEFAULT_THREADS 2

static const char hello_body[] = "{\"message\":\"hello\"}";

/* Any non-NULL address marks "headers seen"; the request needs no state. */
static char request_seen;

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls)
{
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload_data;
    if (*req_cls == NULL) {
        *req_cls = &request_seen;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        *upload_data_size = 0; /* a body is read and dropped */
        return MHD_YES;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        sizeof hello_body - 1, (void *)hello_body, MHD_RESPMEM_PERSISTENT);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

static int parse_arg(const char *text, long min, long max, const char *what)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (*text == '\0' || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "orderd_hello: %s must be an integer from %ld to %ld, not \"%s\"\n", what,
                min, max, text);
        exit(2);
    }
    return (int)v;
}

int main(int argc, char **argv)
{
    if (argc > 3 || (argc > 1 && strcmp(argv[1], "--help") == 0)) {
        fprintf(stderr, "usage: orderd_hello [PORT [THREADS]]   (127.0.0.1 only)\n");
        return 2;
    }
    int port = argc > 1 ? parse_arg(argv[1], 1, 65535, "PORT") : HELLO_DEFAULT_PORT;
    int threads = argc > 2 ? parse_arg(argv[2], 1, 256, "THREADS") : HELLO_DEFAULT_THREADS;

    /* Blocked before MHD starts its threads, so only sigwait() sees them. */
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    /* The same values as orderd's defaults (max_connections, idle_timeout_s,
     * connection_memory_limit).  Unlike orderd, no
     * MHD_OPTION_LISTENING_ADDRESS_REUSE: it sets SO_REUSEPORT, and a
     * baseline that silently shared its port with another process would
     * measure both. */
    struct MHD_Daemon *daemon = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        on_access, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_CONNECTION_LIMIT, 1000u,
        MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16384,
        MHD_OPTION_END);
    if (!daemon) {
        fprintf(stderr, "orderd_hello: cannot listen on 127.0.0.1:%d\n", port);
        return 1;
    }
    printf("{\"msg\":\"listening\",\"listen\":\"127.0.0.1:%d\",\"threads\":%d}\n", port, threads);
    fflush(stdout);

    int sig = 0;
    sigwait(&stop_signals, &sig);
    MHD_stop_daemon(daemon);
    return 0;
}
