"""C2SP checkpoints, signed notes, cosignatures: Go interop vectors, round trips, every mutation rejected."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from chain_anchor.checkpoint import (
    SIG_TYPE_COSIGNATURE_V1,
    SIG_TYPE_ED25519,
    Checkpoint,
    NoteSignature,
    NoteVerifier,
    SignedNote,
    cosign,
    cosignature_timestamp,
    format_signer_key,
    note_key_id,
    parse_checkpoint,
    parse_note,
    parse_signer_key,
    sign_note,
    verify_checkpoint,
    verify_note,
)
from chain_anchor.errors import (
    BadSignature,
    CheckpointError,
    KeyFormatError,
    NoteParseError,
    QuorumNotMet,
    SignatureError,
)
from chain_anchor.keys import Signer

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "c2sp" / "notes.json").read_text(encoding="utf-8")
)
GO = VECTORS["note"]
ORIGIN = "taijiao.example/coalchain/main"
LOG = Signer.from_seed(b"\x01" * 32)
W1, W2, W3 = (Signer.from_seed(bytes([i]) * 32) for i in (0x11, 0x12, 0x13))
LOG_V = NoteVerifier.for_signer(ORIGIN, LOG)
WITNESSES = [NoteVerifier.for_signer(f"w{i}.example", s, SIG_TYPE_COSIGNATURE_V1) for i, s in enumerate((W1, W2, W3))]
CHECKPOINT = Checkpoint(ORIGIN, 1234, hashlib.sha256(b"root").digest())


def _signed(*extra: NoteSignature) -> str:
    return SignedNote(CHECKPOINT.text(), (sign_note(CHECKPOINT.body(), LOG, ORIGIN), *extra)).serialize()


def _cosigs(*indices: int, timestamp: int = 1_714_550_400) -> list[NoteSignature]:
    signers = (W1, W2, W3)
    return [cosign(CHECKPOINT, signers[i], f"w{i}.example", timestamp) for i in indices]


# --- Go sumdb/note interop -----------------------------------------------------------------------------


def test_go_signer_key_reproduces_published_signature() -> None:
    name, sig_type, signer = parse_signer_key(GO["peter_skey"])
    assert (name, sig_type) == ("PeterNeumann", SIG_TYPE_ED25519)
    assert format_signer_key(name, signer) == GO["peter_skey"]
    assert NoteVerifier.for_signer(name, signer).vkey() == GO["peter_vkey"]
    assert sign_note(GO["text"], signer, name).line() == GO["peter_sig_line"]


def test_go_enoch_key_from_zero_seed() -> None:
    enoch = Signer.from_seed(bytes.fromhex(GO["enoch_seed_hex"]))
    assert NoteVerifier.for_signer("EnochRoot", enoch).vkey() == GO["enoch_vkey"]
    assert sign_note(GO["text"].encode(), enoch, "EnochRoot").line() == GO["enoch_sig_line"]


def test_go_doubly_signed_note_verifies() -> None:
    note = GO["text"] + "\n" + GO["peter_sig_line"] + GO["enoch_sig_line"]
    verifiers = [NoteVerifier.parse(GO["peter_vkey"]), NoteVerifier.parse(GO["enoch_vkey"])]
    signed = verify_note(note, verifiers, quorum_k=2)
    assert signed.text == GO["text"]
    assert signed.signatures[0].key_id == 0xC74F20A3
    assert signed.serialize() == note
    assert verify_note(note.encode(), verifiers[1:]).text == GO["text"]
    with pytest.raises(BadSignature):
        verify_note(note.replace("cryptography", "cryptographY"), verifiers)


def test_c2sp_cosigned_example_parses() -> None:
    example = VECTORS["cosigned_checkpoint_example"]
    signed = parse_note(example["note"])
    checkpoint = parse_checkpoint(signed.text)
    assert (checkpoint.origin, checkpoint.tree_size) == (example["origin"], example["tree_size"])
    assert checkpoint.text() == signed.text
    assert cosignature_timestamp(signed.signatures[1]) == example["witness_timestamp"]
    assert signed.serialize() == example["note"]
    with pytest.raises(QuorumNotMet):  # unknown keys are ignored, leaving nothing verified
        verify_note(example["note"], [LOG_V])


# --- our own signing and cosigning ---------------------------------------------------------------------


def test_checkpoint_text_and_round_trip() -> None:
    text = CHECKPOINT.text()
    assert text == f"{ORIGIN}\n1234\n{base64.b64encode(CHECKPOINT.root_hash).decode()}\n"
    assert CHECKPOINT.body() == text.encode()
    assert parse_checkpoint(text) == CHECKPOINT
    with_ext = Checkpoint(ORIGIN, 0, bytes(32), ("ext one", "ext-two"))
    assert parse_checkpoint(with_ext.body()) == with_ext


def test_log_signature_and_witness_quorum() -> None:
    note = _signed(*_cosigs(0, 2))
    assert verify_checkpoint(note, [LOG_V], origin=ORIGIN) == CHECKPOINT
    verify_note(note, WITNESSES, quorum_k=2)
    verify_note(note, [LOG_V, *WITNESSES], quorum_k=3)
    with pytest.raises(QuorumNotMet) as info:
        verify_note(note, WITNESSES, quorum_k=3)
    assert (info.value.required, info.value.verified) == (3, 2)


def test_duplicate_signature_lines_count_once() -> None:
    cosigs = _cosigs(0)
    note = _signed(cosigs[0], cosigs[0])
    with pytest.raises(QuorumNotMet):
        verify_note(note, WITNESSES, quorum_k=2)


def test_cosignature_bytes_follow_the_spec() -> None:
    [sig] = _cosigs(1, timestamp=1679315147)
    assert sig.key_id == int.from_bytes(hashlib.sha256(b"w1.example\n\x04" + W2.public_key_raw).digest()[:4], "big")
    assert sig.signature[:8] == (1679315147).to_bytes(8, "big")
    message = b"cosignature/v1\ntime 1679315147\n" + CHECKPOINT.body()
    Ed25519PublicKey.from_public_bytes(W2.public_key_raw).verify(sig.signature[8:], message)
    assert cosignature_timestamp(sig) == 1679315147


def test_log_signature_bytes_follow_the_spec() -> None:
    sig = sign_note(CHECKPOINT.body(), LOG, ORIGIN)
    assert sig.key_id == int.from_bytes(hashlib.sha256(ORIGIN.encode() + b"\n\x01" + LOG.public_key_raw).digest()[:4])
    Ed25519PublicKey.from_public_bytes(LOG.public_key_raw).verify(sig.signature, CHECKPOINT.body())
    assert note_key_id(ORIGIN, SIG_TYPE_ED25519, LOG.public_key_raw) == sig.key_id


def test_cosign_accepts_text() -> None:
    a = cosign(CHECKPOINT, W1, "w0.example", 5)
    assert cosign(CHECKPOINT.text(), W1, "w0.example", 5) == a
    assert cosign(CHECKPOINT.body(), W1, "w0.example", 5) == a


@pytest.mark.parametrize("timestamp", [-1, 2**63, 1.5, True])
def test_cosign_timestamp_range(timestamp: Any) -> None:
    with pytest.raises(CheckpointError):
        cosign(CHECKPOINT, W1, "w0.example", timestamp)


def test_with_signatures() -> None:
    note = parse_note(_signed())
    more = note.with_signatures(*_cosigs(0))
    assert len(more.signatures) == 2 and len(note.signatures) == 1
    assert more.to_bytes() == more.serialize().encode()


# --- mutations -----------------------------------------------------------------------------------------


def test_every_body_byte_change_is_rejected() -> None:
    note = _signed(*_cosigs(0, 1))
    body_len = len(CHECKPOINT.text())
    for i in range(body_len - 1):  # keep the final newline
        for replacement in ("X", "0"):
            if note[i] == replacement or note[i] == "\n":
                continue
            mutated = note[:i] + replacement + note[i + 1 :]
            with pytest.raises((BadSignature, NoteParseError)):
                verify_note(mutated, [LOG_V])
            with pytest.raises((BadSignature, NoteParseError)):
                verify_note(mutated, WITNESSES, quorum_k=2)


def test_signature_bit_flips() -> None:
    sig = sign_note(CHECKPOINT.body(), LOG, ORIGIN)
    for bit in range(0, 512, 13):
        raw = bytearray(sig.signature)
        raw[bit // 8] ^= 1 << (bit % 8)
        note = SignedNote(CHECKPOINT.text(), (NoteSignature(sig.name, sig.key_id, bytes(raw)),)).serialize()
        with pytest.raises(BadSignature):
            verify_note(note, [LOG_V])
    [cosig] = _cosigs(0)
    for bit in range(0, 72 * 8, 17):
        raw = bytearray(cosig.signature)
        raw[bit // 8] ^= 1 << (bit % 8)
        if bit < 8:  # the top timestamp bit: out of range
            raw[0] = 0x80
        note = _signed(NoteSignature(cosig.name, cosig.key_id, bytes(raw)))
        with pytest.raises(BadSignature):
            verify_note(note, WITNESSES)


def test_wrong_keys() -> None:
    note = _signed(*_cosigs(0))
    stranger = NoteVerifier.for_signer(ORIGIN, W3)
    with pytest.raises(QuorumNotMet):
        verify_note(note, [stranger])  # same name, different key id: ignored
    renamed = NoteVerifier.for_signer("other.example", LOG)
    with pytest.raises(QuorumNotMet):
        verify_note(note, [renamed])
    cosig_as_log = NoteVerifier.for_signer("w0.example", W1)  # type 0x01 key id differs from 0x04
    with pytest.raises(QuorumNotMet):
        verify_note(note, [cosig_as_log])


def test_key_id_collision_is_still_verified() -> None:
    """A signature line naming a trusted (name, key id) must verify even if made by another key."""
    forged = NoteSignature(ORIGIN, LOG_V.key_id, W3.sign(CHECKPOINT.body()))
    with pytest.raises(BadSignature):
        verify_note(_signed(forged), [LOG_V])
    short_cosig = NoteSignature("w0.example", WITNESSES[0].key_id, bytes(64))
    with pytest.raises(BadSignature):
        verify_note(_signed(short_cosig), WITNESSES)


def test_reordered_and_truncated_notes() -> None:
    note = _signed(*_cosigs(0))
    lines = note.split("\n")
    swapped = "\n".join([lines[1], lines[0], *lines[2:]])
    with pytest.raises(BadSignature):
        verify_note(swapped, [LOG_V])
    with pytest.raises(NoteParseError):
        verify_note(note[:-1], [LOG_V])
    with pytest.raises(NoteParseError):
        verify_note(note.split("\n\n")[0] + "\n", [LOG_V])


def test_origin_check() -> None:
    with pytest.raises(CheckpointError):
        verify_checkpoint(_signed(), [LOG_V], origin="someone.else/log")


def test_quorum_must_be_positive() -> None:
    with pytest.raises(CheckpointError):
        verify_note(_signed(), [LOG_V], quorum_k=0)


def test_conflicting_verifiers() -> None:
    verify_note(_signed(), [LOG_V, LOG_V])  # the same verifier twice is fine
    # Different keys sharing name and key id cannot be built honestly; simulate a key-id clash.
    clash = _KeyIdClash(ORIGIN, SIG_TYPE_ED25519, W3.public_key_raw)
    with pytest.raises(SignatureError):
        verify_note(_signed(), [LOG_V, clash])


class _KeyIdClash(NoteVerifier):
    @property
    def key_id(self) -> int:
        return LOG_V.key_id


# --- parsing -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "note",
    [
        "no blank line\n— a AAAAAAA=\n",
        "text\n\n— a AAAAAAA=",
        "text\n\nnot a signature\n",
        "text\n\n— AAAAAAA=\n",
        "text\n\n— a+b AAAAAAA=\n",
        "text\n\n— a\u00a0b AAAAAAA=\n",
        "text\n\n— a !!!!\n",
        "text\n\n— a AAAA\n",
        "text\n\n— a AAAAAAB=\n",
        "text\r\n\n— a AAAAAAA=\n",
        "text\x00\n\n— a AAAAAAA=\n",
        "text\n\n— a AAAAAAA=\n\n",
        b"text\xff\n\n\xe2\x80\x94 a AAAAAAA=\n",
        "te\udc80xt\n\n— a AAAAAAA=\n",
        "text\n\n" + "— a AAAAAAA=\n" * 101,
    ],
)
def test_malformed_notes(note: str | bytes) -> None:
    with pytest.raises(NoteParseError):
        parse_note(note)


def test_parse_note_accepts_blank_lines_in_text_and_sixteen_signatures() -> None:
    note = "a\n\nb\n\n" + "— k AAAAAAA=\n" * 16
    signed = parse_note(note)
    assert signed.text == "a\n\nb\n" and len(signed.signatures) == 16


@pytest.mark.parametrize(
    "text",
    [
        "origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "origin\n1\n",
        "\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n01\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n-1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n١\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        f"origin\n{2**64}\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n1\nAAAA\n",
        "origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n",
        "origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n",
        "origin\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\next\x01\n",
        b"origin\xff\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
    ],
)
def test_malformed_checkpoints(text: str | bytes) -> None:
    with pytest.raises(CheckpointError):
        parse_checkpoint(text)


@pytest.mark.parametrize(
    "fields",
    [
        ("", 1, bytes(32)),
        ("a\nb", 1, bytes(32)),
        ("o", -1, bytes(32)),
        ("o", 2**64, bytes(32)),
        ("o", 1, bytes(31)),
        ("o", True, bytes(32)),
        ("o", 1, bytes(32), ("",)),
        ("o", 1, bytes(32), ("x\ny",)),
    ],
)
def test_invalid_checkpoint_fields(fields: tuple[Any, ...]) -> None:
    with pytest.raises(CheckpointError):
        Checkpoint(*fields)


# --- keys ----------------------------------------------------------------------------------------------


def test_vkey_round_trip_and_types() -> None:
    for verifier in (LOG_V, *WITNESSES):
        assert NoteVerifier.parse(verifier.vkey()) == verifier
    assert WITNESSES[0].vkey().split("+")[2].startswith("B")  # base64 of 0x04...


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+c74f20a3",
        "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumanN+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10",
        "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWA",
        "PeterNeumann+xyzw20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3+" + base64.b64encode(b"\x01" + bytes(31)).decode(),
        "PeterNeumann+c74f20a3+" + base64.b64encode(b"\x01" + bytes(33)).decode(),
    ],
)
def test_bad_vkeys(vkey: str) -> None:
    with pytest.raises(KeyFormatError):
        NoteVerifier.parse(vkey)


def test_bad_verifier_fields() -> None:
    with pytest.raises(KeyFormatError):
        NoteVerifier("a b", SIG_TYPE_ED25519, bytes(32))
    with pytest.raises(KeyFormatError):
        NoteVerifier("ab", 0x02, bytes(32))
    with pytest.raises(KeyFormatError):
        NoteVerifier("ab", SIG_TYPE_ED25519, bytes(31))


@pytest.mark.parametrize(
    "skey",
    [
        "PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        "PRIVATE+KEY+PeterNeumann+c74f20a4+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz",
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKD=",
    ],
)
def test_bad_signer_keys(skey: str) -> None:
    with pytest.raises(KeyFormatError):
        parse_signer_key(skey)


def test_cosigner_signer_key_round_trip() -> None:
    skey = format_signer_key("w.example", W1, SIG_TYPE_COSIGNATURE_V1)
    name, sig_type, signer = parse_signer_key(skey)
    assert (name, sig_type, signer.key_id) == ("w.example", SIG_TYPE_COSIGNATURE_V1, W1.key_id)


def test_sign_note_text_rules() -> None:
    for bad in ("no newline", "ctrl\x01\n", b"\xff\n"):
        with pytest.raises(NoteParseError):
            sign_note(bad, LOG, ORIGIN)
    with pytest.raises(NoteParseError):
        cosignature_timestamp(NoteSignature("a", 1, bytes(64)))
