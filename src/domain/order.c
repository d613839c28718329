/*
 * order.c - the order domain: status rules, request validation, the
 * order's JSON and list cursors (money and currencies: money.c).  No I/O
 * and no mutable globals, so everything here is safe to call from any
 * thread.
 */
#include "orderd/domain/order.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/base/base64url.h"
#include "orderd/base/clock.h"
#include "orderd/base/fmt.h"

/* ---- status ------------------------------------------------------------ */

static const char *const status_names[ORDER_STATUS_COUNT] = {
    [ORDER_PENDING] = "pending",     [ORDER_PAID] = "paid",           [ORDER_SHIPPED] = "shipped",
    [ORDER_DELIVERED] = "delivered", [ORDER_CANCELLED] = "cancelled",
};

const char *order_status_name(order_status s)
{
    if ((unsigned)s >= ORDER_STATUS_COUNT)
        return NULL;
    return status_names[s];
}

bool order_status_parse(const char *name, order_status *out)
{
    if (name == NULL)
        return false;
    for (int i = 0; i < ORDER_STATUS_COUNT; i++) {
        if (strcmp(name, status_names[i]) == 0) {
            *out = (order_status)i;
            return true;
        }
    }
    return false;
}

bool order_status_can_transition(order_status from, order_status to)
{
    switch (from) {
    case ORDER_PENDING:
        return to == ORDER_PAID || to == ORDER_CANCELLED;
    case ORDER_PAID:
        return to == ORDER_SHIPPED || to == ORDER_CANCELLED;
    case ORDER_SHIPPED:
        return to == ORDER_DELIVERED;
    default:
        return false;
    }
}

/* ---- create / patch requests ------------------------------------------- */

/* A JSON string without embedded NULs, or NULL. */
static const char *json_c_string(const json_t *value)
{
    if (!json_is_string(value))
        return NULL;
    const char *s = json_string_value(value);
    return strlen(s) == json_string_length(value) ? s : NULL;
}

typedef struct parsed_item {
    const char *sku; /* borrowed from the body */
    int64_t quantity;
    int64_t unit_price_cents;
} parsed_item;

static bool sku_is_valid(const char *sku)
{
    size_t n = strlen(sku);
    if (n == 0 || n > ORDER_SKU_MAX)
        return false;
    return strspn(sku, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static void item_error(field_errors *errs, size_t index, const char *key, const char *message)
{
    char path[64];
    if (key != NULL)
        snprintf(path, sizeof path, "items[%zu].%.40s", index, key);
    else
        snprintf(path, sizeof path, "items[%zu]", index);
    field_errors_add(errs, path, "%s", message);
}

static bool parse_item(const json_t *obj, size_t index, parsed_item *out, field_errors *errs)
{
    size_t before = errs->count;
    if (!json_is_object(obj)) {
        item_error(errs, index, NULL, "must be an object");
        return false;
    }

    const json_t *sku = json_object_get(obj, "sku");
    const char *sku_text = json_c_string(sku);
    if (sku == NULL)
        item_error(errs, index, "sku", "is required");
    else if (sku_text == NULL)
        item_error(errs, index, "sku", "must be a string");
    else if (!sku_is_valid(sku_text))
        item_error(errs, index, "sku", "must be 1 to 64 characters of A-Z a-z 0-9 . _ -");
    out->sku = sku_text;

    const json_t *qty = json_object_get(obj, "quantity");
    if (qty == NULL)
        item_error(errs, index, "quantity", "is required");
    else if (!json_is_integer(qty))
        item_error(errs, index, "quantity", "must be an integer");
    else if (json_integer_value(qty) < 1 || json_integer_value(qty) > ORDER_QUANTITY_MAX)
        item_error(errs, index, "quantity", "must be between 1 and 1000000");
    else
        out->quantity = json_integer_value(qty);

    const json_t *price = json_object_get(obj, "unit_price");
    const char *why = NULL;
    if (price == NULL)
        item_error(errs, index, "unit_price", "is required");
    else if (!money_parse_json(price, &out->unit_price_cents, &why))
        item_error(errs, index, "unit_price", why);

    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)obj, key, value)
    {
        if (strcmp(key, "sku") != 0 && strcmp(key, "quantity") != 0 &&
            strcmp(key, "unit_price") != 0)
            item_error(errs, index, key, "unknown field");
    }
    return errs->count == before;
}

/* Upper bound of one rendered item, sku at its longest. */
#define ITEM_JSON_MAX                                                                              \
    (sizeof "{\"sku\":\"\",\"quantity\":,\"unit_price\":\"\"}," + ORDER_SKU_MAX + 20 + 32)

