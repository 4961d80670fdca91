"""``coalchain up``: the whole system on embedded defaults, supervised, stopped cleanly on Ctrl-C / SIGTERM.

Starts (unless configured to use existing ones) an embedded PostgreSQL whose data lives under
``COALCHAIN_HOME/pgdata`` and survives restarts, and a tansu broker in memory mode; creates the topics from
``services/kafka/topics.yaml``; applies migrations; then runs each service as its own ``coalchain`` child process
(as production does, one process per service) and restarts any that dies, with exponential back-off when one
keeps dying (never giving up; the state, crash loops included, is in ``COALCHAIN_HOME/up-state.json``, which
``coalchain status`` and ``/healthz`` report). It also watches the embedded PostgreSQL and broker by the
processes it started: PostgreSQL is started again on the same data, the broker on the same port with the
topics re-created (it comes back empty). ``--demo`` adds the simulated 太焦线 feed. On SIGINT/SIGTERM
everything started here is stopped, children first, by the PIDs we started.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from services import db, devstack, health
from services.cli import COMMANDS
from services.config import Settings
from services.kafka.topics import ensure_topics
from services.pipeline_health import STATE_FILE  # under COALCHAIN_HOME: read by `coalchain status`, /healthz
from services.witness.demo import demo_witness_plan

log = logging.getLogger(__name__)


BACKOFF_BASE_S = 1.0  # the second fast exit in a row waits this long before the restart, then doubling...
BACKOFF_MAX_S = 60.0  # ...up to this; a service is never given up on
HEALTHY_RUN_S = 30.0  # a child that ran this long counts as healthy again: its next exit restarts it at once
CRASH_LOOP_EXITS = 3  # this many fast exits in a row: reported as crash-looping (state file, readiness)


def backoff_s(fast_exits: int) -> float:
    """Delay before restarting a child after its ``fast_exits``-th exit in a row within HEALTHY_RUN_S of its
    start: none for the first, then 1, 2, 4 ... s, capped at BACKOFF_MAX_S."""
    if fast_exits <= 1:
        return 0.0
    return float(min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (fast_exits - 2)))


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    log_path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    fast_exits: int = 0  # exits in a row, each within HEALTHY_RUN_S of its start
    last_exit: int | None = None  # its last exit status
    restart_at: float | None = None  # monotonic time of the scheduled restart (backing off), None: not waiting

    @property
    def state(self) -> str:
        if self.process is None:
            return "stopped"
        if self.fast_exits >= CRASH_LOOP_EXITS:  # until a start lasts HEALTHY_RUN_S
            return "crash-looping"
        return "restarting" if self.restart_at is not None else "running"


@dataclass
class Infra:
    """An embedded server the supervisor started and brings back when it dies."""

    name: str
    restarts: int = 0
    down_since: float | None = None  # monotonic
    failures: int = 0  # failed restart attempts in a row
    retry_at: float = 0.0
    last_error: str = ""

    @property
    def state(self) -> str:
        return "running" if self.down_since is None else "down"


@dataclass
class Supervisor:
    """Runs the services as child processes and restarts any that dies (exponential back-off, never giving
    up); watches the embedded PostgreSQL and the tansu broker it was given, by the process it started, and
    starts them again when they die: PostgreSQL on the same data, the broker on the same port with the topics
    re-created (memory mode: it comes back empty). Its state goes to ``state_path`` (JSON) every tick."""

    env: dict[str, str]
    log_dir: Path
    children: list[Child] = field(default_factory=list)
    settings: Settings | None = None  # needed to re-create topics after a broker restart
    pg: devstack.EmbeddedPostgres | None = None
    broker: devstack.Broker | None = None
    state_path: Path | None = None
    pg_state: Infra = field(default_factory=lambda: Infra("postgres"))
    broker_state: Infra = field(default_factory=lambda: Infra("broker"))

    def spawn(self, child: Child) -> None:
        child.log_path = self.log_dir / f"{child.name}.log"
        with open(child.log_path, "ab") as out:  # the child keeps its own copy of the descriptor
            child.process = subprocess.Popen(
                [sys.executable, "-m", "services.cli", *child.argv],
                env={**self.env, **child.env}, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        child.started_at = time.monotonic()
        child.restart_at = None
        log.info("started %s pid=%s (log %s)", child.name, child.process.pid, child.log_path)

    def add(self, name: str, argv: list[str], metrics_port: int = 0) -> None:
        child = Child(name, argv, env={"COALCHAIN_METRICS_PORT": str(metrics_port)} if metrics_port else {})
        self.children.append(child)
        self.spawn(child)

    def tick(self) -> None:
        """One round: infrastructure first (a service restarted against a dead broker would only die again),
        then the services, then the state file."""
        self.watch_infra()
        self.restart_dead()
        self.write_state()

    def restart_dead(self) -> None:
        now = time.monotonic()
        for child in self.children:
            if child.process is None:
                continue
            if child.restart_at is not None:  # backing off
                if now >= child.restart_at:
                    child.restarts += 1
                    log.warning("restarting %s (#%d)", child.name, child.restarts)
                    self.spawn(child)
                continue
            code = child.process.poll()
            if code is None:
                if child.fast_exits and now - child.started_at >= HEALTHY_RUN_S:
                    child.fast_exits = 0  # it has run long enough: healthy again
                continue
            child.last_exit = code
            child.fast_exits = child.fast_exits + 1 if now - child.started_at < HEALTHY_RUN_S else 1
            delay = backoff_s(child.fast_exits)
            child.restart_at = now + delay
            if child.fast_exits >= CRASH_LOOP_EXITS:
                log.error("%s exited with %s, %d times in a row within %.0f s of its start (crash loop); restarting"
                          " in %.0f s (see %s)", child.name, code, child.fast_exits, HEALTHY_RUN_S, delay,
                          child.log_path)
            else:
                log.warning("%s exited with %s; restarting%s", child.name, code,
                            f" in {delay:.0f} s" if delay else "")
            if not delay:
                child.restarts += 1
                self.spawn(child)

    def watch_infra(self) -> None:
        if self.pg is not None:
            self._watch(self.pg_state, self.pg.alive, self._restart_postgres)
        if self.broker is not None:
            broker = self.broker
            self._watch(self.broker_state, lambda: broker.process is not None and broker.process.poll() is None,
                        self._restart_broker)

    def _watch(self, state: Infra, alive: Callable[[], bool], restart: Callable[[], None]) -> None:
        now = time.monotonic()
        if state.down_since is None:
            if alive():
                return
            state.down_since, state.failures, state.retry_at = now, 0, now
            log.error("%s died; starting it again", state.name)
        if now < state.retry_at:
            return
        try:
            restart()
        except Exception as e:  # any failure to start: retry with back-off, never give up
            state.failures += 1
            state.last_error = f"{type(e).__name__}: {e}"[:500]
            state.retry_at = now + min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (state.failures - 1))
            log.error("%s could not be started again (attempt %d): %s; retrying in %.0f s", state.name,
                      state.failures, state.last_error, state.retry_at - now)
            return
        state.restarts += 1
        log.warning("%s is back after %.1f s (restart #%d)", state.name, time.monotonic() - state.down_since,
                    state.restarts)
        state.down_since, state.failures, state.last_error = None, 0, ""

    def _restart_postgres(self) -> None:
        assert self.pg is not None
        before = self.pg.url() if self.pg._server is not None else None
        self.pg.restart()  # same data directory: PostgreSQL's crash recovery replays its WAL
        if before is not None and self.pg.url() != before:  # (pgserver keeps the socket directory: not expected)
            url = self.pg.url()
            log.warning("embedded PostgreSQL moved to %s; restarting the services with it", url)
            if self.env.get("DATABASE_URL") == before:  # (coalchain up: the services use the server's URL)
                self.env["DATABASE_URL"] = url
                if self.settings is not None:
                    self.settings = self.settings.model_copy(update={"database_url": url})
            self.restart_all()

    def _restart_broker(self) -> None:
        """Start the broker again on its port with the topics. The services are paused (SIGSTOP) meanwhile:
        tansu creates a topic any client merely asks metadata for, with 4 partitions, and a reconnecting
        client racing ``ensure_topics`` would leave e.g. an accepted topic of 4 partitions of which the
        sequencer reads one. Resumed (SIGCONT), they reconnect to a broker that has the right topics."""
        assert self.broker is not None
        paused = [c for c in self.children if c.process is not None and c.process.poll() is None]
        for child in paused:
            child.process.send_signal(signal.SIGSTOP)  # type: ignore[union-attr]
        try:
            devstack.stop_process(self.broker.process, "tansu", timeout_s=5)  # reaps the dead one (or a failed try)
            self.broker.process = None
            self.broker.start(self.log_dir / "tansu.log")  # the same port: the services' address stays valid
            if self.settings is not None:
                created = asyncio.run(ensure_topics(self.settings))
                log.warning("the broker came back empty (memory mode); re-created topics %s", ", ".join(created))
                wrong = asyncio.run(wrong_partition_counts(self.settings))
                if wrong:  # a client outside this supervisor asked first: start over (the next tick)
                    raise devstack.DevStackError("topics auto-created with the wrong partition count: " + wrong)
        finally:
            for child in paused:
                if child.process is not None and child.process.poll() is None:
                    child.process.send_signal(signal.SIGCONT)
        # the services notice by themselves that the broker lost their topics (the sequencer, validators,
        # replica and views read the new topics from their beginning): none is restarted for it

    def restart_all(self) -> None:
        """Stop every running child and start it again at once (used when an address they hold changed)."""
        self.stop_all()
        for child in self.children:
            child.restarts += 1
            self.spawn(child)

    def snapshot(self) -> dict[str, Any]:
        now = time.monotonic()

        def infra(state: Infra, pid: int | None) -> dict[str, Any]:
            return {"state": state.state, "pid": pid, "restarts": state.restarts,
                    "down_s": None if state.down_since is None else round(now - state.down_since, 1),
                    "last_error": state.last_error}

        out: dict[str, Any] = {"pid": os.getpid(), "updated_at": time.time(), "children": [
            {"name": c.name, "state": c.state, "pid": c.process.pid if c.process else None, "restarts": c.restarts,
             "fast_exits": c.fast_exits, "last_exit": c.last_exit,
             "restart_in_s": None if c.restart_at is None else round(max(0.0, c.restart_at - now), 1)}
            for c in self.children]}
        if self.pg is not None:
            out["postgres"] = infra(self.pg_state, self.pg.pid if self.pg_state.down_since is None else None)
        if self.broker is not None:
            out["broker"] = infra(self.broker_state, self.broker.process.pid if self.broker.process else None)
        return out

    def write_state(self) -> None:
        if self.state_path is None:
            return
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.snapshot(), indent=1), encoding="utf-8")
        tmp.replace(self.state_path)

    def remove_state(self) -> None:
        if self.state_path is not None:
            self.state_path.unlink(missing_ok=True)

    def stop_all(self) -> None:
        for child in reversed(self.children):
            child.restart_at = None
            if child.process is not None and child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        for child in reversed(self.children):
            devstack.stop_process(child.process, child.name, timeout_s=15)


async def wrong_partition_counts(settings: Settings) -> str:
    """Topics whose partition count is not the one ``topics.yaml`` gives ('' if none)."""
    from services.kafka import clients
    from services.kafka.topics import load_topics

    consumer = clients.consumer(settings)
    await consumer.start()
    try:
        await consumer.topics()
        wrong = []
        for spec in load_topics().values():
            have = consumer.partitions_for_topic(settings.topic(spec.name)) or set()
            if len(have) != spec.partitions:
                wrong.append(f"{settings.topic(spec.name)} has {len(have)}, not {spec.partitions}")
        return "; ".join(wrong)
    finally:
        await consumer.stop()


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
        sup = Supervisor(env, home / "logs", settings=settings, pg=pg, broker=broker, state_path=home / STATE_FILE)
        if not args.no_services:
            for i, (name, argv) in enumerate(service_plan(args)):  # metrics: one port each after the base
                sup.add(name, argv, settings.metrics_port + 1 + i if settings.metrics_port else 0)
            if args.demo and "witness" in COMMANDS:  # three witnesses, 2 of 3, and the publisher
                for name, argv in demo_witness_plan(settings):
                    sup.add(name, argv)
        sup.write_state()
        _announce(settings, sup, pg, broker)
        deadline = time.monotonic() + args.exit_after_s if args.exit_after_s else None
        while not stop.wait(1.0):
            sup.tick()
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
            sup.remove_state()
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
