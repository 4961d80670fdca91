"""``coalchain api --workers 2``: several processes on one port, as one API — events accepted by any worker,
a challenge from one answered at another, a session from one good at every other, a challenge good once
only, whichever worker sees it again, and a worker killed is started again. Each request goes over a new
connection, so the kernel hands them to both workers; per-process keys or used sets would make some of these
fail."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.cpu import parent_pids
from schemas.refdata import refdata
from services import devstack
from services.config import Settings
from services.kafka.topics import Topics
from services.simulator import SimConfig, simulate
from services.simulator.keys import participant_signer
from tests.pipeline.conftest import SEED, START
from tests.pipeline.helpers import read_topic

pytestmark = pytest.mark.integration

WORKERS = 2
ROUNDS = 12
KILLED_NOTE = "exited with -9; starting it again"


def worker_pids(pid: int) -> list[int]:
    return [p for p, parent in parent_pids().items() if parent == pid]


def age_s(pid: int) -> float:
    """Seconds since process ``pid`` started (``/proc/<pid>/stat`` start time vs ``/proc/uptime``)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    start_ticks = int(stat[stat.rindex(")") + 2:].split()[19])
    return float(Path("/proc/uptime").read_text().split()[0]) - start_ticks / os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def api(deployment: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    s = deployment
    env = {k: v for k, v in os.environ.items() if not k.startswith("COALCHAIN_") and k != "DATABASE_URL"}
    env.update(DATABASE_URL=s.database_url, COALCHAIN_HOME=str(s.home), COALCHAIN_GENESIS_FILE=str(s.genesis_file),
               COALCHAIN_KAFKA_BOOTSTRAP_SERVERS=s.kafka_bootstrap_servers,
               COALCHAIN_KAFKA_TOPIC_PREFIX=s.kafka_topic_prefix, COALCHAIN_API_WORKERS=str(WORKERS))
    port = devstack.free_port()
    log = tmp_path_factory.mktemp("api-workers") / "api.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "services.cli", "api", "--port", str(port)], env=env,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        devstack.wait_for_port("127.0.0.1", port, timeout_s=60)
        time.sleep(2)  # the port answers once the first worker is up; give the other one a moment too
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        devstack.stop_process(proc, "api --workers", timeout_s=30)
    assert proc.returncode == 0, log.read_text(errors="replace")[-3000:]
    text = log.read_text(errors="replace")
    assert "Traceback" not in text and KILLED_NOTE in text, text[-3000:]


def fresh(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=15, limits=httpx.Limits(max_keepalive_connections=0))


def test_the_api_runs_as_worker_processes_and_every_one_accepts_events(api: tuple[str, int],
                                                                        deployment: Settings) -> None:
    url, pid = api
    assert len(worker_pids(pid)) == WORKERS
    batch = list(itertools.islice(simulate(SimConfig(seed=SEED, start=START)), ROUNDS))
    with fresh(url) as client:
        answers = [client.post("/v1/events", json=e) for e in batch]
    assert [a.status_code for a in answers] == [202] * ROUNDS
    records = asyncio.run(read_topic(deployment, Topics.from_settings(deployment).raw, partitions=6))
    assert {json.loads(r.value)["id"] for r in records} >= {e["id"] for e in batch}


def test_sign_in_and_sessions_hold_across_workers_and_a_challenge_is_good_once(api: tuple[str, int]) -> None:
    url, _ = api
    buyer = next(p.id for p in refdata().participants if "buyer" in p.roles)
    signer = participant_signer(SEED, buyer)
    with fresh(url) as client:
        answers = []
        for _ in range(ROUNDS):
            challenge = client.post("/v1/auth/challenge", json={"participant": buyer}).json()
            answers.append({"participant": buyer, "key_id": signer.key_id, "challenge": challenge["challenge"],
                            "signature": base64.b64encode(signer.sign(challenge["message"].encode())).decode()})
        sessions = [client.post("/v1/auth/session", json=a) for a in answers]
        assert [s.status_code for s in sessions] == [200] * ROUNDS, [s.text for s in sessions]
        whoami = [client.get("/v1/auth/whoami", headers={"Authorization": f"Bearer {s.json()['token']}"})
                  for s in sessions]
        assert [w.status_code for w in whoami] == [200] * ROUNDS and {w.json()["participant"] for w in whoami} == {
            buyer}
        replays = [client.post("/v1/auth/session", json=a) for a in answers for _ in range(2)]
    assert [r.status_code for r in replays] == [401] * 2 * ROUNDS
    assert all("already used" in r.text for r in replays)


def test_a_worker_that_dies_is_started_again_and_the_api_keeps_answering(api: tuple[str, int],
                                                                         deployment: Settings) -> None:
    from services.api.cli import STARTUP_S

    url, pid = api
    before = worker_pids(pid)
    time.sleep(max(0.0, STARTUP_S + 1 - age_s(before[0])))  # past its start-up: a crash, not a failed start
    os.kill(before[0], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        now = worker_pids(pid)
        if len(now) == WORKERS and before[0] not in now:
            break
        time.sleep(0.2)
    assert len(now) == WORKERS and before[0] not in now and before[1] in now, (before, now)
    batch = list(itertools.islice(simulate(SimConfig(seed=SEED, start=START)), ROUNDS, 2 * ROUNDS))
    with fresh(url) as client:
        answers = [client.post("/v1/events", json=e) for e in batch]
    assert [a.status_code for a in answers] == [202] * ROUNDS, [a.text for a in answers]
