"""Offline verification of a receipt bundle (``docs/receipts.md``): trust file in, verdict out, no network.

:func:`verify_bundle` runs the checks in this order and raises :class:`BundleInvalid` at the first
failure, with ``.check`` naming it (the codes of :data:`services.receipts.errors.CHECKS`):

1. ``format`` / ``ledger`` — a v1 bundle for the trust file's ledger;
2. ``checkpoint`` / ``witness`` — the C2SP checkpoint is signed by a sequencer key of the trust file under
   the ledger's origin, for the bundle's tree size; trusted witnesses' cosignatures verify (at least
   ``witness_quorum`` of them);
3. ``header`` / ``anchor`` — every block header is well-formed, for this ledger, signed by its sequencer
   key (a trusted one); the block at the bundle's tree size has the checkpoint's root;
4. per event: ``signer`` (publisher and key in the trust file), ``signature`` (Ed25519 over the envelope),
   ``inclusion`` (RFC 6962 proof of ``JCS(event)`` at its leaf index against the checkpoint root, and the leaf
   inside the block it names), then ``format`` (schema) and ``signer`` (role and ownership, as validators
   check them);
5. ``consistency`` — the events describe one shipment, with everything a receipt needs;
6. ``buyer`` — the receipt is signed by the buyer of the order;
7. ``key_ids`` and ``discrepancies`` — the bundle's summaries equal what the signed data say.

What a valid bundle does NOT prove: that the ledger holds no *other* event about the shipment (a bundle
proves inclusion, not absence), nor that the tree it is anchored in is the one everybody else sees (compare
checkpoints with witnesses or your own replica for that).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import schemas
from chain_anchor.block import BlockHeader, HeaderSignature, verify_header
from chain_anchor.canonical import canonicalize
from chain_anchor.checkpoint import Checkpoint, parse_note, verify_checkpoint
from chain_anchor.errors import (
    BadSignature,
    CanonicalizationError,
    ChainAnchorError,
    EventSignatureError,
    QuorumNotMet,
    RootMismatch,
    UnknownKey,
)
from chain_anchor.events import verify_event
from chain_anchor.hashing import leaf_hash
from chain_anchor.merkle import verify_inclusion
from schemas import ijson
from services.receipts.discrepancy import Tolerances, discrepancies
from services.receipts.errors import BundleInvalid
from services.receipts.shipment import KINDS, LedgerEvent, Shipment, kind_of
from services.registry import Participant
from services.sequencer.sealing import checkpoint_origin
from services.trust import Trust
from services.validator.checks import owns

__all__ = ["BUNDLE_FORMAT", "VerifiedReceipt", "key_ids", "load_bundle", "verify_bundle"]

BUNDLE_FORMAT = "taijiao-coalchain/receipt-bundle/v1"
_MEMBERS = frozenset({"format", "ledger_id", "shipment_id", "tree_size", "checkpoint", "blocks", "events",
                      "key_ids", "tolerances", "discrepancies"})
_EVENT_MEMBERS = frozenset({"kind", "leaf_index", "height", "event", "inclusion_proof"})
_BLOCK_MEMBERS = frozenset({"height", "header", "signatures"})
_HEX32 = re.compile(r"[0-9a-f]{64}")
_SINGLE_KINDS = ("order", "loading", "unloading", "assay", "receipt")


@dataclass(frozen=True)
class VerifiedReceipt:
    """What a bundle proved: the shipment's events, the blocks that hold them, the signed tree head."""

    ledger_id: str
    tree_size: int
    checkpoint: Checkpoint
    anchor: BlockHeader
    blocks: Mapping[int, BlockHeader]
    shipment: Shipment
    participants: Mapping[str, Participant]
    key_ids: Mapping[str, Any]
    tolerances: Tolerances
    discrepancies: Sequence[Mapping[str, Any]]
    witnesses_verified: int

    @property
    def decision(self) -> str:
        assert self.shipment.receipt is not None
        return "confirmed" if self.shipment.receipt.name == "DeliveryConfirmed" else "disputed"


