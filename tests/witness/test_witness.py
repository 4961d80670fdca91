"""The witness refuses every fork and shortening a (malicious) sequencer key signs, keeps evidence, survives a
restart; each answer is the tlog-witness spec's status and body."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest

from chain_anchor.checkpoint import (
    SIG_TYPE_COSIGNATURE_V1,
    Checkpoint,
    NoteSignature,
    NoteVerifier,
    SignedNote,
    parse_checkpoint,
    parse_note,
    sign_note,
    verify_checkpoint,
)
from chain_anchor.hashing import leaf_hash
from chain_anchor.keys import Signer
from chain_anchor.merkle import consistency_proof, root
from services.witness.core import Witness
from services.witness.policy import WitnessPolicy, verify_policy
from services.witness.protocol import format_add_checkpoint, parse_cosignatures
from services.witness.server import create_witness_app
from services.witness.state import WitnessState

ORIGIN = "taijiao-coalchain.cn/ledger/test"
SEQUENCER = Signer.from_seed(hashlib.sha256(b"sequencer").digest())  # the (malicious) operator's real key
LOG_KEY = NoteVerifier(ORIGIN, 1, SEQUENCER.public_key_raw)
HONEST = [leaf_hash(f"event {i}".encode()) for i in range(20)]
FORK = HONEST[:6] + [leaf_hash(f"forged {i}".encode()) for i in range(6, 20)]


def note(leaves: list[bytes], signer: Signer = SEQUENCER, origin: str = ORIGIN, size: int | None = None) -> bytes:
    cp = Checkpoint(origin, len(leaves) if size is None else size, root(leaves))
    return SignedNote(cp.text(), (sign_note(cp.body(), signer, origin),)).to_bytes()


def body(old: int, leaves: list[bytes], proof: list[bytes] | None = None) -> bytes:
    if proof is None:
        proof = consistency_proof(size1=old, leaf_hashes=leaves) if 0 < old < len(leaves) else []
    return format_add_checkpoint(old, proof, note(leaves))


def make_witness(tmp_path: Path, name: str = "taijiao-coalchain.cn/witness/railway") -> Witness:
    signer = Signer.from_seed(hashlib.sha256(name.encode()).digest())
    return Witness(name, signer, [LOG_KEY], WitnessState(tmp_path / name.replace("/", "_")), clock=lambda: 1764600000)


@pytest.fixture
def witnesses(tmp_path: Path) -> list[Witness]:
    return [make_witness(tmp_path, f"taijiao-coalchain.cn/witness/{r}") for r in ("mine", "railway", "buyer")]


async def test_honest_checkpoints_are_cosigned_with_a_verifiable_timestamped_cosignature(tmp_path: Path) -> None:
    w = make_witness(tmp_path)
    first = await w.add_checkpoint(body(0, HONEST[:5]))
    assert (first.status, first.content_type) == (200, "text/plain; charset=utf-8")
    second = await w.add_checkpoint(body(5, HONEST[:9]))
    assert second.status == 200
    (line,) = parse_cosignatures(second.body)
    assert second.body.startswith("— taijiao-coalchain.cn/witness/railway ".encode()) and second.body.endswith(b"\n")
    assert line.signature[:8] == (1764600000).to_bytes(8, "big")
    cosigned = parse_note(note(HONEST[:9])).with_signatures(line).to_bytes()
    verify_checkpoint(cosigned, [w.verifier])  # the cosignature verifies under the witness's vkey (type 0x04)
    assert w.verifier.sig_type == SIG_TYPE_COSIGNATURE_V1
    again = await w.add_checkpoint(body(9, HONEST[:9]))  # same size, same root: cosigned again
    assert again.status == 200
    assert w.state.get(ORIGIN) is not None and w.state.get(ORIGIN).size == 9  # type: ignore[union-attr]


async def _at_nine(ws: list[Witness]) -> None:
    for w in ws:
        assert (await w.add_checkpoint(body(0, HONEST[:5]))).status == 200
        assert (await w.add_checkpoint(body(5, HONEST[:9]))).status == 200


def _assert_unchanged_with_evidence(ws: list[Witness], count: int) -> None:
    for w in ws:
        stored = w.state.get(ORIGIN)
        assert stored is not None and (stored.size, stored.root) == (9, root(HONEST[:9]))
        evidence = w.state.evidence()
        assert len(evidence) == count
        for doc in evidence:  # both checkpoints are signed by the sequencer: the evidence proves itself
            held = verify_checkpoint(doc["cosigned"]["note"].encode(), [LOG_KEY])
            sent = verify_checkpoint(doc["submitted"]["note"].encode(), [LOG_KEY])
            assert (held.tree_size, held.root_hash) == (9, root(HONEST[:9]))
            assert (sent.tree_size, sent.root_hash) != (held.tree_size, held.root_hash)


async def test_split_view_same_size_other_root_is_refused_by_every_witness(witnesses: list[Witness]) -> None:
    await _at_nine(witnesses)
    for w in witnesses:
        same_old = await w.add_checkpoint(body(9, FORK[:9]))
        assert same_old.status == 422 and b"split view" in same_old.body
        stale_old = await w.add_checkpoint(body(5, FORK[:9], consistency_proof(size1=5, leaf_hashes=FORK[:9])))
        assert (stale_old.status, stale_old.body, stale_old.content_type) == (409, b"9\n", "text/x.tlog.size")
    _assert_unchanged_with_evidence(witnesses, 2)


async def test_truncation_smaller_size_is_refused_by_every_witness(witnesses: list[Witness]) -> None:
    await _at_nine(witnesses)
    for w in witnesses:
        conflict = await w.add_checkpoint(body(0, HONEST[:7]))  # a genuine prefix, but shorter than cosigned
        assert (conflict.status, conflict.body, conflict.content_type) == (409, b"9\n", "text/x.tlog.size")
        backwards = await w.add_checkpoint(format_add_checkpoint(9, [], note(HONEST[:7])))
        assert backwards.status == 400  # old size greater than the checkpoint size
    _assert_unchanged_with_evidence(witnesses, 2)


async def test_missing_or_invalid_consistency_proof_is_refused_by_every_witness(witnesses: list[Witness]) -> None:
    await _at_nine(witnesses)
    for w in witnesses:
        missing = await w.add_checkpoint(format_add_checkpoint(9, [], note(HONEST[:12])))
        assert missing.status == 422
        garbage = await w.add_checkpoint(format_add_checkpoint(9, [b"\x00" * 32] * 3, note(HONEST[:12])))
        assert garbage.status == 422
        # a fork that shares only the first 6 leaves, with a correct proof *of the forked tree*
        forked = await w.add_checkpoint(body(9, FORK[:12], consistency_proof(size1=9, leaf_hashes=FORK[:12])))
        assert forked.status == 422
    _assert_unchanged_with_evidence(witnesses, 3)
    for w in witnesses:  # the honest continuation is still cosigned afterwards
        assert (await w.add_checkpoint(body(9, HONEST[:12]))).status == 200


async def test_unknown_origin_bad_signature_and_malformed_bodies(tmp_path: Path) -> None:
    w = make_witness(tmp_path)
    other = Signer.from_seed(b"\x01" * 32)
    unknown = await w.add_checkpoint(format_add_checkpoint(0, [], note(HONEST[:3], other, "example.com/other")))
    assert unknown.status == 404
    not_trusted = await w.add_checkpoint(format_add_checkpoint(0, [], note(HONEST[:3], other)))
    assert not_trusted.status == 403  # no signature from a trusted key (same name, another key id: ignored)
    good = parse_note(note(HONEST[:3]))
    bad_sig = SignedNote(good.text.replace("\n3\n", "\n4\n"), good.signatures).to_bytes()
    assert (await w.add_checkpoint(format_add_checkpoint(0, [], bad_sig))).status == 403
    assert (await w.add_checkpoint(b"old 0\n\nnot a note")).status == 400
    assert (await w.add_checkpoint(b"garbage")).status == 400
    empty = Checkpoint(ORIGIN, 0, root(HONEST[:1]))  # size 0 must have the empty root
    zero = SignedNote(empty.text(), (sign_note(empty.body(), SEQUENCER, ORIGIN),)).to_bytes()
    assert (await w.add_checkpoint(format_add_checkpoint(0, [], zero))).status == 422
    with_proof = await w.add_checkpoint(format_add_checkpoint(0, [HONEST[0]], note(HONEST[:3])))
    assert with_proof.status == 422  # old size 0 needs an empty proof
    assert w.state.get(ORIGIN) is None and w.state.evidence() == []


async def test_state_survives_a_restart(tmp_path: Path) -> None:
    w = make_witness(tmp_path)
    assert (await w.add_checkpoint(body(0, HONEST[:9]))).status == 200
    again = make_witness(tmp_path)  # a new process over the same directory
    answer = await again.add_checkpoint(body(0, HONEST[:12]))
    assert (answer.status, answer.body) == (409, b"9\n")
    assert (await again.add_checkpoint(body(9, HONEST[:12]))).status == 200
    doc = json.loads((again.state.path).read_text())
    assert doc["origins"][ORIGIN]["size"] == 12
    assert not list(again.state.directory.glob(".*.tmp"))


async def test_http_answers_and_monitoring_checkpoint(tmp_path: Path) -> None:
    w = make_witness(tmp_path)
    transport = httpx.ASGITransport(app=create_witness_app(w))
    async with httpx.AsyncClient(transport=transport, base_url="http://witness") as client:
        ok = await client.post("/add-checkpoint", content=body(0, HONEST[:9]))
        assert ok.status_code == 200 and ok.headers["content-type"] == "text/plain; charset=utf-8"
        conflict = await client.post("/add-checkpoint", content=body(0, HONEST[:12]))
        assert (conflict.status_code, conflict.content, conflict.headers["content-type"]) == (409, b"9\n",
                                                                                           "text/x.tlog.size")
        origin_hash = hashlib.sha256(ORIGIN.encode()).hexdigest()
        latest = await client.get(f"/{origin_hash}/checkpoint")
        assert latest.status_code == 200
        verify_checkpoint(latest.content, [LOG_KEY])
        verify_checkpoint(latest.content, [w.verifier])
        assert (await client.get(f"/{'0' * 64}/checkpoint")).status_code == 404
        assert (await client.post("/add-checkpoint", content=b"x" * (65 * 1024))).status_code == 413


async def test_two_of_three_policy(witnesses: list[Witness]) -> None:
    lines: list[NoteSignature] = []
    for w in witnesses[:2]:
        lines += parse_cosignatures((await w.add_checkpoint(body(0, HONEST[:9]))).body)
    cosigned = parse_note(note(HONEST[:9])).with_signatures(*lines).to_bytes()
    policy = WitnessPolicy(tuple(w.verifier for w in witnesses), 2)
    cp, names = verify_policy(cosigned, [LOG_KEY], policy, origin=ORIGIN)
    assert parse_checkpoint(parse_note(cosigned).text) == cp and names == [w.name for w in witnesses[:2]]
    with pytest.raises(Exception, match="quorum"):
        verify_policy(cosigned, [LOG_KEY], WitnessPolicy(policy.witnesses, 3), origin=ORIGIN)
    with pytest.raises(ValueError, match="witness_quorum"):
        WitnessPolicy(policy.witnesses, 4)
