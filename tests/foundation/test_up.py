"""``coalchain up`` on embedded defaults: starts, reports healthy, stops cleanly, keeps PostgreSQL data."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from services.devstack import free_port

pytestmark = pytest.mark.integration


def _start(home: Path, kafka_port: int, api_port: int, *extra: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("COALCHAIN_")}
    env.update(COALCHAIN_HOME=str(home), COALCHAIN_KAFKA_PORT=str(kafka_port), COALCHAIN_API_PORT=str(api_port))
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", "up", *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def _read_until_up(proc: subprocess.Popen[str], timeout_s: float = 60) -> str:
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("  health     : broker"):
            return "".join(lines)
    raise AssertionError("coalchain up did not come up:\n" + "".join(lines))


def _pids(banner: str) -> list[int]:
    return [int(p) for p in re.findall(r"pid (\d+)", banner)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    return out


def _db_url(banner: str) -> str:
    m = re.search(r"PostgreSQL : (\S+)", banner)
    assert m, banner
    return m.group(1)


async def _write_marker(url: str, value: str) -> None:
    conn = await asyncpg.connect(url)
    await conn.execute("CREATE TABLE IF NOT EXISTS up_probe (v text)")
    await conn.execute("INSERT INTO up_probe VALUES ($1)", value)
    await conn.close()


async def _read_markers(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    rows = await conn.fetch("SELECT v FROM up_probe")
    await conn.close()
    return [r["v"] for r in rows]


def test_up_is_healthy_stops_cleanly_and_keeps_data(tmp_path: Path) -> None:
    home = tmp_path / "home"
    kafka_port, api_port = free_port(), free_port()
    proc = _start(home, kafka_port, api_port)
    try:
        banner = _read_until_up(proc)
        assert "database ok" in banner and "broker ok" in banner, banner
        pids = _pids(banner)
        assert len(pids) >= 3  # postgres, tansu, api at least
        r = httpx.get(f"http://127.0.0.1:{api_port}/healthz", timeout=10)
        assert r.status_code == 200 and r.json()["ok"] is True, r.text
        asyncio.run(_write_marker(_db_url(banner), "first run"))
    finally:
        out = _stop(proc)
    assert "stopped everything it started" in out
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [p for p in pids if _alive(p)] == []

    proc = _start(home, kafka_port, api_port, "--no-services")
    try:
        banner = _read_until_up(proc)
        assert asyncio.run(_read_markers(_db_url(banner))) == ["first run"]
    finally:
        _stop(proc)
