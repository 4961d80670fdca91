"""Signed delivery receipts: pending receipts, the buyer's signing, receipt bundles and their offline check.

Formats and rules: ``docs/receipts.md``. Modules: ``shipment`` (a shipment's sealed events, pure),
``discrepancy`` (marks beyond tolerance, pure), ``verify`` (offline bundle verification, pure), ``summary``
(the human summary), ``client`` (the buyer's signing, runs on the buyer's side), ``store`` (SQL),
``pending`` and ``bundle`` (built from the ledger), ``cli`` (``coalchain receipt``).
"""
