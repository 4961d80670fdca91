"""Publisher signatures on CloudEvents 1.0 envelopes (JSON structured mode).

The signature travels in two CloudEvents extension attributes:

* ``sigkeyid`` — the signer's key id (lower-case hex SHA-256 of its raw Ed25519 public key);
* ``signature`` — standard base64 (RFC 4648 §4, with ``=`` padding) of the 64-byte Ed25519 signature over
  :func:`event_signing_bytes`: ``TAG_EVENT ‖ JCS(envelope without "signature" and "sigkeyid")``.

The Merkle leaf of an accepted event is :func:`leaf_bytes`: the JCS bytes of the *whole* signed envelope,
so the ledger proves both the content and who signed it.

What :func:`verify_event` does *not* check (the caller must): the envelope schema, that the key belongs to
the participant named in ``source`` and has the role for ``type``, and that the event is not a replay.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from chain_anchor.canonical import canonicalize, canonicalize_prevalidated
from chain_anchor.errors import EventSignatureError
from chain_anchor.hashing import TAG_EVENT
from chain_anchor.keys import KeyRing, Signer, is_key_id

__all__ = [
    "SIGKEYID_ATTRIBUTE",
    "SIGNATURE_ATTRIBUTE",
    "decode_signature",
    "event_signing_bytes",
    "leaf_bytes",
    "sign_event",
    "verify_canonical_event",
    "verify_event",
    "verify_prevalidated_event",
]

SIGNATURE_ATTRIBUTE = "signature"
SIGKEYID_ATTRIBUTE = "sigkeyid"
_SIGNATURE_SIZE = 64
_SIGNATURE_B64_LENGTH = 88  # base64 of 64 bytes, padded


def _unsigned(envelope: Mapping[str, object]) -> dict[str, object]:
    return {k: v for k, v in envelope.items() if k != SIGNATURE_ATTRIBUTE and k != SIGKEYID_ATTRIBUTE}


def event_signing_bytes(envelope: Mapping[str, object]) -> bytes:
    """``TAG_EVENT ‖ JCS(envelope minus "signature" and "sigkeyid")`` — the bytes the publisher signs."""
    return TAG_EVENT + canonicalize(_unsigned(envelope))


def sign_event(envelope: Mapping[str, object], signer: Signer) -> dict[str, object]:
    """Return a new envelope carrying ``sigkeyid`` and ``signature`` (any old ones are replaced)."""
    unsigned = _unsigned(envelope)
    signature = signer.sign(TAG_EVENT + canonicalize(unsigned))
    unsigned[SIGKEYID_ATTRIBUTE] = signer.key_id
    unsigned[SIGNATURE_ATTRIBUTE] = base64.b64encode(signature).decode("ascii")
    return unsigned


def verify_event(envelope: Mapping[str, object], keyring: KeyRing) -> None:
    """Verify the publisher signature of ``envelope`` against the trusted ``keyring``.

    Raises :class:`~chain_anchor.errors.EventSignatureError` when ``sigkeyid``/``signature`` are missing or
    malformed, :class:`~chain_anchor.errors.UnknownKey` when the key id is not in ``keyring``,
    :class:`~chain_anchor.errors.BadSignature` when the signature does not verify, and a
    :class:`~chain_anchor.errors.CanonicalizationError` when the envelope holds floats or other non-JCS data.
    """
    sig_key_id = envelope.get(SIGKEYID_ATTRIBUTE)
    if not is_key_id(sig_key_id):
        raise EventSignatureError("'sigkeyid' must be 64 lower-case hex characters")
    signature = decode_signature(envelope.get(SIGNATURE_ATTRIBUTE))
    keyring.verify(sig_key_id, signature, event_signing_bytes(envelope))


def decode_signature(value: object) -> bytes:
    """Decode the ``signature`` attribute strictly: canonical padded base64 of exactly 64 bytes."""
    if not isinstance(value, str) or len(value) != _SIGNATURE_B64_LENGTH:
        raise EventSignatureError("'signature' must be 88 characters of padded base64 (64 bytes)")
    try:
        raw = binascii.a2b_base64(value, strict_mode=True)  # non-ASCII text: ValueError
    except ValueError as e:
        raise EventSignatureError("'signature' is not valid base64") from e
    if len(raw) != _SIGNATURE_SIZE or binascii.b2a_base64(raw, newline=False) != value.encode("ascii"):
        raise EventSignatureError("'signature' is not the canonical base64 of 64 bytes")
    return raw


def leaf_bytes(envelope: Mapping[str, object]) -> bytes:
    """JCS bytes of the whole signed envelope: the Merkle leaf and what the ledger stores."""
    return canonicalize(envelope if isinstance(envelope, dict) else dict(envelope))


def verify_prevalidated_event(envelope: Mapping[str, object], keyring: KeyRing) -> bytes:
    """:func:`verify_event`, then return :func:`leaf_bytes` — without the type scan, for validators.

    The caller guarantees that ``envelope`` is inside the fast domain of
    :func:`~chain_anchor.canonical.canonicalize_prevalidated` (e.g. it passed ``schemas.validate``). Every
    byte is encoded once: the top-level members that sort before ``sigkeyid`` and those that sort after
    ``signature`` are encoded as two objects, and the unsigned envelope and the leaf are both made of those
    two texts (JCS sorts members, so the two signature attributes sit between them, and their values, hex
    and base64 checked above, need no escaping). A member name that sorts between the two attributes
    (``"sigl"``) has them apart: then both texts are encoded whole. Raises what :func:`verify_event` raises.
    """
    sig_key_id = envelope.get(SIGKEYID_ATTRIBUTE)
    if not is_key_id(sig_key_id):
        raise EventSignatureError("'sigkeyid' must be 64 lower-case hex characters")
    signature_text = envelope.get(SIGNATURE_ATTRIBUTE)
    signature = decode_signature(signature_text)
    assert isinstance(signature_text, str)  # decode_signature checked it
    before: dict[str, object] = {}
    after: dict[str, object] = {}
    for key, value in envelope.items():
        if key < SIGKEYID_ATTRIBUTE:
            before[key] = value
        elif key > SIGNATURE_ATTRIBUTE:
            after[key] = value
        elif key != SIGKEYID_ATTRIBUTE and key != SIGNATURE_ATTRIBUTE:
            keyring.verify(sig_key_id, signature, TAG_EVENT + canonicalize_prevalidated(_unsigned(envelope)))
            return canonicalize_prevalidated(envelope if isinstance(envelope, dict) else dict(envelope))
    opening = canonicalize_prevalidated(before)[:-1]  # '{' + the members before
    closing = canonicalize_prevalidated(after)[1:]  # the members after + '}'
    keyring.verify(sig_key_id, signature, b"".join((TAG_EVENT, opening, b"," if before and after else b"", closing)))
    return b"".join((opening, b"," if before else b"", b'"sigkeyid":"', sig_key_id.encode("ascii"),
                     b'","signature":"', signature_text.encode("ascii"), b'"', b"," if after else b"", closing))


def verify_canonical_event(leaf: bytes, sig_key_id: object, signature_text: object, keyring: KeyRing) -> None:
    """:func:`verify_event` for an envelope given as its :func:`leaf_bytes`: the signing bytes are cut
    from them, nothing is encoded again. For validators, whose ``schemas.Event.canonical`` is those bytes.

    The caller guarantees that ``leaf`` is the RFC 8785 bytes of a signed envelope whose ``sigkeyid`` and
    ``signature`` are ``sig_key_id`` and ``signature_text``, and in which no member whose name sorts after
    ``signature`` holds an object or an array (an envelope that passed ``schemas.validate``: those members
    are ``source``, ``specversion``, ``subject``, ``time`` and ``type``, all strings).

    Why the cut is exact: JCS sorts members, so the unsigned envelope's bytes are the leaf less the text
    ``"sigkeyid":"…","signature":"…"`` and one comma beside it, provided the two members are adjacent (no
    name sorts between them; else that text is not found and the envelope is refused). The envelope's own
    ``"sigkeyid":"`` is the last one in the leaf: that text cannot lie inside a JCS string (a quote in a
    string is escaped, so ``d":"`` cannot occur there), and its first quote cannot close a string (a letter
    follows it), so every occurrence names a member of some object (and follows ``{`` or ``,``); every
    object that follows the envelope's own ``sigkeyid`` in the bytes would sit inside a member that sorts
    after ``signature`` — there is none.
    Raises what :func:`verify_event` raises, and :class:`~chain_anchor.errors.EventSignatureError` when the
    two members are not found side by side with these values.
    """
    if not is_key_id(sig_key_id):
        raise EventSignatureError("'sigkeyid' must be 64 lower-case hex characters")
    signature = decode_signature(signature_text)
    assert isinstance(signature_text, str)  # decode_signature checked it
    at = leaf.rfind(_SIGKEYID_MEMBER)
    if at <= 0 or leaf[at - 1] not in b",{":  # not JCS bytes: in JCS, that text is only ever a member name
        raise EventSignatureError("the leaf has no member 'sigkeyid'")
    members = b"".join((_SIGKEYID_MEMBER, sig_key_id.encode("ascii"), b'","signature":"',
                        signature_text.encode("ascii"), b'"'))
    if not leaf.startswith(members, at):
        raise EventSignatureError("the leaf does not hold these 'sigkeyid' and 'signature' side by side")
    end = at + len(members)
    if leaf[at - 1] == _COMMA:  # {…,"sigkeyid":…,"signature":…[,…]}: drop the comma before
        unsigned = (leaf[:at - 1], leaf[end:])
    else:  # {"sigkeyid":…,"signature":…[,…]}: drop the comma after, if any
        unsigned = (leaf[:at], leaf[end + 1:] if leaf[end:end + 1] == b"," else leaf[end:])
    keyring.verify(sig_key_id, signature, b"".join((TAG_EVENT, *unsigned)))


_SIGKEYID_MEMBER = b'"sigkeyid":"'
_COMMA = ord(",")
