"""services.blockmsg.encode (leaves copied once) is byte for byte the message of its reference definition."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chain_anchor.canonical import canonicalize
from services import blockmsg


def reference(header: bytes, signatures: bytes, leaves: list[bytes], checkpoint: bytes) -> bytes:
    return (b'{"checkpoint":' + canonicalize(checkpoint.decode()) + b',"events":[' + b",".join(leaves)
            + b'],"header":' + header + b',"signatures":' + signatures + b"}")


@given(header=st.binary(max_size=40), signatures=st.binary(max_size=40), leaves=st.lists(st.binary(max_size=30),
       max_size=6), checkpoint=st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_encode_equals_the_reference(header: bytes, signatures: bytes, leaves: list[bytes],
                                     checkpoint: bytes) -> None:
    try:
        checkpoint.decode()
    except UnicodeDecodeError:
        return
    before = list(leaves)
    assert blockmsg.encode(header, signatures, leaves, checkpoint) == reference(header, signatures, leaves,
                                                                                checkpoint)
    assert leaves == before  # the caller's list is not changed


def test_a_message_decodes_to_its_parts() -> None:
    leaves = [b'{"a":1}', b'{"b":[2]}', b'{"c":"\xe4\xb8\xad"}']
    msg = blockmsg.decode(blockmsg.encode(b'{"height":3}', b'[{"key_id":"k","signature":"s"}]', leaves, b"note\n"))
    assert msg.leaves() == leaves and msg.height == 3 and msg.checkpoint == "note\n"
