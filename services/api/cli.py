"""``coalchain api``: serve the gateway, read API and dashboard with uvicorn (127.0.0.1 by default).

``--workers N`` (``COALCHAIN_API_WORKERS``) serves from N processes sharing one listening socket: this process
binds it, forks the workers (each builds its own app: producer, pools, registry) and supervises them — a
worker that dies after start-up is started again; one that fails at start-up stops the lot (exit 1); SIGTERM
or SIGINT stops the workers (each finishes its requests, as one process would) and then this one. What the
workers share: the session key (``COALCHAIN_API_SESSION_KEY``, or one drawn here for this run) and the set
of used sign-in challenges (:class:`services.api.auth.SharedUsedChallenges`), so a session or a challenge from
one worker is good at, and only once at, any other; worker 0 alone runs the rejection recorder.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import secrets
import signal
import socket
import time
from typing import Any

import uvicorn

from services.api.app import create_app
from services.api.auth import SharedUsedChallenges
from services.api.protocol import GatewayProtocol
from services.config import Settings

log = logging.getLogger(__name__)


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=None, help="bind address (default COALCHAIN_API_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default COALCHAIN_API_PORT, 8000)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes sharing the port (default COALCHAIN_API_WORKERS, 1)")


KEEP_ALIVE_S = 30
STARTUP_S = 10.0  # a worker that exits sooner than this after its start failed to start
STOP_S = 15.0  # after SIGTERM, workers that are still running then are killed


def server_options(settings: Settings) -> dict[str, Any]:
    """What every uvicorn server of the API is run with (``coalchain api`` and the tests' in-process one)."""
    return {
        "log_level": "warning",
        "access_log": False,
        "timeout_graceful_shutdown": 3,  # live view streams must not hold a shutdown up
        # keep idle connections longer than clients do (httpx, urllib3: 5 s), so a client never reuses a
        # connection the server is closing at that moment (seen as a ReadError on a POST)
        "timeout_keep_alive": KEEP_ALIVE_S,
        # beyond this many connections + requests at once, uvicorn itself answers 503 (no Retry-After) before
        # the app sees them: the last line of defence; the gateway sheds earlier (gateway_max_loop_lag_ms)
        "limit_concurrency": settings.api_limit_concurrency or None,
        "backlog": settings.api_backlog,
        # httptools, with POST /v1/events answered from the parser's callbacks (no ASGI machinery per event)
        "http": GatewayProtocol,
    }


def frozen() -> None:
    """Move everything alive now (modules, the app, its routes and models) out of the garbage collector's
    reach: the collections that run while serving then walk only what requests allocate."""
    gc.collect()
    gc.freeze()


def run(args: argparse.Namespace, settings: Settings) -> int:
    host = args.host or settings.api_host
    port = args.port or settings.api_port
    workers = args.workers if args.workers is not None else settings.api_workers
    if workers < 1:
        raise ValueError(f"--workers / COALCHAIN_API_WORKERS must be at least 1, not {workers}")
    if workers == 1:
        app = create_app(settings)
        frozen()
        uvicorn.run(app, host=host, port=port, **server_options(settings))
        return 0
    if not settings.api_session_key:  # one key for every worker: a session from one is good at all
        settings = settings.model_copy(update={"api_session_key": secrets.token_hex(32)})
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # e.g. --host :: for every IPv6 address
    sock = socket.create_server((host, port), family=family, backlog=settings.api_backlog)
    sock.set_inheritable(True)
    return Supervisor(settings, sock, workers, SharedUsedChallenges.create()).run()


class Supervisor:
    """Forks the workers and watches them (this process runs no event loop and starts no thread)."""

    def __init__(self, settings: Settings, sock: socket.socket, workers: int, used: SharedUsedChallenges) -> None:
        self.settings = settings
        self.sock = sock
        self.workers = workers
        self.used = used
        self.pids: dict[int, tuple[int, float]] = {}  # pid -> (worker index, started at)
        self.stopping = False

    def run(self) -> int:
        host, port = self.sock.getsockname()[:2]
        log.warning("API on http://%s:%d with %d worker processes", host, port, self.workers)
        for index in range(self.workers):
            self._fork(index)
        previous = {s: signal.signal(s, self._stop) for s in (signal.SIGTERM, signal.SIGINT)}
        code = 0
        deadline: float | None = None
        try:
            while self.pids:
                pid, status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    if self.stopping and deadline is None:
                        deadline = time.monotonic() + STOP_S
                    if deadline is not None and time.monotonic() > deadline:
                        self._signal(signal.SIGKILL)
                    time.sleep(0.1)
                    continue
                if pid not in self.pids:
                    continue
                index, started = self.pids.pop(pid)
                exit_code = os.waitstatus_to_exitcode(status)
                if self.stopping:
                    continue
                if time.monotonic() - started < STARTUP_S:
                    log.error("API worker %d (pid %d) exited with %d at start-up; stopping the others",
                              index, pid, exit_code)
                    code = 1
                    self._stop(signal.SIGTERM, None)
                else:
                    log.warning("API worker %d (pid %d) exited with %d; starting it again", index, pid, exit_code)
                    self._fork(index)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            self.sock.close()
        return code

    def _fork(self, index: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                for s in (signal.SIGTERM, signal.SIGINT):
                    signal.signal(s, signal.SIG_DFL)  # uvicorn installs its own once it runs
                code = serve_worker(self.settings, self.sock, index, self.used)
            except BaseException:
                log.exception("API worker %d failed", index)
            finally:
                os._exit(code)
        self.pids[pid] = (index, time.monotonic())

    def _stop(self, signum: int, frame: Any) -> None:
        self.stopping = True
        self._signal(signal.SIGTERM)

    def _signal(self, signum: int) -> None:
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)


def serve_worker(settings: Settings, sock: socket.socket, index: int, used: SharedUsedChallenges) -> int:
    """One worker: its own app on the shared socket; 0 after a clean stop, 3 if it never started."""
    app = create_app(settings, worker=index, used_challenges=used)
    frozen()
    server = uvicorn.Server(uvicorn.Config(app, **server_options(settings)))
    server.run(sockets=[sock])
    return 0 if server.started else 3
