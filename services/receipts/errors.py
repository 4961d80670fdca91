"""Errors of the receipts package. Nothing here is retriable: a bundle that failed once fails again.

Hierarchy::

    ReceiptError (Exception)
    ├── BundleInvalid (ValueError)     the bundle does not verify; ``.check`` names the failed check,
    │                                  ``.where`` the part of the bundle (``events[2]``, ``blocks[0]``...)
    ├── ShipmentNotFound (LookupError) no sealed shipment / receipt with that id (``.shipment_id``)
    └── ReceiptInputError (ValueError) a confirmation or dispute cannot be built from these arguments
                                       (``.errors``: schema errors, path + message)

``BundleInvalid.check`` is one of the stable codes listed in :data:`CHECKS` (documented in
``docs/receipts.md``), so callers branch on it and never parse the message.
"""

from __future__ import annotations

__all__ = ["CHECKS", "BundleInvalid", "ReceiptError", "ReceiptInputError", "ShipmentNotFound"]

CHECKS = (
    "format",  # not a v1 bundle: missing or mistyped member, unknown kind, duplicate leaf index
    "ledger",  # the bundle is for another ledger than the trust file's
    "checkpoint",  # the signed checkpoint does not verify, or names another origin / tree size
    "witness",  # fewer witness cosignatures than required
    "header",  # a block header is malformed, unsigned, badly signed or for another ledger
    "anchor",  # no block at the bundle's tree size, or its root is not the checkpoint's
    "signer",  # an event's publisher or key is unknown to the trust file, or lacks the role / ownership
    "signature",  # an event's publisher signature does not verify
    "inclusion",  # an inclusion proof does not lead to the checkpoint root, or the leaf is outside its block
    "consistency",  # the events do not describe one shipment (ids, order, lot disagree)
    "buyer",  # the receipt is not signed by the buyer of the order
    "key_ids",  # the bundle's key_ids summary disagrees with the keys actually used
    "discrepancies",  # the bundle's discrepancy marks disagree with the signed figures
)


class ReceiptError(Exception):
    """Root of every error raised by ``services.receipts``."""

    retriable = False


class BundleInvalid(ReceiptError, ValueError):
    """The bundle fails the check ``check`` at ``where``; the message says exactly why."""

    def __init__(self, check: str, message: str, *, where: str = "") -> None:
        if check not in CHECKS:
            raise ValueError(f"unknown check code {check!r}")
        super().__init__(f"{where}: {message}" if where else message)
        self.check = check
        self.where = where
        self.reason = message


class ShipmentNotFound(ReceiptError, LookupError):
    """No sealed shipment (or no sealed receipt, for a bundle) under this id."""

    def __init__(self, shipment_id: str, detail: str) -> None:
        super().__init__(f"shipment {shipment_id!r}: {detail}")
        self.shipment_id = shipment_id
        self.detail = detail


class ReceiptInputError(ReceiptError, ValueError):
    """A DeliveryConfirmed / DeliveryDisputed cannot be built: the schema refuses the given values."""

    def __init__(self, message: str, errors: tuple[dict[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.errors = errors
