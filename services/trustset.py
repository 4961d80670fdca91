"""The trust set: which sequencer public keys this deployment's readers accept.

The one place every consumer of the blocks topic (views, replica, status) gets the sequencer keys from:
the trust file ``$COALCHAIN_HOME/trust.json`` (``coalchain trust export``) if there is one, else this
deployment's sequencer key file (its public half; development). A trust file's rotations are followed there
(:func:`services.trust.trust_from_json` calls :func:`trusted_sequencer_keys`).

Key rotation: a ledger starts with the sequencer keys its trust anchor names (the genesis file's
``sequencer_keys``, a trust file's ``sequencer_keys``, or this deployment's own key file). A **rotation
statement** hands the ledger from one key to the next at a block boundary: the old key signs it (the
handover) and the new key signs it (it accepts), and it names the hash of the old key's last block, so the new
key's first block (which links to that header by ``prev_hash``) cannot be put anywhere else.
Byte format (``docs/ledger-format.md``):

    statement = {"format": "coalchain-sequencer-rotation/v1", "ledger_id", "effective_height",
                 "last_header_hash" (hex; 64 zeros when effective_height is 0),
                 "old_key_id", "old_public_key", "new_key_id", "new_public_key" (base64), "rotated_at"}
    signed bytes = b"coalchain-sequencer-rotation/v1\\n" || JCS(statement)
    stored / in the trust file: {"statement": statement, "signatures": [{"key_id", "signature"}, ...]}

:func:`trusted_sequencer_keys` checks every statement and returns a :class:`SequencerKeys`: the key ring
for signature checks plus the one key that must have sealed each height. Used by ``coalchain verify``,
replicas, ``receipt verify`` (through the trust file) and the views' head check."""

from __future__ import annotations

import base64
import binascii
import itertools
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chain_anchor.canonical import canonicalize
from chain_anchor.errors import ChainAnchorError
from chain_anchor.keys import KeyRing, Signer, key_id
from services.config import Settings
from services.keyfiles import load_or_create_signer, sequencer_key_path

log = logging.getLogger(__name__)

ROTATION_FORMAT = "coalchain-sequencer-rotation/v1"
ROTATION_TAG = ROTATION_FORMAT.encode() + b"\n"
ZERO_HASH_HEX = "0" * 64


class RotationInvalid(ValueError):
    """A rotation statement that must not be followed; the message names the field and the rule."""


@dataclass(frozen=True)
class Rotation:
    ledger_id: str
    effective_height: int
    last_header_hash: bytes
    old_key: bytes
    new_key: bytes
    rotated_at: str
    document: Mapping[str, Any]  # {"statement", "signatures"} exactly as signed and stored

    @property
    def old_key_id(self) -> str:
        return key_id(self.old_key)

    @property
    def new_key_id(self) -> str:
        return key_id(self.new_key)


@dataclass(frozen=True)
class SequencerKeys:
    """The trusted sequencer keys and, once a ledger has rotated, which key sealed which heights."""

    ring: KeyRing
    rotations: tuple[Rotation, ...] = ()

    def key_id_at(self, height: int) -> str | None:
        """The key id that must have sealed ``height``; ``None``: any key of the ring (no rotation)."""
        if not self.rotations:
            return None
        current = self.rotations[0].old_key_id
        for r in self.rotations:
            if height >= r.effective_height:
                current = r.new_key_id
        return current

    def handover_hash(self, height: int) -> bytes | None:
        """The header hash a rotation requires of block ``height`` (the old key's last block), if any."""
        for r in self.rotations:
            if r.effective_height == height + 1:
                return r.last_header_hash
        return None

    def check_block(self, height: int, sequencer_key_id: str, header_hash: bytes) -> None:
        """Raise :class:`RotationInvalid` if the block at ``height`` breaks the rotation schedule."""
        want = self.key_id_at(height)
        if want is not None and sequencer_key_id != want:
            raise RotationInvalid(f"block {height} is sealed by key {sequencer_key_id[:16]}…, but the rotation"
                                  f" schedule says key {want[:16]}… seals this height")
        handover = self.handover_hash(height)
        if handover is not None and handover != header_hash:
            raise RotationInvalid(f"block {height} is not the block the rotation at height {height + 1} hands over"
                                  " (last_header_hash differs)")


def statement_bytes(statement: Mapping[str, Any]) -> bytes:
    return ROTATION_TAG + canonicalize(dict(statement))


def make_rotation(*, ledger_id: str, effective_height: int, last_header_hash: bytes, old: Signer, new: Signer,
                  rotated_at: str) -> dict[str, Any]:
    """The signed rotation document (old key: handover, new key: acceptance)."""
    statement = {
        "format": ROTATION_FORMAT,
        "ledger_id": ledger_id,
        "effective_height": effective_height,
        "last_header_hash": last_header_hash.hex(),
        "old_key_id": old.key_id,
        "old_public_key": base64.b64encode(old.public_key_raw).decode(),
        "new_key_id": new.key_id,
        "new_public_key": base64.b64encode(new.public_key_raw).decode(),
        "rotated_at": rotated_at,
    }
    message = statement_bytes(statement)
    signatures = [{"key_id": s.key_id, "signature": base64.b64encode(s.sign(message)).decode()} for s in (old, new)]
    return {"statement": statement, "signatures": signatures}


