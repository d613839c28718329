/*
 * cache_entry.c - Redis keys and the entry format (see cache_entry.h).
 */
#include "orderd/cache/cache_entry.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t cache_key_order(int64_t id, char out[48])
{
    return (size_t)snprintf(out, 48, "order:%" PRId64, id);
}

size_t cache_key_gen_all(char out[48])
{
    return (size_t)snprintf(out, 48, "gen:all");
}

size_t cache_key_gen_customer(int64_t customer_id, char out[48])
{
    return (size_t)snprintf(out, 48, "gen:customer:%" PRId64, customer_id);
}

size_t cache_key_gen_status(order_status status, char out[48])
{
    const char *name = order_status_name(status);
    return (size_t)snprintf(out, 48, "gen:status:%s", name ? name : "?");
}

int cache_change_gen_keys(const order_change *c, char out[CACHE_CHANGE_GENS_MAX][48])
{
    int k = 0;
    cache_key_gen_all(out[k++]);
    if (c->customer_id > 0)
        cache_key_gen_customer(c->customer_id, out[k++]);
    if (c->old_customer_id > 0 && c->old_customer_id != c->customer_id)
        cache_key_gen_customer(c->old_customer_id, out[k++]);
    if (c->has_old_status)
        cache_key_gen_status(c->old_status, out[k++]);
    if (c->has_new_status && !(c->has_old_status && c->old_status == c->new_status))
        cache_key_gen_status(c->new_status, out[k++]);
    return k;
}

size_t cache_list_gen_key(const order_list_query *q, char out[48])
{
    /* a customer's orders change only through writes that bump the
     * customer's generation, whatever the status filter */
    if (q->has_customer_id)
        return cache_key_gen_customer(q->customer_id, out);
    if (q->has_status)
        return cache_key_gen_status(q->status, out);
    return cache_key_gen_all(out);
}

size_t cache_list_suffix(const order_list_query *q, char out[160])
{
    char customer[24] = "", status[16] = "", cursor[64] = "";
    if (q->has_customer_id)
        snprintf(customer, sizeof customer, "%" PRId64, q->customer_id);
    if (q->has_status)
        snprintf(status, sizeof status, "%s", order_status_name(q->status));
    if (q->has_cursor)
        order_cursor_encode(q->cursor_created_at_us, q->cursor_id, cursor);
    return (size_t)snprintf(out, 160, "c=%s;s=%s;l=%d;k=%s", customer, status, q->limit, cursor);
}

char *cache_entry_render_present(int64_t version, int64_t expires_ms, int64_t delta_ms,
                                 const char *json, size_t json_len, size_t *len)
{
    char header[80];
    int n = snprintf(header, sizeof header, "P%" PRId64 ":%" PRId64 ":%" PRId64 ":", version,
                     expires_ms, delta_ms);
    char *out = malloc((size_t)n + json_len + 1);
    if (!out)
        return NULL;
    memcpy(out, header, (size_t)n);
    memcpy(out + n, json, json_len);
    out[(size_t)n + json_len] = '\0';
    *len = (size_t)n + json_len;
    return out;
}

size_t cache_entry_render_marker(cache_entry_kind kind, int64_t version, char out[32])
{
    return (size_t)snprintf(out, 32, "%c%" PRId64 ":", (char)kind, version);
}

/* Reads a non-negative decimal ending in ':' ; advances *p past the ':' */
static bool read_field(const char **p, const char *end, int64_t *out)
{
    const char *s = *p;
    int64_t v = 0;
    if (s >= end || *s < '0' || *s > '9')
        return false;
    while (s < end && *s >= '0' && *s <= '9') {
        if (v > (INT64_MAX - (*s - '0')) / 10)
            return false;
        v = v * 10 + (*s - '0');
        s++;
    }
    if (s >= end || *s != ':')
        return false;
    *out = v;
    *p = s + 1;
    return true;
}

bool cache_entry_parse(const char *text, size_t len, cache_entry *out)
{
    if (!text || len < 3)
        return false;
    const char *p = text + 1, *end = text + len;
    memset(out, 0, sizeof *out);
    out->kind = (cache_entry_kind)text[0];
    if (!read_field(&p, end, &out->version))
        return false;
    switch (out->kind) {
    case CACHE_ENTRY_PRESENT:
        if (!read_field(&p, end, &out->expires_ms) || !read_field(&p, end, &out->delta_ms))
            return false;
        if (p >= end)
            return false; /* a present order always has a body */
        out->json = p;
        out->json_len = (size_t)(end - p);
        return true;
    case CACHE_ENTRY_TOMBSTONE:
    case CACHE_ENTRY_NEGATIVE:
    case CACHE_ENTRY_DELETED:
        return p == end;
    }
    return false;
}

int64_t cache_ttl_jitter(int64_t base_ttl_ms, int jitter_pct, double r)
{
    double spread = (double)base_ttl_ms * jitter_pct / 100.0;
    int64_t ttl = base_ttl_ms + (int64_t)((2.0 * r - 1.0) * spread);
    return ttl < 1 ? 1 : ttl;
}

bool cache_should_refresh_early(int64_t now_ms, int64_t expires_ms, int64_t delta_ms, double beta,
                                double r)
{
    if (r <= 0.0)
        r = 1e-12;
    if (r > 1.0)
        r = 1.0;
    /* -log(r) >= 0 grows without bound as r -> 0: rarely, far ahead */
    double ahead = (double)delta_ms * beta * -log(r);
    return (double)now_ms + ahead >= (double)expires_ms;
}
