-- When each block was committed (the transaction that wrote it), for readiness: "no block sealed for N s
-- while verdicts wait" (services/stall.py). sealed_at is the newest signed verified_at of the block's verdicts,
-- which lags the commit when the sequencer works through a backlog, so it cannot tell stalled from behind.
-- Not part of the signed header or any hash; the default fills it, nothing writes it. Rows that existed
-- before this migration get the time it ran.
ALTER TABLE ledger_blocks ADD COLUMN committed_at timestamptz NOT NULL DEFAULT now();
