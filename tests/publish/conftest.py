"""A running stack for the publisher tests: validator, sequencer and the real API (uvicorn), a trust file,
and the demo consortium admin's key as a PEM file (the admin signs registrations)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.config import Settings
from services.keyfiles import sequencer_signer
from services.registry import load_genesis
from services.sequencer.service import Sequencer
from services.simulator import participant_signer
from services.trust import trust_json
from services.validator.worker import Validator
from tests.pipeline.conftest import SEED, deployment  # noqa: F401  (the fixture)
from tests.pipeline.helpers import api_server, running


@dataclass(frozen=True)
class Stack:
    settings: Settings
    api_url: str
    trust_file: Path
    admin_key_file: Path


@pytest.fixture(scope="module")
async def stack(deployment: Settings) -> AsyncIterator[Stack]:  # noqa: F811
    assert deployment.genesis_file is not None
    genesis = json.loads(deployment.genesis_file.read_text(encoding="utf-8"))
    trust = deployment.home / "trust.json"
    trust.write_text(json.dumps(trust_json(deployment.ledger_id, [sequencer_signer(deployment).public_key_raw],
                                           genesis)), encoding="utf-8")
    admin = deployment.home / "admin.key"
    admin.write_bytes(participant_signer(SEED, "consortium-admin").to_pem())
    validator = Validator(deployment, load_genesis(deployment.genesis_file))
    async with running(Sequencer(deployment).run), running(validator.run), api_server(deployment) as url:
        yield Stack(deployment, url, trust, admin)
