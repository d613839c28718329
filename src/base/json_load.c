/*
 * json_load.c - see json_load.h.
 */
#include "orderd/base/json_load.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* deeper documents are rare in requests; jansson handles them */
#define FAST_DEPTH_MAX 32
/* longer numbers go to jansson, which copies them anyway */
#define NUMBER_MAX 64

typedef struct cursor {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t'))
        c->p++;
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/*
 * A string of printable ASCII without escapes: [*start, *start + *len).
 * false (give up) for anything else, including a control byte, which
 * jansson refuses, and a backslash or a byte above 0x7e, which it decodes.
 */
static bool plain_string(cursor *c, const char **start, size_t *len)
{
    if (c->p >= c->end || *c->p != '"')
        return false;
    const char *s = ++c->p;
    while (c->p < c->end) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') {
            *start = s;
            *len = (size_t)(c->p - s);
            c->p++;
            return true;
        }
        if (ch < 0x20 || ch > 0x7e || ch == '\\')
            return false;
        c->p++;
    }
    return false;
}

/*
 * -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? as jansson reads it: an
 * integer (json_integer_t range, else give up: jansson reports the
 * overflow) when there is neither fraction nor exponent, else a real
 * (finite, else give up).
 */
static json_t *number(cursor *c)
{
    const char *s = c->p, *p = s;
    bool real = false;
    if (p < c->end && *p == '-')
        p++;
    if (p >= c->end || !is_digit(*p))
        return NULL;
    if (*p == '0')
        p++;
    else
        while (p < c->end && is_digit(*p))
            p++;
    if (p < c->end && *p == '.') {
        real = true;
        p++;
        if (p >= c->end || !is_digit(*p))
            return NULL;
        while (p < c->end && is_digit(*p))
            p++;
    }
    if (p < c->end && (*p == 'e' || *p == 'E')) {
        real = true;
        p++;
        if (p < c->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= c->end || !is_digit(*p))
            return NULL;
        while (p < c->end && is_digit(*p))
            p++;
    }
    size_t n = (size_t)(p - s);
    if (n >= NUMBER_MAX)
        return NULL;
    char text[NUMBER_MAX];
    memcpy(text, s, n);
    text[n] = '\0';
    char *stop;
    errno = 0;
    json_t *v;
    if (real) {
        double d = strtod(text, &stop);
        if (errno == ERANGE || !isfinite(d) || stop != text + n)
            return NULL; /* jansson: "real number overflow" (or its own reading) */
        v = json_real(d);
    } else {
        long long i = strtoll(text, &stop, 10);
        if (errno == ERANGE || stop != text + n)
            return NULL; /* jansson: "too big integer" */
        v = json_integer((json_int_t)i);
    }
    if (v)
        c->p = p;
    return v;
}

static bool literal(cursor *c, const char *word, size_t n)
{
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
        return false;
    c->p += n;
    return true;
}

static json_t *value(cursor *c, int depth);

static json_t *object(cursor *c, int depth)
{
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    c->p++; /* '{' */
    skip_ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return obj;
    }
    for (;;) {
        const char *key;
        size_t key_len;
        skip_ws(c);
        if (!plain_string(c, &key, &key_len))
            goto give_up;
        skip_ws(c);
        if (c->p >= c->end || *c->p != ':')
            goto give_up;
        c->p++;
        /* a duplicate is an error jansson words: let it */
        if (json_object_getn(obj, key, key_len) != NULL)
            goto give_up;
        json_t *v = value(c, depth + 1);
        if (!v || json_object_setn_new_nocheck(obj, key, key_len, v) != 0)
            goto give_up;
        skip_ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == '}') {
            c->p++;
            return obj;
        }
        goto give_up;
    }
give_up:
    json_decref(obj);
    return NULL;
}

static json_t *array(cursor *c, int depth)
{
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    c->p++; /* '[' */
    skip_ws(c);
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        return arr;
    }
    for (;;) {
        json_t *v = value(c, depth + 1);
        if (!v || json_array_append_new(arr, v) != 0)
            goto give_up;
        skip_ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == ']') {
            c->p++;
            return arr;
        }
        goto give_up;
    }
give_up:
    json_decref(arr);
    return NULL;
}

/* One value at c (after optional whitespace); NULL = give up. */
static json_t *value(cursor *c, int depth)
{
    if (depth > FAST_DEPTH_MAX)
        return NULL;
    skip_ws(c);
    if (c->p >= c->end)
        return NULL;
    switch (*c->p) {
    case '{':
        return object(c, depth);
    case '[':
        return array(c, depth);
    case '"': {
        const char *s;
        size_t n;
        /* ASCII without NUL is valid UTF-8: no check needed */
        return plain_string(c, &s, &n) ? json_stringn_nocheck(s, n) : NULL;
    }
    case 't':
        return literal(c, "true", 4) ? json_true() : NULL;
    case 'f':
        return literal(c, "false", 5) ? json_false() : NULL;
    case 'n':
        return literal(c, "null", 4) ? json_null() : NULL;
    default:
        return number(c);
    }
}

json_t *json_load_fast_path(const char *buf, size_t len)
{
    cursor c = {buf, buf + len};
    skip_ws(&c);
    /* jansson (without JSON_DECODE_ANY) takes only an object or array */
    if (c.p >= c.end || (*c.p != '{' && *c.p != '['))
        return NULL;
    json_t *doc = value(&c, 0);
    if (!doc)
        return NULL;
    skip_ws(&c);
    if (c.p != c.end) { /* text after the value: jansson's error */
        json_decref(doc);
        return NULL;
    }
    return doc;
}

json_t *json_load_strict(const char *buf, size_t len, json_error_t *error)
{
    json_t *doc = json_load_fast_path(buf, len);
    if (doc)
        return doc;
    return json_loadb(buf, len, JSON_REJECT_DUPLICATES, error);
}
