"""``coalchain witness``: a C2SP tlog-witness HTTP server with its own key and its own state directory.

Routes: ``POST /add-checkpoint`` (tlog-witness) and ``GET /<sha256(origin) hex>/checkpoint`` (the latest
cosigned checkpoint, for monitors). Binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chain_anchor.checkpoint import SIG_TYPE_COSIGNATURE_V1, NoteVerifier, format_signer_key, parse_signer_key
from chain_anchor.errors import ChainAnchorError
from chain_anchor.keys import Signer
from services.config import Settings
from services.keyfiles import sequencer_signer
from services.sequencer.sealing import checkpoint_origin
from services.witness.core import TEXT, Witness
from services.witness.state import WitnessState, write_atomic

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024


def create_witness_app(witness: Witness) -> Starlette:
    async def add_checkpoint(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return Response(b"request body too large\n", 413, media_type=TEXT)
        answer = await witness.add_checkpoint(body)
        return Response(answer.body, answer.status, headers={"Content-Type": answer.content_type})

    async def checkpoint(request: Request) -> Response:
        note = witness.latest(str(request.path_params["origin_hash"]))
        if note is None:
            return Response(b"this witness has cosigned no checkpoint of that log\n", 404, media_type=TEXT)
        return Response(note, 200, headers={"Content-Type": TEXT, "Cache-Control": "no-cache"})

    return Starlette(routes=[
        Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
        Route("/{origin_hash:str}/checkpoint", checkpoint, methods=["GET"]),
    ])


def load_or_create_witness_key(path: Path, name: str | None) -> tuple[str, Signer]:
    """Read a note signer key (``PRIVATE+KEY+<name>+<id>+<base64(0x04 ‖ seed)>``), or create it for ``name``."""
    if path.exists():
        key_name, sig_type, signer = parse_signer_key(path.read_text(encoding="utf-8").strip())
        if sig_type != SIG_TYPE_COSIGNATURE_V1:
            raise ChainAnchorError(f"{path}: not a cosignature/v1 (type 0x04) signer key")
        if name is not None and name != key_name:
            raise ChainAnchorError(f"{path}: the key is named {key_name!r}, not {name!r}")
        return key_name, signer
    if name is None:
        raise ChainAnchorError(f"{path} does not exist; give --name to create a new witness key there")
    signer = Signer.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, (format_signer_key(name, signer, SIG_TYPE_COSIGNATURE_V1) + "\n").encode())
    os.chmod(path, 0o600)
    log.warning("created witness key %s", path)
    return name, signer


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--key", type=Path, required=True, help="the witness's note signer key file (created with --name)")
    p.add_argument("--name", help="witness key name, e.g. witness.railway.example/w1 (needed to create a key)")
    p.add_argument("--state-dir", type=Path, help="state and evidence directory (default: next to the key,"
                   " <key>.d)")
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


def run(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    try:
        name, signer = load_or_create_witness_key(args.key, args.name)
        logs = _log_verifiers(args, settings)
    except (ChainAnchorError, OSError, ValueError) as e:
        print(f"coalchain witness: {e}", file=sys.stderr)
        return 2
    vkey = NoteVerifier(name, SIG_TYPE_COSIGNATURE_V1, signer.public_key_raw).vkey()
    if args.print_vkey:
        print(vkey)
        return 0
    state = WitnessState(args.state_dir or args.key.with_name(args.key.name + ".d"))
    witness = Witness(name, signer, logs, state)
    log.warning("witness %s (%s) for %s on http://%s:%d/", name, vkey, ", ".join(witness.logs), args.host, args.port)
    uvicorn.run(create_witness_app(witness), host=args.host, port=args.port, log_level="warning")
    return 0
