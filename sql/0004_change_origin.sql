-- The writing orderd process names itself in every change it publishes,
-- so its own change feed can leave its own writes alone: the writer has
-- already tombstoned them in Redis and dropped them from its memory,
-- before answering.  Recognising its own writes from the (id, version)
-- pairs it had just written was a race: the notification is sent at
-- commit and usually arrived before the writer had parsed its result,
-- and then every group commit was invalidated in Redis twice.
--
-- orderd sets orderd.origin (random per process start) on each of its
-- sessions; any other writer (psql, a batch job) leaves it unset, and
-- its changes carry no origin, so every process applies them.  The
-- header becomes "<txid> <changed_at_us> [<origin>]"
-- (src/domain/order_change.c).

CREATE OR REPLACE FUNCTION orders_publish_changes(lines text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    header text := pg_current_xact_id()::text || ' '
        || floor(extract(epoch FROM clock_timestamp()) * 1000000)::bigint::text
        || coalesce(' ' || nullif(current_setting('orderd.origin', true), ''), '');
    per_notification constant int := 80;
    n int := cardinality(lines);
BEGIN
    FOR i IN 1 .. n BY per_notification LOOP
        PERFORM pg_notify('orderd_order_changes', header || E'\n'
            || array_to_string(lines[i : i + per_notification - 1], E'\n'));
    END LOOP;
    INSERT INTO order_changes (payload) VALUES (header || E'\n' || array_to_string(lines, E'\n'));
END
$$;
