"""Key files: PKCS#8 PEM Ed25519 private keys, passphrase-encrypted unless asked otherwise."""

from __future__ import annotations

import base64
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chain_anchor.keys import Signer
from coalchain_client.errors import KeyFileError


def key_pem(signer: Signer, passphrase: bytes | None) -> bytes:
    """PKCS#8 PEM of ``signer``'s key; encrypted with ``passphrase`` (best available: AES-256-CBC + scrypt
    in current ``cryptography``) unless it is ``None``."""
    key = Ed25519PrivateKey.from_private_bytes(signer.private_bytes())
    algorithm: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase is not None else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, algorithm)


def load_signer(source: Path | str | bytes | Signer, passphrase: bytes | None = None) -> Signer:
    """A signer from a key file (or its bytes): PKCS#8 PEM, encrypted or not, or 64 hex characters of seed."""
    if isinstance(source, Signer):
        return source
    name = "key" if isinstance(source, bytes) else str(source)
    try:
        raw = source if isinstance(source, bytes) else Path(source).read_bytes()
    except OSError as e:
        raise KeyFileError(f"{name}: cannot read the key file: {e.strerror or e}") from None
    if not raw.lstrip().startswith(b"-----BEGIN"):
        try:
            return Signer.from_hex(raw.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise KeyFileError(f"{name}: neither a PKCS#8 PEM Ed25519 key nor 64 hex characters of seed") from None
    encrypted = b"ENCRYPTED" in raw.split(b"\n", 1)[0]
    if encrypted and passphrase is None:
        raise KeyFileError(f"{name}: the key is passphrase-encrypted; give the passphrase")
    try:
        key = serialization.load_pem_private_key(raw, password=passphrase if encrypted else None)
    except (ValueError, TypeError) as e:
        raise KeyFileError(f"{name}: cannot load the key ({'wrong passphrase?' if encrypted else e})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{name}: not an Ed25519 key")
    return Signer.from_seed(key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                              serialization.NoEncryption()))


def public_key_b64(signer: Signer) -> str:
    """The raw 32-byte public key, standard base64: what a registration event carries."""
    return base64.b64encode(signer.public_key_raw).decode("ascii")
