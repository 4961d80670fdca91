"""The built wheel, installed into a clean venv outside the repository, runs every command docker-compose.yml
runs, against the real broker and PostgreSQL: what the image would do, without Docker.

The venv gets the wheel and its declared dependencies from the package index (pip's cache makes reruns
quick) and nothing from the repository: not the source tree (the commands run from an empty directory), not
the embedded servers (they are an optional extra and must not be needed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from services import devstack
from services.config import Settings
from services.db import with_database
from services.store.migrate import drop_database
from tests.foundation.test_compose import coalchain_services

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _wheelhouse(wheel: Path) -> Path:
    """The wheel's dependencies, downloaded once per dependency list into a local cache directory."""
    import hashlib
    import zipfile

    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        requires = sorted(line for line in z.read(meta).decode().splitlines() if line.startswith("Requires-Dist:"))
    key = hashlib.sha256("\n".join(requires).encode()).hexdigest()[:16]
    house = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "coalchain-tests" / f"wheelhouse-{key}"
    if not (house / ".complete").exists():
        house.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "-d", str(house), str(wheel)], check=True,
                       timeout=900, capture_output=True)
        (house / ".complete").touch()
    return house


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out),
                    str(ROOT)], check=True, cwd=out, capture_output=True)
    (wheel,) = out.glob("taijiao_coalchain-*.whl")
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
                    "--no-compile", "--no-index", "--find-links", str(_wheelhouse(wheel)), str(wheel)],
                   check=True, cwd=out, timeout=900, capture_output=True)
    return venv


ONE_SHOT = ("topics", "migrate", "migrate-replica")


def compose_commands() -> dict[str, list[str]]:
    return {name: [str(c) for c in svc["command"]]  # type: ignore[attr-defined]
            for name, svc in coalchain_services().items() if "command" in svc}


