-- Receipt references in a side table instead of four partial indexes on ledger_events (0003). Those indexes
-- cost every stored event their predicates (and the outbound weigh tickets two JSON parses) at COPY time,
-- ~10 µs per event of PostgreSQL CPU together (speed issue). Now the sequencer writes, in the block's own
-- transaction, one row per reference a receipt query looks up, from the fields of the leaves it seals
-- (services/store/refs.py; the same definitions as the back-fill below); the receipt queries
-- (services/receipts/store.py) read this table and join ledger_events on leaf_index. Docs: ledger-format.md.
--
--   kind            key                                  rows of
--   order           the publisher (participant column)   DemandPosted (its buyer: owner rule /data/buyer_id)
--   unloading       /data/order_id (a JSON string)       WagonsUnloaded
--   truck_shipment  /data/shipment_id (a JSON string)    TruckWeighed with /data/direction "outbound"
--   truck_order     /data/order_id (a JSON string)       the same tickets
--   answer          the publisher (participant column)   DeliveryConfirmed, DeliveryDisputed (a buyer's answers)
--
-- Not part of any hash or signature: derived from the sealed leaves, and every reader re-checks the leaf it
-- points to (a missing row can hide an event from a receipt query, a wrong one adds nothing). Append-only
-- like the ledger. `coalchain verify` does not read it.
CREATE TABLE ledger_receipt_refs (
    kind        text   NOT NULL CHECK (kind IN ('order', 'unloading', 'truck_shipment', 'truck_order', 'answer')),
    key         text   NOT NULL,
    leaf_index  bigint NOT NULL,
    PRIMARY KEY (kind, key, leaf_index)
);

CREATE TRIGGER ledger_receipt_refs_append_only BEFORE UPDATE OR DELETE ON ledger_receipt_refs
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_receipt_refs_no_truncate BEFORE TRUNCATE ON ledger_receipt_refs
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- The references of the stored events with leaf_index >= first (those already present are kept); returns
-- how many were added. This migration runs it over the whole ledger; a bulk loader that COPYs rows into
-- ledger_events itself (bench/ledger.py) runs it afterwards. The weigh-ticket rows must contain the bytes
-- "outbound" (the old indexes' prefilter, also applied by the sequencer) and say so in /data/direction.
CREATE FUNCTION ledger_receipt_refs_backfill(first bigint DEFAULT 0) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    added bigint;
BEGIN
    WITH parsed AS (
        SELECT leaf_index, type, convert_from(leaf, 'UTF8')::jsonb -> 'data' AS data FROM ledger_events
         WHERE leaf_index >= first
           AND (type LIKE 'cn.taijiao.coal.transport.WagonsUnloaded.v%'
                OR (type LIKE 'cn.taijiao.coal.transport.TruckWeighed.v%' AND position('"outbound"'::bytea IN leaf) > 0))
    ), refs AS (
        SELECT 'order' AS kind, participant AS key, leaf_index FROM ledger_events
         WHERE leaf_index >= first AND type LIKE 'cn.taijiao.coal.demand.DemandPosted.v%'
        UNION ALL
        SELECT 'answer', participant, leaf_index FROM ledger_events
         WHERE leaf_index >= first AND (type LIKE 'cn.taijiao.coal.receipt.DeliveryConfirmed.v%'
                                        OR type LIKE 'cn.taijiao.coal.receipt.DeliveryDisputed.v%')
        UNION ALL
        SELECT 'unloading', data ->> 'order_id', leaf_index FROM parsed
         WHERE type LIKE 'cn.taijiao.coal.transport.WagonsUnloaded.v%' AND jsonb_typeof(data -> 'order_id') = 'string'
        UNION ALL
        SELECT 'truck_shipment', data ->> 'shipment_id', leaf_index FROM parsed
         WHERE type LIKE 'cn.taijiao.coal.transport.TruckWeighed.v%' AND data ->> 'direction' = 'outbound'
           AND jsonb_typeof(data -> 'direction') = 'string' AND jsonb_typeof(data -> 'shipment_id') = 'string'
        UNION ALL
        SELECT 'truck_order', data ->> 'order_id', leaf_index FROM parsed
         WHERE type LIKE 'cn.taijiao.coal.transport.TruckWeighed.v%' AND data ->> 'direction' = 'outbound'
           AND jsonb_typeof(data -> 'direction') = 'string' AND jsonb_typeof(data -> 'order_id') = 'string'
    )
    INSERT INTO ledger_receipt_refs (kind, key, leaf_index) SELECT kind, key, leaf_index FROM refs
        ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS added = ROW_COUNT;
    RETURN added;
END $$;
REVOKE ALL ON FUNCTION ledger_receipt_refs_backfill(bigint) FROM PUBLIC;

SELECT ledger_receipt_refs_backfill(0);

DROP INDEX IF EXISTS ledger_events_receipts_orders;
DROP INDEX IF EXISTS ledger_events_receipts_unloaded_order;
DROP INDEX IF EXISTS ledger_events_receipts_truck_shipment;
DROP INDEX IF EXISTS ledger_events_receipts_truck_order;

-- (type, leaf_index) over every row (~6 µs per stored event) served two queries only: the registry fold
-- (services/registry.py: type = ANY(<the catalogue's registry types>) AND leaf_index > $2, by the validators,
-- the API and `coalchain trust`) and a buyer's answered receipts (now the 'answer' references). A partial
-- index of the registry events alone answers the first: the planner matches the query's array, a parameter,
-- against this list when it plans with the value (asyncpg's prepared statement gets custom plans: the generic
-- one could not use the index and costs far more). The list is the catalogue's registry types
-- (tests/foundation/test_receipt_refs.py checks it): a registry type added to the catalogue needs a
-- migration re-creating this index, else the fold scans the ledger (slow, not wrong).
DROP INDEX IF EXISTS ledger_events_type;
CREATE INDEX ledger_events_registry ON ledger_events (leaf_index) WHERE type = ANY (ARRAY[
    'cn.taijiao.coal.registry.ParticipantRegistered.v1', 'cn.taijiao.coal.registry.KeyRotated.v1',
    'cn.taijiao.coal.registry.KeyRevoked.v1']);

-- Leaves up to ~8 KB stay in the heap row (the default target, ~2 KB, moved the 11.5 % of leaves above it to
-- the TOAST table: a second heap insert and index entry each). Applies to rows written from now on.
ALTER TABLE ledger_events SET (toast_tuple_target = 8160);

-- 0006's grants with ledger_receipt_refs: the sequencer (and a replica) INSERT it, like the ledger tables;
-- nobody else writes it, and it is append-only.
CREATE OR REPLACE FUNCTION coalchain_grant_privileges() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    kinds constant text[] := ARRAY['sequencer', 'replica', 'validator', 'api', 'views', 'witness', 'reader'];
    ledger constant text[] := ARRAY['ledger_blocks', 'ledger_events', 'ledger_nodes', 'ledger_receipt_refs'];
    writes constant text[][] := ARRAY[  -- {group role, table (LIKE pattern), privileges}
        ARRAY['coalchain_sequencer', 'ledger_blocks', 'INSERT'],
        ARRAY['coalchain_sequencer', 'ledger_events', 'INSERT'],
        ARRAY['coalchain_sequencer', 'ledger_nodes', 'INSERT'],
        ARRAY['coalchain_sequencer', 'ledger_receipt_refs', 'INSERT'],
        ARRAY['coalchain_replica', 'ledger_blocks', 'INSERT'],
        ARRAY['coalchain_replica', 'ledger_events', 'INSERT'],
        ARRAY['coalchain_replica', 'ledger_nodes', 'INSERT'],
        ARRAY['coalchain_replica', 'ledger_receipt_refs', 'INSERT'],
        ARRAY['coalchain_validator', 'receipt_claims', 'INSERT'],
        ARRAY['coalchain_api', 'event_rejections', 'INSERT'],
        ARRAY['coalchain_views', 'views\_%', 'INSERT, UPDATE, DELETE, TRUNCATE'],
        ARRAY['coalchain_witness', 'ledger_cosigned_checkpoints', 'INSERT']];
    kind text;
    w text[];
    t record;
    seq text;
BEGIN
    FOREACH kind IN ARRAY kinds LOOP
        EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', 'coalchain_' || kind);
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I', 'coalchain_' || kind);
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM %I', 'coalchain_' || kind);
        EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA public TO %I', 'coalchain_' || kind);
    END LOOP;
    FOREACH w SLICE 1 IN ARRAY writes LOOP
        FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname LIKE w[2] LOOP
            IF w[3] <> 'INSERT' AND t.relname = ANY (ledger) THEN
                RAISE EXCEPTION 'ledger table % is append-only: % may not be granted', t.relname, w[3];
            END IF;
            EXECUTE format('GRANT %s ON %I TO %I', w[3], t.relname, w[1]);
            FOR seq IN SELECT pg_get_serial_sequence(quote_ident(t.relname), a.attname) FROM pg_attribute a
                       WHERE a.attrelid = quote_ident(t.relname)::regclass AND a.attnum > 0 AND NOT a.attisdropped LOOP
                IF seq IS NOT NULL THEN  -- bigserial / identity columns: nextval on INSERT
                    EXECUTE format('GRANT USAGE ON SEQUENCE %s TO %I', seq, w[1]);
                END IF;
            END LOOP;
        END LOOP;
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION coalchain_grant_privileges() FROM PUBLIC;
