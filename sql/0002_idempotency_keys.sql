-- Idempotency-Key records for POST /orders.  A key is claimed by inserting
-- its row inside the transaction that creates the order, so a concurrent
-- retry blocks on that row until the first request commits or rolls back.
-- order_id has no foreign key on purpose: deleting an order must not
-- delete (or be blocked by) the stored first response.  Keys older than
-- 24 hours count as absent and are purged by created_at.

CREATE TABLE idempotency_keys (
    key         text        PRIMARY KEY,
    fingerprint text        NOT NULL,
    order_id    bigint,
    response    text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
