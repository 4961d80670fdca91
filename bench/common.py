"""What every scenario shares: the result document, machine facts, percentiles, peak RSS, the printed table.

A result is a set of *figures*, each compared with one or more *ceilings* measured in the same run on the
same machine (``ratio = figure / ceiling``), plus the peak RSS of every process the scenario ran, the
parameters, the git commit and the machine. It is printed as a rich table and written as
``bench/results/<scenario>.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
CACHE_DIR = BENCH_DIR / ".cache"

console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)


@dataclass(frozen=True)
class Ceiling:
    """The best this machine does at one primitive the pipeline is made of, measured in this run."""

    key: str
    title: str
    value: float
    unit: str
    how: str
    # µs of CPU per operation (user + system, of every process doing the work), when measured: unlike the
    # rate, it holds on a busy machine, so it is what CPU-per-event figures are compared with
    cpu_us: float | None = None


@dataclass
class Figure:
    """One measured figure; ``vs`` names the ceilings it is compared with (``ratio = value / ceiling``)."""

    key: str
    title: str
    value: float
    unit: str
    vs: list[str] = field(default_factory=list)
    higher_is_better: bool = True
    note: str = ""
    headline: bool = False  # shown in the README table (``python -m bench table``)


@dataclass
class Result:
    scenario: str
    parameters: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    ceilings: dict[str, Ceiling] = field(default_factory=dict)
    peak_rss_bytes: dict[str, int] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, key: str, title: str, value: float, unit: str, *, vs: Sequence[str] = (),
            higher_is_better: bool = True, note: str = "", headline: bool = False) -> Figure:
        fig = Figure(key, title, value, unit, list(vs), higher_is_better, note, headline)
        self.figures.append(fig)
        return fig

    def ratio(self, fig: Figure, ceiling_key: str) -> float | None:
        c = self.ceilings.get(ceiling_key)
        if c is None or not c.value:
            return None
        return fig.value / c.value

    def to_json(self, machine: dict[str, Any], commit: dict[str, Any]) -> dict[str, Any]:
        figures = []
        for f in self.figures:
            d = asdict(f)
            d["ratios"] = {k: self.ratio(f, k) for k in f.vs}
            figures.append(d)
        return {
            "scenario": self.scenario,
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "commit": commit,
            "machine": machine,
            "parameters": self.parameters,
            "figures": figures,
            "ceilings": {k: asdict(c) for k, c in self.ceilings.items()},
            "peak_rss_bytes": self.peak_rss_bytes,
            "details": self.details,
            "notes": self.notes,
        }


# --- machine and commit ---------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info(*, postgres_version: str, broker_version: str) -> dict[str, Any]:
    import aiokafka
    import asyncpg
    import nacl

    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "ram_bytes": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "postgresql": postgres_version,
        "broker": broker_version,
        "aiokafka": aiokafka.__version__,
        "asyncpg": asyncpg.__version__,
        "pynacl": nacl.__version__,
    }


def git_commit() -> dict[str, Any]:
    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=REPO_DIR, capture_output=True, text=True, check=False)
        return out.stdout.strip()

    sha = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return {"sha": sha or "unknown", "short": sha[:12] if sha else "unknown", "dirty": dirty}


# --- statistics -----------------------------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in [0, 100]) of an already sorted sequence."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * q // 100))
    return float(sorted_values[min(len(sorted_values), int(rank)) - 1])


def latency_summary(values_s: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds."""
    xs = sorted(values_s)
    return {
        "count": float(len(xs)),
        "p50_ms": percentile(xs, 50) * 1000,
        "p95_ms": percentile(xs, 95) * 1000,
        "p99_ms": percentile(xs, 99) * 1000,
        "max_ms": (xs[-1] if xs else float("nan")) * 1000,
    }


# --- memory ---------------------------------------------------------------------------------------------


