"""``coalchain cosigner``: follow the ledger head, get each new checkpoint cosigned, store and publish it.

Every ``cosign_interval_ms`` (default 1000 ms) the publisher reads the head block from PostgreSQL. When its
tree size is past the last cosigned one, it sends the head's signed checkpoint (the sequencer signed it when
sealing) to every configured witness at once, each with ``old <the size that witness last cosigned>`` and a
consistency proof from the stored Merkle nodes (:mod:`services.store.proofs`). A witness answering 409 tells
its size; the publisher resends once from there. Cosignatures are verified against the witness's vkey before
they are kept. When at least ``quorum`` witnesses cosigned, the note with their lines appended is stored
(``ledger_cosigned_checkpoints``) and published to the checkpoints topic (value = the note's bytes, key =
the tree size in decimal). Fewer: nothing is stored, the next round tries again.

Why 1 s: a block is sealed every ``batch_timeout_ms`` (200 ms) or sooner under load; cosigning each one
would multiply witness traffic and fsyncs by five for no gain, since a buyer's receipt is days old. One
checkpoint a second bounds a witness's load at one small request a second per ledger and keeps the newest
cosigned checkpoint at most ~1 s plus the witness round trip behind the head.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

import asyncpg
import httpx

from chain_anchor.checkpoint import NoteSignature, parse_checkpoint, parse_note
from chain_anchor.errors import ChainAnchorError
from services import db
from services.config import Settings
from services.kafka import clients
from services.kafka.topics import Topics
from services.store import proofs
from services.store.postgres import BlockRow, LedgerStore
from services.witness.config import WitnessEndpoint, WitnessesConfig, load_witnesses_config
from services.witness.protocol import ProtocolError, format_add_checkpoint, parse_cosignatures, parse_size
from services.witness.store import insert_cosigned, latest_cosigned

log = logging.getLogger(__name__)


@dataclass
class WitnessLink:
    endpoint: WitnessEndpoint
    size: int | None = None  # what we believe it last cosigned; None = ask (old 0 -> 409 tells)
    last_error: str = ""

    @property
    def name(self) -> str:
        return self.endpoint.verifier.name


@dataclass(frozen=True)
class Round:
    """One checkpoint sent to the witnesses: who cosigned, what it took."""

    tree_size: int
    cosigners: list[str]
    note: bytes
    latency_ms: float
    stored: bool
    refusals: dict[str, str] = field(default_factory=dict)


class Publisher:
    def __init__(self, store: LedgerStore, config: WitnessesConfig, *, timeout_s: float = 5.0,
                 client: httpx.AsyncClient | None = None) -> None:
        self.store = store
        self.config = config
        self.links = [WitnessLink(w) for w in config.witnesses]
        self.client = client or httpx.AsyncClient(timeout=timeout_s)
        self.last_size = 0
        self.rounds: list[Round] = []
        self._proofs: dict[tuple[int, int], asyncio.Future[tuple[list[bytes], bytes, bytes]]] = {}

    async def start(self) -> None:
        latest = await latest_cosigned(self.store.pool)
        self.last_size = latest.tree_size if latest else 0
        for link in self.links:
            link.size = self.last_size if latest and link.name in latest.witnesses else None

    async def close(self) -> None:
        await self.client.aclose()

    async def _proof(self, old: int, size: int) -> list[bytes]:
        """The consistency proof from ``old`` to ``size``, read once per round for all witnesses at ``old``."""
        key = (old, size)
        if key not in self._proofs:
            self._proofs[key] = asyncio.ensure_future(proofs.consistency(self.store, size1=old, size2=size))
        proof, _, _ = await self._proofs[key]
        return proof

    async def _request(self, link: WitnessLink, head: BlockRow, old: int) -> httpx.Response:
        proof = await self._proof(old, head.tree_size) if old else []
        body = format_add_checkpoint(old, proof, head.checkpoint)
        return await self.client.post(link.endpoint.url.rstrip("/") + "/add-checkpoint", content=body)

    async def _ask(self, link: WitnessLink, head: BlockRow) -> NoteSignature | None:
        """One witness's cosignature of the head's checkpoint, or None (and ``link.last_error``)."""
        try:
            old = link.size if link.size is not None and link.size <= head.tree_size else 0
            answer = await self._request(link, head, old)
            if answer.status_code == 409:
                size = parse_size(answer.content)
                if size > head.tree_size:
                    link.last_error = f"409: the witness cosigned size {size}, beyond our head {head.tree_size}"
                    log.error("witness %s says it cosigned size %d, beyond the ledger head %d: investigate",
                              link.name, size, head.tree_size)
                    return None
                link.size = size
                answer = await self._request(link, head, size)
            if answer.status_code != 200:
                link.last_error = f"{answer.status_code}: {answer.text.strip()[:200]}"
                link.size = None
                return None
            return self._check(link, head, parse_cosignatures(answer.content))
        except (httpx.HTTPError, ProtocolError, ChainAnchorError, OSError) as e:
            link.last_error = f"{type(e).__name__}: {e}"
            return None

    def _check(self, link: WitnessLink, head: BlockRow, lines: tuple[NoteSignature, ...]) -> NoteSignature | None:
        verifier = link.endpoint.verifier
        text = parse_note(head.checkpoint).text.encode("utf-8")
        for line in lines:
            if (line.name, line.key_id) == (verifier.name, verifier.key_id):
                verifier.verify(text, line)
                link.size, link.last_error = head.tree_size, ""
                return line
        link.last_error = "200 without a cosignature by the configured key"
        return None

    async def witness(self, head: BlockRow) -> Round:
        """Send the head's checkpoint to every witness; store it if the quorum cosigned."""
        start = time.perf_counter()
        self._proofs = {}
        answers = await asyncio.gather(*(self._ask(link, head) for link in self.links))
        latency_ms = (time.perf_counter() - start) * 1000
        got = [(link, line) for link, line in zip(self.links, answers, strict=True) if line is not None]
        note = parse_note(head.checkpoint).with_signatures(*(line for _, line in got)).to_bytes()
        names = [link.name for link, _ in got]
        refusals = {link.name: link.last_error for link, line in zip(self.links, answers, strict=True) if line is None}
        stored = False
        if len(got) >= self.config.quorum:
            cp = parse_checkpoint(parse_note(head.checkpoint).text)
            stored = await insert_cosigned(self.store.pool, head.tree_size, cp.root_hash, note, names, latency_ms)
            self.last_size = max(self.last_size, head.tree_size)
            log.info("checkpoint %d cosigned by %s in %.1f ms", head.tree_size, ", ".join(names), latency_ms)
        else:
            log.warning("checkpoint %d: %d of %d required cosignatures (%s)", head.tree_size, len(got),
                        self.config.quorum, "; ".join(f"{n}: {e}" for n, e in refusals.items()))
        result = Round(head.tree_size, names, note, latency_ms, stored, refusals)
        self.rounds.append(result)
        del self.rounds[:-100]
        return result

    async def step(self) -> Round | None:
        head = await self.store.head()
        if head is None or head.tree_size <= self.last_size:
            return None
        return await self.witness(head)


async def run_publisher(settings: Settings, stop: asyncio.Event, *, publish: bool = True) -> None:
    config = load_witnesses_config(settings)
    if not config.witnesses:
        log.warning("no witnesses configured (%s): nothing to do", settings.witnesses_file or "home/witnesses.json")
    pool: asyncpg.Pool = await db.create_pool(settings, role="witness", min_size=1, max_size=2)
    producer = clients.producer(settings) if publish else None
    topic = Topics.from_settings(settings).checkpoints
    publisher = Publisher(LedgerStore(pool), config)
    try:
        if producer is not None:
            await producer.start()
        await publisher.start()
        while not stop.is_set():
            if config.witnesses:
                result = await publisher.step()
                if result is not None and result.stored and producer is not None:
                    await producer.send_and_wait(topic, result.note, key=str(result.tree_size).encode())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.cosign_interval_ms / 1000)
    finally:
        await publisher.close()
        if producer is not None:
            await producer.stop()
        await pool.close()
