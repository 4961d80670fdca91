"""``python -m bench.servicemain <command>``: ``coalchain <command>`` with the subcommand dispatch made exact.

``services.cli.main`` calls ``run_<command>`` when the command's module has such an attribute, else ``run``.
``services.validator.cli`` *imports* ``run_validator`` (the worker coroutine) from the worker, so
``coalchain validator`` calls the coroutine function with ``(args, settings)`` and exits at once. Until that
is fixed in ``services/cli.py``, the benchmark starts such commands through this module, which takes
``run_<command>`` only when the module itself defines it. :func:`needs_shim` tells when that is needed, so
once the dispatch is fixed the benchmark goes back to ``python -m services.cli``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any


def _runner(command: str) -> tuple[Callable[..., Any], bool]:
    """(the function ``coalchain command`` should call, whether services.cli would call another one)."""
    from services.cli import COMMANDS

    mod = importlib.import_module(COMMANDS[command][0])
    named = getattr(mod, f"run_{command}", None)
    own = named if named is not None and getattr(named, "__module__", None) == mod.__name__ else None
    chosen: Callable[..., Any] = own or mod.run
    return chosen, named is not None and own is None


def needs_shim(command: str) -> bool:
    return _runner(command)[1]


def main(argv: Sequence[str] | None = None) -> int:
    from services.cli import build_parser, setup_logging
    from services.config import Settings

    args = build_parser().parse_args(argv)
    setup_logging(args.verbose + 1)
    run, _ = _runner(args.command)
    code: int = run(args, Settings())
    return code


if __name__ == "__main__":
    sys.exit(main())
