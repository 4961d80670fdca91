"""FastAPI gateway: events in; blocks, proofs, receipts and views out; the dashboard."""
