"""``coalchain validator``: a member of the validators' consumer group (run as many as you like)."""

from __future__ import annotations

import argparse
import functools

from services.config import Settings
from services.runner import run_until_signalled
from services.validator.worker import run_validator


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.set_defaults()


def run(args: argparse.Namespace, settings: Settings) -> int:
    return run_until_signalled(functools.partial(run_validator, settings))
