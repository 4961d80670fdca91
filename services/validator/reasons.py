"""Reason codes of the rejected topic (``reason`` header). Stable: consumers and docs rely on them."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    OVERSIZED = "oversized"  # larger than max_event_bytes
    MALFORMED_JSON = "malformed_json"  # not a JSON object
    SCHEMA = "schema"  # envelope or data breaks the JSON Schema or a domain rule; detail lists path + rule
    UNKNOWN_PARTICIPANT = "unknown_participant"  # source names no registered participant
    UNKNOWN_KEY = "unknown_key"  # sigkeyid is not a key of that participant
    REVOKED_KEY = "revoked_key"  # the key was revoked by a registry event
    BAD_SIGNATURE = "bad_signature"  # signature missing, malformed or does not verify
    FORBIDDEN_ROLE = "forbidden_role"  # the participant's roles may not publish this type
    NOT_OWNER = "not_owner"  # e.g. a mine reporting stock of another company's mine
    REPLAY = "replay"  # this event id was already accepted from another position
    RULE = "rule"  # a ledger rule (e.g. a second confirmation of the same shipment)
    TIME_OUT_OF_RANGE = "time-out-of-range"  # `time` too far ahead of / behind the validator's clock
    KEY_MISMATCH = "key_mismatch"  # the Kafka record key is not the event's subject (or is missing)
    BINARY_MODE = "binary_mode"  # CloudEvents binary mode that cannot become an event (e.g. non-JSON data)
