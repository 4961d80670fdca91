"""CPU time per process from ``/proc/<pid>/stat`` (user + system), so a figure like "µs of CPU per sealed
event" holds on a busy machine: it counts what the pipeline's own processes spent, not wall time.

Tracked: every service child, the broker, and this scenario's PostgreSQL backends (pids from
``pg_stat_activity`` for the scenario's database; a backend that exits keeps its last reading). Not tracked:
PostgreSQL's shared background processes (WAL writer, checkpointer), which serve every database.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a live process; None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state is fields[0]
    try:
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime (fields 14 and 15 of stat)
    except (IndexError, ValueError):
        return None


def parent_pids() -> dict[int, int]:
    """Every live process's parent pid, from ``/proc/<pid>/stat``."""
    parents: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            parents[int(d.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
    return parents


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (e.g. uvicorn's worker processes)."""
    parents = parent_pids()
    found, frontier = [pid], [pid]
    while frontier:
        children = [p for p, pp in parents.items() if pp in frontier]
        found += children
        frontier = children
    return found


PART = " › "
"""Separates a group from one of its parts in a figure's name: ``postgres backends › validator``."""


@dataclass
class CpuMeter:
    """Cumulative CPU seconds per named group of processes (a group: one child, or all backends)."""

    groups: dict[int, str] = field(default_factory=dict)  # pid -> group name
    last: dict[int, float] = field(default_factory=dict)  # pid -> last reading
    parts: dict[int, str] = field(default_factory=dict)  # pid -> part of its group (a backend's database user)

    def track(self, name: str, pid: int | None, part: str | None = None) -> None:
        """Count ``pid`` in group ``name``; with ``part`` also in the sub-figure ``name › part`` (not added
        to ``all processes`` twice: see :func:`per_event_us`)."""
        if pid is not None:
            self.groups.setdefault(pid, name)
            if part:
                self.parts.setdefault(pid, part)

    def snapshot(self) -> dict[str, float]:
        """CPU seconds per group so far (pids that exited count with their last reading)."""
        for pid in self.groups:
            now = cpu_seconds(pid)
            if now is not None:
                self.last[pid] = now
        out: dict[str, float] = {}
        for pid, name in self.groups.items():
            out[name] = out.get(name, 0.0) + self.last.get(pid, 0.0)
            if (part := self.parts.get(pid)) is not None:
                key = f"{name}{PART}{part}"
                out[key] = out.get(key, 0.0) + self.last.get(pid, 0.0)
        return out


def per_event_us(before: dict[str, float], after: dict[str, float], events: int) -> dict[str, float]:
    """µs of CPU per event for each group between two snapshots, plus ``"all processes"``."""
    if events <= 0:
        return {}
    out = {name: (after[name] - before.get(name, 0.0)) * 1e6 / events for name in after}
    out["all processes"] = sum(us for name, us in out.items() if PART not in name)
    return out


def figure_key(name: str) -> str:
    """A group's (or part's) name as it appears in a figure's key: ``postgres backends › validator`` ->
    ``postgres_backends_validator``."""
    return name.replace(PART, " ").replace(" ", "_")
