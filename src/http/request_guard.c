/*
 * request_guard.c - strict request-line and field-line checks (RFC 9112)
 * over the head as libmicrohttpd 0.9.75 leaves it in its read buffer.
 * request_guard.h says which bytes it has overwritten; this file relies on
 * exactly that and on nothing else of libmicrohttpd.
 */
#include "orderd/http/request_guard.h"

#include <limits.h>
#include <string.h>
#include <strings.h>

/*
 * Byte classes, one table lookup per byte: the head walk runs on every
 * request, and a switch or strchr() per byte was most of its cost.
 */
enum {
    BYTE_TCHAR = 1,    /* tchar (RFC 9110 5.6.2): a method or a field name */
    BYTE_VALUE = 2,    /* may appear in a field value: VCHAR, obs-text, SP, HTAB */
    BYTE_NOT_HOST = 4, /* may not appear in uri-host [":" port] as we accept it */
};

#define TCHAR_PUNCT "!#$%&'*+-.^_`|~"

static unsigned char byte_class[256];

/* filled before main (and before any fuzz target) runs: no check per lookup */
__attribute__((constructor)) static void byte_classes_init(void)
{
    for (int c = 0; c < 256; c++) {
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (alnum || (c != 0 && strchr(TCHAR_PUNCT, c)))
            byte_class[c] |= BYTE_TCHAR;
        if ((c >= 0x20 && c != 0x7f) || c == '\t')
            byte_class[c] |= BYTE_VALUE;
        if (c != 0 && strchr(" \t/?#@\\", c))
            byte_class[c] |= BYTE_NOT_HOST;
    }
}

static bool byte_is(unsigned char c, int klass)
{
    return (byte_class[c] & klass) != 0;
}

static bool is_tchar(unsigned char c)
{
    return byte_is(c, BYTE_TCHAR);
}

/* ---- the request target ---------------------------------------------------- */

static bool starts_with_nocase(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

int request_guard_check_target(const char *target, const char **detail)
{
    if (target[0] != '/' && !starts_with_nocase(target, "http://") &&
        !starts_with_nocase(target, "https://")) {
        *detail = "the request target must be a path (\"/...\") or an absolute http URI";
        return 400;
    }
    for (const char *p = target; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c >= 0x7f || c == '#') {
            *detail = "the request target holds a byte a URI may not contain";
            return 400;
        }
        if (c == '%' && p[1] == '0' && p[2] == '0') {
            *detail = "the request target holds an encoded NUL (%00)";
            return 400;
        }
    }
    return 0;
}

const char *request_guard_origin_path(const char *url)
{
    if (url[0] == '/') /* nearly every request: no prefix to compare */
        return url;
    size_t skip;
    if (starts_with_nocase(url, "http://"))
        skip = sizeof "http://" - 1;
    else if (starts_with_nocase(url, "https://"))
        skip = sizeof "https://" - 1;
    else
        return url;
    const char *path = strchr(url + skip, '/');
    return path ? path : "/";
}

/* ---- the field lines ------------------------------------------------------- */

/* What the walk over the field lines found about the framing fields. */
typedef struct head_facts {
    int host_count;
    bool host_invalid;
    int length_count;
    const char *length; /* the first Content-Length value */
    size_t length_len;
    bool length_differs;
    int te_count;
    const char *te; /* the first Transfer-Encoding value */
    size_t te_len;
} head_facts;

static bool name_is(const char *name, size_t len, const char *want, size_t want_len)
{
    return len == want_len && strncasecmp(name, want, len) == 0;
}

#define NAME_IS(name, len, lit) name_is((name), (len), (lit), sizeof(lit) - 1)

/* uri-host [":" port]: no whitespace, no userinfo, no path. */
static bool host_value_ok(const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (byte_is((unsigned char)v[i], BYTE_NOT_HOST))
            return false;
    return true;
}

static void note_field(head_facts *f, const char *name, size_t name_len, const char *value,
                       size_t value_len)
{
    if (NAME_IS(name, name_len, "host")) {
        f->host_count++;
        f->host_invalid |= !host_value_ok(value, value_len);
    } else if (NAME_IS(name, name_len, "content-length")) {
        if (f->length_count++ == 0) {
            f->length = value;
            f->length_len = value_len;
        } else if (value_len != f->length_len || memcmp(value, f->length, value_len) != 0) {
            f->length_differs = true;
        }
    } else if (NAME_IS(name, name_len, "transfer-encoding")) {
        if (f->te_count++ == 0) {
            f->te = value;
            f->te_len = value_len;
        }
    }
}

/*
 * Walks the field lines from p to end (the end of the blank line).  Each
 * line is: name, NUL (was ':'), OWS, value, NUL NUL (was CRLF).  A single
 * NUL followed by more text is a bare LF or a NUL inside the value; a
 * line starting with SP or HTAB is obs-fold.
 */
