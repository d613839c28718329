-- Every change to an order, whoever makes it (orderd, psql, a batch job),
-- is published by PostgreSQL itself, in the transaction that makes it:
--
--  * NOTIFY orderd_order_changes, delivered at commit to every orderd
--    process that listens: the fast path that invalidates caches;
--  * one order_changes row per statement: the durable log a process
--    reads to catch up on what committed while it was not listening
--    (start-up, a dropped listener connection, a PostgreSQL restart).
--
-- A payload is a header line "<txid> <clock_timestamp in us>" and one line
-- per changed row: "<op> <id> <version> <customer_id> <old_customer_id>
-- <old_status> <new_status>", op I/U/D, "-" where a value does not exist
-- (src/domain/order_change.c parses it).  Statement-level triggers with
-- transition tables keep a group commit of 256 inserts at one log row and
-- four notifications, instead of 256 of each.
--
-- A plain `UPDATE orders SET status = 'paid' WHERE id = 7` from psql must
-- invalidate as well as orderd's own writes do, and the cache protocol
-- only lets a newer version replace an older one: so a write that did not
-- raise the version gets it raised here.

CREATE TABLE order_changes (
    txid       xid8        NOT NULL DEFAULT pg_current_xact_id(),
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    payload    text        NOT NULL
);

-- catch-up reads "txid >= xmin of my last snapshot"; the janitor prunes by age
CREATE INDEX order_changes_txid_idx ON order_changes (txid);
CREATE INDEX order_changes_changed_at_idx ON order_changes (changed_at);

CREATE FUNCTION orders_raise_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.version <= OLD.version THEN
        NEW.version := OLD.version + 1;
    END IF;
    IF NEW.updated_at = OLD.updated_at THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER orders_raise_version BEFORE UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION orders_raise_version();

-- NOTIFY payloads must stay under 8000 bytes: a line is at most ~90 bytes,
-- so 80 lines a notification leaves room for the header.
CREATE FUNCTION orders_publish_changes(lines text[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    header text := pg_current_xact_id()::text || ' '
        || floor(extract(epoch FROM clock_timestamp()) * 1000000)::bigint::text;
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

CREATE FUNCTION orders_emit_changes() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    lines text[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(format('I %s %s %s - - %s', id, version, customer_id, status))
          INTO lines FROM new_rows;
    ELSIF TG_OP = 'UPDATE' THEN
        SELECT array_agg(format('U %s %s %s %s %s %s', n.id, n.version, n.customer_id,
                                o.customer_id, o.status, n.status))
          INTO lines FROM new_rows n JOIN old_rows o USING (id);
    ELSE
        SELECT array_agg(format('D %s %s - %s %s -', id, version, customer_id, status))
          INTO lines FROM old_rows;
    END IF;
    IF lines IS NOT NULL THEN
        PERFORM orders_publish_changes(lines);
    END IF;
    RETURN NULL;
END
$$;

-- one trigger per event: PostgreSQL allows transition tables only so
CREATE TRIGGER orders_changes_insert AFTER INSERT ON orders
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orders_emit_changes();
CREATE TRIGGER orders_changes_update AFTER UPDATE ON orders
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orders_emit_changes();
CREATE TRIGGER orders_changes_delete AFTER DELETE ON orders
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION orders_emit_changes();
