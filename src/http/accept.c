/*
 * accept.c - the Accept field, weighed for one offer at a time (see
 * accept.h).  One pass over the field per offer, no copy: a handler
 * offers two types, and most clients send one short range or none.
 */
#include "orderd/http/accept.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* One media range as read from the field; pointers into it. */
typedef struct media_range {
    const char *type, *subtype;
    size_t type_len, subtype_len;
    int q; /* thousandths */
} media_range;

/* RFC 9110 5.6.2 tchar */
static bool is_tchar(char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static const char *skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static const char *skip_token(const char *p)
{
    while (is_tchar(*p))
        p++;
    return p;
}

/* Past a quoted-string starting at p (at the '"'); NULL when unterminated. */
static const char *skip_quoted(const char *p)
{
    for (p++; *p; p++) {
        if (*p == '\\') {
            if (!p[1])
                return NULL;
            p++;
        } else if (*p == '"') {
            return p + 1;
        }
    }
    return NULL;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ); false otherwise. */
static bool parse_qvalue(const char *p, size_t n, int *q)
{
    if (n == 0 || (p[0] != '0' && p[0] != '1'))
        return false;
    int value = (p[0] - '0') * 1000;
    if (n == 1)
        goto done;
    if (p[1] != '.' || n > 5)
        return false;
    int scale = 100;
    for (size_t i = 2; i < n; i++, scale /= 10) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        value += (p[i] - '0') * scale;
    }
done:
    if (value > ACCEPT_Q_MAX)
        return false; /* "1.5" */
    *q = value;
    return true;
}

/*
 * The parameters after a media range: ";" name "=" (token | quoted), any
 * number, empty ones allowed (RFC 9110 5.6.6).  Sets r->q from "q".
 * Returns where the member ends (at ',' or the end), NULL when malformed.
 */
static const char *read_parameters(const char *p, media_range *r)
{
    for (;;) {
        p = skip_ows(p);
        if (*p == ',' || *p == '\0')
            return p;
        if (*p != ';')
            return NULL;
        p = skip_ows(p + 1);
        if (*p == ';' || *p == ',' || *p == '\0')
            continue; /* an empty parameter */
        const char *name = p;
        p = skip_token(p);
        size_t name_len = (size_t)(p - name);
        if (name_len == 0 || *p != '=')
            return NULL;
        const char *value = ++p;
        p = *p == '"' ? skip_quoted(p) : skip_token(p);
        if (!p || p == value)
            return NULL;
        if (name_len == 1 && (*name == 'q' || *name == 'Q') &&
            !parse_qvalue(value, (size_t)(p - value), &r->q))
            return NULL; /* a quoted q is no qvalue either */
    }
}

/* One member at p into *r; returns where it ends, NULL when malformed. */
static const char *read_member(const char *p, media_range *r)
{
    r->type = p;
    p = skip_token(p);
    r->type_len = (size_t)(p - r->type);
    if (r->type_len == 0 || *p != '/')
        return NULL;
    r->subtype = ++p;
    p = skip_token(p);
    r->subtype_len = (size_t)(p - r->subtype);
    if (r->subtype_len == 0)
        return NULL;
    bool any_type = r->type_len == 1 && r->type[0] == '*';
    bool any_subtype = r->subtype_len == 1 && r->subtype[0] == '*';
    if (any_type && !any_subtype)
        return NULL; /* "*\/json" is no media range */
    r->q = ACCEPT_Q_MAX;
    return read_parameters(p, r);
}

/* Past the rest of a malformed member: to the next ',' outside quotes. */
static const char *skip_member(const char *p)
{
    while (*p && *p != ',') {
        if (*p == '"') {
            const char *end = skip_quoted(p);
            if (!end)
                return p + strlen(p);
            p = end;
        } else {
            p++;
        }
    }
    return p;
}

static bool same(const char *a, size_t a_len, const char *b, size_t b_len)
{
    return a_len == b_len && strncasecmp(a, b, a_len) == 0;
}

/* 3 exact, 2 "type/\*", 1 "*\/\*", 0 no match. */
static int specificity(const media_range *r, const char *type, size_t type_len, const char *subtype,
                       size_t subtype_len)
{
    if (r->type_len == 1 && r->type[0] == '*')
        return 1;
    if (!same(r->type, r->type_len, type, type_len))
        return 0;
    if (r->subtype_len == 1 && r->subtype[0] == '*')
        return 2;
    return same(r->subtype, r->subtype_len, subtype, subtype_len) ? 3 : 0;
}

int accept_quality(const char *accept, const char *offer)
{
    if (!accept)
        return ACCEPT_Q_MAX;
    const char *slash = strchr(offer, '/');
    if (!slash)
        return 0;
    size_t type_len = (size_t)(slash - offer);
    const char *subtype = slash + 1;
    size_t subtype_len = strlen(subtype);

    bool any_member = false;
    int best_specificity = 0, best_q = 0;
    const char *p = accept;
    while (*p) {
        p = skip_ows(p);
        if (*p == ',') {
            p++;
            continue; /* empty list elements are allowed (RFC 9110 5.6.1) */
        }
        if (!*p)
            break;
        media_range r;
        const char *end = read_member(p, &r);
        if (!end) {
            p = skip_member(p);
            continue;
        }
        p = end;
        any_member = true;
        int s = specificity(&r, offer, type_len, subtype, subtype_len);
        if (s > best_specificity || (s == best_specificity && s > 0 && r.q > best_q)) {
            best_specificity = s;
            best_q = r.q;
        }
    }
    return any_member ? best_q : ACCEPT_Q_MAX;
}

int accept_choose(const char *accept, const char *const offers[], size_t count)
{
    int chosen = -1, chosen_q = 0;
    for (size_t i = 0; i < count; i++) {
        int q = accept_quality(accept, offers[i]);
        if (q > chosen_q) {
            chosen = (int)i;
            chosen_q = q;
        }
    }
    return chosen;
}
