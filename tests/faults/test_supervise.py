"""`coalchain up`'s supervisor brings back what dies, and the services recover by themselves.

An embedded PostgreSQL and a tansu broker started here (never the shared server on 5432), a sequencer, a
validator and the API run as children of :class:`services.up.Supervisor`, exactly as ``coalchain up`` runs
them. kill -9 of the PostgreSQL postmaster and of the broker: the supervisor starts PostgreSQL again on the
same data and the broker on the same port with its topics, and an event posted afterwards is sealed without
anyone restarting anything by hand. (The broker comes back empty; the sequencer and the API carry on by
themselves; a validator that queried PostgreSQL while it was down exits, and the supervisor restarts it.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from services import devstack
from services.config import Settings
from services.kafka.topics import ensure_topics
from services.pipeline_health import STATE_FILE
from services.store.migrate import create_database
from services.up import Supervisor, backoff_s
from tests.foundation.test_up import _read_until_up, _start, _stop
from tests.pipeline.conftest import deployment  # noqa: F401  (the fixture)
from tests.pipeline.helpers import wait_until
from tests.pipeline.test_gateway import events

pytestmark = [pytest.mark.integration, pytest.mark.slow]

log = logging.getLogger(__name__)


def child_env(settings: Settings) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("COALCHAIN_")},
        "DATABASE_URL": settings.database_url,
        "COALCHAIN_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "COALCHAIN_KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
        "COALCHAIN_HOME": str(settings.home),
        "COALCHAIN_GENESIS_FILE": str(settings.genesis_file),
        "COALCHAIN_BATCH_TIMEOUT_MS": "50",
        "COALCHAIN_EVENT_TIME_MAX_PAST_S": str(settings.event_time_max_past_s),
        "COALCHAIN_API_PORT": str(settings.api_port),
    }


class Ticking:
    """The supervisor's loop (``coalchain up`` ticks once a second; here every 0.2 s) in a thread."""

    def __init__(self, sup: Supervisor) -> None:
        self.sup = sup
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.2):
            self.sup.tick()

    def __enter__(self) -> Ticking:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(60)