static char *render_items(const parsed_item *items, size_t count)
{
    size_t cap = 3 + count * ITEM_JSON_MAX;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    size_t n = 0;
    out[n++] = '[';
    /* memcpy and integer formatting, not snprintf: this runs for every
     * item of every POST (the sku is validated: nothing to escape) */
#define PUT(lit) (memcpy(out + n, lit, sizeof lit - 1), n += sizeof lit - 1)
    for (size_t i = 0; i < count; i++) {
        if (i > 0)
            out[n++] = ',';
        PUT("{\"sku\":\"");
        size_t sku_len = strlen(items[i].sku);
        memcpy(out + n, items[i].sku, sku_len);
        n += sku_len;
        PUT("\",\"quantity\":");
        if (items[i].quantity < 0) /* validated positive; kept exact all the same */
            out[n++] = '-';
        n += fmt_u64(items[i].quantity < 0 ? -(uint64_t)items[i].quantity
                                           : (uint64_t)items[i].quantity,
                     out + n);
        PUT(",\"unit_price\":\"");
        n += money_format(items[i].unit_price_cents, out + n);
        PUT("\"}");
    }
#undef PUT
    out[n++] = ']';
    out[n] = '\0';
    return out;
}

/* Validates "items"; *count items land in items[] when it returns true. */
static bool parse_items(const json_t *value, parsed_item *items, size_t *count, field_errors *errs)
{
    *count = 0;
    if (!json_is_array(value)) {
        field_errors_add(errs, "items", "must be an array");
        return false;
    }
    size_t n = json_array_size(value);
    if (n > ORDER_MAX_ITEMS) {
        field_errors_add(errs, "items", "must have at most %d items", ORDER_MAX_ITEMS);
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < n; i++)
        ok &= parse_item(json_array_get(value, i), i, &items[i], errs);
    *count = n;
    return ok;
}

static bool sum_items(const parsed_item *items, size_t count, int64_t *sum)
{
    int64_t total = 0;
    for (size_t i = 0; i < count; i++) {
        int64_t line;
        if (__builtin_mul_overflow(items[i].quantity, items[i].unit_price_cents, &line) ||
            __builtin_add_overflow(total, line, &total) || total > ORDER_MONEY_MAX_CENTS)
            return false;
    }
    *sum = total;
    return true;
}

/* What order_create_parse has read of a body so far. */
typedef struct create_fields {
    int64_t customer_id;
    const json_t *total_json; /* NULL when the body has no total */
    bool total_ok;            /* total_json parsed into total */
    int64_t total;
    const char *currency; /* borrowed from the body, or the default */
    parsed_item *items;   /* ORDER_MAX_ITEMS of them */
    size_t item_count;
    bool items_ok;
} create_fields;

/* A positive integer, else 0 with a field error. */
static int64_t parse_customer_id(const json_t *v, field_errors *errs)
{
    if (v == NULL)
        field_errors_add(errs, "customer_id", "is required");
    else if (!json_is_integer(v))
        field_errors_add(errs, "customer_id", "must be an integer");
    else if (json_integer_value(v) < 1)
        field_errors_add(errs, "customer_id", "must be a positive integer");
    else
        return json_integer_value(v);
    return 0;
}

/* The currency code, ORDER_CURRENCY_DEFAULT when absent; when it is not an
 * active code the field error is added and the result must not be used. */
static const char *parse_currency(const json_t *v, field_errors *errs)
{
    if (v == NULL)
        return ORDER_CURRENCY_DEFAULT;
    const char *currency = json_c_string(v);
    if (!json_is_string(v))
        field_errors_add(errs, "currency", "must be a string");
    else if (currency == NULL || strlen(currency) != 3 || !currency_is_active(currency))
        field_errors_add(errs, "currency", "must be an active ISO 4217 code such as \"USD\"");
    return currency;
}

/*
 * With items, an absent total becomes their sum and a present one must
 * equal it; without items the total is required.  Items that did not
 * parse have their own errors already, so nothing is added for them.
 */
static void reconcile_total(create_fields *f, field_errors *errs)
{
    if (f->items_ok && f->item_count > 0) {
        int64_t sum;
        char text[32];
        if (!sum_items(f->items, f->item_count, &sum)) {
            field_errors_add(errs, "items", "the sum of the items " MONEY_MSG_MAX);
        } else if (f->total_json == NULL) {
            f->total = sum;
        } else if (f->total_ok && f->total != sum) {
            money_format(sum, text);
            field_errors_add(errs, "total", "must equal the sum of the items (%s)", text);
        }
    } else if (f->total_json == NULL && f->items_ok) {
        field_errors_add(errs, "total", "is required");
    }
}

