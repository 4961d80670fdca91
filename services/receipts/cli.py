"""``coalchain receipt pending|sign|fetch|verify``: the buyer's receipt workflow from the command line.

* ``pending --buyer ID`` — the buyer's delivered shipments waiting for its answer (from the API);
* ``sign --key FILE --buyer ID --shipment S (--accept-kg N | --dispute REASON --measured-kg N --accept-kg N)``
  — build and sign the DeliveryConfirmed / DeliveryDisputed locally (``--send`` posts it to the gateway);
* ``fetch SHIPMENT`` — download the receipt bundle;
* ``verify BUNDLE --trust TRUST`` — check it offline; exit 0 and a summary, or exit 1 and the reason.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from chain_anchor.errors import ChainAnchorError
from schemas.units import hundredths
from services.config import Settings
from services.outcome import outcome_line, wait_for_outcome
from services.receipts.client import (
    get_json,
    newest_event_type,
    sign_confirmation,
    sign_dispute,
    sign_in,
    submit,
)
from services.receipts.discrepancy import Tolerances
from services.receipts.errors import BundleInvalid, ReceiptError
from services.receipts.summary import discrepancy_line, summary_lines
from services.receipts.verify import load_bundle, verify_bundle
from services.trust import load_trust


def dispute_reasons() -> list[str]:
    """The reason codes of the newest DeliveryDisputed schema of the catalogue."""
    schema = newest_event_type("DeliveryDisputed").schema
    return list(schema["properties"]["data"]["properties"]["reason_code"]["enum"])


def configure_parser(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="receipt_command", required=True, metavar="ACTION")
    pending = sub.add_parser("pending", help="list a buyer's pending receipts")
    pending.add_argument("--buyer", required=True, help="buyer participant id")
    _key(pending)
    _api(pending)
    pending.add_argument("--json", action="store_true", help="print the API's JSON")

    sign = sub.add_parser("sign", help="sign a DeliveryConfirmed or DeliveryDisputed with the buyer's key")
    sign.add_argument("--key", type=Path, required=True, help="the buyer's private key file (PEM or hex seed)")
    sign.add_argument("--buyer", required=True, help="buyer participant id (the signer)")
    sign.add_argument("--shipment", required=True, help="shipment id")
    sign.add_argument("--order", help="order id (default: from the pending receipt, via the API)")
    sign.add_argument("--station", help="receiving station code (default: from the pending receipt)")
    sign.add_argument("--accept-kg", type=int, required=True, help="net weight accepted (kg)")
    sign.add_argument("--dispute", choices=dispute_reasons(), help="dispute with this reason instead of confirming")
    sign.add_argument("--measured-kg", type=int, help="net weight the buyer measured (kg; disputes)")
    sign.add_argument("--waybill-kg", type=int, help="net weight on the waybills (kg)")
    sign.add_argument("--wagons", type=int, help="wagons received (confirmations)")
    sign.add_argument("--assay", type=Path, help="JSON file with the buyer's own assay")
    sign.add_argument("--note", help="free text")
    sign.add_argument("-o", "--output", type=Path, help="write the signed event here (default: stdout)")
    sign.add_argument("--send", action="store_true",
                      help="also POST it to the gateway (--api) and wait until it is sealed (exit 0) or rejected (1)")
    sign.add_argument("--wait-timeout", type=float, default=30, help="seconds to wait for the outcome (exit 3 after)")
    _api(sign)

    fetch = sub.add_parser("fetch", help="download the receipt bundle of a shipment")
    fetch.add_argument("shipment", help="shipment id")
    fetch.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    fetch.add_argument("--buyer", help="the buyer who signed the receipt (or an auditor) signing in")
    _key(fetch)
    _api(fetch)

    verify = sub.add_parser("verify", help="verify a receipt bundle offline against a trust file")
    verify.add_argument("bundle", type=Path, help="the bundle JSON file")
    verify.add_argument("--trust", type=Path, required=True, help="trust file (coalchain trust export)")
    verify.add_argument("--witness-quorum", type=int, default=0, help="witness cosignatures required"
                        " (default: the trust file's witness_quorum)")
    verify.add_argument("--weight-tolerance-pct", help="also mark weights beyond this tolerance, e.g. 0.50")


def _key(p: argparse.ArgumentParser) -> None:
    p.add_argument("--key", type=Path, help="the participant's private key file, to sign in to the API")


def _api(p: argparse.ArgumentParser) -> None:
    p.add_argument("--api", help="API base URL (default: http://COALCHAIN_API_HOST:COALCHAIN_API_PORT)")


def _base(args: argparse.Namespace, settings: Settings) -> str:
    return str(args.api or f"http://{settings.api_host}:{settings.api_port}").rstrip("/")


def _session(args: argparse.Namespace, settings: Settings, participant: str | None) -> str | None:
    """A session token when ``--key`` is given (signing in as ``participant``)."""
    if args.key is None or participant is None:
        return None
    return sign_in(_base(args, settings), args.key, participant)


def _http_error(e: urllib.error.HTTPError) -> str:
    body = e.read().decode("utf-8", "replace")
    try:
        detail = json.loads(body).get("detail")
    except (ValueError, AttributeError):
        detail = None
    text = detail if isinstance(detail, str) else body
    if e.code == 401:
        text += " (give --key with the participant's key file)"
    return f"{text} (HTTP {e.code})"


def run(args: argparse.Namespace, settings: Settings) -> int:
    action = {"pending": _pending, "sign": _sign, "fetch": _fetch, "verify": _verify}[args.receipt_command]
    try:
        return action(args, settings)
    except urllib.error.HTTPError as e:
        print(f"error: {_http_error(e)}", file=sys.stderr)
    except (OSError, ReceiptError, ChainAnchorError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
    return 2


def _pending_doc(args: argparse.Namespace, settings: Settings, token: str | None) -> Any:
    query = urllib.parse.urlencode({"buyer": args.buyer})
    return get_json(f"{_base(args, settings)}/v1/receipts/pending?{query}", token)


def _pending(args: argparse.Namespace, settings: Settings) -> int:
    doc = _pending_doc(args, settings, _session(args, settings, args.buyer))
    if args.json:
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        return 0
    print(f"{len(doc['pending'])} pending receipt(s) for {args.buyer} as of tree size {doc['as_of']['tree_size']}")
    for p in doc["pending"]:
        print(f"- {p['shipment_id']} order {p['order_id']} ({p['transport']}): loaded {p['loaded_net_weight_kg']} kg,"
              f" unloaded {p['unloaded_net_weight_kg']} kg, {len(p['waybills'])} waybill(s)")
        for mark in p["discrepancies"]:
            print(f"    ! {discrepancy_line(mark)}")
    return 0


def _identity(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    ident = {"buyer_id": args.buyer, "shipment_id": args.shipment, "order_id": args.order, "station": args.station}
    if args.order and args.station:
        return ident
    token = sign_in(_base(args, settings), args.key, args.buyer)
    doc = _pending_doc(args, settings, token)
    match = next((p for p in doc["pending"] if p["shipment_id"] == args.shipment), None)
    if match is None:
        raise ReceiptError(_not_pending(args, settings, token, len(doc["pending"])))
    found = {"order_id": match.get("order_id"),
             "station": match.get("unloading_station") or match.get("destination_station")}
    out = {k: ident[k] or found.get(k) for k in ident}
    if not out["station"]:
        raise ReceiptError(f"shipment {args.shipment} is a {match.get('transport')} shipment and its pending receipt"
                           " names no receiving station (weigh tickets carry none): give --station <the code of"
                           " the station where you took delivery>")
    return out


def _not_pending(args: argparse.Namespace, settings: Settings, token: str, pending: int) -> str:
    """Why ``args.shipment`` is not among the buyer's pending receipts, and what to do."""
    query = urllib.parse.urlencode({"buyer": args.buyer, "limit": 500})
    answered = get_json(f"{_base(args, settings)}/v1/receipts/answered?{query}", token)["answered"]
    done = next((a for a in answered if a["shipment_id"] == args.shipment), None)
    if done is not None:
        return (f"shipment {args.shipment} is already {done['decision']} by {args.buyer} (event {done['event_id']},"
                f" block {done['height']}): a shipment takes one receipt; download it with `coalchain receipt fetch"
                f" {args.shipment} --buyer {args.buyer} --key {args.key}`")
    return (f"shipment {args.shipment} is not among the {pending} pending receipt(s) of {args.buyer}: it is not"
            f" delivered yet, not an order of {args.buyer}, or the id is wrong; list them with `coalchain receipt"
            f" pending --buyer {args.buyer} --key {args.key}` (to sign anyway, give --order and --station)")


