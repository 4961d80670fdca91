"""Validators: raw events -> accepted (canonical bytes) or rejected (original bytes + reason code)."""