static void reject_unknown_create_keys(const json_t *body, field_errors *errs)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)body, key, v)
    {
        if (strcmp(key, "customer_id") != 0 && strcmp(key, "total") != 0 &&
            strcmp(key, "currency") != 0 && strcmp(key, "items") != 0)
            field_errors_add(errs, key, "unknown field");
    }
}

bool order_create_parse(const json_t *body, order_create_req *out, field_errors *errs)
{
    errs->count = 0;
    if (!json_is_object(body)) {
        field_errors_add(errs, "body", "must be a JSON object");
        return false;
    }

    /* Known fields first, in a fixed order, so that a flood of unknown
     * keys cannot push the useful errors past FIELD_ERRORS_MAX. */
    parsed_item items[ORDER_MAX_ITEMS];
    create_fields f = {.items = items, .items_ok = true};
    f.customer_id = parse_customer_id(json_object_get(body, "customer_id"), errs);
    f.total_json = json_object_get(body, "total");
    if (f.total_json != NULL) {
        const char *why = NULL;
        f.total_ok = money_parse_json(f.total_json, &f.total, &why);
        if (!f.total_ok)
            field_errors_add(errs, "total", "%s", why);
    }
    f.currency = parse_currency(json_object_get(body, "currency"), errs);
    const json_t *items_json = json_object_get(body, "items");
    if (items_json != NULL)
        f.items_ok = parse_items(items_json, f.items, &f.item_count, errs);
    reconcile_total(&f, errs);
    reject_unknown_create_keys(body, errs);
    if (errs->count > 0)
        return false;

    char *rendered = render_items(f.items, f.item_count);
    if (rendered == NULL) {
        field_errors_add(errs, "items", "could not be stored (out of memory)");
        return false;
    }
    out->customer_id = f.customer_id;
    out->total_cents = f.total;
    memcpy(out->currency, f.currency, 4);
    out->items_json = rendered;
    return true;
}

void order_create_req_clear(order_create_req *req)
{
    if (req == NULL)
        return;
    free(req->items_json);
    memset(req, 0, sizeof *req);
}

char *order_create_fingerprint(const order_create_req *req)
{
    const char *items = req->items_json != NULL ? req->items_json : "[]";
    int n = snprintf(NULL, 0, "%lld|%lld|%.3s|%s", (long long)req->customer_id,
                     (long long)req->total_cents, req->currency, items);
    char *out = malloc((size_t)n + 1);
    if (out != NULL)
        snprintf(out, (size_t)n + 1, "%lld|%lld|%.3s|%s", (long long)req->customer_id,
                 (long long)req->total_cents, req->currency, items);
    return out;
}

bool order_patch_parse(const json_t *body, order_status *status, field_errors *errs)
{
    errs->count = 0;
    if (!json_is_object(body)) {
        field_errors_add(errs, "body", "must be a JSON object");
        return false;
    }
    order_status parsed = ORDER_PENDING;
    const json_t *v = json_object_get(body, "status");
    if (v == NULL)
        field_errors_add(errs, "status", "is required");
    else if (!json_is_string(v))
        field_errors_add(errs, "status", "must be a string");
    else if (!order_status_parse(json_c_string(v), &parsed))
        field_errors_add(errs, "status",
                         "must be one of pending, paid, shipped, delivered, cancelled");

    const char *key;
    json_object_foreach((json_t *)body, key, v)
    {
        if (strcmp(key, "status") != 0)
            field_errors_add(errs, key, "unknown field");
    }
    if (errs->count > 0)
        return false;
    *status = parsed;
    return true;
}

/* ---- the order and its JSON -------------------------------------------- */

void order_clear(order *o)
{
    if (o == NULL)
        return;
    free(o->items_json);
    memset(o, 0, sizeof *o);
}

/* Appends s (len bytes) at *p. */
static void put(char **p, const char *s, size_t len)
{
    memcpy(*p, s, len);
    *p += len;
}

#define PUT_LITERAL(p, s) put(p, s, sizeof s - 1)

/* Signed decimal, without printf. */
static void put_i64(char **p, int64_t v)
{
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (v < 0)
        *(*p)++ = '-';
    *p += fmt_u64(mag, *p);
}

/* Built with memcpy and integer formatting, not snprintf: this runs for
 * every order of every list page, cold read and create. */