def _sign(args: argparse.Namespace, settings: Settings) -> int:
    ident = _identity(args, settings)
    assay = json.loads(args.assay.read_text(encoding="utf-8")) if args.assay else None
    if args.dispute:
        if args.measured_kg is None:
            raise ReceiptError("a dispute needs --measured-kg")
        event = sign_dispute(args.key, **ident, reason_code=args.dispute, measured_net_weight_kg=args.measured_kg,
                             accepted_net_weight_kg=args.accept_kg, waybill_net_weight_kg=args.waybill_kg,
                             assay=assay, note=args.note)
    else:
        event = sign_confirmation(args.key, **ident, accepted_net_weight_kg=args.accept_kg,
                                  waybill_net_weight_kg=args.waybill_kg, wagon_count=args.wagons, assay=assay,
                                  note=args.note)
    text = json.dumps(event, ensure_ascii=False, indent=2) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output} (event {event['id']}, key {event['sigkeyid']})", file=sys.stderr)
    else:
        sys.stdout.write(text)
    if args.send:  # "sent" is not an outcome: wait until the event is sealed or rejected
        ids = submit(event, _base(args, settings))
        print(f"sent for validation: {', '.join(ids)}; waiting for the outcome", file=sys.stderr)
        doc = wait_for_outcome(_base(args, settings), event, timeout_s=args.wait_timeout)
        print(outcome_line(doc), file=sys.stderr)
        return 0 if doc["status"] == "sealed" else 1
    return 0


def _fetch(args: argparse.Namespace, settings: Settings) -> int:
    token = _session(args, settings, args.buyer)
    doc = get_json(f"{_base(args, settings)}/v1/receipts/{urllib.parse.quote(args.shipment, safe='/')}", token)
    text = json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output} (tree size {doc['tree_size']})", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _pct(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,2}\.[0-9]{2}", text):
        raise ValueError(f"--weight-tolerance-pct {text!r}: give two decimals, e.g. 0.50")
    return hundredths(text)


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    own = Tolerances(weight_bp=_pct(args.weight_tolerance_pct)) if args.weight_tolerance_pct else None
    trust = load_trust(args.trust)
    raw = args.bundle.read_bytes()
    try:
        quorum = max(args.witness_quorum, trust.witness_quorum)  # the trust file's policy, or a stricter one
        verified = verify_bundle(load_bundle(raw), trust, witness_quorum=quorum)
    except BundleInvalid as e:
        print(f"RECEIPT INVALID [{e.check}]: {e}")
        return 1
    print("\n".join(summary_lines(verified, own)))
    return 0
