-- seed.sql - fills an empty, migrated orderd database with realistic orders.
--
--   psql -X -v ON_ERROR_STOP=1 -v rows=100000 -v customers=10000 -f bench/seed.sql "$DB_URL"
--
-- Rows get ids 1..rows (the identity of an empty table) and created_at
-- rising with the id over the last 180 days, as a live system's would, so
-- keyset list pages and "newest first" behave as they would in production.
-- Customers are uniform over 1..customers (about rows/customers orders
-- each); 1-3 line items per order and a total that is their exact sum;
-- statuses spread over the whole life cycle with a version that matches
-- how many changes each status took.  setseed() makes every run alike.

DO $$ BEGIN PERFORM setseed(0.4242); END $$;

-- The random draws happen once per row in "o" (a subquery with volatile
-- functions is never flattened), so the CASEs below all see the same draw.
INSERT INTO orders (customer_id, status, currency, total, items, version, created_at, updated_at)
SELECT o.customer_id, s.status, s.currency, l.total, l.items, s.version, o.created_at,
       least(now(), o.created_at + (s.version - 1) * interval '6 hours' * o.r_update)
FROM (
    SELECT g,
           1 + floor(random() * :customers)::bigint AS customer_id,
           random() AS r_status, random() AS r_currency, random() AS r_update,
           1 + floor(random() * 3)::int AS n_items,
           now() - interval '180 days' * (1 - g::double precision / :rows)
                 - interval '1 second' * floor(random() * 60) AS created_at
    FROM generate_series(1, :rows) AS g
) AS o
CROSS JOIN LATERAL (
    SELECT CASE WHEN o.r_status < 0.20 THEN 'pending' WHEN o.r_status < 0.40 THEN 'paid'
                WHEN o.r_status < 0.60 THEN 'shipped' WHEN o.r_status < 0.90 THEN 'delivered'
                ELSE 'cancelled' END AS status,
           CASE WHEN o.r_status < 0.20 THEN 1 WHEN o.r_status < 0.40 THEN 2
                WHEN o.r_status < 0.60 THEN 3 WHEN o.r_status < 0.90 THEN 4 ELSE 2 END AS version,
           CASE WHEN o.r_currency < 0.80 THEN 'USD' WHEN o.r_currency < 0.95 THEN 'EUR'
                ELSE 'GBP' END AS currency
) AS s
CROSS JOIN LATERAL (
    SELECT jsonb_agg(jsonb_build_object('sku', i.sku, 'quantity', i.quantity,
                                        'unit_price', to_char(i.unit_price, 'FM9999990.00'))
                     ORDER BY i.n) AS items,
           sum(i.quantity * i.unit_price) AS total
    FROM (
        SELECT n, 'SKU-' || lpad((1 + floor(random() * 5000))::text, 5, '0') AS sku,
               1 + floor(random() * 4)::int AS quantity,
               round((1 + random() * 199)::numeric, 2) AS unit_price
        FROM generate_series(1, o.n_items) AS n
    ) AS i
) AS l
ORDER BY o.g;

ANALYZE orders;