char *order_to_json(const order *o, size_t *len)
{
    const char *status = order_status_name(o->status);
    const char *items = o->items_json != NULL ? o->items_json : "[]";
    size_t items_len = strlen(items);
    if (status == NULL)
        status = "unknown";
    char total[32], created[32], updated[32];
    size_t total_len = money_format(o->total_cents, total);
    size_t created_len = clock_format_rfc3339(o->created_at_us, 6, created);
    size_t updated_len = clock_format_rfc3339(o->updated_at_us, 6, updated);

    /* Everything but items is bounded: three int64s, the timestamps,
     * money, currency, status and the key names fit well within 384. */
    char *out = malloc(items_len + 384);
    if (out == NULL)
        return NULL;
    char *p = out;
    PUT_LITERAL(&p, "{\"id\":");
    put_i64(&p, o->id);
    PUT_LITERAL(&p, ",\"customer_id\":");
    put_i64(&p, o->customer_id);
    PUT_LITERAL(&p, ",\"status\":\"");
    put(&p, status, strlen(status));
    PUT_LITERAL(&p, "\",\"currency\":\"");
    put(&p, o->currency, strnlen(o->currency, 3));
    PUT_LITERAL(&p, "\",\"total\":\"");
    put(&p, total, total_len);
    PUT_LITERAL(&p, "\",\"items\":");
    put(&p, items, items_len);
    PUT_LITERAL(&p, ",\"version\":");
    put_i64(&p, o->version);
    PUT_LITERAL(&p, ",\"created_at\":\"");
    put(&p, created, created_len);
    PUT_LITERAL(&p, "\",\"updated_at\":\"");
    put(&p, updated, updated_len);
    PUT_LITERAL(&p, "\"}");
    *p = '\0';
    if (len != NULL)
        *len = (size_t)(p - out);
    return out;
}

/* Digits of a positive int64 at *p (advanced past them), or 0. */
static int64_t read_positive(const char **p, const char *end)
{
    uint64_t v = 0;
    const char *q = *p;
    while (q < end && *q >= '0' && *q <= '9' && q - *p < 19)
        v = v * 10 + (uint64_t)(*q++ - '0');
    if (q == *p || (q < end && *q >= '0' && *q <= '9') || v > INT64_MAX)
        return 0;
    *p = q;
    return (int64_t)v;
}

bool order_json_customer_id(const char *json, size_t len, int64_t *customer_id)
{
    static const char id_key[] = "{\"id\":", customer_key[] = ",\"customer_id\":";
    const char *p = json, *end = json + len;
    if (len < sizeof id_key - 1 || memcmp(p, id_key, sizeof id_key - 1) != 0)
        return false;
    p += sizeof id_key - 1;
    if (read_positive(&p, end) == 0 || (size_t)(end - p) < sizeof customer_key - 1 ||
        memcmp(p, customer_key, sizeof customer_key - 1) != 0)
        return false;
    p += sizeof customer_key - 1;
    int64_t id = read_positive(&p, end);
    if (id == 0)
        return false;
    *customer_id = id;
    return true;
}

/* ---- list cursors ------------------------------------------------------ */

/*
 * A cursor is base64url of 21 bytes: a format version, created_at_us and
 * id (big endian), and an FNV-1a checksum of those 17 bytes.  The
 * checksum only rejects typos and junk; it is not a MAC, and need not
 * be: a forged cursor can only move the caller within their own query.
 * 21 bytes make exactly 28 characters, so there is no padding.
 */
#define CURSOR_VERSION 1
#define CURSOR_BYTES   21
#define CURSOR_CHARS   28

static uint32_t fnv1a(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void put_be(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)(v & 0xff);
}

static uint64_t get_be(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | p[i];
    return v;
}

size_t order_cursor_encode(int64_t created_at_us, int64_t id, char out[64])
{
    unsigned char raw[CURSOR_BYTES];
    raw[0] = CURSOR_VERSION;
    put_be(raw + 1, (uint64_t)created_at_us, 8);
    put_be(raw + 9, (uint64_t)id, 8);
    put_be(raw + 17, fnv1a(raw, 17), 4);

    return base64url_encode(raw, CURSOR_BYTES, out);
}

bool order_cursor_decode(const char *text, int64_t *created_at_us, int64_t *id)
{
    if (text == NULL || strlen(text) != CURSOR_CHARS)
        return false;
    unsigned char raw[BASE64URL_DECODED_MAX(CURSOR_CHARS)];
    size_t raw_len;
    if (!base64url_decode(text, CURSOR_CHARS, raw, &raw_len) || raw_len != CURSOR_BYTES)
        return false;
    if (raw[0] != CURSOR_VERSION || get_be(raw + 17, 4) != fnv1a(raw, 17))
        return false;
    int64_t decoded_id = (int64_t)get_be(raw + 9, 8);
    if (decoded_id < 1)
        return false;
    *created_at_us = (int64_t)get_be(raw + 1, 8);
    *id = decoded_id;
    return true;
}