static int walk_fields(const char *p, const char *end, head_facts *facts, const char **detail)
{
    for (;;) {
        if (end - p < 2) {
            *detail = "the request head does not end in CRLF CRLF";
            return 400;
        }
        if (p[0] == '\0') {
            if (p[1] != '\0' || p + 2 != end) {
                /* libmicrohttpd zeroes a field name when it folds the
                 * next line onto it, so obs-fold lands here too */
                *detail = "the request head holds a bare LF, an empty line or a folded line";
                return 400;
            }
            return 0; /* the blank line */
        }
        if (p[0] == ' ' || p[0] == '\t') {
            *detail = "obsolete line folding (obs-fold) in the request head";
            return 400;
        }
        const char *name = p;
        while (p < end && *p != '\0') {
            if (!is_tchar((unsigned char)*p)) {
                *detail = "a header field name holds whitespace or a byte that is not a token";
                return 400;
            }
            p++;
        }
        size_t name_len = (size_t)(p - name);
        p++; /* the colon */
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        const char *value = p;
        while (p < end && *p != '\0') {
            if (!byte_is((unsigned char)*p, BYTE_VALUE)) {
                *detail = "a header field value holds a control character";
                return 400;
            }
            p++;
        }
        if (end - p < 2 || p[1] != '\0') {
            *detail = "a header line ends in a bare LF or its value holds a NUL";
            return 400;
        }
        note_field(facts, name, name_len, value, (size_t)(p - value));
        p += 2;
    }
}

/* ---- framing ---------------------------------------------------------------- */

static int parse_length(const head_facts *f, long long *out, const char **detail)
{
    if (f->length_differs) {
        *detail = "Content-Length is given more than once with different values";
        return 400;
    }
    long long n = 0;
    for (size_t i = 0; i < f->length_len; i++) {
        char c = f->length[i];
        if (c < '0' || c > '9' || n > (LLONG_MAX - 9) / 10) {
            *detail = "Content-Length is not a decimal number";
            return 400;
        }
        n = n * 10 + (c - '0');
    }
    if (f->length_len == 0) {
        *detail = "Content-Length is empty";
        return 400;
    }
    *out = n;
    return 0;
}

/*
 * RFC 9112 6.1 and 6.3.  libmicrohttpd decodes a body only when the first
 * Transfer-Encoding field is exactly "chunked", and otherwise reads until
 * the client closes; so anything else must be refused here.
 */
static int check_transfer_coding(const head_facts *f, bool http11, const char **detail)
{
    if (!http11) {
        *detail = "Transfer-Encoding is not defined in HTTP/1.0";
        return 400;
    }
    if (f->length_count > 0) {
        *detail = "both Transfer-Encoding and Content-Length are given";
        return 400;
    }
    if (f->te_count > 1) {
        /* two fields are one list to RFC 9110, but not to libmicrohttpd,
         * which reads the first: a TE.TE smuggling shape */
        *detail = "Transfer-Encoding is given more than once";
        return 400;
    }
    if (f->te_len == 7 && strncasecmp(f->te, "chunked", 7) == 0)
        return 0;
    /* the last coding decides whether the body can be delimited at all */
    const char *last = f->te + f->te_len;
    while (last > f->te && (last[-1] == ' ' || last[-1] == '\t'))
        last--;
    const char *start = last;
    while (start > f->te && start[-1] != ',' && start[-1] != ' ' && start[-1] != '\t')
        start--;
    if (last - start != 7 || strncasecmp(start, "chunked", 7) != 0) {
        *detail = "chunked must be the last transfer coding of a request";
        return 400;
    }
    *detail = "a transfer coding other than chunked is not implemented";
    return 501;
}

/* ---- the request line ------------------------------------------------------- */

static int check_request_line(const request_head *h, const char **detail)
{
    size_t method_len = strlen(h->method);
    for (size_t i = 0; i < method_len; i++) {
        if (!is_tchar((unsigned char)h->method[i])) {
            *detail = "the method is not a token";
            return 400;
        }
    }
    if (method_len == 0 || h->target != h->method + method_len + 1) {
        *detail = "the request line must be: method SP target SP version";
        return 400;
    }
    /* the target's C string stops before the SP that precedes the version
     * only when it has no NUL of its own */
    if (h->target + h->target_len + 1 != h->version) {
        *detail = "the request target holds a NUL byte";
        return 400;
    }
    /* libmicrohttpd answers other major versions itself (505); a higher
     * minor version is read as HTTP/1.1 (RFC 9110 2.5) */
    if (strncmp(h->version, "HTTP/1.", 7) != 0 || h->version[7] < '0' || h->version[7] > '9' ||
        h->version[8] != '\0') {
        *detail = "the request line must end in HTTP/1.x";
        return 400;
    }
    return 0;
}

int request_guard_check_head(const request_head *head, request_framing *framing,
                             const char **detail)
{
    framing->content_length = -1;
    framing->chunked = false;
    int status = check_request_line(head, detail);
    if (status != 0)
        return status;
    const char *end = head->method + head->head_size;
    const char *p = head->version + 8; /* "HTTP/1.x" */
    if (end - p < 2 || p[0] != '\0' || p[1] != '\0') {
        *detail = "the request line ends in a bare LF";
        return 400;
    }
    head_facts facts = {0};
    status = walk_fields(p + 2, end, &facts, detail);
    if (status != 0)
        return status;
    bool http11 = head->version[7] != '0';
    if ((http11 && facts.host_count == 0) || facts.host_count > 1 || facts.host_invalid) {
        *detail = facts.host_count == 0 ? "an HTTP/1.1 request must carry a Host header"
                                        : "the request must carry exactly one valid Host header";
        return 400;
    }
    if (facts.te_count > 0) {
        status = check_transfer_coding(&facts, http11, detail);
        framing->chunked = status == 0;
        return status;
    }
    if (facts.length_count > 0)
        return parse_length(&facts, &framing->content_length, detail);
    return 0;
}