def _kill9(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def _sealed(url: str, event_id: str) -> int:
    try:
        conn = await asyncpg.connect(url)
    except (OSError, asyncpg.PostgresError):
        return 0
    try:
        n: int = await conn.fetchval("SELECT count(*) FROM ledger_events WHERE event_id = $1::uuid", event_id)
        return n
    finally:
        await conn.close()


async def _post(client: httpx.AsyncClient, event: dict[str, object], timeout_s: float = 90) -> None:
    """POST until answered 202 (503 while the broker or the database is away, or a refused connection)."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        try:
            r = await client.post("/v1/events", json=event)
            if r.status_code == 202:
                return
            assert r.status_code == 503, r.text
            last = r.text
        except httpx.TransportError as e:
            last = repr(e)
        await asyncio.sleep(0.5)
    raise AssertionError(f"POST /v1/events not accepted in {timeout_s} s: {last}")


@pytest.fixture
def infra(tmp_path: Path) -> Iterator[tuple[devstack.EmbeddedPostgres, devstack.Broker]]:
    # pgdata outside pytest's /tmp/pytest-of-<user>: PostgreSQL runs as another user (pgserver) and a pytest
    # session starting meanwhile takes the others' access to that directory away again (mode 0700)
    pgdata = Path(tempfile.mkdtemp(prefix="coalchain-supervise-")) / "pgdata"
    pg = devstack.EmbeddedPostgres(pgdata).start()
    broker = devstack.Broker(devstack.free_port()).start(tmp_path / "tansu.log")
    try:
        yield pg, broker
    finally:
        broker.stop()
        pg.stop()
        shutil.rmtree(pgdata.parent, ignore_errors=True)


async def test_kill_9_of_postgres_and_broker_both_come_back_and_a_new_event_is_sealed(
    deployment: Settings, infra: tuple[devstack.EmbeddedPostgres, devstack.Broker], tmp_path: Path,  # noqa: F811
) -> None:
    pg, broker = infra
    own = deployment.model_copy(update={
        "database_url": await create_database(pg.url(), "supervise"),
        "kafka_bootstrap_servers": broker.bootstrap_servers, "api_port": devstack.free_port(),
    })
    await ensure_topics(own)
    (tmp_path / "logs").mkdir()
    sup = Supervisor(child_env(own), tmp_path / "logs", settings=own, pg=pg, broker=broker,
                     state_path=tmp_path / STATE_FILE)
    *firsts, second = events(11)
    try:
        for name in ("sequencer", "validator", "api"):
            sup.add(name, [name])
        with _diagnosed(sup), Ticking(sup):
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{own.api_port}", timeout=10) as client:
                # ten events before the kills, each its own verdict record: the ledger's last block consumed
                # an accepted offset well past the end of the re-created topic, which is how the sequencer
                # tells that the broker lost its data (services/sequencer/service.py, by the offsets)
                for e in firsts:
                    await _post(client, e)
                await wait_until(lambda: _all_sealed(own, [str(e["id"]) for e in firsts]), timeout_s=90,
                                 what="the first events sealed")

                pg_pid, broker_pid = pg.pid, broker.process.pid if broker.process else None
                assert pg_pid is not None and broker_pid is not None
                _kill9(pg_pid)
                _kill9(broker_pid)

                async def both_back() -> bool:
                    return (sup.pg_state.restarts >= 1 and sup.broker_state.restarts >= 1
                            and sup.pg_state.state == sup.broker_state.state == "running")
                await wait_until(both_back, timeout_s=90, what="PostgreSQL and the broker started again")
                assert _gone(pg_pid) and pg.pid != pg_pid and pg.alive()
                assert broker.process is not None and broker.process.pid != broker_pid
                assert broker.bootstrap_servers == own.kafka_bootstrap_servers  # the same port

                await _post(client, second)
                await wait_until(lambda: _is_sealed(own, second["id"]), timeout_s=120,
                                 what="an event posted after both restarts sealed")
        assert await _all_sealed(own, [str(e["id"]) for e in firsts])  # PostgreSQL kept its data
        state = json.loads((tmp_path / STATE_FILE).read_text())
        assert state["postgres"]["restarts"] == 1 and state["broker"]["restarts"] == 1
        assert {c["name"]: c["state"] for c in state["children"]} == dict.fromkeys(
            ("sequencer", "validator", "api"), "running")
        # how many times the supervisor itself restarted a service meanwhile (not by hand: it is its job)
        log.warning("service restarts by the supervisor: %s", {c.name: c.restarts for c in sup.children})
    finally:
        sup.stop_all()


@contextlib.contextmanager
def _diagnosed(sup: Supervisor) -> Iterator[None]:
    """On a failure, add what the supervisor saw and the end of each child's log to the message."""
    try:
        yield
    except AssertionError as e:
        tails = []
        for c in sup.children:
            lines = c.log_path.read_text(errors="replace").splitlines() if c.log_path else []
            tails.append(f"--- {c.name} ({c.state}, {c.restarts} restarts, last exit {c.last_exit}):\n"
                         + "\n".join(line[:300] for line in lines[-30:]))
        raise AssertionError(f"{e}\nsupervisor: {json.dumps(sup.snapshot())}\n" + "\n".join(tails)) from e


async def _all_sealed(settings: Settings, ids: list[str]) -> bool:
    return all([await _sealed(settings.database_url, i) == 1 for i in ids])


async def _is_sealed(settings: Settings, event_id: object) -> bool:
    return await _sealed(settings.database_url, str(event_id)) == 1


def test_back_off_doubles_up_to_the_cap_and_never_gives_up() -> None:
    delays = [backoff_s(n) for n in range(1, 12)]
    assert delays[:4] == [0.0, 1.0, 2.0, 4.0]
    assert delays == sorted(delays) and delays[-1] == 60.0


def _state(home: Path) -> dict[str, Any]:
    try:
        state: dict[str, Any] = json.loads((home / STATE_FILE).read_text())
    except (OSError, ValueError):  # not written yet, or being replaced
        return {}
    return state


def test_coalchain_up_brings_back_its_postgres_and_broker(tmp_path: Path) -> None:
    """The same through the command: ``coalchain up --no-services``, its PostgreSQL and broker killed -9."""
    home = Path(tempfile.mkdtemp(prefix="coalchain-up-"))  # (pgdata outside pytest's temp root, as above)
    kafka_port, api_port = devstack.free_port(), devstack.free_port()
    proc = _start(home, kafka_port, api_port, "--no-services")
    try:
        banner = _read_until_up(proc)
        before = _state(home)
        pg_pid, broker_pid = before["postgres"]["pid"], before["broker"]["pid"]
        assert f"pid {pg_pid}" in banner and f"pid {broker_pid}" in banner, banner
        _kill9(pg_pid)
        _kill9(broker_pid)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            now = _state(home)
            if all(now.get(n, {}).get("restarts") == 1 and now[n]["state"] == "running"
                   for n in ("postgres", "broker")):
                break
            time.sleep(0.2)
        assert now["postgres"]["pid"] not in (None, pg_pid) and now["broker"]["pid"] not in (None, broker_pid), now
        status = subprocess.run([sys.executable, "-m", "services.cli", "status"], capture_output=True, text=True,
                                timeout=120, env={**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"
                                                     and not k.startswith("COALCHAIN_")},
                                                  "COALCHAIN_HOME": str(home), "COALCHAIN_KAFKA_PORT": str(kafka_port)})
        lines = {line.split()[0]: line for line in status.stdout.splitlines() if line.strip()}
        assert status.returncode == 0, status.stdout + status.stderr
        assert "ok" in lines["supervisor"] and "embedded PostgreSQL restarted 1 time" in lines["supervisor"], lines
        assert "topics: " in lines["broker"] and "coal.events.accepted.v1" in lines["broker"]  # re-created
        assert "ledger height" in lines["database"]  # the migrated database, on its data
    finally:
        out = _stop(proc)
        shutil.rmtree(home, ignore_errors=True)
    assert "stopped everything it started" in out
    assert not (home / STATE_FILE).exists()
