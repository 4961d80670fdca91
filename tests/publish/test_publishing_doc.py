"""docs/publishing.md, followed: its ``sh`` blocks run in order (bash, -e), its ``python`` blocks are the
files their first line names, against the real stack; the last command must print ``sealed``."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

from tests.publish.conftest import Stack

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "publishing.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.M | re.S)


def blocks(kind: str) -> list[str]:
    return [body for k, body in BLOCK.findall(DOC.read_text(encoding="utf-8")) if k == kind]


def test_the_doc_has_what_the_test_runs() -> None:
    assert len(blocks("sh")) >= 4 and [b.splitlines()[0] for b in blocks("python")] == ["# publish.py"]


async def test_a_new_mine_follows_docs_publishing(stack: Stack, tmp_path: Path) -> None:
    for body in blocks("python"):
        (tmp_path / body.splitlines()[0].removeprefix("# ").strip()).write_text(body, encoding="utf-8")
    script = "set -euo pipefail\n" + "\n".join(blocks("sh"))
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path),
           "PYTHONPATH": str(ROOT / "clients" / "python"),  # what `pip install ./clients/python` provides
           "COALCHAIN_API": stack.api_url, "TRUST": str(stack.trust_file), "ADMIN_KEY": str(stack.admin_key_file),
           "COALCHAIN_HOME": str(tmp_path / ".coalchain"), "LANG": os.environ.get("LANG", "C.UTF-8")}
    proc = await asyncio.create_subprocess_exec("bash", "-c", script, cwd=tmp_path, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 180)
    assert proc.returncode == 0, (out.decode(), err.decode())
    lines = out.decode().split("\n")
    assert any(line.startswith("sealed: event") for line in lines)  # the registration, awaited
    assert lines[-2] == "sealed", out.decode()  # GET /v1/events/{id} of the published event
    assert "proof verified against the signed checkpoint" in err.decode()
    assert (tmp_path / "keys" / "fenghuang.key").read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
