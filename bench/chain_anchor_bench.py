"""chain_anchor speed on one core: hashing + compact-range appends, block sealing, canonical JSON, Ed25519.

Run: ``python bench/chain_anchor_bench.py`` (optionally ``--quick``). Prints a table; each figure is the best
of several repetitions, measured in this process, with raw ``hashlib.sha256`` on the same data beside the
leaf-hashing figure as its ceiling.

Targets (issue 3): leaf hashing + compact-range append >= 500,000 leaves/s for 400-byte leaves; sealing a
block of 2,000 events (block root + log append + header + signature) <= 10 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import nacl.signing
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from chain_anchor.block import GENESIS_PREV_HASH, seal_block
from chain_anchor.canonical import canonicalize
from chain_anchor.compact import CompactRange
from chain_anchor.events import sign_event, verify_event
from chain_anchor.hashing import leaf_hash
from chain_anchor.keys import KeyRing, Signer, verify_signature

LEAF_BYTES = 400
BLOCK_EVENTS = 2000


def best_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` runs of ``fn``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def row(name: str, value: str, target: str = "", note: str = "") -> None:
    print(f"| {name:<50} | {value:>16} | {target:>12} | {note:<32} |")


def rate(count: int, seconds: float) -> str:
    return f"{count / seconds:,.0f}/s"


def bench_hashing(n: int, repeats: int) -> None:
    data = [os.urandom(LEAF_BYTES) for _ in range(n)]
    sha256 = hashlib.sha256
    raw = best_seconds(lambda: [sha256(d).digest() for d in data], repeats)
    ours = best_seconds(lambda: CompactRange().extend(map(leaf_hash, data)), repeats)
    appends = [leaf_hash(d) for d in data]
    append_only = best_seconds(lambda: CompactRange().extend(appends), repeats)
    row(f"raw hashlib.sha256, {LEAF_BYTES} B (ceiling)", rate(n, raw))
    ok = n / ours >= 500_000
    row(
        f"leaf_hash + CompactRange.extend, {LEAF_BYTES} B",
        rate(n, ours),
        ">= 500,000/s",
        f"{'OK' if ok else 'MISS'}; {raw / ours:.2f}x of raw sha256",
    )
    row("CompactRange.extend only (hashes given)", rate(n, append_only), "", "~1 node hash per leaf")


def _event(i: int) -> dict[str, object]:
    return {
        "specversion": "1.0",
        "id": f"00000000-0000-4000-8000-{i:012d}",
        "source": "/participants/mine-gaoping-01",
        "type": "cn.taijiao.coal.transport.WagonsLoaded.v1",
        "subject": f"shipment-{i}",
        "time": "2024-05-01T08:00:00Z",
        "datacontenttype": "application/json",
        "dataschema": "https://schemas.taijiao.cn/transport/WagonsLoaded/v1",
        "data": {"station": "高平", "wagons": 54, "net_weight_kg": 3_780_000 + i, "product": "无烟煤"},
    }


def bench_seal(repeats: int) -> None:
    signer = Signer.from_seed(b"\x5e" * 32)
    leaves = [leaf_hash(os.urandom(LEAF_BYTES)) for _ in range(BLOCK_EVENTS)]
    base = CompactRange()
    base.extend(leaf_hash(os.urandom(LEAF_BYTES)) for _ in range(123_457))

    def seal() -> None:
        seal_block(
            ledger_id="taijiao-main",
            height=1,
            prev_hash=b"\x01" * 32,
            compact_range=base.copy(),
            leaf_hashes=leaves,
            source_topic="coal.events.accepted.v1",
            source_partition=0,
            first_offset=0,
            last_offset=BLOCK_EVENTS - 1,
            sealed_at="2024-05-01T08:00:00Z",
            signer=signer,
        )

    seconds = best_seconds(seal, repeats)
    ok = seconds <= 0.010
    row(
        f"seal_block, {BLOCK_EVENTS} events (root+header+sig)",
        f"{seconds * 1000:.2f} ms",
        "<= 10 ms",
        "OK" if ok else "MISS",
    )
    raw = [os.urandom(LEAF_BYTES) for _ in range(BLOCK_EVENTS)]

    def hash_and_seal() -> None:
        seal_block(
            ledger_id="taijiao-main",
            height=0,
            prev_hash=GENESIS_PREV_HASH,
            compact_range=CompactRange(),
            leaf_hashes=[leaf_hash(d) for d in raw],
            source_topic="coal.events.accepted.v1",
            source_partition=0,
            first_offset=0,
            last_offset=BLOCK_EVENTS - 1,
            sealed_at="2024-05-01T08:00:00Z",
            signer=signer,
        )

    row("  same, incl. hashing 2,000 x 400 B leaves", f"{best_seconds(hash_and_seal, repeats) * 1000:.2f} ms")


def bench_canonical(n: int, repeats: int) -> None:
    events = [_event(i) for i in range(n)]
    seconds = best_seconds(lambda: [canonicalize(e) for e in events], repeats)
    row("canonicalize, signed-size CloudEvent", rate(n, seconds), "", "fast path (json + type scan)")
    small = [{"a": i, "b": "x", "c": [1, 2, 3]} for i in range(n)]
    row("canonicalize, small object", rate(n, best_seconds(lambda: [canonicalize(s) for s in small], repeats)))
    astral = [{"\U0001f600": i, "\ufb33": "x"} for i in range(n // 10)]
    seconds = best_seconds(lambda: [canonicalize(s) for s in astral], repeats)
    row("canonicalize, astral keys (rfc8785 fallback)", rate(len(astral), seconds))


def bench_ed25519(n: int, repeats: int) -> None:
    message = os.urandom(450)
    signer = Signer.from_seed(b"\x11" * 32)
    sig = signer.sign(message)
    public = signer.public_key_raw

    def per_second(fn: Callable[[], object]) -> str:
        def loop() -> None:
            for _ in range(n):
                fn()

        return rate(n, best_seconds(loop, repeats))

    row("Ed25519 sign (chain_anchor -> libsodium)", per_second(lambda: signer.sign(message)))
    row(
        "Ed25519 verify (chain_anchor -> libsodium)",
        per_second(lambda: verify_signature(public, sig, message)),
        ">= 20,000/s",
    )
    ckey = Ed25519PrivateKey.from_private_bytes(b"\x11" * 32)
    cpub = ckey.public_key()
    row("Ed25519 sign (cryptography)", per_second(lambda: ckey.sign(message)))
    row("Ed25519 verify (cryptography)", per_second(lambda: cpub.verify(sig, message)))
    nkey = nacl.signing.SigningKey(b"\x11" * 32)
    nver = nkey.verify_key
    row("Ed25519 sign (PyNaCl SigningKey)", per_second(lambda: nkey.sign(message)))
    row("Ed25519 verify (PyNaCl VerifyKey)", per_second(lambda: nver.verify(message, sig)))
    ring = KeyRing.from_public_keys([public])
    event = sign_event(_event(1), signer)
    row("verify_event (JCS + verify)", per_second(lambda: verify_event(event, ring)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (for a smoke run)")
    args = parser.parse_args()
    scale, repeats = (10, 2) if args.quick else (1, 5)
    print(f"chain_anchor bench — Python {sys.version.split()[0]}, one core, best of {repeats}")
    print(f"| {'measurement':<50} | {'figure':>16} | {'target':>12} | {'note':<32} |")
    print(f"|{'-' * 52}|{'-' * 18}|{'-' * 14}|{'-' * 34}|")
    bench_hashing(200_000 // scale, repeats)
    bench_seal(repeats * 4)
    bench_canonical(50_000 // scale, repeats)
    bench_ed25519(5_000 // scale, repeats)


if __name__ == "__main__":
    main()
