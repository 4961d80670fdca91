"""Byte-for-byte tests of the tlog-witness / tlog-cosignature / tlog-tiles forms against the C2SP texts.

Every expected value below is copied from the examples in the spec texts (c2sp.org/tlog-witness,
c2sp.org/tlog-cosignature, c2sp.org/tlog-tiles), not produced by our code."""

from __future__ import annotations

import base64

import pytest

from chain_anchor.checkpoint import cosignature_message, cosignature_timestamp, parse_checkpoint, parse_note
from services.api.routes.tlog import _available, encode_tile_index, parse_tile_path, tile_path
from services.witness.protocol import (
    SIZE_CONTENT_TYPE,
    ProtocolError,
    format_add_checkpoint,
    format_cosignatures,
    format_size,
    parse_add_checkpoint,
    parse_cosignatures,
    parse_size,
)

# c2sp.org/tlog-witness, "add-checkpoint", example request body
SPEC_REQUEST = (
    "old 20852014\n"
    "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n"
    "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n"
    "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n"
    "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n"
    "\n"
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE"
    "+xeMcTOAYQ8=\n"
    "— example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv"
    "++qbSzm9Q=\n"
).encode()

# c2sp.org/tlog-witness, example response body
SPEC_RESPONSE = (
    "— witness.example/w1 CMp+6LWBU0anHGH5aNDTJkH/gj79sG+T6+iP2ThYN5krrDJbR1HDnucjL39QsZTSvVjyQLrdk3DXDqI5G2HgLat"
    "Vs0pWh6Up69HVOw==\n"
    "— witness.example/w1 I7rEps0pvK2UqkS2gSpVUDhrhVtQV9lgF6pRrWAvjJHjyWpW7VcE3SiOlVlbQNt64vWhO+DlkL0+UfzuOBMh9Ch"
    "dMkP1vi/lCAsmlw==\n"
    "— witness.example/w2 AWui8Sk55XjYLOijihBjhqEH6nS1ndDymE0a+6idX7pLcnoB+dhnz0854aLZgrrKbYKA7nC3HNJhm/kWl7oJlqU"
    "3rXXvpysAdyP3wQ==\n"
).encode()

# c2sp.org/tlog-cosignature, the example cosigned checkpoint and the Ed25519 signed message
SPEC_COSIGNED = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE"
    "+xeMcTOAYQ8=\n"
    "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0x"
    "Ue+mbIUBkBIfZ+qnA==\n"
)
SPEC_SIGNED_MESSAGE = (b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
                       b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n")


def test_spec_request_body_parses_and_formats_back_byte_for_byte() -> None:
    request = parse_add_checkpoint(SPEC_REQUEST)
    assert request.old_size == 20852014
    assert [base64.b64encode(h).decode() for h in request.proof] == [
        "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=", "jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=",
        "5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=", "/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0="]
    note = parse_note(request.checkpoint)
    checkpoint = parse_checkpoint(note.text)
    assert (checkpoint.origin, checkpoint.tree_size) == ("example.com/behind-the-sofa", 20852163)
    assert [s.name for s in note.signatures] == ["example.com/behind-the-sofa"] * 2
    assert format_add_checkpoint(request.old_size, request.proof, request.checkpoint) == SPEC_REQUEST


def test_spec_response_body_parses_and_formats_back_byte_for_byte() -> None:
    lines = parse_cosignatures(SPEC_RESPONSE)
    assert [s.name for s in lines] == ["witness.example/w1", "witness.example/w1", "witness.example/w2"]
    assert format_cosignatures(lines) == SPEC_RESPONSE


def test_cosignature_v1_signed_message_and_timestamp_match_the_spec() -> None:
    note = parse_note(SPEC_COSIGNED)
    assert cosignature_message(note.text.encode(), 1679315147) == SPEC_SIGNED_MESSAGE
    witness_line = note.signatures[1]
    assert cosignature_timestamp(witness_line) == 1679315147  # the spec's "time 1679315147"
    assert len(witness_line.signature) == 8 + 64  # timestamped_signature: u64 BE ‖ Ed25519


def test_conflict_answer_is_the_size_in_decimal_and_a_newline() -> None:
    assert SIZE_CONTENT_TYPE == "text/x.tlog.size"
    assert format_size(20852163) == b"20852163\n"
    assert format_size(0) == b"0\n"
    assert parse_size(b"20852163\n") == 20852163
    for bad in (b"20852163", b"020852163\n", b"-1\n", b"\n", b"1 \n", "１\n".encode()):
        with pytest.raises(ProtocolError):
            parse_size(bad)


@pytest.mark.parametrize(("body", "message"), [
    (b"old 1\nexample\n1\n", "empty line"),
    (b"old 01\n\nx\n", "leading zeroes"),
    (b"new 1\n\nx\n", "'old <size>'"),
    (b"old 1\nnot base64!\n\nx\n", "not base64"),
    (b"old 1\nAAAA\n\nx\n", "one base64 SHA-256"),
    (b"old 1\n" + b"PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n" * 64 + b"\nx\n", "more than 63"),
    ("old １\n\nx\n".encode(), "ASCII"),
])
def test_malformed_request_bodies_are_refused_with_the_rule(body: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_add_checkpoint(body)


def test_an_empty_or_malformed_cosignature_answer_is_refused() -> None:
    for bad in (b"", b"witness.example/w1 AAAA\n", b"\xff\n"):
        with pytest.raises(ProtocolError):
            parse_cosignatures(bad)


def test_tile_index_encoding_is_the_specs() -> None:
    assert encode_tile_index(1234067) == "x001/x234/067"  # the spec's example
    assert encode_tile_index(0) == "000"
    assert tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert tile_path(1, 5, 17) == "tile/1/005.p/17"
    assert tile_path("entries", 3, 112) == "tile/entries/003.p/112"
    assert parse_tile_path("0/x001/x234/067") == ("0", 1234067, 256)
    assert parse_tile_path("entries/003.p/112") == ("entries", 3, 112)
    for bad in ("0/x001/234/067", "0/1234067", "0/x000/067", "64/000", "01/000", "0/000.p/0", "0/000.p/256",
                "0/000.p/017", "x/000", "0/x001"):
        with pytest.raises(ValueError):
            parse_tile_path(bad)


def test_tile_widths_of_the_specs_70000_and_256_trees() -> None:
    # "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level 0 tile of width
    # 112, one full level 1 tile, one partial level 1 tile of width 17, and one partial level 2 tile of width 1"
    level0 = [_available(70_000, 0, n) for n in range(275)]
    assert level0.count(256) == 273 and level0[273] == 112 and level0[274] == 0
    assert [_available(70_000, 1, n) for n in range(3)] == [256, 17, 0]
    assert [_available(70_000, 2, n) for n in range(2)] == [1, 0]
    assert _available(70_000, 3, 0) == 0
    # "a tree of size 256 will be represented by a full level 0 tile and a partial level 1 tile of width 1"
    widths = [_available(256, 0, 0), _available(256, 0, 1), _available(256, 1, 0), _available(256, 2, 0)]
    assert widths == [256, 0, 1, 0]