def vm_hwm_bytes(pid: int) -> int | None:
    """Peak resident set size of a live process (``VmHWM`` in ``/proc/<pid>/status``)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def self_peak_rss_bytes() -> int:
    return vm_hwm_bytes(os.getpid()) or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakRss:
    """Peak RSS per named process. Call :meth:`sample` while they live (VmHWM is the kernel's own peak, so
    one read just before a process stops is exact; periodic reads only guard against early exits)."""

    def __init__(self) -> None:
        self.pids: dict[str, int] = {}
        self.peaks: dict[str, int] = {}

    def track(self, name: str, pid: int | None) -> None:
        if pid is not None:
            self.pids[name] = pid
            self.sample()

    def sample(self) -> None:
        for name, pid in list(self.pids.items()):
            self.record(name, vm_hwm_bytes(pid))
        self.record("bench process (peak since it started)", self_peak_rss_bytes())

    def record(self, name: str, value: int | None) -> None:
        if value is not None and value > self.peaks.get(name, 0):
            self.peaks[name] = value


# --- output ---------------------------------------------------------------------------------------------


def fmt(value: float, unit: str = "") -> str:
    if value != value:  # NaN
        return "n/a"
    if abs(value) >= 100 or float(value).is_integer():
        text = f"{value:,.0f}"
    elif abs(value) >= 1:
        text = f"{value:,.2f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()


def fmt_bytes(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def print_result(result: Result, doc: dict[str, Any]) -> None:
    m, c = doc["machine"], doc["commit"]
    table = Table(title=f"{result.scenario}  ·  {doc['date']}  ·  {c['short']}{' (dirty)' if c['dirty'] else ''}"
                  f"  ·  {m['cpu_model']}, {m['cores']} cores, {m['ram_bytes'] / 2**30:.0f} GiB",
                  title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("ceiling (same run)")
    table.add_column("ceiling value", justify="right")
    table.add_column("ratio", justify="right")
    for f in result.figures:
        ceilings = [result.ceilings[k] for k in f.vs if k in result.ceilings]
        table.add_row(
            f.title, fmt(f.value, f.unit),
            "\n".join(x.title for x in ceilings) or "—",
            "\n".join(fmt(x.value, x.unit) for x in ceilings) or "",
            "\n".join(f"{result.ratio(f, x.key):.2f}" for x in ceilings) or "",
        )
    console.print(table)
    if result.peak_rss_bytes:
        console.print("peak RSS: " + ", ".join(f"{k} {fmt_bytes(v)}" for k, v in sorted(result.peak_rss_bytes.items())))
    for note in result.notes:
        console.print(f"note: {note}")


def write_result(result: Result, doc: dict[str, Any], results_dir: Path = RESULTS_DIR) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{result.scenario}.json"
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return path


def markdown_table(docs: Sequence[dict[str, Any]]) -> str:
    """The headline figures of the latest results as one markdown table (for the README)."""
    if not docs:
        return "(no results yet: run `./dev bench all`)\n"
    m = docs[0]["machine"]
    commits = sorted({d["commit"]["short"] + (" + uncommitted changes" if d["commit"]["dirty"] else "") for d in docs})
    pg = str(m["postgresql"]).split()
    lines = [
        f"Measured {min(d['date'] for d in docs)[:10]}, commit {', '.join(f'`{c}`' for c in commits)}, on"
        f" {m['cpu_model']}, {m['cores']} cores, {m['ram_bytes'] / 2**30:.0f} GiB RAM; Python {m['python']},"
        f" PostgreSQL {pg[1] if len(pg) > 1 else pg[0]}, {m['broker']}."
        + (" Quick sizes (`--quick`)." if all(d["parameters"].get("quick") for d in docs) else ""),
        "",
        "| scenario | figure | value | ceiling (same run) | ratio |",
        "|---|---|---:|---|---:|",
    ]
    for d in docs:
        size, sizes = d["parameters"].get("events"), d["parameters"].get("sizes")
        label = d["scenario"]
        if isinstance(size, int):
            label += f" ({size:,} events)"
        elif sizes:
            label += f" (ledgers of {' and '.join(f'{x:,}' for x in sizes)} events)"
        for f in (f for f in d["figures"] if f.get("headline")):
            ceilings = [d["ceilings"][k] for k in f["vs"] if k in d["ceilings"]]
            ceiling_text = "<br>".join(f"{x['title']}: {fmt(x['value'], x['unit'])}" for x in ceilings) or "—"
            ratios = "<br>".join(f"{f['ratios'][x['key']]:.2f}" for x in ceilings)
            lines.append(f"| {label} | {f['title']} | {fmt(f['value'], f['unit'])} | {ceiling_text} | {ratios} |")
    return "\n".join(lines) + "\n"