def verify_bundle(bundle: object, trust: Trust, *, witness_quorum: int = 0) -> VerifiedReceipt:
    """Verify ``bundle`` (the decoded JSON document) with the keys of ``trust`` only. See the module doc."""
    doc = _structure(bundle)
    if doc["ledger_id"] != trust.ledger_id:
        raise BundleInvalid("ledger", f"bundle is for ledger {doc['ledger_id']!r}; the trust file is for"
                            f" {trust.ledger_id!r}", where="ledger_id")
    checkpoint, witnesses = _checkpoint(doc, trust, witness_quorum)
    blocks = _blocks(doc["blocks"], trust)
    anchor = _anchor(blocks, doc["tree_size"], checkpoint)
    events = [_event(i, entry, trust, blocks, checkpoint) for i, entry in enumerate(doc["events"])]
    shipment = Shipment.from_events(doc["shipment_id"], events)
    _consistency(shipment, events)
    _buyer(shipment)
    ids = key_ids(blocks_signatures=_signature_key_ids(doc["blocks"]), events=events)
    if doc["key_ids"] != ids:
        raise BundleInvalid("key_ids", f"key_ids {doc['key_ids']} do not match the keys that signed: {ids}",
                            where="key_ids")
    tolerances = _tolerances(doc["tolerances"])
    marks = discrepancies(shipment, tolerances)
    if doc["discrepancies"] != marks:
        raise BundleInvalid("discrepancies", f"the bundle marks {doc['discrepancies']} but the signed figures"
                            f" give {marks} under its own tolerances", where="discrepancies")
    return VerifiedReceipt(
        ledger_id=trust.ledger_id, tree_size=doc["tree_size"], checkpoint=checkpoint, anchor=anchor,
        blocks=blocks, shipment=shipment, participants=dict(trust.registry.participants), key_ids=ids,
        tolerances=tolerances, discrepancies=marks, witnesses_verified=witnesses,
    )


def load_bundle(raw: bytes) -> object:
    """Parse a bundle file as I-JSON (RFC 7493, which RFC 8785 requires): a duplicated member name anywhere —
    in the bundle, a block header or an event — is refused with check ``format``, because two parsers may
    keep different values of it (one shows ``"total_net_weight_kg": 1``, another the signed figure)."""
    try:
        return ijson.loads(raw)
    except ValueError as e:
        raise BundleInvalid("format", f"not I-JSON: {e}") from None


def key_ids(*, blocks_signatures: Iterable[str], events: Iterable[LedgerEvent]) -> dict[str, Any]:
    """The ``key_ids`` member: sequencer keys that signed the headers, each publisher's event keys."""
    participants: dict[str, set[str]] = {}
    for e in events:
        participants.setdefault(e.participant, set()).add(e.key_id)
    return {"sequencer": sorted(set(blocks_signatures)),
            "participants": {p: sorted(k) for p, k in sorted(participants.items())}}


# --- 1. structure --------------------------------------------------------------------------------------


def _fail_format(message: str, where: str = "") -> BundleInvalid:
    return BundleInvalid("format", message, where=where)


def _is_index(value: object) -> bool:
    return type(value) is int and 0 <= value <= 2**53 - 1


def _structure(bundle: object) -> Mapping[str, Any]:
    if not isinstance(bundle, Mapping):
        raise _fail_format("a bundle is a JSON object")
    if bundle.get("format") != BUNDLE_FORMAT:
        raise _fail_format(f"'format' must be {BUNDLE_FORMAT!r}, got {bundle.get('format')!r}", "format")
    missing, unknown = sorted(_MEMBERS - set(bundle)), sorted(set(bundle) - _MEMBERS)
    if missing or unknown:
        raise _fail_format(f"members missing {missing}, unknown {unknown}")
    for name, ok, what in (
        ("ledger_id", isinstance(bundle["ledger_id"], str), "a string"),
        ("shipment_id", isinstance(bundle["shipment_id"], str), "a string"),
        ("tree_size", _is_index(bundle["tree_size"]) and bundle["tree_size"] > 0, "a positive integer"),
        ("checkpoint", isinstance(bundle["checkpoint"], str), "the signed note text"),
        ("blocks", isinstance(bundle["blocks"], list) and bundle["blocks"], "a non-empty array"),
        ("events", isinstance(bundle["events"], list) and bundle["events"], "a non-empty array"),
        ("key_ids", isinstance(bundle["key_ids"], Mapping), "an object"),
        ("discrepancies", isinstance(bundle["discrepancies"], list), "an array"),
    ):
        if not ok:
            raise _fail_format(f"must be {what}", name)
    return bundle


# --- 2. checkpoint -------------------------------------------------------------------------------------


