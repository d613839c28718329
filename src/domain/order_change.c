/*
 * order_change.c - parsing what sql/0003_order_changes.sql (and 0004) publish.
 *
 * The text comes from our own trigger, but it crosses a process
 * boundary, so it is parsed as untrusted input: every field is checked,
 * and a malformed line is reported rather than half-used.
 */
#include "orderd/domain/order_change.h"

#include <string.h>

#include "orderd/base/parse.h"

/* The next space-separated field of [*p, end) into field (NUL-ended). */
static bool take_field(const char **p, const char *end, char *field, size_t cap)
{
    const char *s = *p;
    while (s < end && *s == ' ')
        s++;
    const char *e = s;
    while (e < end && *e != ' ')
        e++;
    size_t n = (size_t)(e - s);
    if (n == 0 || n >= cap)
        return false;
    memcpy(field, s, n);
    field[n] = '\0';
    *p = e;
    return true;
}

static bool parse_u64(const char *text, uint64_t *out)
{
    uint64_t v = 0;
    if (!*text)
        return false;
    for (const char *c = text; *c; c++) {
        if (*c < '0' || *c > '9' || v > (UINT64_MAX - (uint64_t)(*c - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(*c - '0');
    }
    *out = v;
    return true;
}

/* A positive id, or "-" (absent) where absent_ok: *out = 0. */
static bool parse_id_field(const char *text, bool absent_ok, int64_t *out)
{
    if (strcmp(text, "-") == 0) {
        *out = 0;
        return absent_ok;
    }
    return parse_positive_i64(text, out);
}

static bool parse_status_field(const char *text, bool *present, order_status *out)
{
    *present = strcmp(text, "-") != 0;
    return !*present || order_status_parse(text, out);
}

static bool origin_valid(const char *origin)
{
    for (const char *c = origin; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z')))
            return false;
    return origin[0] != '\0';
}

bool order_change_reader_open(order_change_reader *r, const char *payload, size_t len)
{
    const char *end = payload + len;
    const char *eol = memchr(payload, '\n', len);
    const char *header_end = eol ? eol : end;
    const char *p = payload;
    char txid[24], at[24];
    uint64_t at_us;
    if (!take_field(&p, header_end, txid, sizeof txid) ||
        !take_field(&p, header_end, at, sizeof at) || !parse_u64(txid, &r->txid) ||
        !parse_u64(at, &at_us) || at_us > INT64_MAX)
        return false;
    r->origin[0] = '\0';
    if (p != header_end && (!take_field(&p, header_end, r->origin, sizeof r->origin) ||
                            p != header_end || !origin_valid(r->origin)))
        return false;
    r->changed_at_us = (int64_t)at_us;
    r->next = eol ? eol + 1 : end;
    r->end = end;
    return true;
}

/* Checks that the fields present fit the operation. */
static bool change_is_consistent(const order_change *c)
{
    switch (c->op) {
    case ORDER_CHANGE_INSERT:
        return c->customer_id > 0 && c->old_customer_id == 0 && !c->has_old_status &&
               c->has_new_status;
    case ORDER_CHANGE_UPDATE:
        return c->customer_id > 0 && c->old_customer_id > 0 && c->has_old_status &&
               c->has_new_status;
    case ORDER_CHANGE_DELETE:
        return c->customer_id == 0 && c->old_customer_id > 0 && c->has_old_status &&
               !c->has_new_status;
    }
    return false;
}

int order_change_reader_next(order_change_reader *r, order_change *out)
{
    if (r->next >= r->end)
        return 0;
    const char *eol = memchr(r->next, '\n', (size_t)(r->end - r->next));
    const char *line_end = eol ? eol : r->end;
    const char *p = r->next;
    r->next = eol ? eol + 1 : r->end;

    char f[7][24];
    for (int i = 0; i < 7; i++)
        if (!take_field(&p, line_end, f[i], sizeof f[i]))
            return -1;
    if (p != line_end || f[0][1] != '\0')
        return -1;
    memset(out, 0, sizeof *out);
    out->op = (order_change_op)f[0][0];
    if (!parse_positive_i64(f[1], &out->id) || !parse_positive_i64(f[2], &out->version) ||
        !parse_id_field(f[3], true, &out->customer_id) ||
        !parse_id_field(f[4], true, &out->old_customer_id) ||
        !parse_status_field(f[5], &out->has_old_status, &out->old_status) ||
        !parse_status_field(f[6], &out->has_new_status, &out->new_status))
        return -1;
    return change_is_consistent(out) ? 1 : -1;
}
