-- Orders.  Money is numeric(12,2) and only ever crosses the wire as text.
-- Every list query is a keyset scan on (created_at, id), newest first, so
-- each filter gets a composite index ending in (created_at DESC, id DESC):
-- the planner then reads exactly limit+1 index entries and never sorts.

CREATE TABLE orders (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id bigint        NOT NULL CHECK (customer_id > 0),
    status      text          NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled')),
    currency    char(3)       NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    total       numeric(12,2) NOT NULL CHECK (total >= 0),
    items       jsonb         NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(items) = 'array'),
    version     bigint        NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_at  timestamptz   NOT NULL DEFAULT now(),
    updated_at  timestamptz   NOT NULL DEFAULT now()
);

CREATE INDEX orders_customer_created_idx ON orders (customer_id, created_at DESC, id DESC);
CREATE INDEX orders_status_created_idx ON orders (status, created_at DESC, id DESC);
CREATE INDEX orders_created_idx ON orders (created_at DESC, id DESC);
