"""The one check every consumer of the blocks topic runs before it folds or stores a block.

A Kafka topic is a transport, not a trust boundary: anyone who can write to ``coal.ledger.blocks.v1`` can
put anything there. :meth:`BlockVerifier.verify` accepts a record only if

1. it decodes strictly as a blocks-topic message (:mod:`services.blockmsg`);
2. its header parses strictly (:meth:`BlockHeader.from_json`) and names our ledger;
3. the sequencer signature verifies with a key from the trust set (:func:`services.trustset.sequencer_keys`);
4. its leaves hash to the header's ``block_root`` and their number is ``leaf_count``;
5. the signed checkpoint note verifies under the ledger's origin and states the header's tree size and root;
6. given the previous accepted block (:class:`Tip`): its height is the next one, ``prev_hash`` is that
   block's header hash and ``first_leaf_index`` is that block's tree size.

Checks 1–5 need no chain state (:meth:`verify` with ``tip=None``): a consumer uses them to tell a genuine block
from the future (a gap: read the topic again) from a forgery (count and skip). Anything else raises
:class:`BlockRejected` with the claimed height (−1 if unknown) and a one-line reason. What the caller must
still decide: what to do with a block at or below its tip (a redelivery), and with a gap.

The full ledger check with the log root and the publisher signatures is :mod:`services.ledger_check`
(``coalchain verify``, replica).
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from chain_anchor.block import GENESIS_PREV_HASH, BlockHeader, HeaderSignature, header_hash, verify_header
from chain_anchor.checkpoint import NoteVerifier, verify_checkpoint
from chain_anchor.errors import ChainAnchorError
from chain_anchor.hashing import leaf_hash
from chain_anchor.keys import KeyRing
from chain_anchor.merkle import root
from services import blockmsg
from services.config import Settings
from services.sequencer.sealing import checkpoint_origin
from services.trustset import sequencer_keys


class BlockRejected(Exception):
    """A blocks-topic record that is not a genuine next block. ``height`` is what it claims (−1: unknown)."""

    def __init__(self, height: int, reason: str) -> None:
        super().__init__(f"block {height}: {reason}")
        self.height = height
        self.reason = reason


@dataclass(frozen=True)
class Tip:
    """The last block a consumer accepted. ``tree_size=None``: not known (only the link and height are checked)."""

    height: int = -1
    header_hash: bytes = GENESIS_PREV_HASH
    tree_size: int | None = 0


@dataclass(frozen=True)
class VerifiedBlock:
    msg: blockmsg.BlockMessage
    header: BlockHeader
    header_hash: bytes
    leaves: list[bytes]
    leaf_hashes: list[bytes]

    @property
    def height(self) -> int:
        return self.header.height

    def tip(self) -> Tip:
        return Tip(self.header.height, self.header_hash, self.header.tree_size)


def decode(value: bytes) -> blockmsg.BlockMessage:
    """Check 1: :func:`services.blockmsg.decode`, raising :class:`BlockRejected` instead."""
    try:
        return blockmsg.decode(value)
    except (msgspec.MsgspecError, ValueError, TypeError) as e:
        raise BlockRejected(-1, f"not a blocks-topic message: {e}") from e


def claimed_height(msg: blockmsg.BlockMessage) -> int:
    """The height a decoded record claims, before anything is checked (−1 if it does not say)."""
    h = msg.header.get("height")
    return h if isinstance(h, int) and not isinstance(h, bool) else -1


class BlockVerifier:
    def __init__(self, *, ledger_id: str, keys: KeyRing | None, key_source: str = "") -> None:
        self.ledger_id = ledger_id
        self.keys = keys
        self.key_source = key_source
        self.origin = checkpoint_origin(ledger_id)
        self.note_verifiers = [NoteVerifier(self.origin, 1, k) for k in keys.values()] if keys else []

    @classmethod
    def from_settings(cls, settings: Settings) -> BlockVerifier:
        keys, source = sequencer_keys(settings)
        return cls(ledger_id=settings.ledger_id, keys=keys, key_source=source)

    def verify(self, value: bytes, tip: Tip | None) -> VerifiedBlock:
        """Checks 1–5, and 6 on top of ``tip`` unless it is ``None``. Raises :class:`BlockRejected`."""
        return self.verify_message(decode(value), tip)

    def verify_message(self, msg: blockmsg.BlockMessage, tip: Tip | None) -> VerifiedBlock:
        """:meth:`verify` for a record already decoded with :func:`decode`."""
        try:
            return self._verify(msg, tip)
        except ChainAnchorError as e:
            raise BlockRejected(claimed_height(msg), f"{type(e).__name__}: {e}") from e
        except (msgspec.MsgspecError, ValueError, TypeError, KeyError) as e:  # e.g. an event that is not JSON-able
            raise BlockRejected(claimed_height(msg), f"malformed: {type(e).__name__}: {e}") from e

    def _verify(self, msg: blockmsg.BlockMessage, tip: Tip | None) -> VerifiedBlock:
        header = BlockHeader.from_json(msg.header)
        h = header.height
        if header.ledger_id != self.ledger_id:
            raise BlockRejected(h, f"header is for ledger {header.ledger_id!r}, not {self.ledger_id!r}")
        if self.keys is None:
            raise BlockRejected(h, f"no sequencer key to verify with ({self.key_source})")
        verify_header(header, [HeaderSignature.from_json(s) for s in msg.signatures], self.keys)
        leaves = msg.leaves()
        if len(leaves) != header.leaf_count:
            raise BlockRejected(h, f"header says {header.leaf_count} leaves, the block holds {len(leaves)}")
        hashes = [leaf_hash(x) for x in leaves]
        if root(hashes) != header.block_root:
            raise BlockRejected(h, "block_root does not match the block's leaves")
        cp = verify_checkpoint(msg.checkpoint, self.note_verifiers, origin=self.origin)
        if (cp.tree_size, cp.root_hash) != (header.tree_size, header.log_root):
            raise BlockRejected(h, "the checkpoint does not state the header's tree size and root")
        if tip is not None:
            if h != tip.height + 1:
                raise BlockRejected(h, f"height {h} does not follow block {tip.height}")
            if header.prev_hash != tip.header_hash:
                raise BlockRejected(h, f"prev_hash does not link to block {tip.height}")
            if tip.tree_size is not None and header.first_leaf_index != tip.tree_size:
                raise BlockRejected(h, f"first_leaf_index {header.first_leaf_index} does not follow tree size"
                                    f" {tip.tree_size}")
        return VerifiedBlock(msg, header, header_hash(header), leaves, hashes)

