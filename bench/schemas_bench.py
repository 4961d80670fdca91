"""Validation speed of typical events: decode + schema + domain rules, beside raw JSON decoding.

    python bench/schemas_bench.py                 # 20 000 simulated events, best of 5 rounds
    python bench/schemas_bench.py --events 50000 --rounds 7 --seed 3

"Typical" = the simulator's traffic mix (weigh tickets, trains, loading with tens of wagons, stock, receipts,
demand …) serialised as the publishers send it. One process, one thread, i.e. one core. The target of issue 4
is 50 000 events/s; the ceiling printed beside it is ``json.loads`` on the same bytes, which does no validation.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import schemas
from services.simulator import SimConfig, simulate, to_json_bytes

TARGET_EVENTS_PER_S = 50_000


def best_rate(fn: Callable[[bytes], object], raws: list[bytes], rounds: int) -> float:
    """Events per second of the fastest round (the least disturbed by the machine)."""
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for raw in raws:
            fn(raw)
        times.append(time.perf_counter() - t0)
    return len(raws) / min(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    raws = [to_json_bytes(e) for e in itertools.islice(simulate(SimConfig(seed=args.seed)), args.events)]
    mix = collections.Counter(schemas.validate(r).name for r in raws)
    megabytes = sum(map(len, raws)) / 1e6
    print(f"python {platform.python_version()} on {platform.machine()}, msgspec {msgspec.__version__}")
    print(f"{len(raws)} simulated events (seed {args.seed}), {megabytes:.1f} MB, "
          f"mean {1e6 * megabytes / len(raws):.0f} B/event; best of {args.rounds} rounds")
    print("mix: " + ", ".join(f"{name} {100 * n / len(raws):.1f}%" for name, n in mix.most_common()))
    print()

    ceiling = best_rate(json.loads, raws, args.rounds)
    decoder = msgspec.json.Decoder()
    untyped = best_rate(decoder.decode, raws, args.rounds)
    validated = best_rate(schemas.validate, raws, args.rounds)
    print(f"{'json.loads (ceiling, no validation)':44s} {ceiling:>10,.0f} events/s  "
          f"{ceiling * megabytes / len(raws):6.1f} MB/s")
    print(f"{'msgspec.json.decode (untyped)':44s} {untyped:>10,.0f} events/s")
    print(f"{'schemas.validate (decode+schema+rules)':44s} {validated:>10,.0f} events/s  "
          f"{validated * megabytes / len(raws):6.1f} MB/s")
    print(f"{'ratio validate / json.loads':44s} {validated / ceiling:>10.2f}")
    verdict = "meets" if validated >= TARGET_EVENTS_PER_S else "MISSES"
    print(f"target {TARGET_EVENTS_PER_S:,} events/s: {verdict}")
    print()

    print("per event type (validate / json.loads, events/s):")
    by_type: dict[str, list[bytes]] = collections.defaultdict(list)
    for raw in raws:
        by_type[schemas.validate(raw).name].append(raw)
    for name, group in sorted(by_type.items(), key=lambda kv: -len(kv[1])):
        v = best_rate(schemas.validate, group, args.rounds)
        c = best_rate(json.loads, group, args.rounds)
        size = statistics.mean(map(len, group))
        print(f"  {name:22s} {len(group):6d} × {size:6.0f} B  {v:>10,.0f} / {c:>10,.0f}  ratio {v / c:4.2f}")

    invalid = [raw.replace(b'"net_weight_kg":', b'"net_weight_kg":1.5,"x":', 1) for raw in raws[:500]]
    rejected = best_rate(_reject, invalid, 1)
    print(f"\ninvalid events (slow path: every error listed by jsonschema): {rejected:,.0f} events/s")
    return 0 if validated >= TARGET_EVENTS_PER_S else 1


def _reject(raw: bytes) -> None:
    try:
        schemas.validate(raw)
    except schemas.SchemaError:
        return


if __name__ == "__main__":
    sys.exit(main())
