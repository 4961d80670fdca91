"""``coalchain trust export``: write the trust file participants use to verify offline."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from services import db
from services.config import Settings
from services.keyfiles import sequencer_signer
from services.registry import fold_sealed_registry_events, from_genesis, participants_json
from services.rotation import genesis_sequencer_keys, stored_rotations
from services.store.postgres import LedgerStore
from services.trust import trust_json
from services.witness.config import load_witnesses_config


def configure_parser(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="trust_command", required=True)
    export = sub.add_parser("export", help="write the trust file (sequencer public keys + genesis participants)")
    export.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    export.add_argument("--genesis-only", action="store_true",
                        help="the genesis participants only (no database needed); default: genesis + every"
                        " registry event sealed in the ledger")


async def _participants(settings: Settings, genesis: dict[str, Any]) -> tuple[list[dict[str, Any]],
                                                                             list[dict[str, Any]]]:
    """Genesis participants plus every registry event sealed in the ledger (registrations, rotations), and
    the sequencer key rotations stored with the ledger."""
    registry = from_genesis(genesis)
    pool = await db.create_pool(settings, role="reader", min_size=1, max_size=1)
    try:
        await fold_sealed_registry_events(registry, LedgerStore(pool))
        rotations = await stored_rotations(pool)
    finally:
        await pool.close()
    return participants_json(registry), rotations


def run(args: argparse.Namespace, settings: Settings) -> int:
    genesis_path = settings.genesis_file or settings.home / "genesis.json"
    genesis = json.loads(genesis_path.read_text(encoding="utf-8"))
    rotations: list[dict[str, Any]] = []
    if not args.genesis_only:
        participants, rotations = asyncio.run(_participants(settings, genesis))
        genesis = {**genesis, "participants": participants}
    witnesses = load_witnesses_config(settings)
    anchors = list(dict.fromkeys([*genesis_sequencer_keys(genesis), sequencer_signer(settings).public_key_raw]))
    doc = trust_json(settings.ledger_id, anchors, genesis, [w.vkey for w in witnesses.witnesses], witnesses.quorum,
                     rotations)
    text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0
