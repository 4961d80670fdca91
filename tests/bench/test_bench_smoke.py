"""Every benchmark scenario at a tiny size against the real broker and PostgreSQL: it runs, and its result
document holds figures, the ceilings they are compared with, ratios, peak RSS, machine and commit.

Speed is not asserted (a loaded CI machine is not a benchmark machine); shape and completeness are.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from bench.__main__ import SCENARIOS, run_scenarios
from bench.scenarios import Options

pytestmark = pytest.mark.integration

MACHINE_KEYS = {"cpu_model", "cores", "ram_bytes", "python", "postgresql", "broker"}


@pytest.fixture(scope="module")
async def results(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    mp = pytest.MonkeyPatch()
    mp.setenv("COALCHAIN_BENCH_PG", pg_admin_url)
    out = tmp_path_factory.mktemp("bench-results")
    opts = Options(quick=True, events=2_000, duration_s=1.0, rates=[300, 600], sizes=[1_000], requests=100,
                   ceiling_events=500, ceiling_seconds=0.1, results_dir=out)
    try:
        # concurrently: the waits (process start-up, group joins, block timers) overlap; figures are meaningless
        assert await run_scenarios(SCENARIOS, opts, concurrently=True) == 0, "a scenario failed (see the output)"
    finally:
        mp.undo()
    return {name: json.loads((out / f"{name}.json").read_text()) for name in SCENARIOS}


def _finite(x: object) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


@pytest.mark.parametrize("name", SCENARIOS)
def test_result_has_figures_ceilings_ratios_machine_and_commit(results: dict[str, dict[str, Any]], name: str) -> None:
    doc = results[name]
    assert doc["scenario"] == name
    assert doc["machine"].keys() >= MACHINE_KEYS and all(doc["machine"][k] for k in MACHINE_KEYS)
    assert len(doc["commit"]["sha"]) == 40 and isinstance(doc["commit"]["dirty"], bool)
    assert doc["date"] and doc["parameters"]
    assert doc["figures"], "no figures"
    compared = 0
    for fig in doc["figures"]:
        assert _finite(fig["value"]) and fig["value"] > 0, fig
        for key in fig["vs"]:
            assert key in doc["ceilings"], f"{fig['key']} is compared with an unmeasured ceiling {key}"
            assert _finite(doc["ceilings"][key]["value"]) and doc["ceilings"][key]["value"] > 0
            assert _finite(fig["ratios"][key])
            compared += 1
    assert compared, "no figure is compared with a ceiling"
    assert doc["peak_rss_bytes"] and all(v > 0 for v in doc["peak_rss_bytes"].values())


def test_seal_throughput_sealed_everything_and_profiled_both_services(results: dict[str, dict[str, Any]]) -> None:
    doc = results["seal-throughput"]
    run = doc["details"]["run"]
    assert run["sealed"] + run["rejected"] == doc["parameters"]["events"] == 2_000
    assert {"ed25519_verify_core", "ed25519_verify_all", "validator_checks_core", "sha256_leaf", "pg_copy_rows",
            "broker_produce", "broker_consume"} <= doc["ceilings"].keys()
    assert {"sequencer", "validator-0", "validator-1"} <= doc["peak_rss_bytes"].keys()
    profile = doc["details"]["profile"]
    profiled = profile["summaries"].keys()  # at this size a validator may have finished before py-spy attached
    assert "sequencer" in profiled and profiled & {"validator-0", "validator-1"}
    for path in profile["files"].values():
        assert Path(path).stat().st_size > 0


def test_latency_has_every_rate(results: dict[str, dict[str, Any]]) -> None:
    per_rate = results["seal-latency"]["details"]["per_rate"]
    assert sorted(int(r) for r in per_rate) == [300, 600]
    assert all(r["missing"] == 0 and r["p99_ms"] >= r["p50_ms"] for r in per_rate.values())


def test_verify_and_proofs_checked_what_they_measured(results: dict[str, dict[str, Any]]) -> None:
    assert results["verify"]["details"]["verify"]["events"] == 2_000
    latency = results["proofs"]["details"]["latency_1000"]
    assert latency["inclusion"]["bad_proofs"] == 0 and latency["consistency"]["bad_proofs"] == 0
