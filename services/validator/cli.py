"""``coalchain validator``: a member of the validators' consumer group (run as many as you like)."""

from __future__ import annotations

import argparse
import functools
import sys

from services.config import Settings
from services.runner import run_until_signalled
from services.validator.worker import run_validator


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.set_defaults()


def run(args: argparse.Namespace, settings: Settings) -> int:
    from services.keyfiles import ensure_development_validator, validator_key_path, validator_signer

    try:
        signer = ensure_development_validator(settings) if settings.is_development() else validator_signer(settings)
    except (FileNotFoundError, ValueError) as e:
        print(f"coalchain validator: no usable validator key at {validator_key_path(settings)} ({e});"
              " set COALCHAIN_VALIDATOR_KEY_FILE to the validator's Ed25519 key (PKCS#8 PEM)", file=sys.stderr)
        return 2
    return run_until_signalled(functools.partial(run_validator, settings, signer=signer))
