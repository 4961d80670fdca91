"""Witnessing a real ledger in PostgreSQL: the publisher gets checkpoints cosigned by three real witness servers
(2 of 3), stores and serves them; tiles served from the stored nodes agree with chain_anchor; ``verify`` names a
chain shortened behind the triggers."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
import uvicorn

from chain_anchor.canonical import canonicalize
from chain_anchor.checkpoint import NoteVerifier, parse_checkpoint, parse_note
from chain_anchor.hashing import leaf_hash, node_hash
from chain_anchor.merkle import root
from services import cli, db
from services.config import Settings
from services.devstack import free_port
from services.keyfiles import sequencer_signer
from services.sequencer.sealing import Accepted, BlockSealer, VerdictBatch, checkpoint_origin, decode_head
from services.store.postgres import LedgerStore
from services.witness.config import WitnessEndpoint, WitnessesConfig, write_witnesses_config
from services.witness.core import Witness
from services.witness.policy import verify_policy
from services.witness.publisher import Publisher
from services.witness.server import create_witness_app, load_or_create_witness_key
from services.witness.state import WitnessState
from tests.pipeline.helpers import api_server

ROLES = ("mine", "railway", "buyer")


class Ledger:
    def __init__(self, settings: Settings, pool: asyncpg.Pool) -> None:
        self.settings, self.pool = settings, pool
        self.store = LedgerStore(pool)
        self.sealer: BlockSealer | None = None
        self.leaves: list[bytes] = []
        self.batches = 0

    async def seal(self, n: int) -> None:
        if self.sealer is None:
            self.sealer = BlockSealer(self.store, sequencer_signer(self.settings), ledger_id=self.settings.ledger_id,
                                      source_topic="accepted", head=await self.store.head())
        entries = []
        for k in range(n):
            i = len(self.leaves)
            leaf = canonicalize({"id": str(uuid.uuid4()), "type": "test.v1", "subject": f"s{i}",
                                 "source": "/participants/p1", "time": "2026-12-01T00:00:00Z", "data": {"n": i}})
            self.leaves.append(leaf)
            entries.append(Accepted(offset=self.batches, index=k, leaf=leaf, leaf_hash=leaf_hash(leaf),
                                    raw_partition=0, raw_offset=i, head=decode_head(leaf),
                                    event_time=datetime(2026, 12, 1, tzinfo=UTC)))
        batch = VerdictBatch(offset=self.batches, verified_at="2026-12-01T00:00:00Z", entries=entries)
        self.batches += 1
        sealed, _ = await self.sealer.seal([batch])
        assert sealed is not None


@pytest.fixture(scope="module")
async def ledger(settings: Settings) -> AsyncIterator[Ledger]:
    pool = await db.create_pool(settings, min_size=1, max_size=4)
    try:
        yield Ledger(settings, pool)
    finally:
        await pool.close()


@contextlib.asynccontextmanager
async def serve(app: object) -> AsyncIterator[tuple[str, uvicorn.Server]]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))  # type: ignore[arg-type]
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


def _witness(settings: Settings, role: str) -> Witness:
    name = f"taijiao-coalchain.cn/witness/{role}"
    _, signer = load_or_create_witness_key(settings.home / "keys" / "witnesses" / f"{role}.key", name)
    origin = checkpoint_origin(settings.ledger_id)
    log_key = NoteVerifier(origin, 1, sequencer_signer(settings).public_key_raw)
    return Witness(name, signer, [log_key], WitnessState(settings.home / "witnesses" / role))


async def test_publisher_cosigns_stores_serves_and_verify_catches_a_shortened_chain(
        ledger: Ledger, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    origin = checkpoint_origin(settings.ledger_id)
    log_key = NoteVerifier(origin, 1, sequencer_signer(settings).public_key_raw)
    witnesses = [_witness(settings, r) for r in ROLES]
    async with contextlib.AsyncExitStack() as stack:
        urls = [(await stack.enter_async_context(serve(create_witness_app(w))))[0] for w in witnesses]
        endpoints = [WitnessEndpoint(u, w.verifier.vkey()) for u, w in zip(urls, witnesses, strict=True)]
        config = WitnessesConfig(tuple(endpoints), 2)
        write_witnesses_config(settings.home / "witnesses.json", endpoints, 2)
        publisher = Publisher(ledger.store, config)
        await publisher.start()
        try:
            assert await publisher.step() is None  # nothing sealed yet
            await ledger.seal(300)
            first = await publisher.step()
            assert first is not None and first.stored and first.cosigners == [w.name for w in witnesses]
            await ledger.seal(5)
            await ledger.seal(400)  # two blocks; the publisher sends only the head: 705
            second = await publisher.step()
            assert second is not None and second.tree_size == 705 and len(second.cosigners) == 3
            cp, names = verify_policy(second.note, [log_key], config.policy(), origin=origin)
            assert cp.root_hash == root([leaf_hash(x) for x in ledger.leaves]) and len(names) == 3
            async with api_server(settings) as api_url, httpx.AsyncClient(base_url=api_url) as api:
                # the head is cosigned: /v1/checkpoint carries the cosignatures
                assert (await api.get("/v1/checkpoint")).content == second.note
            with capsys.disabled():  # the publisher's own timing, reported (not asserted: speed is bench/'s)
                print(f"\nwitnessing latency per checkpoint (3 witnesses): {first.latency_ms:.1f} ms,"
                      f" {second.latency_ms:.1f} ms")

            # the buyer's witness goes away
            publisher.links[2].endpoint = WitnessEndpoint("http://127.0.0.1:9", endpoints[2].vkey)
            await ledger.seal(3)
            third = await publisher.step()
            assert third is not None and third.stored and len(third.cosigners) == 2  # 2 of 3 is enough
            assert "ConnectError" in third.refusals[witnesses[2].name]
            publisher.links[1].endpoint = WitnessEndpoint("http://127.0.0.1:9", endpoints[1].vkey)
            await ledger.seal(2)
            fourth = await publisher.step()
            assert fourth is not None and not fourth.stored  # 1 of 3: not cosigned
        finally:
            await publisher.close()

    async with api_server(settings) as api_url, httpx.AsyncClient(base_url=api_url) as api:
        head_note = (await api.get("/v1/checkpoint")).text.encode()
        assert parse_checkpoint(parse_note(head_note).text).tree_size == 710  # the head (not cosigned: 1 of 3)
        assert len(parse_note(head_note).signatures) == 1
        cosigned = (await api.get("/v1/checkpoint/cosigned")).json()
        assert cosigned["tree_size"] == 708 and cosigned["witnesses"] == third.cosigners
        assert (await api.get("/tlog/checkpoint")).content == third.note

        trust = (await api.get("/v1/trust")).json()
        assert trust["witness_quorum"] == 2 and trust["witnesses"] == [e.vkey for e in endpoints]
        assert trust["sequencer_keys"] == [base64.b64encode(sequencer_signer(settings).public_key_raw).decode()]

        events = (await api.get("/v1/blocks/1/events")).json()
        assert [e["leaf_index"] for e in events["events"]] == list(range(300, 305))
        assert [canonicalize(e["event"]) for e in events["events"]] == ledger.leaves[300:305]
        assert (await api.get("/v1/blocks/99/events")).status_code == 404

        await _check_tiles(api, ledger, size=710)

    # the operator deletes the newest blocks as superuser, behind the append-only triggers
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute("SET session_replication_role = replica")
        await conn.execute("DELETE FROM ledger_events WHERE height >= 3")
        await conn.execute("DELETE FROM ledger_blocks WHERE height >= 3")
    finally:
        await conn.close()
    trust_file = tmp_path / "trust.json"
    trust_file.write_text(json.dumps(trust))
    env_settings = ["verify", "--database-url", settings.database_url, "--trust", str(trust_file)]
    capsys.readouterr()
    code = await asyncio.to_thread(cli.main, [*env_settings, "--cosigned",
                                              str(settings.home / "witnesses" / "mine" / "state.json")])
    out = capsys.readouterr().out
    assert code == 1
    assert "SHORTENED: the database ends at tree size 705" in out and "of size 710" in out
    assert "cosigned by taijiao-coalchain.cn/witness/mine" in out


async def _check_tiles(api: httpx.AsyncClient, ledger: Ledger, size: int) -> None:
    """Rebuild the tree from the served tiles and entry bundles; compare with chain_anchor."""
    hashes = [leaf_hash(x) for x in ledger.leaves[:size]]
    tile0 = (await api.get("/tlog/tile/0/000")).content
    assert tile0 == b"".join(hashes[:256])
    tile0b = (await api.get("/tlog/tile/0/001")).content
    assert tile0b == b"".join(hashes[256:512])
    partial = await api.get(f"/tlog/tile/0/002.p/{size - 512}")
    assert partial.content == b"".join(hashes[512:size])
    assert partial.headers["content-type"] == "application/octet-stream"
    level1 = (await api.get("/tlog/tile/1/000.p/2")).content
    assert level1 == root(hashes[:256]) + root(hashes[256:512])
    assert node_hash(level1[:32], level1[32:]) == root(hashes[:512])
    assert (await api.get("/tlog/tile/1/000")).status_code == 404  # not full yet
    assert (await api.get(f"/tlog/tile/0/002.p/{size - 511}")).status_code == 404  # beyond the tree
    assert (await api.get("/tlog/tile/0/x000/002")).status_code == 404  # not canonical
    bundle = (await api.get("/tlog/tile/entries/001")).content
    entries, at = [], 0
    while at < len(bundle):
        n = int.from_bytes(bundle[at:at + 2], "big")
        entries.append(bundle[at + 2:at + 2 + n])
        at += 2 + n
    assert entries == ledger.leaves[256:512]
    assert b"".join(leaf_hash(e) for e in entries) == tile0b  # each entry hashes to its level-0 tile hash
    cp = parse_checkpoint(parse_note((await api.get("/tlog/checkpoint")).content).text)
    assert cp.tree_size <= size and cp.root_hash == root(hashes[:cp.tree_size])
