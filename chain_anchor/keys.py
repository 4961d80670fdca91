"""Ed25519 keys: key ids, a signer, signature verification and a ring of trusted public keys.

A **key id** is the lower-case hex SHA-256 of the 32-byte raw Ed25519 public key (64 characters).
Private keys are the 32-byte RFC 8032 seed. Nothing here reads or writes files: PEM and hex conversions
take and return bytes/str, and the caller (a service) does the I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from typing import TypeGuard

from chain_anchor import ed25519
from chain_anchor.errors import KeyFormatError, UnknownKey

__all__ = [
    "KeyRing",
    "Signer",
    "is_key_id",
    "key_id",
    "public_key_from_pem",
    "public_key_to_pem",
    "verify_signature",
]

_HEX = frozenset("0123456789abcdef")
public_key_from_pem = ed25519.public_key_from_pem
public_key_to_pem = ed25519.public_key_to_pem


def key_id(public_key_raw: bytes) -> str:
    """Lower-case hex SHA-256 of the raw 32-byte Ed25519 public key."""
    if len(public_key_raw) != ed25519.PUBLIC_KEY_SIZE:
        raise KeyFormatError(f"public key must be {ed25519.PUBLIC_KEY_SIZE} bytes")
    return hashlib.sha256(public_key_raw).hexdigest()


def is_key_id(value: object) -> TypeGuard[str]:
    """True when ``value`` is a well-formed key id (64 lower-case hex characters)."""
    return isinstance(value, str) and len(value) == 64 and _HEX.issuperset(value)


def verify_signature(public_key_raw: bytes, signature: bytes, message: bytes) -> None:
    """Verify an Ed25519 signature; raise :class:`~chain_anchor.errors.BadSignature` if it fails.

    A public key that is not 32 bytes raises :class:`~chain_anchor.errors.KeyFormatError`.
    """
    ed25519.verify(public_key_raw, signature, message)


class Signer:
    """An Ed25519 private key that signs messages. ``repr`` never shows the secret."""

    __slots__ = ("_key_id", "_public", "_secret64")

    def __init__(self, seed: bytes) -> None:
        self._public, self._secret64 = ed25519.keypair_from_seed(seed)
        self._key_id = key_id(self._public)

    @classmethod
    def generate(cls) -> Signer:
        """A new random key from the OS CSPRNG."""
        return cls(ed25519.new_seed())

    @classmethod
    def from_seed(cls, seed32: bytes) -> Signer:
        """The key whose RFC 8032 32-byte private key (seed) is ``seed32``."""
        return cls(seed32)

    @classmethod
    def from_private_bytes(cls, raw32: bytes) -> Signer:
        """Same as :meth:`from_seed` (the raw private key *is* the seed)."""
        return cls(raw32)

    @classmethod
    def from_hex(cls, text: str) -> Signer:
        """From 64 hex characters of seed."""
        try:
            return cls(bytes.fromhex(text.strip()))
        except ValueError as e:
            raise KeyFormatError("private key hex is malformed") from e

    @classmethod
    def from_pem(cls, pem: bytes) -> Signer:
        """From an unencrypted PKCS#8 PEM Ed25519 private key."""
        return cls(ed25519.seed_from_pem(pem))

    def private_bytes(self) -> bytes:
        """The 32-byte seed. Handle with care."""
        return self._secret64[: ed25519.SEED_SIZE]

    def to_hex(self) -> str:
        """The seed as 64 lower-case hex characters."""
        return self.private_bytes().hex()

    def to_pem(self) -> bytes:
        """Unencrypted PKCS#8 PEM of the private key."""
        return ed25519.seed_to_pem(self.private_bytes())

    @property
    def public_key_raw(self) -> bytes:
        """The 32-byte raw public key."""
        return self._public

    @property
    def key_id(self) -> str:
        """Lower-case hex SHA-256 of :attr:`public_key_raw`."""
        return self._key_id

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        return ed25519.sign(self._secret64, message)

    def __repr__(self) -> str:
        return f"Signer(key_id={self._key_id!r})"


class KeyRing(Mapping[str, bytes]):
    """Trusted public keys by key id (read-only mapping ``key_id -> raw 32-byte public key``).

    Looking up a missing key id raises :class:`~chain_anchor.errors.UnknownKey` (a ``KeyError``).
    """

    __slots__ = ("_keys",)

    def __init__(self, public_keys: Iterable[bytes] = ()) -> None:
        keys: dict[str, bytes] = {}
        for public in public_keys:
            if not isinstance(public, bytes | bytearray):
                raise KeyFormatError(f"public key must be bytes, not {type(public).__name__}")
            raw = bytes(public)
            keys[key_id(raw)] = raw
        self._keys = keys

    @classmethod
    def from_public_keys(cls, public_keys: Iterable[bytes]) -> KeyRing:
        """A ring holding each of ``public_keys`` (raw 32-byte Ed25519 keys)."""
        return cls(public_keys)

    def with_keys(self, public_keys: Iterable[bytes]) -> KeyRing:
        """A new ring with these keys added."""
        return KeyRing([*self._keys.values(), *public_keys])

    def __getitem__(self, key_id: str) -> bytes:
        try:
            return self._keys[key_id]
        except KeyError:
            raise UnknownKey(key_id) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def verify(self, key_id: str, signature: bytes, message: bytes) -> None:
        """Verify with the trusted key ``key_id``; raise ``UnknownKey`` or ``BadSignature``."""
        ed25519.verify(self[key_id], signature, message)

    def __repr__(self) -> str:
        return f"KeyRing({sorted(self._keys)!r})"
