"""``coalchain trust export``: write the trust file participants use to verify offline."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from services.config import Settings
from services.keyfiles import sequencer_signer
from services.trust import trust_json


def configure_parser(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="trust_command", required=True)
    export = sub.add_parser("export", help="write the trust file (sequencer public keys + genesis participants)")
    export.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    genesis_path = settings.genesis_file or settings.home / "genesis.json"
    genesis = json.loads(genesis_path.read_text(encoding="utf-8"))
    doc = trust_json(settings.ledger_id, [sequencer_signer(settings).public_key_raw], genesis)
    text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0
