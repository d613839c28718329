/*
 * fuzz_list_query.c - GET /orders' query string and its cursors.
 *
 * The input is a raw query string ("customer_id=7&cursor=..."), split
 * and percent-decoded the way libmicrohttpd hands it to server.c (at most
 * REQUEST_QUERY_MAX parameters, then query_overflow), then read by
 * orders_api_parse_list_query.  Every value is also tried as a cursor.
 *
 * Invariants:
 *  - a cursor that decodes re-encodes to exactly the same text;
 *  - an accepted query is in range, and printed back as a query string
 *    it parses to the same query;
 *  - its cache key suffix fits the buffer cache_entry.h gives it;
 *  - a refused query gets a 400 problem+json naming at least one error.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "orderd/api/orders_api.h"
#include "orderd/cache/cache_entry.h"
#include "orderd/http/problem.h"

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A malloc'd, NUL-terminated copy of s[0..n) with %XX and '+' decoded. */
static char *url_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;
    if (!out)
        abort();
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hex_digit(s[i + 1])) >= 0 &&
            (lo = hex_digit(s[i + 2])) >= 0) {
            *o++ = (char)(hi << 4 | lo);
            i += 2;
        } else {
            *o++ = s[i] == '+' ? ' ' : s[i];
        }
    }
    *o = '\0';
    return out;
}

/* Splits text at '&' and '=' into req->query, as server.c's copy_query_param fills it. */
static void fill_query(request *req, const char *text, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && text[end] != '&')
            end++;
        if (end > i) {
            if (req->query_count == REQUEST_QUERY_MAX) {
                req->query_overflow = true;
                return;
            }
            const char *eq = memchr(text + i, '=', end - i);
            size_t name_len = eq ? (size_t)(eq - (text + i)) : end - i;
            query_param *q = &req->query[req->query_count++];
            q->name = url_decode(text + i, name_len);
            q->value = eq ? url_decode(eq + 1, (size_t)(text + end - eq - 1)) : url_decode("", 0);
        }
        i = end + 1;
    }
}

static void clear_query(request *req)
{
    for (int i = 0; i < req->query_count; i++) {
        free(req->query[i].name);
        free(req->query[i].value);
    }
    req->query_count = 0;
    req->query_overflow = false;
    free(req->reply.body);
    req->reply = (http_reply){0};
}

static void check_cursor(const char *text)
{
    int64_t created, id;
    if (!order_cursor_decode(text, &created, &id))
        return;
    FUZZ_CHECK(id >= 1);
    char again[64];
    size_t n = order_cursor_encode(created, id, again);
    FUZZ_CHECK(n == strlen(text) && strcmp(again, text) == 0);
}

/* q as the query string a client would send for it. */
static size_t print_query(const order_list_query *q, char *out, size_t cap)
{
    char cursor[64] = "";
    if (q->has_cursor)
        order_cursor_encode(q->cursor_created_at_us, q->cursor_id, cursor);
    int n = snprintf(out, cap, "limit=%d", q->limit);
    if (q->has_customer_id)
        n += snprintf(out + n, cap - (size_t)n, "&customer_id=%" PRId64, q->customer_id);
    if (q->has_status)
        n += snprintf(out + n, cap - (size_t)n, "&status=%s", order_status_name(q->status));
    if (q->has_cursor)
        n += snprintf(out + n, cap - (size_t)n, "&cursor=%s", cursor);
    FUZZ_CHECK(n > 0 && (size_t)n < cap);
    return (size_t)n;
}

static bool same_query(const order_list_query *a, const order_list_query *b)
{
    return a->limit == b->limit && a->has_customer_id == b->has_customer_id &&
           (!a->has_customer_id || a->customer_id == b->customer_id) &&
           a->has_status == b->has_status && (!a->has_status || a->status == b->status) &&
           a->has_cursor == b->has_cursor &&
           (!a->has_cursor ||
            (a->cursor_created_at_us == b->cursor_created_at_us && a->cursor_id == b->cursor_id));
}

static void check_accepted(const order_list_query *q)
{
    FUZZ_CHECK(q->limit >= 1 && q->limit <= ORDER_LIST_LIMIT_MAX);
    FUZZ_CHECK(!q->has_customer_id || q->customer_id >= 1);
    FUZZ_CHECK(!q->has_status || order_status_name(q->status));
    FUZZ_CHECK(!q->has_cursor || q->cursor_id >= 1);

    char suffix[160], gen[48];
    size_t n = cache_list_suffix(q, suffix);
    FUZZ_CHECK(n < sizeof suffix && strlen(suffix) == n);
    n = cache_list_gen_key(q, gen);
    FUZZ_CHECK(n < sizeof gen && strlen(gen) == n);

    char text[256];
    size_t len = print_query(q, text, sizeof text);
    request again = {.request_id = "fuzz"};
    fill_query(&again, text, len);
    order_list_query back;
    FUZZ_CHECK(orders_api_parse_list_query(&again, &back) && same_query(q, &back));
    clear_query(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    request req = {.request_id = "fuzz"};
    fill_query(&req, (const char *)data, size);
    for (int i = 0; i < req.query_count; i++)
        check_cursor(req.query[i].value);

    order_list_query q;
    if (orders_api_parse_list_query(&req, &q)) {
        FUZZ_CHECK(req.reply.status == 0);
        check_accepted(&q);
    } else {
        FUZZ_CHECK(req.reply.status == 400 && req.reply.body &&
                   strcmp(req.reply.content_type, PROBLEM_CONTENT_TYPE) == 0);
        json_t *doc = json_loadb(req.reply.body, req.reply.body_len, 0, NULL);
        FUZZ_CHECK(doc && json_integer_value(json_object_get(doc, "status")) == 400);
        FUZZ_CHECK(json_array_size(json_object_get(doc, "errors")) >= 1); /* says what was wrong */
        json_decref(doc);
    }
    clear_query(&req);
    return 0;
}
