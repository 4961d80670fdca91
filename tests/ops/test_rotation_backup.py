"""Sequencer key rotation end to end, and backup/restore of a ledger that crossed one.

Blocks are sealed with key A; ``rotate`` stores A's signed handover to B (refused while a sequencer runs); a
sequencer still holding A refuses to seal; the sequencer with B seals on. ``coalchain verify`` (deployment keys
and trust files), ``receipt verify``'s block check and the replica's checker follow the rotation and refuse a
block the schedule does not give to its key. Then the ledger is dumped with pg_dump, restored into a fresh
database, and the restored copy passes ``coalchain verify``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from chain_anchor.block import BlockHeader, HeaderSignature, sign_header
from chain_anchor.keys import Signer
from services.config import Settings
from services.db import with_database
from services.kafka.topics import Topics
from services.keyfiles import sequencer_signer
from services.receipts.errors import BundleInvalid
from services.receipts.verify import _blocks
from services.rotation import RotationRefused, rotate
from services.sequencer.service import Sequencer
from services.store.migrate import drop_database
from services.trust import load_trust, trust_from_json
from tests.pipeline.helpers import envelope, produce_accepted, running, tree_size, wait_until

pytestmark = pytest.mark.integration

PUBLISHER = Signer.from_seed(bytes(range(32)))


async def _seal(settings: Settings, first: int, n: int) -> None:
    envs = [envelope(PUBLISHER, "probe", first + i) for i in range(n)]
    await produce_accepted(settings, Topics.from_settings(settings).accepted, envs, raw_offset_base=first)

    async def done() -> bool:
        return await tree_size(settings.database_url) >= first + n

    await wait_until(done, timeout_s=60, what=f"{first + n} events sealed")


def _cli(settings: Settings, *argv: str, key: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COALCHAIN_")}
    env.update(DATABASE_URL=settings.database_url, COALCHAIN_HOME=str(settings.home),
               COALCHAIN_SEQUENCER_KEY_FILE=str(key or settings.sequencer_key_file),
               COALCHAIN_KAFKA_BOOTSTRAP_SERVERS=settings.kafka_bootstrap_servers,
               COALCHAIN_GENESIS_FILE=str(settings.home / "genesis.json"))
    return subprocess.run([sys.executable, "-m", "services.cli", *argv], env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
async def rotated(settings: Settings) -> dict[str, Any]:
    """A ledger: 40 events under key A, the rotation, 40 events under key B."""
    probe = {"id": "probe", "name": "probe", "roles": ["mine"],
             "keys": [{"public_key": base64.b64encode(PUBLISHER.public_key_raw).decode()}]}
    (settings.home / "genesis.json").write_text(json.dumps({"participants": [probe]}), encoding="utf-8")
    key_a, key_b = settings.home / "keys" / "a.key", settings.home / "keys" / "b.key"
    a = sequencer_signer(settings.model_copy(update={"sequencer_key_file": key_a}))  # generated (development)
    b = Signer.generate()
    key_b.write_bytes(b.to_pem())
    on_a = settings.model_copy(update={"sequencer_key_file": key_a})
    on_b = settings.model_copy(update={"sequencer_key_file": key_b})
    async with running(Sequencer(on_a).run):
        await _seal(on_a, 0, 40)
        with pytest.raises(RotationRefused, match="stop every sequencer"):
            await rotate(on_a, a, b)
    doc = await rotate(on_a, a, b)
    with pytest.raises(RotationRefused, match="use the key that sealed it"):
        await rotate(on_a, b, Signer.generate())  # only the key that sealed the head may hand over
    with pytest.raises(RotationRefused, match="install the rotated key"):
        await Sequencer(on_a).run(asyncio.Event())  # the old key may not seal after the handover
    async with running(Sequencer(on_b).run):
        await _seal(on_b, 40, 40)
    return {"a": a, "b": b, "key_a": key_a, "key_b": key_b, "doc": doc, "settings": on_b}


async def test_verify_follows_the_rotation_and_the_blocks_link(rotated: dict[str, Any]) -> None:
    s: Settings = rotated["settings"]
    height = rotated["doc"]["statement"]["effective_height"]
    conn = await asyncpg.connect(s.database_url)
    try:
        rows = await conn.fetch("SELECT height, header, header_hash FROM ledger_blocks ORDER BY height")
    finally:
        await conn.close()
    keys = {json.loads(bytes(r["header"]))["sequencer_key_id"] for r in rows if r["height"] < height}
    assert keys == {rotated["a"].key_id}
    assert {json.loads(bytes(r["header"]))["sequencer_key_id"] for r in rows if r["height"] >= height} == \
        {rotated["b"].key_id}
    # the old key's last block is the one the statement names; the new key's first block links to it
    assert rotated["doc"]["statement"]["last_header_hash"] == bytes(rows[height - 1]["header_hash"]).hex()
    assert json.loads(bytes(rows[height]["header"]))["prev_hash"] == bytes(rows[height - 1]["header_hash"]).hex()

    done = _cli(s, "verify", "--event-signatures")  # deployment keys: key file B + the stored rotation
    assert done.returncode == 0 and "OK: " in done.stdout, done.stdout + done.stderr
    assert f"{len(rows)} blocks, 80 events" in done.stdout


async def test_trust_files_carry_the_rotation(rotated: dict[str, Any], tmp_path: Path) -> None:
    s: Settings = rotated["settings"]
    done = _cli(s, "trust", "export", "-o", str(tmp_path / "trust.json"))
    assert done.returncode == 0, done.stderr
    doc = json.loads((tmp_path / "trust.json").read_text())
    assert doc["sequencer_rotations"] == [rotated["doc"]]
    assert _cli(s, "verify", "--trust", str(tmp_path / "trust.json")).returncode == 0

    # a participant's old trust file (key A only) plus the published rotation: still verifies
    old = {**doc, "sequencer_keys": [doc["sequencer_keys"][0]]}
    old["sequencer_keys"] = [base64.b64encode(rotated["a"].public_key_raw).decode()]
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert _cli(s, "verify", "--trust", str(tmp_path / "old.json")).returncode == 0
    # without the rotation, key A's trust file refuses the first block sealed by B, naming it
    (tmp_path / "none.json").write_text(json.dumps({k: v for k, v in old.items() if k != "sequencer_rotations"}))
    failed = _cli(s, "verify", "--trust", str(tmp_path / "none.json"))
    height = rotated["doc"]["statement"]["effective_height"]
    assert failed.returncode == 1 and f"FAILED at height {height}" in failed.stdout, failed.stdout
    # a forged rotation (B's signature replaced) is refused outright
    forged = json.loads(json.dumps(old))
    forged["sequencer_rotations"][0]["signatures"][1]["signature"] = forged["sequencer_rotations"][0][
        "signatures"][0]["signature"]
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    bad = _cli(s, "verify", "--trust", str(tmp_path / "forged.json"))
    assert bad.returncode != 0 and "does not verify" in (bad.stdout + bad.stderr)


async def test_receipt_verification_follows_the_rotation(rotated: dict[str, Any], tmp_path: Path) -> None:
    s: Settings = rotated["settings"]
    assert _cli(s, "trust", "export", "-o", str(tmp_path / "trust.json")).returncode == 0
    trust = load_trust(tmp_path / "trust.json")
    height = rotated["doc"]["statement"]["effective_height"]
    conn = await asyncpg.connect(s.database_url)
    try:
        rows = await conn.fetch("SELECT height, header, signatures FROM ledger_blocks WHERE height = ANY($1)"
                                " ORDER BY height", [height - 1, height])
    finally:
        await conn.close()
    entries = [{"height": r["height"], "header": json.loads(bytes(r["header"])),
                "signatures": json.loads(bytes(r["signatures"]))} for r in rows]
    assert sorted(_blocks(entries, trust)) == [height - 1, height]  # one block by each key

    # block `height` re-signed by the old key (a leaked old key after the handover) is refused
    header = BlockHeader.from_json({**entries[1]["header"], "sequencer_key_id": rotated["a"].key_id})
    forged = {"height": height, "header": header.to_json(),
              "signatures": [sign_header(header, rotated["a"]).to_json()]}
    with pytest.raises(BundleInvalid, match="trusted rotations give it to key"):
        _blocks([forged], trust)
    assert HeaderSignature.from_json(forged["signatures"][0]).key_id == rotated["a"].key_id
    # and a trust file without the rotation does not know key B at all
    plain = trust_from_json({k: v for k, v in json.loads((tmp_path / "trust.json").read_text()).items()
                             if k != "sequencer_rotations"} | {"sequencer_keys": [
                                 base64.b64encode(rotated["a"].public_key_raw).decode()]})
    with pytest.raises(BundleInvalid, match="not a sequencer key"):
        _blocks(entries[1:], plain)


async def test_backup_restores_into_a_fresh_database_that_verifies(rotated: dict[str, Any], pg_admin_url: str,
                                                                   tmp_path: Path) -> None:
    s: Settings = rotated["settings"]
    dump = tmp_path / "ledger.dump"
    subprocess.run(["pg_dump", "--format=custom", "--no-owner", f"--file={dump}", s.database_url], check=True,
                   timeout=120)
    name = f"cc_restore_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(pg_admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    restored = with_database(pg_admin_url, name)
    try:
        subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={restored}", str(dump)],
                       check=True, timeout=120)
        done = _cli(s, "verify", "--database-url", restored)
        assert done.returncode == 0 and "80 events" in done.stdout, done.stdout + done.stderr
        conn = await asyncpg.connect(restored)
        try:  # the restored copy keeps the append-only triggers and the rotation
            assert await conn.fetchval("SELECT count(*) FROM sequencer_rotations") == 1
            with pytest.raises(asyncpg.PostgresError):
                await conn.execute("DELETE FROM ledger_blocks WHERE height = 0")
        finally:
            await conn.close()
    finally:
        await drop_database(pg_admin_url, name)
