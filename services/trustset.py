"""The trust set: which sequencer public keys this deployment's readers accept.

The one place every consumer of the blocks topic (views, replica, status) gets the sequencer keys from:
the trust file ``$COALCHAIN_HOME/trust.json`` (``coalchain trust export``) if there is one, else this
deployment's sequencer key file (its public half; development). Key rotation extends this function only.
"""

from __future__ import annotations

import logging

from chain_anchor.keys import KeyRing
from services.config import Settings
from services.keyfiles import load_or_create_signer, sequencer_key_path
from services.trust import load_trust

log = logging.getLogger(__name__)


def sequencer_keys(settings: Settings) -> tuple[KeyRing | None, str]:
    """The sequencer public keys to verify blocks with (``None``: none configured) and where they came from."""
    trust_file = settings.home / "trust.json"
    try:
        if trust_file.exists():
            return load_trust(trust_file).sequencer_keys, str(trust_file)
        key_file = sequencer_key_path(settings)
        if key_file.exists():
            return KeyRing([load_or_create_signer(key_file, create=False).public_key_raw]), str(key_file)
    except (OSError, ValueError, KeyError) as e:
        log.warning("cannot load the sequencer public key: %s", e)
        return None, f"cannot load the sequencer public key: {e}"
    return None, "no trust file and no sequencer key file"