def _public_key(statement: Mapping[str, Any], name: str) -> bytes:
    try:
        raw = base64.b64decode(str(statement[name]), validate=True)
    except (KeyError, binascii.Error) as e:
        raise RotationInvalid(f"{name}: must be the base64 of a 32-byte Ed25519 key") from e
    if len(raw) != 32:
        raise RotationInvalid(f"{name}: must be the base64 of a 32-byte Ed25519 key")
    if statement.get(name.replace("public_key", "key_id")) != key_id(raw):
        raise RotationInvalid(f"{name.replace('public_key', 'key_id')}: is not the SHA-256 of {name}")
    return raw


def parse_rotation(doc: Mapping[str, Any], ledger_id: str) -> Rotation:
    """Check one rotation document's fields and both signatures; raise :class:`RotationInvalid`."""
    statement = doc.get("statement")
    if not isinstance(statement, Mapping) or statement.get("format") != ROTATION_FORMAT:
        raise RotationInvalid(f"statement.format: must be {ROTATION_FORMAT!r}")
    if statement.get("ledger_id") != ledger_id:
        raise RotationInvalid(f"statement.ledger_id: is {statement.get('ledger_id')!r}, not {ledger_id!r}")
    height = statement.get("effective_height")
    if type(height) is not int or height < 0:
        raise RotationInvalid("statement.effective_height: must be a non-negative integer")
    try:
        last = bytes.fromhex(str(statement.get("last_header_hash")))
    except ValueError as e:
        raise RotationInvalid("statement.last_header_hash: must be 64 hex characters") from e
    if len(last) != 32 or (height == 0) != (last == bytes(32)):
        raise RotationInvalid("statement.last_header_hash: must be the 32-byte hash of block effective_height - 1"
                              " (zeros only at height 0)")
    old, new = _public_key(statement, "old_public_key"), _public_key(statement, "new_public_key")
    if old == new:
        raise RotationInvalid("statement.new_public_key: must differ from old_public_key")
    message = statement_bytes(statement)
    sigs = {str(s.get("key_id")): str(s.get("signature")) for s in doc.get("signatures", []) if isinstance(s, Mapping)}
    for who, raw in (("old", old), ("new", new)):
        kid = key_id(raw)
        if kid not in sigs:
            raise RotationInvalid(f"signatures: no signature by the {who} key {kid[:16]}…")
        try:
            KeyRing([raw]).verify(kid, base64.b64decode(sigs[kid], validate=True), message)
        except (ChainAnchorError, binascii.Error) as e:
            raise RotationInvalid(f"signatures: the {who} key's signature does not verify") from e
    return Rotation(ledger_id, height, last, old, new, str(statement.get("rotated_at", "")), doc)


def trusted_sequencer_keys(anchors: Iterable[bytes], rotations: Sequence[Mapping[str, Any]] = (), *,
                           ledger_id: str) -> SequencerKeys:
    """THE trusted sequencer keys: the anchors, plus the keys a valid chain of rotations hands over to.

    The rotations must form one chain in height order (each one's old key is the previous one's new key).
    Every link is signed by both of its keys, so an anchor may be any key of the chain: the first key (a
    genesis or trust file), or the current one (a deployment's own key file after a rotation). Raises
    :class:`RotationInvalid` when a statement does not verify, the chain is broken, or no anchor is in it.
    """
    anchor_list = list(anchors)
    chain = sorted((parse_rotation(doc, ledger_id) for doc in rotations), key=lambda r: r.effective_height)
    if not chain:
        return SequencerKeys(KeyRing(anchor_list))
    for prev, nxt in itertools.pairwise(chain):
        if nxt.old_key != prev.new_key:
            raise RotationInvalid(f"rotation at height {nxt.effective_height}: its old key is not the key the"
                                  f" rotation at height {prev.effective_height} handed over to")
        if nxt.effective_height <= prev.effective_height:
            raise RotationInvalid(f"two rotations at height {nxt.effective_height}")
    chain_keys = [chain[0].old_key, *(r.new_key for r in chain)]
    if not set(anchor_list) & set(chain_keys):
        raise RotationInvalid("no trusted sequencer key is part of the rotation chain")
    return SequencerKeys(KeyRing(chain_keys), tuple(chain))


def sequencer_keys(settings: Settings) -> tuple[KeyRing | None, str]:
    """The sequencer public keys to verify blocks with (``None``: none configured) and where they came from."""
    from services.trust import load_trust  # (services.trust builds its keys with this module)

    trust_file = settings.home / "trust.json"
    try:
        if trust_file.exists():
            return load_trust(trust_file).sequencer_keys, str(trust_file)
        key_file = sequencer_key_path(settings)
        if key_file.exists():
            return KeyRing([load_or_create_signer(key_file, create=False).public_key_raw]), str(key_file)
    except (OSError, ValueError, KeyError) as e:
        log.warning("cannot load the sequencer public key: %s", e)
        return None, f"cannot load the sequencer public key: {e}"
    return None, "no trust file and no sequencer key file"
