"""``coalchain witness`` as its own process: binds 127.0.0.1, answers the protocol, keeps its state over a
restart (SIGTERM, start again: the conflict answer names the size cosigned before)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from chain_anchor.checkpoint import NoteVerifier
from services.devstack import free_port
from tests.witness.test_witness import HONEST, LOG_KEY, body


def _start(home: Path, key: Path, port: int, name: str | None) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "services.cli", "witness", "--key", str(key), "--port", str(port),
            "--log-vkey", LOG_KEY.vkey()]
    if name:
        argv += ["--name", name]
    env = {**os.environ, "COALCHAIN_HOME": str(home)}
    with open(home / "witness.log", "ab") as log:
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/{'0' * 64}/checkpoint", timeout=1)
            return proc
        except httpx.TransportError:
            if proc.poll() is not None:
                raise AssertionError((home / "witness.log").read_text()) from None
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("the witness did not start")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=15)


def test_witness_process_keeps_its_state_across_a_restart(tmp_path: Path) -> None:
    key, port = tmp_path / "keys" / "railway.key", free_port()
    proc = _start(tmp_path, key, port, "taijiao-coalchain.cn/witness/railway")
    try:
        url = f"http://127.0.0.1:{port}/add-checkpoint"
        assert httpx.post(url, content=body(0, HONEST[:9])).status_code == 200
    finally:
        _stop(proc)
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    vkey = subprocess.run([sys.executable, "-m", "services.cli", "witness", "--key", str(key), "--print-vkey"],
                          capture_output=True, text=True, check=True,
                          env={**os.environ, "COALCHAIN_HOME": str(tmp_path)})
    assert NoteVerifier.parse(vkey.stdout.strip()).name == "taijiao-coalchain.cn/witness/railway"
    proc = _start(tmp_path, key, port, None)  # same key, same state directory (<key>.d)
    try:
        answer = httpx.post(url, content=body(0, HONEST[:12]))
        assert (answer.status_code, answer.content, answer.headers["content-type"]) == (409, b"9\n",
                                                                                         "text/x.tlog.size")
        assert httpx.post(url, content=body(9, HONEST[:12])).status_code == 200
    finally:
        _stop(proc)
    missing = subprocess.run([sys.executable, "-m", "services.cli", "witness", "--key", str(tmp_path / "nope.key")],
                             capture_output=True, text=True, env={**os.environ, "COALCHAIN_HOME": str(tmp_path)})
    assert missing.returncode == 2 and "give --name" in missing.stderr and "Traceback" not in missing.stderr
