"""``coalchain`` — the command line of every CoalChain process.

Each subcommand lives in its own module exposing ``configure_parser(parser)`` and
``run(args, settings) -> int``; this file only wires them. Settings are built once here and passed down.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from services.config import Settings
from services.errors import USER_ERRORS

# subcommand -> (module, one-line help). Modules are imported only when their command runs.
COMMANDS: dict[str, tuple[str, str]] = {
    "up": ("services.up", "run everything on embedded defaults (broker, PostgreSQL, services)"),
    "status": ("services.status", "report broker and database reachability"),
    "migrate": ("services.status", "apply database migrations"),
    "topics": ("services.status", "create the Kafka topics from services/kafka/topics.yaml"),
    "api": ("services.api.cli", "serve the HTTP gateway, read API and dashboard"),
    "sequencer": ("services.sequencer.cli", "seal accepted events into signed blocks"),
    "validator": ("services.validator.cli", "validate raw events: schema, signature, permission, replay"),
    "replica": ("services.replica.cli", "keep a verified copy of the ledger from the blocks topic"),
    "verify": ("services.verify", "check every hash, root, signature and link of a ledger database"),
    "trust": ("services.trust_cli", "export the trust file for offline verification"),
    "simulate": ("services.simulator.cli", "simulated 太焦线 traffic (signed events) to Kafka or JSON lines"),
    "views": ("services.views.cli", "fold sealed blocks into the dispatcher views (faust worker)"),
    "receipt": ("services.receipts.cli", "buyers' delivery receipts: pending, sign, fetch, verify offline"),
    "witness": ("services.witness.cli", "a C2SP tlog-witness: cosign checkpoints consistent with what it saw"),
    "cosigner": ("services.witness.cli", "send new checkpoints to witnesses; store and publish the cosigned ones"),
    "participant": ("services.participant.cli", "onboarding: keygen, register, rotate, revoke (registry events)"),
    "init": ("services.ceremony", "set up a deployment: sequencer key, admin keys, genesis, trust file"),
    "rotate": ("services.rotation", "hand the ledger to a new sequencer key (signed by the old one)"),
    "reconcile": ("services.reconcile", "prove every acknowledged event is sealed once or rejected; name the others"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser, or (``only``) one whose single subcommand's module alone is imported: a service
    process should not pay for importing every other command's dependencies."""
    parser = argparse.ArgumentParser(prog="coalchain", description="Taijiao CoalChain 太焦线煤炭运销信息共享链")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        if only is not None and name != only:
            continue
        p = sub.add_parser(name, help=help_text, description=help_text)
        mod = importlib.import_module(module)
        configure = _own(mod, f"configure_{name}_parser") or mod.configure_parser
        configure(p)
    return parser


def _own(module: ModuleType, name: str) -> Callable[..., Any] | None:
    """``module.name`` if the module itself defines it (not a name it merely imported)."""
    fn = getattr(module, name, None)
    return fn if callable(fn) and getattr(fn, "__module__", None) == module.__name__ else None


def setup_logging(verbosity: int) -> None:
    level = logging.WARNING if verbosity < 0 else (logging.INFO if verbosity < 2 else logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)-5s %(name)s: %(message)s", stream=sys.stderr)
    if verbosity < 2:
        for noisy in ("aiokafka", "faust", "mode", "uvicorn.access", "pgserver"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command if command in COMMANDS else None).parse_args(argv)
    settings = Settings()
    setup_logging(args.verbose + 1)
    from services import metrics

    metrics.setup(settings)  # JSON logs when COALCHAIN_LOG_FORMAT=json; the metrics port services serve on
    if args.command != "up":  # `up` starts the embedded servers when these are empty
        settings = settings.with_embedded_defaults()
    module, _ = COMMANDS[args.command]
    mod = importlib.import_module(module)
    run = _own(mod, f"run_{args.command}") or mod.run
    try:
        code: int = run(args, settings)
    except USER_ERRORS as e:  # one line naming the file, field or connection; -v for the traceback
        if args.verbose:
            traceback.print_exc()
        print(f"coalchain {args.command}: {e}", file=sys.stderr)
        return getattr(e, "exit_code", 2)
    return code


if __name__ == "__main__":
    sys.exit(main())
