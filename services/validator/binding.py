"""Glue between the CloudEvents Kafka binding (:mod:`services.kafka.cloudevents`) and the checks.

:func:`structured` turns a binary-mode record into its structured equivalent (value = the event's JSON,
``ce_*`` headers dropped), so everything after it, the rejected topic included, sees the event itself.
:func:`check` adds the two record-level checks to :meth:`Checker.check`: a binary-mode record that cannot
become an event (``binary_mode``) and a key other than the subject (``key_mismatch``).
"""

from __future__ import annotations

import dataclasses
from typing import TypeAlias

from aiokafka.structs import ConsumerRecord

from services.kafka.cloudevents import BindingError, key_matches, to_structured
from services.validator.checks import Accept, Checker, Decision, Reject
from services.validator.reasons import Reason

Record: TypeAlias = "ConsumerRecord[bytes, bytes]"


def structured(record: Record) -> Record:
    """``record`` with a binary-mode event rebuilt as structured JSON (unchanged otherwise)."""
    headers = list(record.headers or ())
    if not any(k.lower() == "ce_specversion" for k, _ in headers):
        return record
    value = to_structured(headers, record.value)
    if isinstance(value, BindingError):
        return record
    kept = tuple((k, v) for k, v in headers if not k.lower().startswith("ce_"))
    return dataclasses.replace(record, value=value, headers=kept)


def check(checker: Checker, record: Record) -> Decision:
    """The checks of one raw record: the binding, then :meth:`Checker.check`, then key = subject."""
    value = to_structured(list(record.headers or ()), record.value)
    if isinstance(value, BindingError):
        return Reject(Reason.BINARY_MODE, value.detail)
    decision = checker.check(value)
    if isinstance(decision, Accept) and not key_matches(record.key, decision.event.subject):
        key = record.key.decode("utf-8", "replace") if record.key is not None else None
        return Reject(Reason.KEY_MISMATCH, f"the record key {key!r} is not the event's subject"
                      f" {decision.event.subject!r}; publish with key = subject", event_id=decision.event.id)
    return decision
