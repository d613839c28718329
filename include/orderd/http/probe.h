/*
 * probe.h - "orderd --probe": a health check for containers that ship
 * no curl.  Asks GET /readyz of the daemon on the configured listen
 * address and reports whether it answered 200.
 */
#ifndef ORDERD_PROBE_H
#define ORDERD_PROBE_H

/*
 * One GET path on host:port (a wildcard host is asked on loopback), on a
 * fresh connection: 0 when it answered 200 within timeout_ms (connect,
 * send and first bytes each), 1 otherwise.  The watchdog's check too.
 * request_id (letters, digits, '.', '_', '-') is sent as X-Request-ID, so
 * the access log shows who asked.
 */
int probe_get(const char *host, unsigned port, const char *path, const char *request_id,
              int timeout_ms);

/* probe_get of /readyz, as request "probe". */
int probe_ready(const char *host, unsigned port, int timeout_ms);

#endif
