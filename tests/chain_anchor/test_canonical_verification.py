"""``verify_canonical_event``: the signature checked on bytes cut from the leaf, never re-encoded — the very
message :func:`event_signing_bytes` makes, and every refusal :func:`verify_event` makes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain_anchor.errors import BadSignature, EventSignatureError, UnknownKey
from chain_anchor.events import event_signing_bytes, leaf_bytes, sign_event, verify_canonical_event, verify_event
from chain_anchor.keys import KeyRing, Signer

MINE = Signer.from_seed(b"\x11" * 32)
STRANGER = Signer.from_seed(b"\x33" * 32)
RING = KeyRing.from_public_keys([MINE.public_key_raw])


class _Recording(KeyRing):
    """A ring that records the messages it is asked to verify (and verifies them)."""

    __slots__ = ("messages",)

    def __init__(self, public_keys: list[bytes]) -> None:
        super().__init__(public_keys)
        self.messages: list[bytes] = []

    def verify(self, key_id: str, signature: bytes, message: bytes) -> None:
        self.messages.append(message)
        super().verify(key_id, signature, message)


def _verify(signed: dict[str, Any], ring: KeyRing = RING) -> None:
    verify_canonical_event(leaf_bytes(signed), signed.get("sigkeyid"), signed.get("signature"), ring)


def _signed_message(signed: dict[str, Any]) -> bytes:
    ring = _Recording([MINE.public_key_raw])
    _verify(signed, ring)
    assert len(ring.messages) == 1
    return ring.messages[0]


_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**53) + 1, 2**53 - 1),
                     st.text(max_size=8), st.sampled_from(['"sigkeyid":"', ',"sigkeyid":"x","signature":"y"']))
_json = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(["sigkeyid", "signature", "a", "zz"]) | st.text(max_size=4), inner,
                    max_size=3)), max_leaves=8)
_keys = st.text(st.characters(max_codepoint=0xD7FF), min_size=1, max_size=12).filter(
    lambda k: k not in ("signature", "sigkeyid") and not "sigkeyid" < k < "signature")


@st.composite
def _envelopes(draw: st.DrawFn) -> dict[str, Any]:
    """Envelopes inside the precondition: anything sorts before the signature attributes, only scalars after."""
    members = draw(st.dictionaries(_keys, _json, max_size=6))
    return {k: (v if k < "sigkeyid" or not isinstance(v, dict | list) else str(v)) for k, v in members.items()}


@settings(max_examples=400, deadline=None)
@given(_envelopes())
def test_the_message_is_exactly_the_signing_bytes(envelope: dict[str, Any]) -> None:
    signed = sign_event(envelope, MINE)
    assert _signed_message(signed) == event_signing_bytes(signed)


@settings(max_examples=200, deadline=None)
@given(_envelopes(), st.data())
def test_a_change_to_any_member_is_refused_like_verify_event(envelope: dict[str, Any], data: st.DataObject) -> None:
    signed = sign_event({**envelope, "id": "1"}, MINE)
    key = data.draw(st.sampled_from(sorted(k for k in signed if k not in ("sigkeyid", "signature"))))
    changed = {**signed, key: ["changed", signed[key]] if key < "sigkeyid" else f"changed {signed[key]!r}"}
    with pytest.raises(BadSignature):
        verify_event(changed, RING)
    with pytest.raises(BadSignature):
        _verify(changed)


@pytest.mark.parametrize("envelope", [
    {},  # nothing but the signature attributes: '{' before, '}' after
    {"source": "s"},  # '{' before, ',' after
    {"a": 1},  # ',' before, '}' after
    {"a": 1, "source": "s"},  # ',' before, ',' after
    {"data": {"sigkeyid": "0" * 64, "signature": "x"}, "source": "s"},  # a decoy object before
    {"id": "1", "source": '","sigkeyid":"', "subject": '{"sigkeyid":"'},  # decoys inside strings after
])
def test_cut_at_the_envelopes_own_members(envelope: dict[str, Any]) -> None:
    signed = sign_event(envelope, MINE)
    assert _signed_message(signed) == event_signing_bytes(signed)


def test_refusals() -> None:
    signed = sign_event({"id": "1", "source": "s"}, MINE)
    leaf = leaf_bytes(signed)
    kid, sig = signed["sigkeyid"], signed["signature"]
    with pytest.raises(UnknownKey):
        _verify(sign_event({"id": "1"}, STRANGER))
    with pytest.raises(BadSignature):
        _verify({**signed, "id": "2"})
    with pytest.raises(EventSignatureError, match="64 lower-case hex"):
        verify_canonical_event(leaf, "nope", sig, RING)
    with pytest.raises(EventSignatureError, match="88 characters"):
        verify_canonical_event(leaf, kid, "A" * 86, RING)
    with pytest.raises(EventSignatureError, match="no member 'sigkeyid'"):
        verify_canonical_event(leaf.replace(b'"sigkeyid"', b'"sigkeyie"'), kid, sig, RING)
    with pytest.raises(EventSignatureError, match="no member 'sigkeyid'"):
        verify_canonical_event(leaf[leaf.index(b'"sigkeyid"'):], kid, sig, RING)  # at the very start
    with pytest.raises(EventSignatureError, match="no member 'sigkeyid'"):  # not JCS: a name out of place
        verify_canonical_event(leaf.replace(b',"sigkeyid"', b' "sigkeyid"'), kid, sig, RING)
    with pytest.raises(EventSignatureError, match="side by side"):
        verify_canonical_event(leaf, kid, sign_event({"id": "2"}, MINE)["signature"], RING)
    between = sign_event({"id": "1", "sigl": "between the two"}, MINE)
    with pytest.raises(EventSignatureError, match="side by side"):
        _verify(between)
    verify_event(between, RING)  # what verify_event accepts there, this one refuses: outside its precondition
