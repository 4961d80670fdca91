"""Replicas: a participant's own verified copy of the ledger, fed by the blocks topic."""
