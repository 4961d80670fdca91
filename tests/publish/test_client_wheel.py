"""The client library is its own distribution: its wheel installs into a fresh venv outside the repository
where FastAPI (and faust, asyncpg, the embedded servers) cannot be imported, and there it publishes an event
to the real stack and verifies the sealed event's inclusion proof against the signed checkpoint."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

from services.simulator import participant_signer
from tests.pipeline.conftest import SEED
from tests.publish.conftest import Stack

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "python"

SCRIPT = textwrap.dedent('''
    import json, sys, uuid
    from coalchain_client import Client, Sealed, Trust, load_signer, make_event, sign
    api, trust, key, assay = sys.argv[1:5]
    lot = "LOT-WHEEL-" + uuid.uuid4().hex[:8].upper()
    event = sign(make_event(participant="jincheng-anthracite-sales", type="inventory.StockReported.v1",
                            subject=lot, data={"mine_id": "jc-sihe", "lot_id": lot, "product": "WY-ZK",
                                               "quantity_kg": 1000000, "station": "JCF",
                                               "stockpile_id": "JCF-Y3-07", "assay": json.loads(assay)}),
                 load_signer(key))
    outcome = Client(api, trust=Trust.from_file(trust)).send(event, timeout_s=60)
    print(json.dumps({"sealed": isinstance(outcome, Sealed), "outcome": repr(outcome)}))
''')


def build_wheel(out: Path) -> Path:
    try:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(CLIENT), "-w", str(out)],
                       check=True, capture_output=True, timeout=300)
    finally:  # setuptools builds in the source tree
        shutil.rmtree(CLIENT / "build", ignore_errors=True)
        shutil.rmtree(CLIENT / "coalchain_client.egg-info", ignore_errors=True)
    [wheel] = out.glob("coalchain_client-*.whl")
    return wheel


async def test_the_wheel_works_in_a_fresh_venv_without_the_server(stack: Stack,
                                                                   tmp_path_factory: pytest.TempPathFactory) -> None:
    where = tmp_path_factory.mktemp("client-venv")
    assert not where.is_relative_to(ROOT)
    wheel = await asyncio.to_thread(build_wheel, where / "dist")
    names = set(subprocess.run([sys.executable, "-m", "zipfile", "-l", str(wheel)], capture_output=True, text=True,
                               check=True).stdout.split())
    assert "coalchain_client/client.py" in names and "chain_anchor/merkle.py" in names
    assert not any(n.startswith(("services/", "schemas/")) for n in names)
    await asyncio.to_thread(venv.create, where / "venv", with_pip=True)
    python = str(where / "venv" / "bin" / "python")
    await asyncio.to_thread(subprocess.run, [python, "-m", "pip", "install", "-q", str(wheel)], check=True,
                            capture_output=True, timeout=600, cwd=where)

    for module in ("fastapi", "faust", "asyncpg", "pgserver", "services", "schemas"):
        probe = subprocess.run([python, "-c", f"import {module}"], capture_output=True, text=True, cwd=where)
        assert probe.returncode != 0 and "ModuleNotFoundError" in probe.stderr, module

    key = where / "mine.key"
    key.write_bytes(participant_signer(SEED, "jincheng-anthracite-sales").to_pem())
    assay = json.loads((ROOT / "schemas/examples/valid/inventory.StockReported.json").read_text())["data"]["assay"]
    (where / "publish.py").write_text(SCRIPT, encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        python, str(where / "publish.py"), stack.api_url, str(stack.trust_file), str(key), json.dumps(assay),
        cwd=where, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={"PATH": "/usr/bin:/bin"})
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    assert json.loads(out)["sealed"], out
