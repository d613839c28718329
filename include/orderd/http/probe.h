/*
 * probe.h - "orderd --probe": a health check for containers that ship
 * no curl.  Asks GET /readyz of the daemon on the configured listen
 * address and reports whether it answered 200.
 */
#ifndef ORDERD_PROBE_H
#define ORDERD_PROBE_H

/* 0 when /readyz answered 200 within timeout_ms, 1 otherwise. */
int probe_ready(const char *host, unsigned port, int timeout_ms);

#endif