def _checkpoint(doc: Mapping[str, Any], trust: Trust, witness_quorum: int) -> tuple[Checkpoint, int]:
    origin = checkpoint_origin(trust.ledger_id)
    try:
        checkpoint = verify_checkpoint(doc["checkpoint"], trust.checkpoint_verifiers(origin), origin=origin)
    except QuorumNotMet:
        raise BundleInvalid("checkpoint", f"the checkpoint carries no signature by a sequencer key of the trust"
                            f" file under {origin!r}", where="checkpoint") from None
    except BadSignature:
        raise BundleInvalid("checkpoint", "the checkpoint's sequencer signature does not verify (the note text"
                            " or the signature was changed)", where="checkpoint") from None
    except ChainAnchorError as e:
        raise BundleInvalid("checkpoint", str(e), where="checkpoint") from None
    if checkpoint.tree_size != doc["tree_size"]:
        raise BundleInvalid("checkpoint", f"the checkpoint is for tree size {checkpoint.tree_size}, the bundle"
                            f" for {doc['tree_size']}", where="checkpoint")
    return checkpoint, _witnesses(doc["checkpoint"], trust, witness_quorum)


def _witnesses(note_text: str, trust: Trust, quorum: int) -> int:
    """How many distinct trusted witnesses cosigned (every trusted cosignature present must verify)."""
    note = parse_note(note_text)
    trusted = {(w.name, w.key_id): w for w in trust.witnesses}
    verified: set[tuple[str, int]] = set()
    for line in note.signatures:
        witness = trusted.get((line.name, line.key_id))
        if witness is None:
            continue
        try:
            witness.verify(note.text.encode("utf-8"), line)
        except ChainAnchorError as e:
            raise BundleInvalid("witness", f"the cosignature of witness {line.name} does not verify: {e}",
                                where="checkpoint") from None
        verified.add((line.name, line.key_id))
    if len(verified) < quorum:
        raise BundleInvalid("witness", f"quorum not met: {len(verified)} of the {quorum} required trusted witness"
                            " cosignatures", where="checkpoint")
    return len(verified)


# --- 3. blocks -----------------------------------------------------------------------------------------


def _signature_key_ids(blocks: Sequence[Mapping[str, Any]]) -> list[str]:
    return [str(s.get("key_id")) for b in blocks for s in b["signatures"]]


def _blocks(entries: Sequence[object], trust: Trust) -> dict[int, BlockHeader]:
    out: dict[int, BlockHeader] = {}
    previous = -1
    for i, entry in enumerate(entries):
        where = f"blocks[{i}]"
        if not isinstance(entry, Mapping) or set(entry) != _BLOCK_MEMBERS or not isinstance(entry["signatures"], list):
            raise _fail_format(f"a block is an object with exactly {sorted(_BLOCK_MEMBERS)}", where)
        try:
            header = BlockHeader.from_json(entry["header"])
            signatures = [HeaderSignature.from_json(s) for s in entry["signatures"]]
            verify_header(header, signatures, trust.sequencer_keys)
        except UnknownKey as e:
            raise BundleInvalid("header", f"header signed by key {e.key_id}, which is not a sequencer key of the"
                                " trust file", where=where) from None
        except BadSignature:
            raise BundleInvalid("header", f"the signature of block {header.height}'s header does not verify (the"
                                " header or its signature was changed)", where=where) from None
        except ChainAnchorError as e:
            raise BundleInvalid("header", str(e), where=where) from None
        if header.ledger_id != trust.ledger_id:
            raise BundleInvalid("header", f"header is for ledger {header.ledger_id!r}", where=where)
        if problem := trust.sequencer_key_problem(header.height, header.sequencer_key_id):  # key rotations
            raise BundleInvalid("header", problem, where=where)
        if entry["height"] != header.height or header.height <= previous:
            raise BundleInvalid("header", f"height {entry['height']!r} does not match the header's"
                                f" {header.height}, or blocks are not in increasing height", where=where)
        previous = header.height
        out[header.height] = header
    return out


def _anchor(blocks: Mapping[int, BlockHeader], tree_size: int, checkpoint: Checkpoint) -> BlockHeader:
    for header in blocks.values():
        if header.tree_size > tree_size:
            raise BundleInvalid("anchor", f"block {header.height} ends at tree size {header.tree_size}, beyond the"
                                f" bundle's {tree_size}", where=f"blocks[height={header.height}]")
    anchor = next((h for h in blocks.values() if h.tree_size == tree_size), None)
    if anchor is None:
        raise BundleInvalid("anchor", f"no block header ends at the bundle's tree size {tree_size}", where="blocks")
    if anchor.log_root != checkpoint.root_hash:
        raise BundleInvalid("anchor", f"block {anchor.height}'s log root {anchor.log_root.hex()} is not the"
                            f" checkpoint root {checkpoint.root_hash.hex()}", where=f"blocks[height={anchor.height}]")
    return anchor


# --- 4. events -----------------------------------------------------------------------------------------


