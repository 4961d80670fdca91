"""``coalchain rotate``: hand the ledger from the current sequencer key to a new one (docs/operations.md).

With every sequencer of the ledger stopped (the command takes the sequencer's advisory lock, so it refuses
while one is active), it signs a rotation statement (``services/trustset.py``) with the old key and the new
key, naming the current head's header hash, and stores it in ``sequencer_rotations``. The next block (the
new key's first) links to that head by ``prev_hash``. Then: install the new key file, re-export the trust
file, start the sequencer.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from chain_anchor.canonical import canonicalize
from chain_anchor.keys import Signer
from services import db
from services.config import Settings
from services.keyfiles import load_or_create_signer, sequencer_key_path
from services.trustset import RotationInvalid, SequencerKeys, make_rotation, sequencer_keys, trusted_sequencer_keys

log = logging.getLogger(__name__)

SEQUENCER_LOCK_ID = 0x5E0_0001  # the same lock the sequencer holds while active (services/sequencer/service.py)


class RotationRefused(RuntimeError):
    """The rotation cannot be made now; the message says why and what to do."""


async def stored_rotations(conn: asyncpg.Connection | asyncpg.Pool) -> list[dict[str, Any]]:
    """The rotation documents stored with the ledger, in height order (none before migration 0011)."""
    if not await conn.fetchval("SELECT to_regclass('sequencer_rotations') IS NOT NULL"):
        return []
    rows = await conn.fetch("SELECT document FROM sequencer_rotations ORDER BY effective_height")
    return [json.loads(bytes(r["document"])) for r in rows]


def genesis_sequencer_keys(genesis: dict[str, Any]) -> list[bytes]:
    """The sequencer keys a genesis file names (``coalchain init`` writes them)."""
    return [base64.b64decode(k["public_key"], validate=True) for k in genesis.get("sequencer_keys", [])]


def deployment_anchors(settings: Settings) -> list[bytes]:
    """This deployment's trust anchors: the genesis file's sequencer keys and our own key file."""
    anchors: list[bytes] = []
    genesis = settings.genesis_file or settings.home / "genesis.json"
    if genesis.exists():
        anchors += genesis_sequencer_keys(json.loads(genesis.read_text(encoding="utf-8")))
    key = sequencer_key_path(settings)
    if key.exists() or settings.is_development():
        anchors.append(load_or_create_signer(key, create=settings.is_development()).public_key_raw)
    trust_set, _ = sequencer_keys(settings)  # what every blocks-topic reader of this deployment trusts
    anchors += list(trust_set.values()) if trust_set is not None else []
    return list(dict.fromkeys(anchors))


async def deployment_sequencer_keys(settings: Settings, conn: asyncpg.Connection | asyncpg.Pool) -> SequencerKeys:
    return trusted_sequencer_keys(deployment_anchors(settings), await stored_rotations(conn),
                                  ledger_id=settings.ledger_id)


async def check_signer(pool: asyncpg.Pool, signer: Signer, settings: Settings, next_height: int) -> None:
    """Refuse to seal with a key the stored rotations do not give ``next_height`` to (sequencer start)."""
    rotations = await stored_rotations(pool)
    if not rotations:
        return
    try:
        want = trusted_sequencer_keys([signer.public_key_raw], rotations,
                                      ledger_id=settings.ledger_id).key_id_at(next_height)
    except RotationInvalid as e:
        raise RotationRefused(f"the sequencer key {signer.key_id} does not follow the stored rotations: {e}") from e
    if want != signer.key_id:
        raise RotationRefused(f"the sequencer key {signer.key_id} is not the key the stored rotations give height"
                              f" {next_height} to ({want}): install the rotated key file")


async def rotate(settings: Settings, old: Signer, new: Signer) -> dict[str, Any]:
    """Store the signed handover from ``old`` to ``new`` after the current head; return the document."""
    conn = await db.connect(settings)
    try:
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", SEQUENCER_LOCK_ID):
            raise RotationRefused("a sequencer of this ledger is running (it holds the ledger's lock): stop every"
                                  " sequencer and standby first")
        try:
            head = await conn.fetchrow("SELECT height, header_hash, header FROM ledger_blocks"
                                       " ORDER BY height DESC LIMIT 1")
            height = -1 if head is None else int(head["height"])
            if head is not None:
                sealed_by = json.loads(bytes(head["header"]))["sequencer_key_id"]
                if sealed_by != old.key_id:
                    raise RotationRefused(f"the head (height {height}) is sealed by key {sealed_by}, not by the"
                                          f" current key {old.key_id}: use the key that sealed it")
            schedule = trusted_sequencer_keys([old.public_key_raw], await stored_rotations(conn),
                                              ledger_id=settings.ledger_id)
            if new.public_key_raw in schedule.ring.values():
                raise RotationRefused("the new key was already used by this ledger: generate a fresh one")
            doc = make_rotation(
                ledger_id=settings.ledger_id, effective_height=height + 1,
                last_header_hash=bytes(head["header_hash"]) if head is not None else bytes(32),
                old=old, new=new, rotated_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            )
            trusted_sequencer_keys([old.public_key_raw], [*await stored_rotations(conn), doc],
                                   ledger_id=settings.ledger_id)  # the chain still verifies with it
            await conn.execute("INSERT INTO sequencer_rotations (effective_height, old_key_id, new_key_id, document)"
                               " VALUES ($1, $2, $3, $4)", height + 1, old.key_id, new.key_id, canonicalize(doc))
            log.info("sequencer key rotation stored: %s -> %s from height %d", old.key_id, new.key_id, height + 1)
            return doc
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", SEQUENCER_LOCK_ID)
    finally:
        await conn.close()


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--new-key", type=Path, required=True,
                   help="the new sequencer key (PKCS#8 PEM); created (mode 0600) if the file does not exist")


def _new_signer(path: Path) -> Signer:
    if path.exists():
        return Signer.from_pem(path.read_bytes())
    signer = Signer.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(signer.to_pem())
    return signer


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        old = load_or_create_signer(sequencer_key_path(settings), create=False)
        new = _new_signer(args.new_key)
        doc = asyncio.run(rotate(settings, old, new))
    except (RotationRefused, RotationInvalid, FileNotFoundError, ValueError) as e:
        print(f"coalchain rotate: {e}")
        return 1
    st = doc["statement"]
    print(f"rotation stored: blocks from height {st['effective_height']} are sealed by the new key\n"
          f"  old key id {st['old_key_id']}\n  new key id {st['new_key_id']}\n"
          f"next: install {args.new_key} as the sequencer key (COALCHAIN_SEQUENCER_KEY_FILE), start the sequencer,"
          " and send participants the new trust file (coalchain trust export)")
    return 0
