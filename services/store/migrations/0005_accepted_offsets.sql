-- Where the sequencer read each event in the accepted topic: the offset of the validator's verdict record
-- that carried it and the event's index in that record. `coalchain verify` checks that every event's
-- (accepted_offset, accepted_index) lies in its block's [first_offset, last_offset] and strictly increases
-- in leaf order (docs/ledger-format.md §6). NULL for rows a replica stored (the blocks topic does not carry
-- accepted-topic positions) and for rows sealed before this migration; both are set or neither.
ALTER TABLE ledger_events ADD COLUMN accepted_offset bigint, ADD COLUMN accepted_index integer;
ALTER TABLE ledger_events ADD CONSTRAINT ledger_events_accepted_position CHECK (
    (accepted_offset IS NULL) = (accepted_index IS NULL) AND (accepted_offset >= 0 AND accepted_index >= 0)
);
