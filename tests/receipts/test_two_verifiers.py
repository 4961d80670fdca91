"""Two verifiers, one verdict: the Python verifier (services/receipts/verify.py) and the page's JavaScript one
(services/api/static/receipt-verify.js, run under Node) on genuine bundles — rail confirmed, rail disputed
with marks, truck — and on a tamper suite over them: weights, proofs, keys, roots, order, duplicate JSON
keys, spliced events. Every genuine bundle is accepted by both, every tampered copy rejected by both, and
both name the same check."""

from __future__ import annotations

import base64
import copy
import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chain_anchor.events import sign_event
from chain_anchor.keys import Signer
from services.receipts.client import sign_confirmation, sign_dispute
from services.receipts.errors import BundleInvalid
from services.receipts.verify import load_bundle, verify_bundle
from services.trust import trust_from_json
from tests.receipts.conftest import Pipeline
from tests.receipts.helpers import BUYER, _example, confirmation_args, event_id, shipment, truck_shipment

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")]

RUNNER = Path(__file__).parent / "js" / "verify_many.mjs"


def js_verify(trust: dict[str, Any], bundles: list[bytes], witness_quorum: int = 0) -> list[dict[str, Any]]:
    job = {"trust": json.dumps(trust), "bundles": [b.decode("utf-8") for b in bundles],
           "witness_quorum": witness_quorum}
    done = subprocess.run(["node", str(RUNNER)], input=json.dumps(job).encode(), capture_output=True, timeout=120,
                          check=True)
    out: list[dict[str, Any]] = json.loads(done.stdout)
    return out


def py_verify(trust: dict[str, Any], raw: bytes) -> str | None:
    """None when valid, else the check code."""
    try:
        verify_bundle(load_bundle(raw), trust_from_json(trust))
    except BundleInvalid as e:
        return e.check
    return None


@dataclass
class Genuine:
    trust: dict[str, Any]
    rail: dict[str, Any]
    disputed: dict[str, Any]
    truck: dict[str, Any]
    stray_ticket: dict[str, Any]  # a sealed outbound ticket naming the rail shipment, with its proof


def _ticket(c: Any, n: int, shipment_id: str, order_id: str) -> dict[str, Any]:
    ticket = _example("transport.TruckWeighed")
    number = f"BD-T{n}-STRAY"
    ticket.update(id=event_id(n, "stray-ticket"), subject=number)
    ticket["data"].update(ticket_no=number, direction="outbound", order_id=order_id, shipment_id=shipment_id)
    return sign_event(ticket, c.signer(ticket["source"].removeprefix("/participants/")))


@pytest.fixture(scope="module")
async def genuine(pipeline: Pipeline) -> Genuine:
    c = pipeline.consortium
    rail, short, truck = shipment(c, 61), shipment(c, 62, loss_kg_per_wagon=3_000), truck_shipment(c, 63)
    stray = _ticket(c, 61, rail.shipment_id, rail.order_id)
    await pipeline.publish(rail.all() + short.all() + truck.all() + [stray])
    await pipeline.sealed([e["id"] for e in rail.all() + short.all() + truck.all() + [stray]])
    on_record = rail.assay["data"]["assay"]
    assay = {**on_record, "qnet_ar_kcal_per_kg": on_record["qnet_ar_kcal_per_kg"] - 300}
    short_kg = short.unloading["data"]["total_net_weight_kg"]
    answers = [
        sign_confirmation(c.signer(BUYER), **confirmation_args(rail), assay=assay),
        sign_dispute(c.signer(BUYER), **{k: v for k, v in confirmation_args(short).items()
                                         if k != "accepted_net_weight_kg"},
                     reason_code="weight_shortfall", measured_net_weight_kg=short_kg, accepted_net_weight_kg=short_kg),
        sign_confirmation(c.signer(BUYER), buyer_id=BUYER, shipment_id=truck.shipment_id, order_id=truck.order_id,
                          station=truck.tickets[0]["data"]["station"],
                          accepted_net_weight_kg=sum(t["data"]["net_weight_kg"] for t in truck.tickets)),
    ]
    await pipeline.publish(answers)
    await pipeline.sealed([a["id"] for a in answers])
    auditor = await pipeline.auditor()
    bundles = [(await pipeline.api.get(f"/v1/receipts/{sid}", headers=auditor)).json()
               for sid in (rail.shipment_id, short.shipment_id, truck.shipment_id)]
    found = (await pipeline.api.get(f"/v1/events/{stray['id']}")).json()
    proof = (await pipeline.api.get("/v1/proofs/inclusion", params={"event_id": stray["id"],
                                                                     "tree_size": bundles[0]["tree_size"]})).json()
    block = (await pipeline.api.get(f"/v1/blocks/{found['height']}")).json()
    stray_entry = {"entry": {"kind": "truck", "leaf_index": found["leaf_index"], "height": found["height"],
                             "event": found["event"], "inclusion_proof": proof["proof"]},
                   "block": {"height": found["height"], "header": block["header"], "signatures": block["signatures"]}}
    return Genuine(pipeline.trust(), bundles[0], bundles[1], bundles[2], stray_entry)


