"""``coalchain api``: serve the gateway, read API and dashboard with uvicorn (127.0.0.1 by default)."""

from __future__ import annotations

import argparse

import uvicorn

from services.api.app import create_app
from services.config import Settings


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=None, help="bind address (default COALCHAIN_API_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default COALCHAIN_API_PORT, 8000)")


KEEP_ALIVE_S = 30


def run(args: argparse.Namespace, settings: Settings) -> int:
    uvicorn.run(
        create_app(settings),
        host=args.host or settings.api_host,
        port=args.port or settings.api_port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=3,  # live view streams must not hold a shutdown up
        # keep idle connections longer than clients do (httpx, urllib3: 5 s), so a client never reuses a
        # connection the server is closing at that moment (seen as a ReadError on a POST)
        timeout_keep_alive=KEEP_ALIVE_S,
    )
    return 0
