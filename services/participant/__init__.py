"""Onboarding of participants: keys and registry events (``coalchain participant``)."""