def _dump(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")


def _entry(b: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(e for e in b["events"] if e["kind"] == kind)


def _flip(h: str) -> str:
    return ("0" if h[0] != "0" else "1") + h[1:]


def _resign(b: dict[str, Any], kind: str, signer: Signer, change: Callable[[dict[str, Any]], None]) -> None:
    entry = _entry(b, kind)
    change(entry["event"])
    entry["event"] = sign_event(entry["event"], signer)


def _key_ids(b: dict[str, Any]) -> None:
    """Recompute key_ids after a splice, as a careful forger would."""
    participants: dict[str, set[str]] = {}
    for e in b["events"]:
        participants.setdefault(e["event"]["source"].removeprefix("/participants/"), set()).add(e["event"]["sigkeyid"])
    b["key_ids"] = {"sequencer": sorted({s["key_id"] for x in b["blocks"] for s in x["signatures"]}),
                    "participants": {p: sorted(k) for p, k in sorted(participants.items())}}


def _splice_stray_ticket(g: Genuine) -> bytes:
    b = copy.deepcopy(g.rail)
    b["events"] = sorted([*b["events"], g.stray_ticket["entry"]], key=lambda e: e["leaf_index"])
    if all(x["height"] != g.stray_ticket["block"]["height"] for x in b["blocks"]):
        b["blocks"] = sorted([*b["blocks"], g.stray_ticket["block"]], key=lambda x: x["height"])
    _key_ids(b)
    return _dump(b)


def _splice_other_unloading(g: Genuine) -> bytes:
    b = copy.deepcopy(g.rail)
    other = _entry(g.disputed, "unloading")
    b["events"] = sorted([e for e in b["events"] if e["kind"] != "unloading"] + [copy.deepcopy(other)],
                         key=lambda e: e["leaf_index"])
    return _dump(b)


def _splice_other_receipt(g: Genuine) -> bytes:
    b = copy.deepcopy(g.rail)
    other = _entry(g.disputed, "receipt")
    b["events"] = sorted([e for e in b["events"] if e["kind"] != "receipt"] + [copy.deepcopy(other)],
                         key=lambda e: e["leaf_index"])
    return _dump(b)


def _duplicate(raw: bytes, member: str, value: str) -> bytes:
    """Put ``"member": value,`` before the first occurrence of ``"member":`` (a parser keeping the first shows it)."""
    needle = f'"{member}":'.encode()
    at = raw.index(needle)
    return raw[:at] + f'"{member}": {value}, '.encode() + raw[at:]


def _mutate(base: str, change: Callable[[dict[str, Any]], None]) -> Callable[[Genuine], bytes]:
    def make(g: Genuine) -> bytes:
        b = copy.deepcopy(getattr(g, base))
        change(b)
        return _dump(b)
    return make


def _lighter_wagon(b: dict[str, Any]) -> None:
    _entry(b, "loading")["event"]["data"]["wagons"][0]["net_weight_kg"] -= 500


def _swap_events(b: dict[str, Any]) -> None:
    b["events"][0], b["events"][1] = b["events"][1], b["events"][0]


def _reverse_blocks(b: dict[str, Any]) -> None:
    if len(b["blocks"]) < 2:
        b["blocks"].append(copy.deepcopy(b["blocks"][0]))
    b["blocks"].reverse()


def _sequencer_signature(b: dict[str, Any]) -> None:
    sig = b["blocks"][-1]["signatures"][0]
    sig["signature"] = base64.b64encode(Signer.from_seed(b"\x09" * 32).sign(b"x")).decode()


def _foreign_header_key(b: dict[str, Any]) -> None:
    b["blocks"][-1]["signatures"].append({"key_id": "ab" * 32, "signature": base64.b64encode(bytes(64)).decode()})


def _checkpoint_root(b: dict[str, Any]) -> None:
    lines = b["checkpoint"].split("\n")
    root = bytearray(base64.b64decode(lines[2]))
    root[0] ^= 1
    lines[2] = base64.b64encode(bytes(root)).decode()
    b["checkpoint"] = "\n".join(lines)


def _other_key_of_signer(b: dict[str, Any]) -> None:
    _entry(b, "loading")["event"]["sigkeyid"] = _entry(b, "unloading")["event"]["sigkeyid"]


def _proof_len(extra: bool) -> Callable[[dict[str, Any]], None]:
    def change(b: dict[str, Any]) -> None:
        proof = _entry(b, "loading")["inclusion_proof"]
        if extra:
            proof.append(proof[-1])
        else:
            proof.pop()
    return change


def _raw(base: str, make: Callable[[bytes], bytes]) -> Callable[[Genuine], bytes]:
    return lambda g: make(_dump(getattr(g, base)))


def _admin_resign(kind: str, change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    """The event changed and re-signed by a key the trust file does not know."""
    return lambda b: _resign(b, kind, Signer.from_seed(b"\x42" * 32), change)


def _weight_plus(e: dict[str, Any]) -> None:
    e["data"]["total_net_weight_kg"] += 1000


TAMPERED: dict[str, Callable[[Genuine], bytes]] = {
    # weights
    "loaded wagon weight": _mutate("rail", _lighter_wagon),
    "unloaded total": _mutate("rail", lambda b: _entry(b, "unloading")["event"]["data"].update(
        total_net_weight_kg=_entry(b, "unloading")["event"]["data"]["total_net_weight_kg"] + 1)),
    "accepted weight": _mutate("rail", lambda b: _entry(b, "receipt")["event"]["data"].update(
        accepted_net_weight_kg=1)),
    "truck ticket weight": _mutate("truck", lambda b: _entry(b, "truck")["event"]["data"].update(net_weight_kg=1)),
    "dispute measured weight": _mutate("disputed", lambda b: _entry(b, "receipt")["event"]["data"].update(
        measured_net_weight_kg=1)),
    "weight re-signed by an unknown key": _mutate("rail", _admin_resign("unloading", _weight_plus)),
    # proofs
    "proof hash": _mutate("rail", lambda b: _entry(b, "unloading")["inclusion_proof"].__setitem__(
        0, _flip(_entry(b, "unloading")["inclusion_proof"][0]))),
    "proof too short": _mutate("rail", _proof_len(False)),
    "proof too long": _mutate("rail", _proof_len(True)),
    "leaf index": _mutate("rail", lambda b: _entry(b, "loading").update(
        leaf_index=_entry(b, "loading")["leaf_index"] + 1)),
    "event height": _mutate("rail", lambda b: _entry(b, "order").update(height=_entry(b, "order")["height"] + 99)),
    # keys
    "key ids summary": _mutate("rail", lambda b: b["key_ids"].update(sequencer=["0" * 64])),
    "another key of the signer": _mutate("rail", _other_key_of_signer),
    "sequencer signature": _mutate("rail", _sequencer_signature),
    "header signed by a foreign key": _mutate("rail", _foreign_header_key),
    "event signature swapped": _mutate("rail", lambda b: _entry(b, "receipt")["event"].update(
        signature=_entry(b, "order")["event"]["signature"])),
    # roots
    "header log root": _mutate("rail", lambda b: b["blocks"][-1]["header"].update(
        log_root=_flip(b["blocks"][-1]["header"]["log_root"]))),
    "checkpoint root": _mutate("rail", _checkpoint_root),
    "checkpoint tree size": _mutate("rail", lambda b: b.update(tree_size=b["tree_size"] + 1)),
    "header sealed_at": _mutate("truck", lambda b: b["blocks"][0]["header"].update(sealed_at="2020-01-01T00:00:00Z")),
    # order
    "events out of order": _mutate("rail", _swap_events),
    "blocks out of order": _mutate("rail", _reverse_blocks),
    # spliced events
    "rail bundle with a sealed outbound ticket": _splice_stray_ticket,
    "another shipment's unloading": _splice_other_unloading,
    "another shipment's receipt": _splice_other_receipt,
    "discrepancy marks removed": _mutate("disputed", lambda b: b.update(discrepancies=[])),
    "unloading left out": _mutate("rail", lambda b: b.update(
        events=[e for e in b["events"] if e["kind"] != "unloading"])),
}


TAMPERED |= {
    "duplicate loaded total": _raw("rail", lambda r: _duplicate(r, "total_net_weight_kg", "1")),
    "duplicate accepted weight": _raw("truck", lambda r: _duplicate(r, "accepted_net_weight_kg", "1")),
    "duplicate tree size": _raw("rail", lambda r: _duplicate(r, "tree_size", "1")),
    "duplicate kind": _raw("disputed", lambda r: _duplicate(r, "kind", '"assay"')),
}


def _float_tree_size(raw: bytes) -> bytes:
    doc = json.loads(raw)
    return raw.replace(f'"tree_size": {doc["tree_size"]}'.encode(), f'"tree_size": {doc["tree_size"]}.0'.encode(), 1)


TAMPERED["float tree size"] = _raw("rail", _float_tree_size)


async def test_both_verifiers_accept_every_genuine_bundle(genuine: Genuine) -> None:
    raws = [_dump(b) for b in (genuine.rail, genuine.disputed, genuine.truck)]
    assert [py_verify(genuine.trust, r) for r in raws] == [None, None, None]
    results = js_verify(genuine.trust, raws)
    assert [r["ok"] for r in results] == [True, True, True], results
    rail, disputed, truck = (r["summary"] for r in results)
    assert (rail["decision"], disputed["decision"], truck["transport"]) == ("confirmed", "disputed", "truck")
    assert {m["kind"] for m in rail["discrepancies"]} == {"quality"}  # the buyer's 300 kcal/kg lower assay
    assert [m["what"] for m in disputed["discrepancies"]] == ["unloaded_vs_loaded"]
    assert disputed["discrepancies"] == genuine.disputed["discrepancies"]
    assert len(truck["weigh_tickets"]) == 2


async def test_both_verifiers_reject_every_tampered_bundle_with_the_same_check(genuine: Genuine) -> None:
    names = sorted(TAMPERED)
    raws = [TAMPERED[n](genuine) for n in names]
    js = js_verify(genuine.trust, raws)
    verdicts = {n: (py_verify(genuine.trust, raw), r.get("check") if not r["ok"] else None, r.get("message"))
                for n, raw, r in zip(names, raws, js, strict=True)}
    accepted = {n: v for n, v in verdicts.items() if v[0] is None or v[1] is None}
    assert not accepted, f"accepted by a verifier: {accepted}"
    differ = {n: v for n, v in verdicts.items() if v[0] != v[1]}
    assert not differ, f"the two verifiers name different checks: {differ}"
    assert verdicts["rail bundle with a sealed outbound ticket"][0] == "consistency"
    assert all(verdicts[n][0] == "format" for n in names if n.startswith("duplicate"))
    assert len(names) >= 31


async def test_cli_verify_refuses_a_duplicated_key(genuine: Genuine, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from services import cli

    bundle, trust = tmp_path / "bundle.json", tmp_path / "trust.json"
    bundle.write_bytes(_duplicate(_dump(genuine.rail), "total_net_weight_kg", "1"))
    trust.write_text(json.dumps(genuine.trust), encoding="utf-8")
    assert cli.main(["receipt", "verify", str(bundle), "--trust", str(trust)]) == 1
    out = capsys.readouterr().out
    assert out.startswith("RECEIPT INVALID [format]") and "total_net_weight_kg" in out
