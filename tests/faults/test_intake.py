"""The sequencer's per-entry leaf checks (services/sequencer/intake.py), without Kafka or a database."""

from __future__ import annotations

from chain_anchor.keys import KeyRing, Signer
from chain_anchor.verdict import VerdictEntry, encode_verdict
from services.sequencer.intake import Reason, check_verdict

SIGNER = Signer.from_seed(b"\x11" * 32)
RING = KeyRing([SIGNER.public_key_raw])


def _leaf(event_id: str) -> bytes:
    return (b'{"id":"%s","source":"urn:taijiao:participant/mine-a","subject":"mine-a/pile-1",'
            b'"time":"2026-11-30T08:00:00Z","type":"cn.taijiao.coal.inventory.StockReported.v1"}' % event_id.encode())


def test_only_canonical_lower_case_event_ids_pass_the_leaf_check() -> None:
    good = "5eed0000-0000-4000-8000-00000000000a"
    bad = {"upper case": good.upper(), "braces": "{" + good + "}", "no hyphens": good.replace("-", ""),
           "urn": "urn:uuid:" + good, "trailing newline": good + "\\n", "too short": good[:-1]}
    entries = [VerdictEntry(0, 0, _leaf(good)), *(VerdictEntry(0, i + 1, _leaf(v)) for i, v in enumerate(bad.values()))]
    batch, quarantined = check_verdict(7, encode_verdict(entries, "2026-11-30T08:00:01Z", SIGNER), RING,
                                       max_event_bytes=65_536)
    assert batch is not None and [e.head.id for e in batch.entries] == [good]
    assert [(q.reason, q.raw_offset) for q in quarantined] == [(Reason.MALFORMED_LEAF, i + 1) for i in range(len(bad))]
    assert all("canonical lower-case" in q.detail for q in quarantined)
