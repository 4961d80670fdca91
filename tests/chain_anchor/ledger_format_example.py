"""The worked example of docs/ledger-format.md, computed with chain_anchor.

``python -m tests.chain_anchor.ledger_format_example`` prints every value; test_ledger_format_doc checks that
the document still shows exactly these values.
"""

from __future__ import annotations

import base64
import hashlib

from chain_anchor.block import GENESIS_PREV_HASH, header_bytes, header_hash, seal_block
from chain_anchor.canonical import canonicalize
from chain_anchor.checkpoint import SIG_TYPE_COSIGNATURE_V1, Checkpoint, NoteVerifier, SignedNote, cosign, sign_note
from chain_anchor.compact import CompactRange
from chain_anchor.events import event_signing_bytes, leaf_bytes, sign_event
from chain_anchor.hashing import leaf_hash, node_hash
from chain_anchor.keys import Signer
from chain_anchor.merkle import consistency_proof, inclusion_proof

PUBLISHER = Signer.from_seed(bytes.fromhex("11" * 32))
SEQUENCER = Signer.from_seed(bytes.fromhex("5e" * 32))
WITNESS = Signer.from_seed(bytes.fromhex("77" * 32))
ORIGIN = "taijiao-coalchain.cn/ledger/taijiao-main"
WITNESS_NAME = "witness-1.example/taijiao"
COSIGN_TIME = 1714550460


def _event(i: int, stock_kg: int) -> dict[str, object]:
    return {
        "specversion": "1.0",
        "id": f"6f1c6d2e-8a4b-4d6e-9b1a-2f3c4d5e6f7{i}",
        "source": "/participants/mine-gaoping-01",
        "type": "cn.taijiao.coal.inventory.StockReported.v1",
        "subject": "mine-gaoping-01",
        "time": f"2024-05-01T08:0{i}:00Z",
        "datacontenttype": "application/json",
        "dataschema": "https://schemas.taijiao.cn/inventory/StockReported/v1",
        "data": {"product": "无烟煤", "stock_kg": stock_kg},
    }


def compute() -> dict[str, str]:
    out: dict[str, str] = {}
    out["publisher_public"] = PUBLISHER.public_key_raw.hex()
    out["publisher_key_id"] = PUBLISHER.key_id
    out["sequencer_public"] = SEQUENCER.public_key_raw.hex()
    out["sequencer_key_id"] = SEQUENCER.key_id
    out["witness_public"] = WITNESS.public_key_raw.hex()

    envelopes = [sign_event(_event(i, 125_000_000 - 1_000_000 * i), PUBLISHER) for i in range(5)]
    first = envelopes[0]
    signing = event_signing_bytes(first)
    out["event0_signing_bytes"] = signing.decode("utf-8")
    out["event0_signing_bytes_sha256"] = hashlib.sha256(signing).hexdigest()
    out["event0_signature_b64"] = str(first["signature"])
    out["event0_leaf_bytes"] = leaf_bytes(first).decode("utf-8")
    leaves = [leaf_hash(leaf_bytes(e)) for e in envelopes]
    for i, h in enumerate(leaves):
        out[f"leaf{i}"] = h.hex()
    out["node01"] = node_hash(leaves[0], leaves[1]).hex()
    out["root3"] = node_hash(node_hash(leaves[0], leaves[1]), leaves[2]).hex()

    cr = CompactRange()
    h0, s0, nodes0 = seal_block(
        ledger_id="taijiao-main", height=0, prev_hash=GENESIS_PREV_HASH, compact_range=cr,
        leaf_hashes=leaves[:3], source_topic="coal.events.accepted.v1", source_partition=0,
        first_offset=0, last_offset=2, sealed_at="2024-05-01T08:03:00Z", signer=SEQUENCER,
    )  # fmt: skip
    out["header0_json"] = header_bytes(h0).decode("utf-8")
    out["header0_hash"] = header_hash(h0).hex()
    out["header0_signature_b64"] = base64.b64encode(s0.signature).decode()
    out["nodes0"] = repr([(lvl, idx, h.hex()) for lvl, idx, h in nodes0])

    h1, s1, _ = seal_block(
        ledger_id="taijiao-main", height=1, prev_hash=header_hash(h0), compact_range=cr,
        leaf_hashes=leaves[3:], source_topic="coal.events.accepted.v1", source_partition=0,
        first_offset=3, last_offset=4, sealed_at="2024-05-01T08:05:00Z", signer=SEQUENCER,
    )  # fmt: skip
    out["header1_json"] = header_bytes(h1).decode("utf-8")
    out["header1_hash"] = header_hash(h1).hex()
    out["header1_signature_b64"] = base64.b64encode(s1.signature).decode()
    out["inclusion_2_of_5"] = repr([p.hex() for p in inclusion_proof(index=2, leaf_hashes=leaves)])
    out["consistency_3_to_5"] = repr([p.hex() for p in consistency_proof(size1=3, leaf_hashes=leaves)])

    checkpoint = Checkpoint(ORIGIN, h1.tree_size, h1.log_root)
    log_sig = sign_note(checkpoint.body(), SEQUENCER, ORIGIN)
    cosig = cosign(checkpoint, WITNESS, WITNESS_NAME, COSIGN_TIME)
    note = SignedNote(checkpoint.text(), (log_sig, cosig)).serialize()
    out["checkpoint_note"] = note
    out["log_vkey"] = NoteVerifier.for_signer(ORIGIN, SEQUENCER).vkey()
    out["witness_vkey"] = NoteVerifier.for_signer(WITNESS_NAME, WITNESS, SIG_TYPE_COSIGNATURE_V1).vkey()
    out["cosigned_message"] = (b"cosignature/v1\ntime %d\n" % COSIGN_TIME + checkpoint.body()).decode()
    out["canonical_demo"] = canonicalize({"b": [1, "\u2028"], "a": {"\U0001f600": True, "\ufb33": None}}).decode()
    return out


if __name__ == "__main__":
    for key, value in compute().items():
        print(f"== {key}\n{value}")