@pytest.fixture(scope="module")
def deploy(wheel_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`coalchain init` from the installed wheel: what compose mounts."""
    directory = tmp_path_factory.mktemp("deploy")
    done = subprocess.run([str(wheel_venv / "bin" / "coalchain"), "init", "--dir", str(directory / "deploy")],
                          capture_output=True, text=True, cwd=directory, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "sequencer key id" in done.stdout and "sha256" in done.stdout
    return directory / "deploy"


def _env(settings: Settings, deploy: Path, home: Path, replica_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COALCHAIN_", "VIRTUAL_ENV", "PYTHON"))}
    env.pop("DATABASE_URL", None)
    env.update(
        COALCHAIN_ENVIRONMENT="production", DATABASE_URL=settings.database_url,
        COALCHAIN_KAFKA_BOOTSTRAP_SERVERS=settings.kafka_bootstrap_servers,
        COALCHAIN_KAFKA_TOPIC_PREFIX=f"w{os.getpid()}.", COALCHAIN_HOME=str(home),
        COALCHAIN_SEQUENCER_KEY_FILE=str(deploy / "sequencer.key"), COALCHAIN_GENESIS_FILE=str(deploy / "genesis.json"),
        COALCHAIN_VALIDATOR_KEY_FILE=str(deploy / "validator.key"),
        COALCHAIN_DISPATCHER_TOKENS="wheel-test-token", COALCHAIN_LOG_FORMAT="json", REPLICA_URL=replica_url,
    )
    return env


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for p in started:
            devstack.stop_process(p, "wheel child", timeout_s=20)


def _scrape(port: int, path: str = "/metrics") -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as r:
        text: str = r.read().decode()
        return text


def _wait_scrape(proc: subprocess.Popen[bytes], port: int, path: str, log: Path, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{proc.args!r} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            return _scrape(port, path)
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{proc.args!r}: nothing on port {port} after {timeout_s} s:\n{log.read_text()[-3000:]}")


async def test_the_installed_wheel_runs_every_compose_command(
    wheel_venv: Path, deploy: Path, settings: Settings, make_database: object, tmp_path: Path,
    processes: list[subprocess.Popen[bytes]], pg_admin_url: str,
) -> None:
    replica_url = await make_database("wheelreplica")  # type: ignore[operator]
    # an empty database: the wheel's `migrate` makes every table, like the compose `migrate` job
    name = f"cc_wheelledger_{os.getpid()}"
    admin = await asyncpg.connect(pg_admin_url)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    fresh = with_database(pg_admin_url, name)
    try:
        await _run_compose_commands(wheel_venv, deploy, settings, fresh, replica_url, tmp_path, processes)
    finally:
        for p in processes:
            devstack.stop_process(p, "wheel child", timeout_s=20)
        await drop_database(pg_admin_url, name)


async def _run_compose_commands(wheel_venv: Path, deploy: Path, settings: Settings, fresh: str, replica_url: str,
                                tmp_path: Path, processes: list[subprocess.Popen[bytes]]) -> None:
    s = settings.model_copy(update={"database_url": fresh})
    env = _env(s, deploy, tmp_path / "home", replica_url)
    (tmp_path / "home").mkdir()  # the image's /var/lib/coalchain (the coalchain-home volume)
    coalchain = str(wheel_venv / "bin" / "coalchain")
    empty = tmp_path / "cwd"
    empty.mkdir()
    py = wheel_venv / "bin" / "python"
    missing = subprocess.run([str(py), "-c", "import pgserver"], capture_output=True, cwd=empty)
    assert missing.returncode != 0, "the embedded servers must be an optional extra, not a dependency"
    where = subprocess.run([str(py), "-c", "import services; print(services.__file__)"], capture_output=True,
                           text=True, cwd=empty, check=True).stdout
    assert str(wheel_venv) in where and str(ROOT) not in where

    commands = compose_commands()
    for job in ONE_SHOT:  # the one-shot jobs
        job_env = {**env, "DATABASE_URL": replica_url} if job == "migrate-replica" else env
        done = subprocess.run([coalchain, *commands[job]], env=job_env, cwd=empty, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, f"{job}: {done.stdout}{done.stderr}"
    assert "created topics: w" in subprocess.run(  # idempotent, and the topics came from the packaged file
        [coalchain, "topics"], env={**env, "COALCHAIN_KAFKA_TOPIC_PREFIX": f"w2{os.getpid()}."}, cwd=empty,
        capture_output=True, text=True, check=True).stdout

    ports: dict[str, int] = {}
    for name, command in commands.items():
        if name in ONE_SHOT:
            continue
        port = devstack.free_port()
        ports[name] = port
        argv = [a.replace("/etc/coalchain/trust.json", str(deploy / "trust.json")) for a in command]
        if name == "api":
            argv = [a if a != "8000" else str(port) for a in argv]
            argv = [a if a != "0.0.0.0" else "127.0.0.1" for a in argv]
        child_env = {**env, "COALCHAIN_METRICS_PORT": str(port)}
        if name == "replica":
            child_env["DATABASE_URL"] = replica_url
        log = tmp_path / f"{name}.log"
        with open(log, "wb") as out:
            processes.append(subprocess.Popen([coalchain, *argv], env=child_env, cwd=empty, stdout=out,
                                              stderr=subprocess.STDOUT))
    for (name, port), proc in zip(ports.items(), processes, strict=True):
        log = tmp_path / f"{name}.log"
        body = _wait_scrape(proc, port, "/healthz" if name == "api" else "/metrics", log)
        assert body, name
    metrics = _scrape(ports["api"])
    assert "coalchain_http_requests_total" in metrics
    time.sleep(2)  # every service past its start-up: none may have died
    for (name, _), proc in zip(ports.items(), processes, strict=True):
        assert proc.poll() is None, f"{name} died:\n{(tmp_path / f'{name}.log').read_text()[-3000:]}"
    for p in processes:
        p.send_signal(signal.SIGTERM)
    for (name, _), proc in zip(ports.items(), processes, strict=True):
        # uvicorn re-raises the SIGTERM it handled once its graceful shutdown is done: -15 is a clean stop
        clean = (0, -signal.SIGTERM) if name == "api" else (0,)
        assert proc.wait(timeout=30) in clean, f"{name}:\n{(tmp_path / f'{name}.log').read_text()[-3000:]}"
    lines = (tmp_path / "sequencer.log").read_text().splitlines()
    assert lines and all(line.startswith("{") for line in lines), "COALCHAIN_LOG_FORMAT=json: one JSON object a line"
