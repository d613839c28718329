/*
 * order_store.c - the read and write paths for orders.
 *
 * Today every call goes to PostgreSQL through the pool; this is the one
 * place where a cache slots in, so handlers stay unaware of it.
 */
#include "orderd/order_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orderd/order_db.h"

struct order_store {
    db_pool *db;
};

void order_doc_clear(order_doc *doc)
{
    if (!doc)
        return;
    free(doc->json);
    memset(doc, 0, sizeof *doc);
}

order_store *order_store_create(db_pool *db)
{
    order_store *store = calloc(1, sizeof *store);
    if (store)
        store->db = db;
    return store;
}

void order_store_destroy(order_store *store)
{
    free(store);
}

/* Renders o into doc; takes nothing from o. */
static orderd_err doc_from_order(const order *o, order_doc *doc)
{
    doc->json = order_to_json(o, &doc->len);
    if (!doc->json)
        return ORDERD_ERR_INTERNAL;
    doc->id = o->id;
    doc->version = o->version;
    return ORDERD_OK;
}

orderd_err order_store_get(order_store *store, int64_t id, uint64_t deadline_ns, order_doc *out)
{
    orderd_err err;
    db_conn *conn = db_pool_acquire(store->db, deadline_ns, &err);
    if (!conn)
        return err;
    order o = {0};
    err = order_db_get(conn, id, &o);
    db_pool_release(store->db, conn);
    if (err == ORDERD_OK)
        err = doc_from_order(&o, out);
    order_clear(&o);
    return err;
}

/* A replayed response is the stored JSON; its id and version come from it. */
static orderd_err doc_from_stored_json(char *json, order_doc *doc)
{
    json_t *parsed = json_loads(json, 0, NULL);
    json_t *id = json_object_get(parsed, "id");
    json_t *version = json_object_get(parsed, "version");
    orderd_err err = ORDERD_ERR_INTERNAL;
    if (json_is_integer(id) && json_is_integer(version)) {
        doc->json = json;
        doc->len = strlen(json);
        doc->id = json_integer_value(id);
        doc->version = json_integer_value(version);
        err = ORDERD_OK;
    } else {
        free(json);
    }
    json_decref(parsed);
    return err;
}

orderd_err order_store_create_order(order_store *store, const order_create_req *req,
                                    const char *idempotency_key, uint64_t deadline_ns,
                                    order_doc *out, bool *replayed)
{
    *replayed = false;
    orderd_err err;
    db_conn *conn = db_pool_acquire(store->db, deadline_ns, &err);
    if (!conn)
        return err;
    order o = {0};
    if (!idempotency_key) {
        err = order_db_insert(conn, req, &o);
        db_pool_release(store->db, conn);
        if (err == ORDERD_OK)
            err = doc_from_order(&o, out);
        order_clear(&o);
        return err;
    }

    char *fingerprint = order_create_fingerprint(req);
    char *response = NULL;
    err = fingerprint ? order_db_insert_idempotent(conn, req, idempotency_key, fingerprint,
                                                   &response, &o, replayed)
                      : ORDERD_ERR_INTERNAL;
    db_pool_release(store->db, conn);
    free(fingerprint);
    if (err == ORDERD_OK) {
        /* both paths answer with the stored bytes, so a replay is
         * byte-for-byte the first response */
        err = response ? doc_from_stored_json(response, out) : doc_from_order(&o, out);
        response = NULL;
    }
    free(response);
    order_clear(&o);
    return err;
}

orderd_err order_store_set_status(order_store *store, int64_t id, order_status to,
                                  int64_t expected_version, uint64_t deadline_ns, order_doc *out)
{
    orderd_err err;
    db_conn *conn = db_pool_acquire(store->db, deadline_ns, &err);
    if (!conn)
        return err;
    order o = {0};
    err = order_db_update_status(conn, id, to, expected_version, &o);
    db_pool_release(store->db, conn);
    if (err == ORDERD_OK)
        err = doc_from_order(&o, out);
    order_clear(&o);
    return err;
}

orderd_err order_store_delete(order_store *store, int64_t id, int64_t expected_version,
                              uint64_t deadline_ns)
{
    orderd_err err;
    db_conn *conn = db_pool_acquire(store->db, deadline_ns, &err);
    if (!conn)
        return err;
    err = order_db_delete(conn, id, expected_version);
    db_pool_release(store->db, conn);
    return err;
}

/* ---- list rendering --------------------------------------------------------- */

typedef struct text_buf {
    char *data;
    size_t len, cap;
    bool failed;
} text_buf;

static void buf_append(text_buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) {
            b->failed = true;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_puts(text_buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

orderd_err order_store_list(order_store *store, const order_list_query *q, uint64_t deadline_ns,
                            char **json, size_t *len)
{
    orderd_err err;
    db_conn *conn = db_pool_acquire(store->db, deadline_ns, &err);
    if (!conn)
        return err;
    order *rows = NULL;
    int count = 0;
    bool has_more = false;
    err = order_db_list(conn, q, &rows, &count, &has_more);
    db_pool_release(store->db, conn);
    if (err != ORDERD_OK)
        return err;

    text_buf b = {0};
    buf_puts(&b, "{\"data\":[");
    for (int i = 0; i < count; i++) {
        size_t n;
        char *one = order_to_json(&rows[i], &n);
        if (!one) {
            b.failed = true;
            break;
        }
        if (i > 0)
            buf_puts(&b, ",");
        buf_append(&b, one, n);
        free(one);
    }
    buf_puts(&b, "],\"next_cursor\":");
    if (has_more && count > 0) {
        char cursor[64];
        order_cursor_encode(rows[count - 1].created_at_us, rows[count - 1].id, cursor);
        buf_puts(&b, "\"");
        buf_puts(&b, cursor);
        buf_puts(&b, "\"}");
    } else {
        buf_puts(&b, "null}");
    }
    for (int i = 0; i < count; i++)
        order_clear(&rows[i]);
    free(rows);
    if (b.failed) {
        free(b.data);
        return ORDERD_ERR_INTERNAL;
    }
    *json = b.data;
    *len = b.len;
    return ORDERD_OK;
}
