"""The read API over a sealed ledger: every answer checks out with chain_anchor alone."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from chain_anchor.block import BlockHeader, HeaderSignature, header_hash, verify_header
from chain_anchor.canonical import canonicalize
from chain_anchor.checkpoint import NoteVerifier, verify_checkpoint
from chain_anchor.errors import ChainAnchorError
from chain_anchor.hashing import leaf_hash
from chain_anchor.keys import KeyRing, Signer
from chain_anchor.merkle import verify_consistency, verify_inclusion
from services.config import Settings
from services.kafka.topics import Topics
from services.keyfiles import sequencer_signer
from services.sequencer.sealing import checkpoint_origin
from services.sequencer.service import Sequencer
from tests.pipeline.helpers import api_server, envelope, produce_accepted, running, tree_size, wait_until

pytestmark = pytest.mark.integration

MINE = Signer.from_seed(b"\x07" * 32)
N = 2600  # two blocks


@pytest.fixture(scope="module")
async def api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    topics = Topics.from_settings(settings)
    events = [envelope(MINE, "mine-b", n) for n in range(N)]
    await produce_accepted(settings, topics.accepted, events)

    async def done() -> bool:
        return await tree_size(settings.database_url) == N

    async with running(Sequencer(settings).run):
        await wait_until(done, what="sealing")
    async with api_server(settings) as url, httpx.AsyncClient(base_url=url, timeout=10) as client:
        yield client


def seq_keys(settings: Settings) -> KeyRing:
    return KeyRing([sequencer_signer(settings).public_key_raw])


async def test_blocks_are_signed_and_linked(api: httpx.AsyncClient, settings: Settings) -> None:
    latest = (await api.get("/v1/blocks/latest")).json()
    assert latest["height"] == 1
    prev = (await api.get("/v1/blocks/0")).json()
    for doc in (prev, latest):
        header = BlockHeader.from_json(doc["header"])
        assert canonicalize(doc["header"]).decode() == doc["header_canonical"]
        verify_header(header, [HeaderSignature.from_json(s) for s in doc["signatures"]], seq_keys(settings))
    assert BlockHeader.from_json(latest["header"]).prev_hash == header_hash(BlockHeader.from_json(prev["header"]))
    assert (await api.get("/v1/blocks/2")).status_code == 404


async def test_event_inclusion_proof_verifies_against_the_signed_checkpoint(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    note = (await api.get("/v1/checkpoint")).text
    origin = checkpoint_origin(settings.ledger_id)
    cp = verify_checkpoint(note, [NoteVerifier(origin, 1, sequencer_signer(settings).public_key_raw)], origin=origin)
    assert cp.tree_size == N
    b0_size = BlockHeader.from_json((await api.get("/v1/blocks/0")).json()["header"]).tree_size
    for n in (0, 1, b0_size - 1, b0_size, N - 1):
        eid = envelope(MINE, "mine-b", n)["id"]
        ev = (await api.get(f"/v1/events/{eid}")).json()
        assert ev["leaf_index"] == n and ev["height"] == (0 if n < b0_size else 1)
        proof = (await api.get("/v1/proofs/inclusion", params={"event_id": eid})).json()
        assert proof["tree_size"] == N and proof["root"] == cp.root_hash.hex()
        verify_inclusion(leaf_hash=leaf_hash(canonicalize(ev["event"])), index=n, tree_size=N,
                         proof=[bytes.fromhex(p) for p in proof["proof"]], root=cp.root_hash)
        bad = [bytes.fromhex(p) for p in proof["proof"]]
        bad[0] = bytes(32)
        with pytest.raises(ChainAnchorError):
            verify_inclusion(leaf_hash=leaf_hash(canonicalize(ev["event"])), index=n, tree_size=N,
                             proof=bad, root=cp.root_hash)


async def test_inclusion_at_an_older_tree_size_and_consistency_between_blocks(api: httpx.AsyncClient) -> None:
    b0 = BlockHeader.from_json((await api.get("/v1/blocks/0")).json()["header"])
    b1 = BlockHeader.from_json((await api.get("/v1/blocks/1")).json()["header"])
    eid = envelope(MINE, "mine-b", 777)["id"]
    proof = (await api.get("/v1/proofs/inclusion", params={"event_id": eid, "tree_size": b0.tree_size})).json()
    ev = (await api.get(f"/v1/events/{eid}")).json()
    verify_inclusion(leaf_hash=leaf_hash(canonicalize(ev["event"])), index=777, tree_size=b0.tree_size,
                     proof=[bytes.fromhex(p) for p in proof["proof"]], root=b0.log_root)
    c = (await api.get("/v1/proofs/consistency", params={"first": b0.tree_size, "second": b1.tree_size})).json()
    verify_consistency(size1=b0.tree_size, size2=b1.tree_size, root1=b0.log_root, root2=b1.log_root,
                       proof=[bytes.fromhex(p) for p in c["proof"]])
    for first in (1, 3, 1000, 2047, 2048):
        c = (await api.get("/v1/proofs/consistency", params={"first": first, "second": N})).json()
        verify_consistency(size1=first, size2=N, root1=bytes.fromhex(c["first_root"]), root2=b1.log_root,
                           proof=[bytes.fromhex(p) for p in c["proof"]])


async def test_bad_requests_name_the_problem(api: httpx.AsyncClient) -> None:
    r = await api.get("/v1/events/not-a-uuid")
    assert r.status_code == 422 and "event_id" in r.text
    r = await api.get("/v1/proofs/consistency", params={"first": 10, "second": N + 1})
    assert r.status_code == 422
    eid = envelope(MINE, "mine-b", 10)["id"]
    r = await api.get("/v1/proofs/inclusion", params={"event_id": eid, "tree_size": 5})
    assert r.status_code == 422 and "tree_size" in r.text
