"""Ed25519 keys: RFC 8032 vectors, signer, key ids, key ring, PEM."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from chain_anchor import ed25519
from chain_anchor.errors import BadSignature, ChainAnchorError, KeyFormatError, SignatureError, UnknownKey
from chain_anchor.keys import (
    KeyRing,
    Signer,
    is_key_id,
    key_id,
    public_key_from_pem,
    public_key_to_pem,
    verify_signature,
)

RFC8032 = json.loads((Path(__file__).resolve().parents[1] / "vectors" / "ed25519_rfc8032.json").read_text())


def _ids(vector: dict[str, Any]) -> str:
    return str(vector["name"])


@pytest.mark.parametrize("vector", RFC8032["vectors"], ids=_ids)
def test_rfc8032_vector(vector: dict[str, str]) -> None:
    seed, public = bytes.fromhex(vector["secret_key"]), bytes.fromhex(vector["public_key"])
    message, signature = bytes.fromhex(vector["message"]), bytes.fromhex(vector["signature"])
    signer = Signer.from_seed(seed)
    assert signer.public_key_raw == public
    assert signer.sign(message) == signature
    verify_signature(public, signature, message)
    Ed25519PublicKey.from_public_bytes(public).verify(signature, message)  # the other library agrees
    with pytest.raises(BadSignature):
        verify_signature(public, signature, message + b"\x00")
    tampered = bytearray(signature)
    tampered[63] ^= 0x10
    with pytest.raises(BadSignature):
        verify_signature(public, bytes(tampered), message)


def test_rfc8032_vectors_are_all_there() -> None:
    assert [v["name"] for v in RFC8032["vectors"]] == ["TEST 1", "TEST 2", "TEST 3", "TEST 1024", "TEST SHA(abc)"]


def test_key_id_is_sha256_hex_of_raw_public_key() -> None:
    public = bytes.fromhex(RFC8032["vectors"][0]["public_key"])
    assert key_id(public) == "21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9"
    assert is_key_id(key_id(public))
    assert not is_key_id(key_id(public).upper())
    assert not is_key_id(key_id(public)[:-1])
    assert not is_key_id(None)
    with pytest.raises(KeyFormatError):
        key_id(public[:31])


def test_signer_constructors_agree() -> None:
    seed = bytes(range(32))
    a = Signer.from_seed(seed)
    b = Signer.from_private_bytes(seed)
    c = Signer.from_hex(seed.hex())
    d = Signer.from_pem(a.to_pem())
    assert {s.key_id for s in (a, b, c, d)} == {a.key_id}
    assert a.private_bytes() == seed
    assert a.to_hex() == seed.hex()
    assert a.to_pem().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert seed.hex() not in repr(a) and a.key_id in repr(a)


def test_generated_signers_differ_and_work() -> None:
    a, b = Signer.generate(), Signer.generate()
    assert a.key_id != b.key_id
    verify_signature(a.public_key_raw, a.sign(b"m"), b"m")
    with pytest.raises(BadSignature):
        verify_signature(b.public_key_raw, a.sign(b"m"), b"m")


@pytest.mark.parametrize("bad", [b"", bytes(31), bytes(33), "00" * 32])
def test_bad_seeds(bad: Any) -> None:
    with pytest.raises(KeyFormatError):
        Signer.from_seed(bad)


@pytest.mark.parametrize("text", ["zz" * 32, "00" * 31, ""])
def test_bad_hex(text: str) -> None:
    with pytest.raises(KeyFormatError):
        Signer.from_hex(text)


def test_pem_errors() -> None:
    with pytest.raises(KeyFormatError):
        Signer.from_pem(b"not a pem")
    ec_key = generate_private_key(SECP256R1())
    ec_pem = ec_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(KeyFormatError):
        Signer.from_pem(ec_pem)
    ec_public_pem = ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(KeyFormatError):
        public_key_from_pem(ec_public_pem)
    with pytest.raises(KeyFormatError):
        public_key_from_pem(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")


def test_public_key_pem_round_trip() -> None:
    signer = Signer.from_seed(bytes(32))
    pem = public_key_to_pem(signer.public_key_raw)
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert public_key_from_pem(pem) == signer.public_key_raw
    with pytest.raises(KeyFormatError):
        public_key_to_pem(bytes(5))


def test_verify_signature_input_checks() -> None:
    signer = Signer.from_seed(bytes(32))
    sig = signer.sign(b"m")
    with pytest.raises(KeyFormatError):
        verify_signature(signer.public_key_raw[:31], sig, b"m")
    with pytest.raises(BadSignature):
        verify_signature(signer.public_key_raw, sig[:63], b"m")
    with pytest.raises(BadSignature):
        verify_signature(signer.public_key_raw, sig + b"\x00", b"m")
    with pytest.raises(BadSignature):  # small-order public key (identity point) is refused
        verify_signature(bytes([1]) + bytes(31), bytes(64), b"m")
    verify_signature(signer.public_key_raw, bytearray(sig), b"m")  # type: ignore[arg-type]


def test_non_canonical_s_is_refused() -> None:
    signer = Signer.from_seed(bytes(32))
    sig = signer.sign(b"m")
    order = 2**252 + 27742317777372353535851937790883648493
    s = int.from_bytes(sig[32:], "little") + order
    with pytest.raises(BadSignature):
        verify_signature(signer.public_key_raw, sig[:32] + s.to_bytes(32, "little"), b"m")


def test_keyring() -> None:
    a, b, c = (Signer.from_seed(bytes([i]) * 32) for i in (1, 2, 3))
    ring = KeyRing.from_public_keys([a.public_key_raw, b.public_key_raw])
    assert len(ring) == 2
    assert set(ring) == {a.key_id, b.key_id}
    assert ring[a.key_id] == a.public_key_raw
    assert ring.get(c.key_id) is None
    assert a.key_id in ring and c.key_id not in ring
    ring.verify(a.key_id, a.sign(b"m"), b"m")
    with pytest.raises(BadSignature):
        ring.verify(a.key_id, b.sign(b"m"), b"m")
    with pytest.raises(UnknownKey) as info:
        ring.verify(c.key_id, c.sign(b"m"), b"m")
    assert info.value.key_id == c.key_id
    assert c.key_id in str(info.value) and isinstance(info.value, KeyError)
    bigger = ring.with_keys([c.public_key_raw])
    assert len(bigger) == 3 and len(ring) == 2
    assert repr(KeyRing()) == "KeyRing([])"
    assert KeyRing([bytearray(a.public_key_raw)])[a.key_id] == a.public_key_raw  # type: ignore[list-item]


@pytest.mark.parametrize("bad", [["00" * 32], [bytes(31)], [None]])
def test_keyring_refuses_malformed_keys(bad: list[Any]) -> None:
    with pytest.raises(KeyFormatError):
        KeyRing(bad)


def test_errors_are_signature_errors() -> None:
    for error in (BadSignature, UnknownKey, KeyFormatError):
        assert issubclass(error, SignatureError)
        assert issubclass(error, ChainAnchorError)


def test_ed25519_module_sizes() -> None:
    assert (ed25519.SEED_SIZE, ed25519.PUBLIC_KEY_SIZE, ed25519.SIGNATURE_SIZE) == (32, 32, 64)
    public, secret = ed25519.keypair_from_seed(bytes(32))
    assert secret[32:] == public and len(secret) == ed25519.SECRET_KEY_SIZE
