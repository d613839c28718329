-- seed.sql - fills a migrated orderd database with realistic orders.
--
--   psql -X -v ON_ERROR_STOP=1 -v rows=100000 -v customers=10000 -f bench/seed.sql "$DB_URL"
--
-- Rows get ids 1..rows and created_at rising with the id over the last
-- 180 days, as a live system's would, so keyset list pages and "newest
-- first" behave as they would in production.  Customers are uniform over
-- 1..customers (about rows/customers orders each); 1-3 line items per
-- order and a total that is their exact sum; statuses spread over the
-- whole life cycle with a version that matches how many changes each
-- status took.  setseed() makes every run alike.
--
-- Optional variables, for seeding in parts (bench/curves):
--   first, last   only ids first..last of the rows (default 1..rows), so a
--                 large data set goes in as several bounded transactions
--                 and an interrupted seeding resumes where it stopped
--   items         exactly this many items per order (0..100), instead of 1-3;
--                 an order without items gets a random total
-- Ids are given explicitly (OVERRIDING SYSTEM VALUE) and the identity
-- moves past the largest, so parts may come in any order without gaps.
\if :{?first}
\else
\set first 1
\endif
\if :{?last}
\else
\set last :rows
\endif
\if :{?items}
\else
\set items -1
\endif

-- a seed per part, so parts do not repeat one another's draws
SELECT setseed(CASE WHEN :first = 1 THEN 0.4242 ELSE mod(:first::bigint * 7919, 1000003) / 1000003.0 END);

-- The random draws happen once per row in "o" (a subquery with volatile
-- functions is never flattened), so the CASEs below all see the same draw.
INSERT INTO orders (id, customer_id, status, currency, total, items, version, created_at, updated_at)
OVERRIDING SYSTEM VALUE
SELECT o.g, o.customer_id, s.status, s.currency, l.total, l.items, s.version, o.created_at,
       least(now(), o.created_at + (s.version - 1) * interval '6 hours' * o.r_update)
FROM (
    SELECT g,
           1 + floor(random() * :customers)::bigint AS customer_id,
           random() AS r_status, random() AS r_currency, random() AS r_update,
           CASE WHEN :items >= 0 THEN :items ELSE 1 + floor(random() * 3)::int END AS n_items,
           now() - interval '180 days' * (1 - g::double precision / :rows)
                 - interval '1 second' * floor(random() * 60) AS created_at,
           -- drawn only without items, so the default seeding stays as it was
           CASE WHEN :items = 0 THEN round((1 + random() * 199)::numeric, 2) END AS bare_total
    FROM generate_series(:first::bigint, :last::bigint) AS g
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
    SELECT coalesce(jsonb_agg(jsonb_build_object('sku', i.sku, 'quantity', i.quantity,
                                                 'unit_price', to_char(i.unit_price, 'FM9999990.00'))
                              ORDER BY i.n), '[]') AS items,
           coalesce(sum(i.quantity * i.unit_price), o.bare_total) AS total
    FROM (
        SELECT n, 'SKU-' || lpad((1 + floor(random() * 5000))::text, 5, '0') AS sku,
               1 + floor(random() * 4)::int AS quantity,
               round((1 + random() * 199)::numeric, 2) AS unit_price
        FROM generate_series(1, o.n_items) AS n
    ) AS i
) AS l
ORDER BY o.g;

SELECT setval(pg_get_serial_sequence('orders', 'id'), (SELECT max(id) FROM orders));
ANALYZE orders;
