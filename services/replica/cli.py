"""``coalchain replica``: keep a verified copy of the ledger in the database given by DATABASE_URL."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from services import db
from services.config import Settings
from services.replica.service import Replica
from services.runner import run_until_signalled
from services.verify import build_checker

log = logging.getLogger(__name__)


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trust", type=Path, help="trust file (default: this deployment's sequencer key and genesis)")
    p.add_argument("--no-event-signatures", dest="event_signatures", action="store_false",
                   help="do not re-verify publisher signatures (faster; headers and roots are still checked)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    checker = build_checker(args, settings)  # the trust file first: a user's input is checked before connecting
    asyncio.run(db.ensure_migrated(settings, role="replica"))
    replica = Replica(settings, checker)
    return run_until_signalled(replica.run)
