"""``coalchain sequencer``: seal accepted events into signed blocks (one active per ledger; others stand by)."""

from __future__ import annotations

import argparse

from services.config import Settings
from services.runner import run_until_signalled
from services.sequencer.service import Sequencer


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.set_defaults()


def run(args: argparse.Namespace, settings: Settings) -> int:
    return run_until_signalled(Sequencer(settings).run)
