"""``coalchain up --demo``: three witnesses (a mine, the railway, a buyer) with a 2-of-3 policy, and the publisher.

Keys: ``$COALCHAIN_HOME/keys/witnesses/<role>.key`` (note signer keys, created once); state and evidence:
``$COALCHAIN_HOME/witnesses/<role>/`` (where ``coalchain verify`` looks by default); the witnesses file
``$COALCHAIN_HOME/witnesses.json`` (written once, read by the publisher, ``trust export`` and ``/v1/trust``).
Ports: ``COALCHAIN_WITNESS_BASE_PORT`` (default 7381) and the next two.
"""

from __future__ import annotations

import logging
import os

from chain_anchor.checkpoint import SIG_TYPE_COSIGNATURE_V1, NoteVerifier
from services.config import Settings
from services.witness.config import WitnessEndpoint, witnesses_path, write_witnesses_config
from services.witness.server import load_or_create_witness_key

log = logging.getLogger(__name__)

DEMO_WITNESSES = (("mine", "taijiao-coalchain.cn/witness/mine"),
                  ("railway", "taijiao-coalchain.cn/witness/railway"),
                  ("buyer", "taijiao-coalchain.cn/witness/buyer"))
DEMO_QUORUM = 2


def demo_witness_plan(settings: Settings) -> list[tuple[str, list[str]]]:
    """Create the demo witness keys and witnesses file if missing; the child processes to run."""
    home = settings.home.resolve()
    base = int(os.environ.get("COALCHAIN_WITNESS_BASE_PORT", "7381"))
    plan: list[tuple[str, list[str]]] = []
    endpoints: list[WitnessEndpoint] = []
    for i, (role, name) in enumerate(DEMO_WITNESSES):
        key = home / "keys" / "witnesses" / f"{role}.key"
        _, signer = load_or_create_witness_key(key, name)
        vkey = NoteVerifier(name, SIG_TYPE_COSIGNATURE_V1, signer.public_key_raw).vkey()
        endpoints.append(WitnessEndpoint(f"http://127.0.0.1:{base + i}", vkey))
        plan.append((f"witness-{role}", ["witness", "--key", str(key), "--state-dir", str(home / "witnesses" / role),
                                         "--port", str(base + i)]))
    path = witnesses_path(settings)
    if not path.exists():
        write_witnesses_config(path, endpoints, DEMO_QUORUM)
        log.warning("wrote the demo witnesses file (2 of 3) to %s", path)
    plan.append(("cosigner", ["cosigner"]))
    return plan
