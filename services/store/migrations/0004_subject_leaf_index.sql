-- Events of one subject before a leaf index (receipts, validator rules): with the subject alone indexed,
-- PostgreSQL's generic plan for `subject = $1 AND leaf_index < $2` ANDed the subject index with a range
-- scan of the primary key over (nearly) the whole ledger: 20 ms per query at 466k events, growing with the
-- ledger (found by `bench seal-throughput` at 1 M events). One index on both columns answers it in O(log n).
DROP INDEX IF EXISTS ledger_events_subject;
CREATE INDEX ledger_events_subject_leaf ON ledger_events (subject, leaf_index);
