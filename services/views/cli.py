"""``coalchain views``: the faust worker folding sealed blocks into the dispatcher views (PostgreSQL).

``--rebuild`` empties the views, folds every block again from block 0 up to the ledger's height (reading the
blocks topic itself, outside the consumer group), prints where it finished and exits. A views worker that is
running meanwhile (``coalchain up``) notices the reset on its next block and carries on from wherever the
views are; both check the stored height before each commit, so no block is folded twice.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

import asyncpg

from services import db
from services.blockverify import BlockVerifier
from services.config import Settings
from services.runner import run_until_signalled
from services.views.app import ViewsApp, fold_from_topic
from services.views.postgres import ViewStore
from services.views.worker import ViewsWorker

log = logging.getLogger(__name__)


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rebuild", action="store_true",
                   help="empty the views, fold every block again from block 0 to the ledger's height, and exit")


async def serve(settings: Settings, stop: asyncio.Event, *, rebuild: bool = False,
                ready: asyncio.Event | None = None) -> None:
    """Run the views worker until ``stop`` is set (or faust crashes, which raises)."""
    await db.ensure_migrated(settings, role="views")
    pool = await db.create_pool(settings, role="views", min_size=1, max_size=4)
    try:
        store = ViewStore(pool)
        if rebuild:
            await store.reset()
            log.warning("views emptied: folding again from block 0")
        worker = ViewsWorker(store, verifier=BlockVerifier.from_settings(settings))
        await worker.start()
        views = ViewsApp(settings, worker)
        await views.start()
        try:
            if ready is not None:
                ready.set()
            while not stop.is_set() and not views.crashed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)
                try:
                    await views.tick()
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
                    log.warning("views: cannot compare with the ledger now: %s", e)
            if views.crashed:
                raise RuntimeError(f"the views faust app crashed: {views.app.crash_reason!r}")
        finally:
            await views.stop()
    finally:
        await pool.close()


async def rebuild(settings: Settings) -> tuple[int, int]:
    """Empty the views and fold again to the ledger's height; return (views height, ledger height)."""
    await db.ensure_migrated(settings, role="views")
    pool = await db.create_pool(settings, role="views", min_size=1, max_size=4)
    try:
        store = ViewStore(pool)
        await store.reset()
        log.warning("views emptied: folding again from block 0")
        worker = ViewsWorker(store, verifier=BlockVerifier.from_settings(settings))
        await worker.start()
        while True:
            target = await pool.fetchval("SELECT coalesce(max(height), -1) FROM ledger_blocks")
            done = (await store.progress()).height  # a running worker may have folded some meanwhile
            if done >= target:
                return done, target
            before = worker.height
            await fold_from_topic(settings, worker, target)
            if worker.height == before and (await store.progress()).height < target:
                raise RuntimeError(f"the blocks topic does not hold the ledger's blocks after {before} "
                                   f"(ledger at {target}); see the rejected blocks in `coalchain status`")
    finally:
        await pool.close()


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.rebuild:
        try:
            height, ledger = asyncio.run(rebuild(settings))
        except (OSError, RuntimeError) as e:
            print(f"views rebuild failed: {e}")
            return 1
        print(f"views rebuilt from block 0: at block {height} (ledger at block {ledger})")
        return 0
    return run_until_signalled(lambda stop: serve(settings, stop))
