"""Stage timestamps for ``bench seal-latency --stages`` (``Settings.stage_trace_dir``; off by default).

The validators and the sequencer append one JSON line per batch, block or marker with the
``time.monotonic()`` of each stage; ``bench/stages.py`` joins them per event. Nothing is written, and nothing
costs more than one attribute test, when the setting is empty.
"""

from __future__ import annotations

import json
import os
from typing import IO, Any

from services.config import Settings


class StageTrace:
    """Stage timestamps for ``bench seal-latency --stages`` (:attr:`Settings.stage_trace_dir`): one JSON line
    per batch, block or marker, written only when the setting is given (line-buffered, so a killed process
    loses at most its last line)."""

    def __init__(self, settings: Settings, role: str) -> None:
        self._out: IO[str] | None = None
        if settings.stage_trace_dir is not None:
            settings.stage_trace_dir.mkdir(parents=True, exist_ok=True)
            path = settings.stage_trace_dir / f"{role}-{os.getpid()}.jsonl"
            self._out = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115  # closed by close()

    @property
    def on(self) -> bool:
        return self._out is not None

    def write(self, **fields: Any) -> None:
        if self._out is not None:
            self._out.write(json.dumps(fields, separators=(",", ":")) + "\n")

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
