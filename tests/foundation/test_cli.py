"""Every subcommand resolves to its own entry point (not a same-named function its module imported)."""

from __future__ import annotations

import importlib
import inspect

import pytest

from services.cli import COMMANDS, _own, build_parser


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_subcommand_entry_points_are_synchronous_and_parse_help(name: str) -> None:
    mod = importlib.import_module(COMMANDS[name][0])
    run = _own(mod, f"run_{name}") or mod.run
    assert not inspect.iscoroutinefunction(run), f"`coalchain {name}` would return a coroutine, never awaited"
    assert list(inspect.signature(run).parameters) == ["args", "settings"]
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([name, "--help"])
    assert exit_.value.code == 0
