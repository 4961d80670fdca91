"""The 太焦线 traffic simulator: a seeded, deterministic, causally consistent stream of signed events.

    from services.simulator import SimConfig, simulate, to_json_bytes
    for envelope in itertools.islice(simulate(SimConfig(seed=7)), 1000):
        ...                                  # a signed CloudEvents envelope (dict); passes schemas.validate

Mines near 长治 / 晋城 report lots, assays and stock; buyers post demand; stations request and are allocated
wagons; wagons are loaded (one waybill each), trucks weighed at railheads; trains run to 月山 and beyond;
shipments are unloaded; buyers confirm most deliveries and dispute about 5 %. Every event is signed with its
publisher's key, derived from the seed (``keys.participant_signer``). Same seed, start and compression →
byte-identical events. ``coalchain simulate`` (``cli.py``) writes them as JSON lines or to Kafka.
"""

from services.simulator.keys import genesis, participant_signer, write_genesis, write_keys
from services.simulator.output import Pacer, to_json_bytes, write_jsonl
from services.simulator.stream import SimConfig, simulate

__all__ = [
    "Pacer",
    "SimConfig",
    "genesis",
    "participant_signer",
    "simulate",
    "to_json_bytes",
    "write_genesis",
    "write_jsonl",
    "write_keys",
]
