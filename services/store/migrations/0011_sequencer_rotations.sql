-- Sequencer key rotations (services/trustset.py): the signed handover from the old key to the new one, kept
-- with the ledger it belongs to. Append-only like the ledger itself.
CREATE TABLE sequencer_rotations (
    effective_height bigint PRIMARY KEY CHECK (effective_height >= 0),
    old_key_id       text NOT NULL,
    new_key_id       text NOT NULL,
    document         bytea NOT NULL,  -- JCS({"statement": ..., "signatures": [...]}), exactly as signed
    recorded_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER sequencer_rotations_append_only BEFORE UPDATE OR DELETE ON sequencer_rotations
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER sequencer_rotations_no_truncate BEFORE TRUNCATE ON sequencer_rotations
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
