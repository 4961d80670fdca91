"""``coalchain up``: the whole system on embedded defaults, supervised, stopped cleanly on Ctrl-C / SIGTERM.

Starts (unless configured to use existing ones) an embedded PostgreSQL whose data lives under
``COALCHAIN_HOME/pgdata`` and survives restarts, and a tansu broker in memory mode; creates the topics from
``services/kafka/topics.yaml``; applies migrations; then runs each service as its own ``coalchain`` child process
(as production does, one process per service) and restarts any that dies. ``--demo`` adds the simulated
太焦线 feed. On SIGINT/SIGTERM everything started here is stopped, children first, by the PIDs we started.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from services import db, devstack, health
from services.cli import COMMANDS
from services.config import Settings
from services.kafka.topics import ensure_topics
from services.witness.demo import demo_witness_plan

log = logging.getLogger(__name__)


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    log_path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class Supervisor:
    env: dict[str, str]
    log_dir: Path
    children: list[Child] = field(default_factory=list)

    def spawn(self, child: Child) -> None:
        child.log_path = self.log_dir / f"{child.name}.log"
        with open(child.log_path, "ab") as out:  # the child keeps its own copy of the descriptor
            child.process = subprocess.Popen(
                [sys.executable, "-m", "services.cli", *child.argv],
                env={**self.env, **child.env}, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        child.started_at = time.monotonic()
        log.info("started %s pid=%s (log %s)", child.name, child.process.pid, child.log_path)

    def add(self, name: str, argv: list[str], metrics_port: int = 0) -> None:
        child = Child(name, argv, env={"COALCHAIN_METRICS_PORT": str(metrics_port)} if metrics_port else {})
        self.children.append(child)
        self.spawn(child)

    def restart_dead(self) -> None:
        for child in self.children:
            if child.process is not None and child.process.poll() is not None:
                code = child.process.returncode
                if time.monotonic() - child.started_at < 2 and child.restarts >= 5:
                    continue  # crash loop: leave it down, status shows it
                child.restarts += 1
                log.warning("%s exited with %s; restarting (#%d)", child.name, code, child.restarts)
                self.spawn(child)

    def stop_all(self) -> None:
        for child in reversed(self.children):
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        for child in reversed(self.children):
            devstack.stop_process(child.process, child.name, timeout_s=15)


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.add_argument("--demo", action="store_true", help="also run the simulated 太焦线 feed")
    p.add_argument("--history-days", type=int, default=30,
                   help="demo feed: simulate this many past days (sent at once, on their own dates), then run live"
                   " at 1x, the simulated clock = the real one (default 30; validators accept up to 45 days back)")
    p.add_argument("--seed", type=int, default=0, help="demo feed seed (participant keys derive from it)")
    p.add_argument("--validators", type=int, default=2, help="validator processes (default 2)")
    p.add_argument("--no-services", action="store_true", help="only broker + PostgreSQL + topics + migrations")
    p.add_argument("--exit-after-s", type=float, default=0, help="stop by itself after this many seconds (tests)")




def service_plan(args: argparse.Namespace) -> list[tuple[str, list[str]]]:
    """The child processes to run, in start order."""
    from services.cli import COMMANDS

    plan: list[tuple[str, list[str]]] = []
    if "sequencer" in COMMANDS:
        plan.append(("sequencer", ["sequencer"]))
    if "validator" in COMMANDS:
        plan += [(f"validator-{i}", ["validator"]) for i in range(args.validators)]
    if "views" in COMMANDS:
        plan.append(("views", ["views"]))
    plan.append(("api", ["api"]))
    if args.demo and "simulate" in COMMANDS:
        # simulated time never lies (docs/dispatchers.md): the world starts at a CST midnight history_days ago,
        # every event carries its own simulated date and time; the past days are sent at once, then the feed
        # runs live at 1x, so the simulated clock is the real clock and never runs ahead of it
        cst_midnight = (datetime.now(UTC) + timedelta(hours=8)).replace(hour=0, minute=0, second=0, microsecond=0)
        start = cst_midnight - timedelta(hours=8) - timedelta(days=max(0, args.history_days))
        plan.append(("simulator", ["simulate", "--seed", str(args.seed), "--realtime", "--catch-up",
                                   "--start", start.strftime("%Y-%m-%dT%H:%M:%SZ")]))
    return plan


def run(args: argparse.Namespace, settings: Settings) -> int:
    home = settings.home.resolve()
    (home / "logs").mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    pg: devstack.EmbeddedPostgres | None = None
    broker: devstack.Broker | None = None
    sup: Supervisor | None = None
    try:
        if not settings.database_url:
            pg = devstack.EmbeddedPostgres(home / "pgdata").start()
            settings = settings.model_copy(update={"database_url": pg.url()})
        if not settings.kafka_bootstrap_servers:
            broker = devstack.Broker(settings.kafka_port).start(home / "logs" / "tansu.log")
            settings = settings.model_copy(update={"kafka_bootstrap_servers": broker.bootstrap_servers})
        asyncio.run(ensure_topics(settings))
        asyncio.run(db.migrate_database(settings))
        ensure_development_genesis(settings, args.seed)
        if settings.is_development():  # validators sign verdicts with home/keys/validator.key: trust it
            from services.keyfiles import ensure_development_validator

            ensure_development_validator(settings)
        env = {**os.environ, "DATABASE_URL": settings.database_url,
               "COALCHAIN_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
               "COALCHAIN_HOME": str(home)}
        sup = Supervisor(env, home / "logs")
        if not args.no_services:
            for i, (name, argv) in enumerate(service_plan(args)):  # metrics: one port each after the base
                sup.add(name, argv, settings.metrics_port + 1 + i if settings.metrics_port else 0)
            if args.demo and "witness" in COMMANDS:  # three witnesses, 2 of 3, and the publisher
                for name, argv in demo_witness_plan(settings):
                    sup.add(name, argv)
        _announce(settings, sup, pg, broker)
        deadline = time.monotonic() + args.exit_after_s if args.exit_after_s else None
        while not stop.wait(1.0):
            sup.restart_dead()
            if deadline and time.monotonic() > deadline:
                break
        return 0
    except devstack.DevStackError as e:
        print(f"coalchain up: {e}", file=sys.stderr, flush=True)
        return 1
    finally:
        log.info("stopping")
        if sup:
            sup.stop_all()
        if broker:
            broker.stop()
        if pg:
            pg.stop()
        print("coalchain: stopped everything it started", flush=True)


def ensure_development_genesis(settings: Settings, seed: int) -> None:
    """In development, trust the simulator's demo consortium unless a genesis file is already there."""
    path = settings.genesis_file or settings.home / "genesis.json"
    if path.exists() or not settings.is_development():
        return
    from services.simulator import genesis, write_genesis, write_keys

    write_genesis(path, genesis(seed, created=datetime.now(UTC), ledger_id=settings.ledger_id))
    write_keys(settings.home / "keys" / "participants", seed)
    log.warning("wrote a development genesis (demo consortium, seed %d) to %s", seed, path)


def _announce(settings: Settings, sup: Supervisor, pg: devstack.EmbeddedPostgres | None,
              broker: devstack.Broker | None) -> None:
    if any(c.name == "api" for c in sup.children):
        devstack.wait_for_port(settings.api_host, settings.api_port, timeout_s=60)
    checks = asyncio.run(health.check_all(settings))
    lines = [
        "Taijiao CoalChain is up (Ctrl-C to stop)",
        f"  PostgreSQL : {settings.database_url}" + (f"  (embedded, pid {pg.pid})" if pg else ""),
        f"  Kafka      : {settings.kafka_bootstrap_servers}"
        + (f"  (tansu, pid {broker.process.pid if broker.process else '?'})" if broker else ""),
    ]
    if any(c.name == "api" for c in sup.children):
        lines.append(f"  API        : http://{settings.api_host}:{settings.api_port}/  (docs /docs, health /healthz)")
    lines += [f"  {c.name:11}: pid {c.process.pid if c.process else '-'}  log {c.log_path}" for c in sup.children]
    lines += [f"  health     : {c.name} {'ok' if c.ok else 'DOWN'} - {c.detail}" for c in checks]
    print("\n".join(lines), flush=True)
