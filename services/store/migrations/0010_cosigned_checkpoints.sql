-- Checkpoints cosigned by witnesses (coalchain cosigner; docs/ledger-format.md "Witnesses"). Append-only.
-- The note is the sequencer's signed checkpoint with the witnesses' cosignature lines appended; it proves
-- itself (signatures), so this table is a cache of what witnesses said, not a source of trust.

CREATE TABLE ledger_cosigned_checkpoints (
    tree_size    bigint      PRIMARY KEY,
    root_hash    bytea       NOT NULL,
    note         bytea       NOT NULL,   -- C2SP signed note: sequencer signature + cosignature/v1 lines
    witnesses    text[]      NOT NULL,   -- the key names of the witnesses that cosigned
    latency_ms   real        NOT NULL,   -- time from sending to the witnesses to reaching the quorum
    cosigned_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER ledger_cosigned_append_only BEFORE UPDATE OR DELETE ON ledger_cosigned_checkpoints
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_cosigned_no_truncate BEFORE TRUNCATE ON ledger_cosigned_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
