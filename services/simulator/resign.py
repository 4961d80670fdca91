"""Re-sign example events with the demo keys of a seed (after editing an example by hand).

    python -m services.simulator.resign schemas/examples/valid/*.json          # seed 0, in place

Each file's publisher (``source``) signs it again with ``participant_signer(seed, participant)``; the file
keeps the package's JSON layout (2-space indent, UTF-8). Ed25519 is deterministic, so re-signing an
unchanged file changes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from chain_anchor.events import sign_event
from schemas.resources import dump_json
from services.simulator.keys import participant_signer

__all__ = ["main", "resign"]


def resign(path: Path, seed: int = 0) -> bool:
    """Re-sign one example file; return whether its bytes changed."""
    text = path.read_text(encoding="utf-8")
    envelope = json.loads(text)
    participant = str(envelope["source"]).removeprefix("/participants/")
    signed = dump_json(sign_event(envelope, participant_signer(seed, participant)))
    if signed == text:
        return False
    path.write_text(signed, encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.simulator.resign", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for path in args.files:
        if resign(path, args.seed):
            sys.stderr.write(f"re-signed {path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
