"""The servers one scenario runs against: its own tansu broker, its own database, its own topics and home.

* Broker: a tansu in memory mode on a free loopback port, started here and stopped by its PID.
* PostgreSQL: ``COALCHAIN_BENCH_PG`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``); a fresh
  database ``ccbench_<scenario>_<hex>`` is created and migrated, and DROPPED at the end.
* Services (validators, sequencer, API) run as ``python -m services.cli <command>`` child processes with
  the environment a deployment would give them, logs under the scenario's temporary home.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from bench.common import PeakRss, vm_hwm_bytes
from bench.cpu import CpuMeter
from services import devstack
from services.config import Settings
from services.kafka.topics import Topics, ensure_topics
from services.keyfiles import sequencer_signer
from services.store.migrate import create_database


def backend_part(user: str | None) -> str:
    """Whose a PostgreSQL backend is, from the user it logged in as: ``coalchain_validator_login`` ->
    ``validator`` (services/db.py ``login_role``); the owner (migrations, this benchmark) -> ``owner``."""
    if user and user.startswith("coalchain_") and user.endswith("_login"):
        return user[len("coalchain_"):-len("_login")]
    return "owner"


DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def admin_url() -> str:
    return os.environ.get("COALCHAIN_BENCH_PG", DEFAULT_PG)


def broker_version() -> str:
    out = subprocess.run([str(devstack.tansu_binary()), "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip() or "tansu (unknown version)"


@dataclass
class Stack:
    """One scenario's broker, database, settings and child processes."""

    scenario: str
    broker: devstack.Broker
    admin: str
    database: str
    home: Path
    settings: Settings
    postgres_version: str
    rss: PeakRss = field(default_factory=PeakRss)
    cpu: CpuMeter = field(default_factory=CpuMeter)
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def topics(self) -> Topics:
        return Topics.from_settings(self.settings)

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    def child_env(self) -> dict[str, str]:
        s = self.settings
        env = {k: v for k, v in os.environ.items() if not k.startswith("COALCHAIN_") and k != "DATABASE_URL"}
        env.update({
            "DATABASE_URL": s.database_url,
            "COALCHAIN_KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap_servers,
            "COALCHAIN_KAFKA_TOPIC_PREFIX": s.kafka_topic_prefix,
            "COALCHAIN_HOME": str(self.home),
            "COALCHAIN_GENESIS_FILE": str(self.genesis_path),
            "COALCHAIN_BATCH_TIMEOUT_MS": str(s.batch_timeout_ms),
            "COALCHAIN_MAX_EVENTS_PER_BLOCK": str(s.max_events_per_block),
            # the bench replays the simulator's default days (2025): widen the validators' past window
            "COALCHAIN_EVENT_TIME_MAX_PAST_S": str(20 * 365 * 86_400),
        })
        if s.stage_trace_dir is not None:
            env["COALCHAIN_STAGE_TRACE_DIR"] = str(s.stage_trace_dir)
        return env

    @property
    def genesis_path(self) -> Path:
        return self.home / "genesis.json"

    def write_genesis(self, genesis: dict[str, Any]) -> None:
        self.genesis_path.write_text(json.dumps(genesis, ensure_ascii=False), encoding="utf-8")
        from services.keyfiles import ensure_development_validator

        ensure_development_validator(self.settings)  # the validators' verdict key, trusted by the sequencer

    def spawn(self, name: str, *argv: str) -> subprocess.Popen[bytes]:
        """Start ``coalchain <argv>`` as a child process named ``name``."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / f"{name}.log", "ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", "services.cli", *argv], env=self.child_env(),
                                    cwd=Path(__file__).resolve().parents[1],
                                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.children[name] = proc
        self.rss.track(name, proc.pid)
        self.cpu.track(name, proc.pid)
        return proc

    def check_children(self) -> None:
        """Raise if a child died (with the tail of its log)."""
        for name, proc in self.children.items():
            if proc.poll() is not None:
                tail = self.log_tail(name)
                raise RuntimeError(f"{name} (pid {proc.pid}) exited with {proc.returncode}:\n{tail}")

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.log_dir / f"{name}.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    async def sample_postgres_rss(self, conn: asyncpg.Connection | None = None) -> None:
        """Peak RSS of this database's PostgreSQL backends (same machine; pids from pg_stat_activity)."""
        own = conn is None
        conn = conn or await asyncpg.connect(self.admin)
        try:
            rows = await conn.fetch("SELECT pid, usename FROM pg_stat_activity WHERE datname = $1"
                                    " AND pid <> pg_backend_pid()", self.database)
        finally:
            if own:
                await conn.close()
        for r in rows:
            self.rss.record("postgres backend (largest)", vm_hwm_bytes(r["pid"]))
            self.cpu.track("postgres backends", r["pid"], backend_part(r["usename"]))

    @contextlib.asynccontextmanager
    async def sampling(self, interval_s: float = 0.5) -> AsyncIterator[None]:
        """Sample the peak RSS of every child and PostgreSQL backend while the block runs."""
        conn = await asyncpg.connect(self.admin)

        async def loop() -> None:
            while True:
                self.rss.sample()
                await self.sample_postgres_rss(conn)
                await asyncio.sleep(interval_s)

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self.rss.sample()
            await conn.close()

    def peak_rss(self) -> dict[str, int]:
        self.rss.sample()
        return dict(self.rss.peaks)

    def stop_children(self) -> None:
        self.rss.sample()
        for proc in self.children.values():
            if proc.poll() is None:
                proc.terminate()
        for name, proc in self.children.items():
            devstack.stop_process(proc, name, timeout_s=15)
        self.children.clear()


@contextlib.asynccontextmanager
async def stack(scenario: str, *, with_broker: bool = True, **settings_overrides: Any) -> AsyncIterator[Stack]:
    """Broker + fresh migrated database + topics + home; everything started here is stopped/dropped on exit.

    The home directory (child logs) is kept when the scenario fails, and always with COALCHAIN_BENCH_KEEP_HOME=1.
    """
    home = Path(tempfile.mkdtemp(prefix=f"ccbench-{scenario}-"))
    (home / "logs").mkdir()
    broker = devstack.Broker(devstack.free_port())
    if with_broker:
        broker.start(home / "logs" / "tansu.log")
    admin = admin_url()
    database = f"ccbench_{scenario.replace('-', '_')}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin)
    created = keep = False
    try:
        pg_version = str(await conn.fetchval("SHOW server_version"))
        url = await create_database(admin, database)
        created = True
        settings = Settings(
            DATABASE_URL=url, kafka_bootstrap_servers=broker.bootstrap_servers,
            kafka_topic_prefix=f"b{uuid.uuid4().hex[:6]}.", home=home, genesis_file=home / "genesis.json",
            **settings_overrides,
        )
        if with_broker:
            await ensure_topics(settings)
        sequencer_signer(settings)  # create the development key once, before any child races for it
        s = Stack(scenario, broker, admin, database, home, settings, pg_version)
        s.rss.track("tansu broker", broker.process.pid if broker.process else None)
        s.cpu.track("tansu broker", broker.process.pid if broker.process else None)
        try:
            yield s
        finally:
            s.stop_children()
    except BaseException:
        keep = True
        print(f"scenario {scenario} failed; logs kept in {home / 'logs'}")
        raise
    else:
        keep = bool(os.environ.get("COALCHAIN_BENCH_KEEP_HOME"))
    finally:
        try:
            if created:
                await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await conn.close()
            broker.stop()
            if not keep:
                shutil.rmtree(home, ignore_errors=True)
