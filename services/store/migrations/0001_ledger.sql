-- The ledger of one line (one ledger per database). Append-only: triggers refuse UPDATE, DELETE, TRUNCATE.
-- Byte formats of header, leaf and node hashes: docs/ledger-format.md.

CREATE TABLE ledger_blocks (
    height            bigint      PRIMARY KEY,
    header            bytea       NOT NULL,  -- canonical (RFC 8785) header bytes: what is hashed and signed
    header_hash       bytea       NOT NULL UNIQUE,
    signatures        bytea       NOT NULL,  -- canonical JSON list of {key_id, signature}
    first_leaf_index  bigint      NOT NULL,
    leaf_count        integer     NOT NULL CHECK (leaf_count > 0),
    tree_size         bigint      NOT NULL,
    log_root          bytea       NOT NULL,
    source_partition  integer     NOT NULL,
    first_offset      bigint      NOT NULL,
    last_offset       bigint      NOT NULL,
    compact_range     bytea       NOT NULL,  -- frontier hashes after this block (32 bytes each), for O(1) restart
    checkpoint        bytea       NOT NULL,  -- C2SP signed note of the tree head after this block
    sealed_at         timestamptz NOT NULL
);

CREATE UNIQUE INDEX ledger_blocks_tree_size ON ledger_blocks (tree_size);

CREATE TABLE ledger_events (
    leaf_index    bigint      PRIMARY KEY,
    event_id      uuid        NOT NULL UNIQUE,
    height        bigint      NOT NULL,
    leaf          bytea       NOT NULL,  -- the exact canonical event bytes that were hashed
    leaf_hash     bytea       NOT NULL,
    type          text        NOT NULL,
    subject       text        NOT NULL,
    participant   text        NOT NULL,
    event_time    timestamptz NOT NULL,
    raw_partition integer     NOT NULL,  -- where the validator read it: tells a redelivery from a replay
    raw_offset    bigint      NOT NULL
);
CREATE INDEX ledger_events_height ON ledger_events (height);
CREATE INDEX ledger_events_subject ON ledger_events (subject);
CREATE INDEX ledger_events_type ON ledger_events (type, leaf_index);

-- Perfect Merkle subtree roots at level >= 1 (level 0 = ledger_events.leaf_hash): node (level, idx) covers
-- leaves [idx * 2^level, (idx + 1) * 2^level). Any proof needs O(log n) of these.
CREATE TABLE ledger_nodes (
    level  smallint NOT NULL,
    idx    bigint   NOT NULL,
    hash   bytea    NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger table % is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER ledger_blocks_append_only BEFORE UPDATE OR DELETE ON ledger_blocks
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_blocks_no_truncate BEFORE TRUNCATE ON ledger_blocks
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_events_append_only BEFORE UPDATE OR DELETE ON ledger_events
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_events_no_truncate BEFORE TRUNCATE ON ledger_events
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_nodes_append_only BEFORE UPDATE OR DELETE ON ledger_nodes
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_nodes_no_truncate BEFORE TRUNCATE ON ledger_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