def _event(i: int, entry: object, trust: Trust, blocks: Mapping[int, BlockHeader],
           checkpoint: Checkpoint) -> LedgerEvent:
    where = f"events[{i}]"
    envelope, leaf_index, height, proof = _event_structure(entry, where)
    event = LedgerEvent(envelope, leaf_index, height)
    label = f"{event.name} {event.id} (leaf {leaf_index})"
    participant = _signer_key(event, trust, where, label)
    try:
        verify_event(envelope, participant.keys)
    except (BadSignature, EventSignatureError) as e:
        raise BundleInvalid("signature", f"{label}: the publisher signature of {event.participant} does not verify"
                            f" — the event was changed after signing ({e})", where=where) from None
    except CanonicalizationError as e:
        raise _fail_format(f"{label}: not canonical JSON data: {e}", where) from None
    _inclusion(event, proof, checkpoint, blocks, where, label)
    _schema(event, where, label)
    assert isinstance(entry, Mapping)
    if entry["kind"] != event.kind:
        raise _fail_format(f"{label}: kind {entry['kind']!r} but a {event.name} is a {event.kind!r}", where)
    _role(event, participant, where, label)
    return event


def _event_structure(entry: object, where: str) -> tuple[dict[str, Any], int, int, list[bytes]]:
    if not isinstance(entry, Mapping) or set(entry) != _EVENT_MEMBERS:
        raise _fail_format(f"an event entry is an object with exactly {sorted(_EVENT_MEMBERS)}", where)
    envelope, proof = entry["event"], entry["inclusion_proof"]
    if not isinstance(envelope, dict):
        raise _fail_format("'event' must be the signed CloudEvent object", where)
    if entry["kind"] not in KINDS or kind_of(envelope.get("type")) is None:
        raise _fail_format(f"kind {entry['kind']!r} / type {envelope.get('type')!r} is not part of a receipt", where)
    if not _is_index(entry["leaf_index"]) or not _is_index(entry["height"]):
        raise _fail_format("'leaf_index' and 'height' must be non-negative integers", where)
    if not isinstance(proof, list) or not all(isinstance(h, str) and _HEX32.fullmatch(h) for h in proof):
        raise _fail_format("'inclusion_proof' must be an array of 64-character lower-case hex hashes", where)
    return envelope, entry["leaf_index"], entry["height"], [bytes.fromhex(h) for h in proof]


def _signer_key(event: LedgerEvent, trust: Trust, where: str, label: str) -> Participant:
    participant = trust.registry.get(event.participant)
    if participant is None:
        raise BundleInvalid("signer", f"{label}: publisher {event.envelope.get('source')!r} is not a participant"
                            " of the trust file", where=where)
    if event.key_id not in participant.keys:
        raise BundleInvalid("signer", f"{label}: signed with key {event.key_id!r}, which is not a key of"
                            f" {participant.id} in the trust file", where=where)
    return participant


def _inclusion(event: LedgerEvent, proof: list[bytes], checkpoint: Checkpoint, blocks: Mapping[int, BlockHeader],
               where: str, label: str) -> None:
    try:
        verify_inclusion(leaf_hash=leaf_hash(canonicalize(event.envelope)), index=event.leaf_index,
                         tree_size=checkpoint.tree_size, proof=proof, root=checkpoint.root_hash)
    except RootMismatch:
        raise BundleInvalid("inclusion", f"{label}: the inclusion proof does not lead to the checkpoint root at"
                            f" tree size {checkpoint.tree_size} (event, leaf index or proof changed)",
                            where=where) from None
    except ChainAnchorError as e:
        raise BundleInvalid("inclusion", f"{label}: the inclusion proof does not fit leaf index {event.leaf_index}"
                            f" of tree size {checkpoint.tree_size}: {e}", where=where) from None
    block = blocks.get(event.height)
    if block is None:
        raise BundleInvalid("inclusion", f"{label}: names block {event.height}, whose header is not in the bundle",
                            where=where)
    if not block.first_leaf_index <= event.leaf_index < block.tree_size:
        raise BundleInvalid("inclusion", f"{label}: block {block.height} holds leaves {block.first_leaf_index}"
                            f"..{block.tree_size - 1}, not {event.leaf_index}", where=where)


def _schema(event: LedgerEvent, where: str, label: str) -> None:
    try:
        schemas.validate(dict(event.envelope))
    except schemas.SchemaError as e:
        raise _fail_format(f"{label}: not a valid {event.name}: {e}", where) from None


