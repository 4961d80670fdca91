"""Genesis and key files, JSON lines, pacing and bounds, and the CLI hook."""

from __future__ import annotations

import argparse
import base64
import io
import itertools
import json
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import schemas
from chain_anchor.keys import Signer, key_id
from services.config import Settings
from services.simulator import (
    Pacer,
    SimConfig,
    cli,
    genesis,
    participant_signer,
    simulate,
    to_json_bytes,
    write_genesis,
    write_jsonl,
    write_keys,
)
from services.simulator.output import Bounds

START = datetime(2025, 3, 1, tzinfo=UTC)


def test_genesis_lists_every_participant_with_its_public_key(tmp_path: Path) -> None:
    doc = genesis(5, created=START, ledger_id="taijiao")
    assert doc["format"] == "coalchain-genesis/v1" and doc["ledger_id"] == "taijiao" and doc["seed"] == 5
    assert doc["created"] == "2025-03-01T00:00:00Z"
    ids = [p["id"] for p in doc["participants"]]
    assert ids == [p.id for p in schemas.refdata().participants]
    for p in doc["participants"]:
        [key] = p["keys"]
        raw = base64.b64decode(key["public_key"], validate=True)
        assert key["key_id"] == key_id(raw) == participant_signer(5, p["id"]).key_id
        assert set(p) == {"id", "name", "name_en", "roles", "mines", "stations", "keys"}
    write_genesis(tmp_path / "g" / "genesis.json", doc)
    assert json.loads((tmp_path / "g" / "genesis.json").read_text(encoding="utf-8")) == doc


def test_genesis_created_is_utc() -> None:
    local = datetime.fromisoformat("2025-03-01T00:00:00+08:00")
    assert genesis(0, created=local)["created"] == "2025-02-28T16:00:00Z"


def test_keys_are_derived_from_the_seed_and_written_as_private_pem(tmp_path: Path) -> None:
    paths = write_keys(tmp_path / "keys", 5)
    assert len(paths) == len(schemas.refdata().participants)
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        signer = Signer.from_pem(path.read_bytes())
        assert signer.key_id == participant_signer(5, path.stem).key_id
    assert participant_signer(5, "jiaozuo-power").key_id != participant_signer(6, "jiaozuo-power").key_id


def test_write_jsonl_writes_one_valid_event_per_line() -> None:
    out = io.BytesIO()
    n = write_jsonl(simulate(SimConfig(seed=2)), out, bounds=Bounds(count=250))
    lines = out.getvalue().splitlines()
    assert n == len(lines) == 250
    expected = [to_json_bytes(e) for e in itertools.islice(simulate(SimConfig(seed=2)), 250)]
    assert lines == expected
    for line in lines:
        schemas.validate(line)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _events(times: list[str]) -> list[dict[str, Any]]:
    return [{"time": t, "subject": "x"} for t in times]


def test_pacer_at_a_fixed_rate() -> None:
    clock = FakeClock()
    out = io.BytesIO()
    write_jsonl(_events(["2025-03-01T00:00:00Z"] * 5), out, pacer=Pacer(rate_per_s=10, clock=clock),
                sleep=clock.sleep)
    assert clock.slept == pytest.approx([0.1] * 4)


def test_pacer_in_real_time_follows_event_time() -> None:
    clock = FakeClock()
    times = ["2025-03-01T00:00:00Z", "2025-03-01T00:00:02.500Z", "2025-03-01T00:00:02.500Z", "2025-03-01T00:00:04Z"]
    write_jsonl(_events(times), io.BytesIO(), pacer=Pacer(realtime=True, clock=clock), sleep=clock.sleep)
    assert clock.slept == pytest.approx([2.5, 1.5])


def test_pacer_anchored_at_the_wall_clock_sends_the_past_at_once_then_goes_live() -> None:
    clock = FakeClock()
    times = ["2025-03-01T00:00:00Z", "2025-03-01T00:00:05Z", "2025-03-01T00:00:12Z", "2025-03-01T00:00:13Z"]
    anchor = datetime(2025, 3, 1, 0, 0, 10, tzinfo=UTC)
    write_jsonl(_events(times), io.BytesIO(), pacer=Pacer(realtime=True, clock=clock, anchor=anchor),
                sleep=clock.sleep)
    assert clock.slept == pytest.approx([2.0, 1.0])


def test_as_fast_as_possible_never_sleeps_and_duration_bounds_the_run() -> None:
    clock = FakeClock()
    events = iter(_events(["2025-03-01T00:00:00Z"] * 1000))

    def tick(n: int) -> None:
        clock.now += 0.01

    n = write_jsonl(events, io.BytesIO(), bounds=Bounds(duration_s=1.0), pacer=Pacer(clock=clock),
                    sleep=clock.sleep, on_event=tick)
    assert clock.slept == [] and n == 100
    assert len(list(events)) == 900  # the bound never pulls an event it does not write


def _run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    cli.configure_parser(parser)
    return cli.run(parser.parse_args(list(argv)), Settings())


def test_cli_writes_json_lines_genesis_and_keys(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    code = _run_cli("--seed", "4", "--count", "300", "--out", str(out), "--start", "2025-03-01T00:00:00+08:00",
                    "--write-genesis", str(tmp_path / "genesis.json"), "--write-keys", str(tmp_path / "keys"))
    assert code == 0
    lines = out.read_bytes().splitlines()
    assert len(lines) == 300
    start = datetime.fromisoformat("2025-03-01T00:00:00+08:00")
    assert lines == [to_json_bytes(e) for e in itertools.islice(simulate(SimConfig(seed=4, start=start)), 300)]
    assert json.loads((tmp_path / "genesis.json").read_text(encoding="utf-8"))["seed"] == 4
    assert len(list((tmp_path / "keys").glob("*.pem"))) == len(schemas.refdata().participants)


def test_cli_count_zero_only_writes_files(tmp_path: Path) -> None:
    assert _run_cli("--count", "0", "--write-genesis", str(tmp_path / "genesis.json")) == 0
    assert (tmp_path / "genesis.json").exists()


def test_cli_to_stdout(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert _run_cli("--seed", "1", "--count", "3", "--out", "-", "--start", "2025-03-01T00:00:00Z") == 0
    lines = capsysbinary.readouterr().out.splitlines()
    assert len(lines) == 3 and all(schemas.validate(line) for line in lines)


@pytest.mark.parametrize("argv", [("--rate", "-1"), ("--count", "-2"), ("--time-compression", "0")])
def test_cli_rejects_nonsense(argv: tuple[str, ...]) -> None:
    assert _run_cli(*argv, "--out", "-") == 2


def test_cli_rejects_a_bad_start() -> None:
    parser = argparse.ArgumentParser()
    cli.configure_parser(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--start", "yesterday"])


def test_resign_restores_a_verifiable_signature(tmp_path: Path) -> None:
    from chain_anchor.events import verify_event
    from chain_anchor.keys import KeyRing
    from services.simulator.resign import resign

    source = Path(schemas.__file__).parent / "examples" / "valid" / "transport.TruckWeighed.json"
    target = tmp_path / source.name
    target.write_bytes(source.read_bytes())
    assert resign(target) is False  # already signed by seed 0: byte-identical
    doc = json.loads(target.read_text(encoding="utf-8"))
    doc["data"]["site_name"] = "晋城站东货场2号磅"
    target.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    assert resign(target) is True
    event = schemas.validate(target.read_bytes())
    verify_event(event.envelope, KeyRing([participant_signer(0, "jincheng-logistics").public_key_raw]))
