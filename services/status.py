"""``coalchain status``, ``coalchain migrate`` and ``coalchain topics``: small operational commands."""

from __future__ import annotations

import argparse
import asyncio

from services import db, health
from services.config import Settings
from services.kafka.topics import ensure_topics


def configure_status_parser(p: argparse.ArgumentParser) -> None:
    p.set_defaults()


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    ready = asyncio.run(health.readiness(settings))  # the same function as GET /healthz
    for c in ready.checks:
        print(f"{c.name:10} {'ok  ' if c.ok else 'DOWN'} {c.detail}")
    return 0 if ready.ok else 1


def configure_migrate_parser(p: argparse.ArgumentParser) -> None:
    p.set_defaults()


def run_migrate(args: argparse.Namespace, settings: Settings) -> int:
    applied = asyncio.run(db.migrate_database(settings))
    print(f"applied migrations: {applied or 'none (up to date)'}")
    return 0


def configure_topics_parser(p: argparse.ArgumentParser) -> None:
    p.set_defaults()


def run_topics(args: argparse.Namespace, settings: Settings) -> int:
    created = asyncio.run(ensure_topics(settings))
    print(f"created topics: {', '.join(created) or 'none (all exist)'}")
    return 0