def _role(event: LedgerEvent, participant: Participant, where: str, label: str) -> None:
    entry = schemas.event_type(str(event.envelope["type"]))
    roles = set(entry.publisher_roles)
    if not participant.roles & roles:
        raise BundleInvalid("signer", f"{label}: signed by {participant.id} with roles {sorted(participant.roles)};"
                            f" a {event.name} must come from one of {sorted(roles)}", where=where)
    if entry.owner_kind is not None and "admin" not in participant.roles:
        value = entry.owner(event.envelope)
        if not owns(participant, entry.owner_kind, value):
            raise BundleInvalid("signer", f"{label}: {participant.id} may not publish a {event.name} for"
                                f" {entry.owner_field}={value!r}", where=where)


# --- 5.-7. what the events say together ----------------------------------------------------------------


def _consistency(shipment: Shipment, events: Sequence[LedgerEvent]) -> None:
    _unique(events)
    receipt = shipment.receipt
    if receipt is None:
        raise BundleInvalid("consistency", "the bundle holds no DeliveryConfirmed or DeliveryDisputed")
    sid = shipment.shipment_id
    if receipt.data.get("shipment_id") != sid or receipt.envelope.get("subject") != sid:
        raise BundleInvalid("consistency", f"the receipt is for shipment {receipt.data.get('shipment_id')!r}, the"
                            f" bundle for {sid!r}")
    order_id = receipt.data.get("order_id")
    for e in events:
        _same(e, "shipment_id", sid, required=e.kind in ("loading", "unloading", "truck"))
        _same(e, "order_id", order_id, required=e.kind in ("order", "loading", "unloading"))
    if shipment.assay is not None and shipment.assay.data.get("lot_id") != shipment.lot_id:
        raise BundleInvalid("consistency", f"the lot assay is for lot {shipment.assay.data.get('lot_id')!r}, the"
                            f" shipment carried lot {shipment.lot_id!r}")
    if shipment.transport == "rail" and (shipment.loading is None or shipment.unloading is None):
        raise BundleInvalid("consistency", f"rail shipment {sid}: the bundle must hold its WagonsLoaded and its"
                            " WagonsUnloaded")
    if shipment.transport == "rail" and shipment.trucks:
        raise BundleInvalid("consistency", f"rail shipment {sid}: a rail bundle holds no weigh ticket, but it holds"
                            f" {[str(t.data.get('ticket_no')) for t in shipment.trucks]}")
    if shipment.transport == "truck" and not shipment.trucks:
        raise BundleInvalid("consistency", f"shipment {sid}: the bundle holds no WagonsLoaded, WagonsUnloaded"
                            " or weigh ticket: nothing says what was delivered")
    for ticket in shipment.trucks:
        if ticket.data.get("direction") != "outbound":
            raise BundleInvalid("consistency", f"weigh ticket {ticket.data.get('ticket_no')} (leaf"
                                f" {ticket.leaf_index}) is {ticket.data.get('direction')}; a receipt holds outbound"
                                " tickets only (the delivery)")


def _unique(events: Sequence[LedgerEvent]) -> None:
    indices = [e.leaf_index for e in events]
    if indices != sorted(set(indices)):
        raise BundleInvalid("format", "events must be in strictly increasing leaf index order", where="events")
    for kind in _SINGLE_KINDS:
        if sum(1 for e in events if e.kind == kind) > 1:
            raise BundleInvalid("consistency", f"more than one {kind!r} event in the bundle")


def _same(event: LedgerEvent, name: str, expected: object, *, required: bool) -> None:
    value = event.data.get(name)
    if (value is None and not required) or value == expected:
        return
    raise BundleInvalid("consistency", f"{event.name} {event.id} (leaf {event.leaf_index}) has {name}={value!r};"
                        f" the receipt says {expected!r}")


def _buyer(shipment: Shipment) -> None:
    receipt = shipment.receipt
    assert receipt is not None
    buyer = shipment.buyer_id
    if buyer is None:
        raise BundleInvalid("buyer", "the bundle names no buyer: it holds neither the order (DemandPosted) nor the"
                            " WagonsLoaded")
    source = "order " + str(shipment.order_id) if shipment.order else "the WagonsLoaded consignee"
    if receipt.participant != buyer or receipt.data.get("buyer_id") != buyer:
        raise BundleInvalid("buyer", f"the {receipt.name} is signed by {receipt.participant} for buyer"
                            f" {receipt.data.get('buyer_id')!r}; the buyer of {source} is {buyer}")


def _tolerances(doc: object) -> Tolerances:
    try:
        return Tolerances.from_json(doc)
    except ValueError as e:
        raise _fail_format(str(e), "tolerances") from None

