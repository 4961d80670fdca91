"""``coalchain witness``: a C2SP tlog-witness HTTP server with its own key and its own state directory.

Routes: ``POST /add-checkpoint`` (tlog-witness) and ``GET /<sha256(origin) hex>/checkpoint`` (the latest
cosigned checkpoint, for monitors). The command line is :mod:`services.witness.cli`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chain_anchor.checkpoint import SIG_TYPE_COSIGNATURE_V1, format_signer_key, parse_signer_key
from chain_anchor.errors import ChainAnchorError
from chain_anchor.keys import Signer
from services.witness.core import TEXT, Witness
from services.witness.state import write_atomic

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
