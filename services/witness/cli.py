"""``coalchain witness`` and ``coalchain cosigner``: the command lines of :mod:`services.witness`."""

from __future__ import annotations

import argparse
from pathlib import Path

from chain_anchor.checkpoint import SIG_TYPE_COSIGNATURE_V1, NoteVerifier
from chain_anchor.errors import ChainAnchorError
from services.config import Settings
from services.errors import InputFileError
from services.keyfiles import sequencer_signer
from services.sequencer.sealing import checkpoint_origin


def configure_witness_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--key", type=Path, required=True, help="the witness's note signer key file (created with --name)")
    p.add_argument("--name", help="witness key name, e.g. witness.railway.example/w1 (needed to create a key)")
    p.add_argument("--state-dir", type=Path, help="state and evidence directory (default: <key>.d next to the key)")
    p.add_argument("--log-vkey", action="append", default=[],
                   help="a trusted log key as a C2SP vkey (repeatable); default: this deployment's sequencer key"
                   " under its checkpoint origin")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=7380, help="port (default 7380)")
    p.add_argument("--print-vkey", action="store_true", help="print the witness's vkey and exit")


def _log_verifiers(args: argparse.Namespace, settings: Settings) -> list[NoteVerifier]:
    if args.log_vkey:
        return [NoteVerifier.parse(v) for v in args.log_vkey]
    return [NoteVerifier(checkpoint_origin(settings.ledger_id), 1, sequencer_signer(settings).public_key_raw)]


def run_witness(args: argparse.Namespace, settings: Settings) -> int:
    import logging

    import uvicorn

    from services.witness.core import Witness
    from services.witness.server import create_witness_app, load_or_create_witness_key
    from services.witness.state import WitnessState

    try:
        name, signer = load_or_create_witness_key(args.key, args.name)
        logs = _log_verifiers(args, settings)
    except (ChainAnchorError, OSError, ValueError) as e:
        raise InputFileError(str(e)) from None
    vkey = NoteVerifier(name, SIG_TYPE_COSIGNATURE_V1, signer.public_key_raw).vkey()
    if args.print_vkey:
        print(vkey)
        return 0
    state = WitnessState(args.state_dir or args.key.with_name(args.key.name + ".d"))
    witness = Witness(name, signer, logs, state)
    logging.getLogger(__name__).warning("witness %s (%s) for %s on http://%s:%d/", name, vkey,
                                        ", ".join(witness.logs), args.host, args.port)
    uvicorn.run(create_witness_app(witness), host=args.host, port=args.port, log_level="warning")
    return 0


def configure_cosigner_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-publish", action="store_true", help="store cosigned checkpoints, do not send them to Kafka")


def run_cosigner(args: argparse.Namespace, settings: Settings) -> int:
    from services.runner import run_until_signalled
    from services.witness.publisher import run_publisher

    return run_until_signalled(lambda stop: run_publisher(settings, stop, publish=not args.no_publish))
