"""docs/ledger-format.md's worked witness example shows what the witness code computes for the worked tree."""

from __future__ import annotations

import ast
from pathlib import Path

from chain_anchor.checkpoint import SignedNote, cosign, parse_note
from services.witness.protocol import format_add_checkpoint, format_cosignatures, format_size
from tests.chain_anchor.ledger_format_example import WITNESS, WITNESS_NAME, compute

DOC = (Path(__file__).resolve().parents[2] / "docs" / "ledger-format.md").read_text(encoding="utf-8")


def test_the_worked_add_checkpoint_request_and_answers_are_in_the_doc() -> None:
    example = compute()
    proof = [bytes.fromhex(h) for h in ast.literal_eval(example["consistency_3_to_5"])]
    note = parse_note(example["checkpoint_note"])
    log_signed = SignedNote(note.text, note.signatures[:1]).to_bytes()
    body = format_add_checkpoint(3, proof, log_signed).decode()
    assert "```\n" + body + "```" in DOC
    answer = format_cosignatures([cosign(note.text, WITNESS, WITNESS_NAME, 1714550460)]).decode()
    assert "```\n" + answer + "```" in DOC
    assert "Content-Type: text/x.tlog.size\n\n" + format_size(5).decode() + "```" in DOC
