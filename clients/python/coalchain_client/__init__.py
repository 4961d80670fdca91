"""coalchain_client: publish to a Taijiao CoalChain ledger and learn, verifiably, what became of each event.

    from coalchain_client import Client, Trust, load_signer, make_event, sign
    signer = load_signer("keys/mine.key", passphrase=b"...")
    event = sign(make_event(participant="new-mine", type="inventory.StockReported.v1", subject="LOT-1",
                            data={...}), signer)
    outcome = Client("http://127.0.0.1:8000", trust=Trust.from_file("trust.json")).send(event)
    # Sealed(...) with the inclusion proof verified here, or Rejected(reason=..., errors=[...])

No server dependencies: the ledger core (``chain_anchor``) is shipped inside this distribution.
"""

from coalchain_client.client import Client, Outcome, Rejected, Sealed, Trust, make_event, sign
from coalchain_client.errors import ClientError, KeyFileError, ProofInvalid, Refused, Unreachable, WaitTimedOut
from coalchain_client.keys import key_pem, load_signer, public_key_b64
from coalchain_client.outbox import Outbox, drain

__all__ = [
    "Client",
    "ClientError",
    "KeyFileError",
    "Outbox",
    "Outcome",
    "ProofInvalid",
    "Refused",
    "Rejected",
    "Sealed",
    "Trust",
    "Unreachable",
    "WaitTimedOut",
    "drain",
    "key_pem",
    "load_signer",
    "make_event",
    "public_key_b64",
    "sign",
]
