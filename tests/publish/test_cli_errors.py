"""Every user error of the CLI is one line naming the file, field or connection, with a non-zero exit;
``-v`` shows the traceback. Each case of issue 14, run as a user would (a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNREACHABLE_DB = "postgresql://postgres:secret@127.0.0.1:1/nowhere"


def coalchain(*argv: str, home: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *argv], capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={"PATH": os.environ["PATH"], "COALCHAIN_HOME": str(home), "DATABASE_URL": UNREACHABLE_DB,
             "COALCHAIN_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", **(env or {})},
        stdin=subprocess.DEVNULL)


def one_line(result: subprocess.CompletedProcess[str], *names: str) -> str:
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip() and " WARNI" not in line]
    assert len(lines) == 1, result.stderr
    for name in names:
        assert name in lines[0], (name, lines[0])
    return lines[0]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    not_trust = tmp_path / "genesis-not-trust.json"
    not_trust.write_text(json.dumps({"participants": []}), encoding="utf-8")
    malformed = tmp_path / "malformed.json"
    malformed.write_text('{"ledger_id": "taijiao", "sequencer_keys": ', encoding="utf-8")
    bundle = tmp_path / "bundle.json"
    bundle.write_text("{}", encoding="utf-8")
    return {"not_trust": not_trust, "malformed": malformed, "bundle": bundle, "missing": tmp_path / "nope.json"}


def test_receipt_verify_with_a_file_that_is_not_a_trust_file(files: dict[str, Path], tmp_path: Path) -> None:
    r = coalchain("receipt", "verify", str(files["bundle"]), "--trust", str(files["not_trust"]), home=tmp_path)
    one_line(r, str(files["not_trust"]), "ledger_id")


def test_verify_with_a_malformed_trust_file(files: dict[str, Path], tmp_path: Path) -> None:
    one_line(coalchain("verify", "--trust", str(files["malformed"]), home=tmp_path), str(files["malformed"]), "JSON")


def test_verify_without_a_genesis_file(tmp_path: Path) -> None:
    one_line(coalchain("verify", home=tmp_path), str(tmp_path / "genesis.json"))


def test_verify_with_the_database_unreachable(tmp_path: Path) -> None:
    (tmp_path / "genesis.json").write_text(json.dumps({"participants": []}), encoding="utf-8")
    line = one_line(coalchain("verify", home=tmp_path), "127.0.0.1:1/nowhere", "database")
    assert "secret" not in line  # the password is not printed


def test_replica_with_a_missing_trust_file(files: dict[str, Path], tmp_path: Path) -> None:
    one_line(coalchain("replica", "--trust", str(files["missing"]), home=tmp_path), str(files["missing"]))


def test_verbose_shows_the_traceback(files: dict[str, Path], tmp_path: Path) -> None:
    r = coalchain("-v", "verify", "--trust", str(files["malformed"]), home=tmp_path)
    assert r.returncode != 0 and "Traceback" in r.stderr and str(files["malformed"]) in r.stderr


def test_participant_commands_name_what_is_wrong(tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    one_line(coalchain("participant", "keygen", "-o", str(key), home=tmp_path), "passphrase")  # no tty, no passphrase
    assert coalchain("participant", "keygen", "-o", str(key), "--no-encrypt", home=tmp_path).returncode == 0
    one_line(coalchain("participant", "keygen", "-o", str(key), "--no-encrypt", home=tmp_path), str(key), "exists")
    one_line(coalchain("participant", "register", "--id", "x-mine", "--name", "X", "--role", "mine",
                       "--public-key", "not-base64", home=tmp_path), "--public-key")
    one_line(coalchain("participant", "register", "--id", "x-mine", "--name", "X", "--role", "mine", "--key",
                       str(tmp_path / "absent.pem"), home=tmp_path), "absent.pem")
    one_line(coalchain("participant", "register", "--id", "x-mine", "--name", "X", "--role", "mine", "--key",
                       str(key), "--send", home=tmp_path), "--admin-key")
    one_line(coalchain("participant", "register", "--id", "Bad Id", "--name", "X", "--role", "mine", "--key",
                       str(key), "--admin-key", str(key), home=tmp_path), "/data/participant_id")
    one_line(coalchain("participant", "register", "--id", "x-mine", "--name", "X", "--role", "mine", "--key",
                       str(key), "--admin-key", str(key), "--send", "--api", "http://127.0.0.1:1", home=tmp_path),
             "http://127.0.0.1:1")
    encrypted = tmp_path / "e.pem"
    assert coalchain("participant", "keygen", "-o", str(encrypted), home=tmp_path,
                     env={"COALCHAIN_KEY_PASSPHRASE": "pw"}).returncode == 0
    one_line(coalchain("participant", "register", "--id", "x-mine", "--name", "X", "--role", "mine", "--key",
                       str(encrypted), home=tmp_path, env={"COALCHAIN_KEY_PASSPHRASE": "wrong"}),
             str(encrypted), "passphrase")
    unsigned = coalchain("participant", "register", "--id", "x-mine", "--name", "X", "--role", "mine", "--key",
                         str(encrypted), home=tmp_path, env={"COALCHAIN_KEY_PASSPHRASE": "pw"})
    assert unsigned.returncode == 0 and json.loads(unsigned.stdout)["data"]["participant_id"] == "x-mine"
