/*
 * request_guard.h - the strict HTTP/1.1 checks (RFC 9112) that
 * libmicrohttpd 0.9.75 does not make, run before a request is routed.
 *
 * libmicrohttpd's parser is lax: it cuts the target at a NUL, takes the
 * first of two differing Content-Length values, accepts whitespace before
 * the colon, bare-LF line ends and obs-fold continuation lines (which it
 * glues onto the field *name*), a missing Host, and waits for the peer to
 * close on a transfer coding other than plain "chunked".  Its strict mode
 * (MHD_OPTION_STRICT_FOR_CLIENT=1) adds only a space check and the Host
 * check, both answered with its own HTML page (and the Host one with two
 * status lines), so orderd makes every check itself and answers with
 * application/problem+json.
 *
 * The checks read the request head where libmicrohttpd parsed it: in
 * place in its read buffer, with every CR and LF of a line end and the
 * first colon of each field line overwritten by NUL and nothing else
 * moved.  That is how 0.9.75 parses (connection.c: get_next_header_line,
 * process_header_line); the raw bytes are the only place where a bare LF,
 * an obs-fold or a NUL inside a field value can still be seen.  Nothing
 * is allocated and every byte is looked at once.
 */
#ifndef ORDERD_REQUEST_GUARD_H
#define ORDERD_REQUEST_GUARD_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The raw request target as the URI log callback sees it, before any
 * decoding: origin-form ("/path?query") or absolute-form
 * ("http://host/path"), visible ASCII only (no SP, CTL, DEL, '#' or
 * bytes >= 0x80) and no "%00".  Returns 0, or 400 with *detail set to a
 * static sentence.
 */
int request_guard_check_target(const char *target, const char **detail);

/* The parsed request head, all pointers into libmicrohttpd's buffer. */
typedef struct request_head {
    const char *method;  /* NUL-terminated; the head starts here */
    const char *target;  /* the raw target (the URL MHD hands over) */
    size_t target_len;   /* strlen(target) before MHD decoded it */
    const char *version; /* "HTTP/1.1"; the field lines follow its line end */
    size_t head_size;    /* MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE */
} request_head;

/* How the body is framed, as the head announced it. */
typedef struct request_framing {
    long long content_length; /* -1: no Content-Length */
    bool chunked;             /* Transfer-Encoding: chunked */
} request_framing;

/*
 * Checks the request line and every field line of head:
 *   - the method is a token, one SP on each side of the target, and no
 *     NUL inside the target (its raw length reaches the SP before the
 *     version);
 *   - every line ends in CRLF (400 for a bare LF), no obs-fold (400),
 *     field names are tokens (400 for whitespace before the colon), field
 *     values hold no CTL or NUL (400);
 *   - HTTP/1.1 with no Host, or two Host fields, or an invalid one: 400;
 *   - Content-Length: digits, and every copy the same value, else 400;
 *   - Transfer-Encoding: exactly one field "chunked" (what libmicrohttpd
 *     decodes); TE in two fields, chunked not last, any TE on HTTP/1.0,
 *     or TE with Content-Length: 400; any other coding (chunked again
 *     included) before a final chunked: 501.
 * Returns 0 and fills *framing, or the status (400, 501) with *detail set
 * to a static sentence.  Every failure must be answered with the
 * connection closed: after it the message framing is not trustworthy.
 */
int request_guard_check_head(const request_head *head, request_framing *framing,
                             const char **detail);

/*
 * The path of an absolute-form target ("http://host/p" -> "/p", "http://h"
 * -> "/"), or url itself for origin-form.  RFC 9112 3.2.2: a server must
 * accept both.  The result points into url or is a static "/".
 */
const char *request_guard_origin_path(const char *url);

#endif
