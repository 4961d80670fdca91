"""``coalchain sequencer``: seal accepted events into signed blocks (one active per ledger; others stand by)."""

from __future__ import annotations

import argparse
import sys

from services.config import Settings
from services.keyfiles import genesis_path
from services.runner import run_until_signalled
from services.sequencer.service import Sequencer


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.set_defaults()


def run(args: argparse.Namespace, settings: Settings) -> int:
    path = genesis_path(settings)
    if not settings.is_development() and not path.exists():
        print(f"coalchain sequencer: no genesis file at {path}: it lists the validator keys whose verdicts may be"
              " sealed; set COALCHAIN_GENESIS_FILE", file=sys.stderr)
        return 2
    try:
        sequencer = Sequencer(settings)
    except (FileNotFoundError, ValueError, KeyError) as e:
        print(f"coalchain sequencer: {e}", file=sys.stderr)
        return 2
    return run_until_signalled(sequencer.run)
