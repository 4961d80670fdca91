"""Sampling profiles of running service processes with py-spy, and a text summary of where the time goes.

py-spy attaches to a PID from outside (``record --pid --nonblocking --format raw --nolineno``): the service
is not restarted or instrumented, and sampling does not pause it. The raw output is the "collapsed stacks"
format (``frame;frame;... count``), which speedscope and flamegraph.pl open as is. Idle threads (waiting
in epoll) are not sampled, so the samples are where CPU time went.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import console

SAMPLE_RATE_HZ = 100
_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*)\)$")


def py_spy() -> str | None:
    """py-spy beside this interpreter (the project's virtualenv, not necessarily on PATH), else on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


@dataclass
class Profiler:
    """py-spy attached to named processes; :meth:`stop` writes ``<prefix>-<name>.folded.txt`` files."""

    out_dir: Path
    prefix: str
    procs: dict[str, tuple[subprocess.Popen[bytes], Path]] = field(default_factory=dict)

    def attach(self, name: str, pid: int) -> None:
        exe = py_spy()
        if exe is None:
            raise RuntimeError("py-spy is not installed (pip install py-spy), or run with --no-profile")
        self.out_dir.mkdir(parents=True, exist_ok=True)
        path = self.out_dir / f"{self.prefix}-{name}.folded.txt"
        proc = subprocess.Popen([exe, "record", "--pid", str(pid), "--format", "raw", "--nolineno", "--nonblocking",
                                 "--rate", str(SAMPLE_RATE_HZ), "--output", str(path)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.procs[name] = (proc, path)

    def stop(self) -> dict[str, Path]:
        """SIGINT every py-spy (it then writes its file); return name -> folded stacks file."""
        for proc, _ in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        written: dict[str, Path] = {}
        for name, (proc, path) in self.procs.items():
            try:
                _, err = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
            if path.exists() and path.stat().st_size:
                written[name] = path
            else:
                path.unlink(missing_ok=True)
                console.print(f"[yellow]py-spy wrote no profile for {name}: {err.decode(errors='replace')[-500:]}")
        self.procs.clear()
        return written


def _parse(path: Path) -> list[tuple[list[tuple[str, str]], int]]:
    stacks = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = []
        for raw in stack.split(";"):
            m = _FRAME.match(raw)
            frames.append((m["func"], m["file"]) if m else (raw, ""))
        stacks.append((frames, int(count)))
    return stacks


# Where self time goes, by what the code does (first match wins; order matters).
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Ed25519 (libsodium via PyNaCl)", ("nacl/", "chain_anchor/ed25519.py")),
    ("canonical JSON (RFC 8785) encoding", ("json/encoder.py", "chain_anchor/canonical.py", "rfc8785/")),
    ("JSON parsing", ("json/decoder.py", "json/__init__.py", "msgspec/")),
    ("schema validation (schemas/)", ("schemas/", "fastjsonschema/", "jsonschema/")),
    ("SHA-256 / Merkle (chain_anchor)", ("chain_anchor/hashing.py", "chain_anchor/compact.py",
                                         "chain_anchor/merkle.py")),
    ("block header / checkpoint (chain_anchor)", ("chain_anchor/",)),
    ("Kafka client (aiokafka)", ("aiokafka/", "kafka/")),
    ("PostgreSQL client (asyncpg)", ("asyncpg/",)),
    ("socket I/O + event loop (asyncio)", ("asyncio/", "selectors.py", "socket.py")),
    ("start-up (imports)", ("<frozen importlib", "importlib/", "dataclasses.py", "typing.py", "re/", "enum.py")),
    ("validator (services/validator)", ("services/validator/",)),
    ("sequencer (services/sequencer, store)", ("services/sequencer/", "services/store/")),
)
_WRAPPERS = ("<frozen runpy>", "asyncio/", "services/runner.py", "services/cli.py",
             "/cli.py", "selectors.py")


def category(file: str) -> str:
    for name, needles in CATEGORIES:
        if any(n in file for n in needles):
            return name
    return "other"


def _module(file: str) -> str:
    """A short name for where code lives: the package for site-packages, the path in the repository."""
    return file.split("site-packages/", 1)[-1] if "site-packages/" in file else file


def summarize(path: Path, top: int = 15) -> dict[str, Any]:
    """Self and inclusive sample shares per function, and self share per file."""
    stacks = _parse(path)
    total = sum(c for _, c in stacks) or 1
    self_fn: Counter[str] = Counter()
    incl_fn: Counter[str] = Counter()
    self_file: Counter[str] = Counter()
    self_cat: Counter[str] = Counter()
    for frames, count in stacks:
        if not frames:
            continue
        func, file = frames[-1]
        self_fn[f"{func} ({_module(file)})"] += count
        self_file[_module(file)] += count
        self_cat[category(file)] += count
        for name in {f"{fn} ({_module(fl)})" for fn, fl in frames if not any(w in fl for w in _WRAPPERS)}:
            incl_fn[name] += count

    def share(c: Counter[str], n: int = top) -> list[dict[str, Any]]:
        return [{"name": k, "samples": v, "share": round(v / total, 4)} for k, v in c.most_common(n)]

    return {"samples": total, "seconds_sampled": round(total / SAMPLE_RATE_HZ, 1),
            "self_by_category": share(self_cat), "self_by_function": share(self_fn),
            "self_by_file": share(self_file), "inclusive_by_function": share(incl_fn, 25)}


def summary_text(name: str, summary: dict[str, Any]) -> str:
    lines = [f"# {name}: {summary['samples']} samples at {SAMPLE_RATE_HZ} Hz (~{summary['seconds_sampled']} s on CPU)"]
    for section in ("self_by_category", "self_by_function", "self_by_file", "inclusive_by_function"):
        lines.append(f"\n## {section.replace('_', ' ')}")
        lines += [f"{row['share'] * 100:6.1f} %  {row['name']}" for row in summary[section]]
    return "\n".join(lines) + "\n"
