-- Leaves are stored as given and never compressed: pglz spent ~7 µs per sealed event compressing the 11.5 %
-- of leaves over 2 KB (measured in the speed issue), and a leaf is read back whole anyway (proofs, verify).
-- EXTERNAL = out-of-line TOAST allowed, compression off. Applies to rows written from now on.
ALTER TABLE ledger_events ALTER COLUMN leaf SET STORAGE EXTERNAL;
