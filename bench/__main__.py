"""``python -m bench <scenario>|all [--events N] [--quick]`` — see ``docs/benchmarks.md``."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import asyncpg

from bench.ceilings import Ceilings
from bench.common import (
    RESULTS_DIR,
    console,
    git_commit,
    machine_info,
    markdown_table,
    print_result,
    write_result,
)
from bench.scenarios import Options
from bench.stack import admin_url, broker_version

SCENARIOS = ("seal-throughput", "seal-growth", "seal-latency", "verify", "proofs", "views")


def scenario_module(name: str) -> ModuleType:
    return importlib.import_module(f"bench.scenarios.{name.replace('-', '_')}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description="CoalChain benchmarks (docs/benchmarks.md)")
    p.add_argument("scenario", choices=[*SCENARIOS, "all", "table"],
                   help="a scenario, all of them, or 'table': print the latest results as markdown")
    p.add_argument("--events", type=int, help="events (seal-throughput, verify) instead of the default size")
    p.add_argument("--quick", action="store_true", help="small sizes: every scenario in seconds")
    p.add_argument("--duration-s", type=float, help="seal-latency: seconds per offered rate; views: seconds of load")
    p.add_argument("--rates", type=lambda s: [int(x) for x in s.split(",")],
                   help="seal-latency: offered rates, events/s, comma separated (default 1000,5000,10000);"
                   " views: the first one is the load (default 1000)")
    p.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")],
                   help="proofs: ledger sizes, comma separated (default 1000000,10000000; quick 10000,100000)")
    p.add_argument("--stages", action="store_true",
                   help="seal-latency: where the latency goes, stage by stage (services write a stage trace)")
    p.add_argument("--validators", type=int, default=2, help="validator processes (default 2)")
    p.add_argument("--no-profile", action="store_true", help="seal-throughput: do not attach py-spy")
    p.add_argument("--seed", type=int, default=20_261_122, help="simulator seed")
    p.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where <scenario>.json goes")
    return p


async def _postgres_version() -> str:
    conn = await asyncpg.connect(admin_url())
    try:
        return str(await conn.fetchval("SELECT version()"))
    finally:
        await conn.close()


async def run_scenarios(names: Sequence[str], opts: Options, *, concurrently: bool = False) -> int:
    """Run the scenarios one after another (``concurrently`` only for smoke tests: the figures then mean
    nothing, the machine is shared); print and write each result; return 1 if any failed."""
    machine = machine_info(postgres_version=await _postgres_version(), broker_version=broker_version())
    commit = git_commit()
    ceilings = Ceilings(sample_events=opts.ceiling_events or (5_000 if opts.quick else 20_000),
                        seconds=opts.ceiling_seconds or (0.5 if opts.quick else 2.0))

    async def one(name: str) -> bool:
        if not concurrently:
            console.rule(name)
        t0 = time.perf_counter()
        try:
            result = await scenario_module(name).run(opts, ceilings)
        except Exception as e:  # one failed scenario must not hide the others' results
            logging.getLogger("bench").exception("scenario %s failed", name)
            console.print(f"[red]{name} FAILED: {e}[/red]")
            return False
        result.parameters.update({"quick": opts.quick, "wall_seconds": round(time.perf_counter() - t0, 1)})
        if concurrently:
            result.notes.append("run concurrently with other scenarios (smoke test): figures are not comparable")
        doc = result.to_json(machine, commit)
        print_result(result, doc)
        console.print(f"wrote {write_result(result, doc, opts.results_dir)}")
        return True

    if concurrently:
        ok = await asyncio.gather(*(one(n) for n in names))
    else:
        ok = [await one(n) for n in names]
    failed = [n for n, good in zip(names, ok, strict=True) if not good]
    if failed:
        console.print(f"[red]failed: {', '.join(failed)}[/red]")
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)-5s %(name)s: %(message)s")
    opts = Options(quick=args.quick, events=args.events, seed=args.seed, profile=not args.no_profile,
                   duration_s=args.duration_s, rates=args.rates or [], sizes=args.sizes or [],
                   validators=args.validators, results_dir=args.results_dir, stages=args.stages)
    if args.scenario == "table":
        docs = [json.loads(p.read_text()) for name in SCENARIOS if (p := args.results_dir / f"{name}.json").exists()]
        print(markdown_table(docs), end="")
        return 0
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    return asyncio.run(run_scenarios(names, opts))


if __name__ == "__main__":
    sys.exit(main())
