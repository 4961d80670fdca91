"""``coalchain views``: the faust worker folding sealed blocks into the dispatcher views (PostgreSQL).

``--rebuild`` empties the views first; the worker then folds every block again from block 0.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from services import db
from services.config import Settings
from services.runner import run_until_signalled
from services.store.migrate import migrate
from services.views.app import ViewsApp
from services.views.postgres import ViewStore
from services.views.worker import ViewsWorker

log = logging.getLogger(__name__)


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rebuild", action="store_true", help="empty the views and fold every block again from block 0")


async def serve(settings: Settings, stop: asyncio.Event, *, rebuild: bool = False,
                ready: asyncio.Event | None = None) -> None:
    """Run the views worker until ``stop`` is set (or faust crashes, which raises)."""
    pool = await db.create_pool(settings, min_size=1, max_size=4)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
        store = ViewStore(pool)
        if rebuild:
            await store.reset()
            log.warning("views emptied: folding again from block 0")
        worker = ViewsWorker(store)
        await worker.start()
        views = ViewsApp(settings, worker)
        await views.start()
        try:
            if ready is not None:
                ready.set()
            while not stop.is_set() and not views.crashed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)
            if views.crashed:
                raise RuntimeError(f"the views faust app crashed: {views.app.crash_reason!r}")
        finally:
            await views.stop()
    finally:
        await pool.close()


def run(args: argparse.Namespace, settings: Settings) -> int:
    return run_until_signalled(lambda stop: serve(settings, stop, rebuild=args.rebuild))
