"""``coalchain init``: the consortium's set-up ceremony for a real deployment.

Writes, into ``--dir`` (default ``deploy/``, where docker-compose.yml mounts them):

* ``sequencer.key``  — the sequencer's Ed25519 private key (PKCS#8 PEM, mode 0600; the compose secret);
* ``validator.key``  — the validators' verdict-signing key (mode 0600; the compose secret), listed in the
  genesis file's ``validators``: the sequencer seals only verdicts signed by such a key;
* ``admin-keys/<id>.pem`` — one private key per consortium administrator (mode 0600: move them offline);
* ``genesis.json``   — the participant registry at height 0 (the administrators plus ``--participants``)
  and the ledger's first sequencer key (``sequencer_keys``, the anchor of later key rotations);
* ``trust.json``     — what every participant needs to verify the ledger and receipts offline.

It prints the key ids and the SHA-256 of genesis.json, for every participant to compare over another channel
before trusting the ledger. It never overwrites an existing file.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chain_anchor.keys import Signer
from services.config import Settings
from services.registry import from_genesis, validator_entry
from services.simulator.keys import GENESIS_FORMAT
from services.trust import trust_json


class CeremonyError(Exception):
    pass


def _write_new(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise CeremonyError(f"{path} exists: init never overwrites (move it away to start a new ledger)") from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def public_entry(signer: Signer) -> dict[str, str]:
    return {"key_id": signer.key_id, "public_key": base64.b64encode(signer.public_key_raw).decode()}


def ceremony(directory: Path, *, ledger_id: str, admins: list[str], participants: list[dict[str, Any]],
             now: datetime) -> dict[str, Any]:
    """Create the keys and files; return what was made (key ids, genesis hash, paths)."""
    targets = [directory / "sequencer.key", directory / "validator.key", directory / "genesis.json",
               directory / "trust.json",
               *(directory / "admin-keys" / f"{a}.pem" for a in admins)]
    for t in targets:
        if t.exists():
            raise CeremonyError(f"{t} exists: init never overwrites (move it away to start a new ledger)")
    sequencer = Signer.generate()
    validator = Signer.generate()
    admin_signers = {a: Signer.generate() for a in admins}
    genesis: dict[str, Any] = {
        "format": GENESIS_FORMAT,
        "ledger_id": ledger_id,
        "created": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sequencer_keys": [public_entry(sequencer)],
        "validators": [validator_entry(validator.public_key_raw, "validator-1")],
        "participants": [
            *({"id": a, "name": a, "name_en": a, "roles": ["admin"], "mines": [], "stations": [],
               "keys": [public_entry(s)]} for a, s in admin_signers.items()),
            *participants,
        ],
    }
    from_genesis(genesis)  # every participant entry must parse (ids, keys) before anything is written
    genesis_bytes = (json.dumps(genesis, ensure_ascii=False, indent=2) + "\n").encode()
    trust = trust_json(ledger_id, [sequencer.public_key_raw], genesis)
    _write_new(directory / "sequencer.key", sequencer.to_pem(), 0o600)
    _write_new(directory / "validator.key", validator.to_pem(), 0o600)
    for a, s in admin_signers.items():
        _write_new(directory / "admin-keys" / f"{a}.pem", s.to_pem(), 0o600)
    _write_new(directory / "genesis.json", genesis_bytes, 0o644)
    _write_new(directory / "trust.json", (json.dumps(trust, ensure_ascii=False, indent=2) + "\n").encode(), 0o644)
    return {"sequencer_key_id": sequencer.key_id, "validator_key_id": validator.key_id,
            "admin_key_ids": {a: s.key_id for a, s in admin_signers.items()},
            "genesis_sha256": hashlib.sha256(genesis_bytes).hexdigest(), "directory": str(directory)}


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", type=Path, default=Path("deploy"), help="where to write (default deploy/, where"
                   " docker-compose.yml mounts genesis.json and the sequencer key)")
    p.add_argument("--admin", action="append", default=[], metavar="ID",
                   help="a consortium administrator participant id (repeatable; default consortium-admin)")
    p.add_argument("--participants", type=Path, help="JSON list of further genesis participants (genesis format,"
                   " with their own public keys: each organisation generates its key itself)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        participants = (json.loads(args.participants.read_text(encoding="utf-8")) if args.participants else [])
        if not isinstance(participants, list):
            raise CeremonyError(f"{args.participants}: must be a JSON list of participant objects")
        made = ceremony(args.dir, ledger_id=settings.ledger_id, admins=args.admin or ["consortium-admin"],
                        participants=participants, now=datetime.now(UTC))
    except (CeremonyError, OSError, ValueError, KeyError) as e:
        print(f"coalchain init: {e}")
        return 1
    print(f"ledger {settings.ledger_id!r} initialised in {made['directory']}/")
    print(f"  sequencer key id : {made['sequencer_key_id']}   (sequencer.key, mode 0600: the compose secret)")
    print(f"  validator key id : {made['validator_key_id']}   (validator.key, mode 0600: the validators' secret)")
    for a, kid in made["admin_key_ids"].items():
        print(f"  admin {a:11}: {kid}   (admin-keys/{a}.pem: move it offline)")
    print(f"  genesis.json     : sha256 {made['genesis_sha256']}")
    print("Every participant compares these fingerprints (read them out over a second channel) before trusting"
          " trust.json.")
    return 0
