"""The buyer's side: build and sign a DeliveryConfirmed or DeliveryDisputed with the buyer's own key.

Everything here runs on the buyer's machine. The private key is read from the buyer's key file and used
in this process only; what leaves is the signed event, which the buyer sends to the gateway
(:func:`submit`, ``POST /v1/events``) or to Kafka with any client (topic ``coal.events.v1``, key = the
shipment id, value = the JSON)::

    from services.receipts.client import sign_confirmation, submit
    event = sign_confirmation("keys/jiaozuo-power.key", buyer_id="jiaozuo-power", shipment_id="S-1",
                              order_id="O-1", station="JOF", accepted_net_weight_kg=4_010_000)
    submit(event, "http://127.0.0.1:8000")

Each function checks the event against the catalogue's schema before returning it, so mistakes are
reported here, precisely, rather than as a rejection later.
"""

from __future__ import annotations

import base64
import json
import logging
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import schemas
from chain_anchor.errors import KeyFormatError
from chain_anchor.events import sign_event
from chain_anchor.keys import Signer
from schemas import ijson
from services.receipts.errors import ReceiptInputError

log = logging.getLogger(__name__)

__all__ = ["from_pending", "get_json", "load_signer", "newest_event_type", "sign_confirmation", "sign_dispute",
           "sign_in", "submit"]

KeySource = Signer | Path | str


def load_signer(key: KeySource) -> Signer:
    """A signer from a key file: PKCS#8 PEM, or the 32-byte seed as 64 hex characters."""
    if isinstance(key, Signer):
        return key
    raw = Path(key).read_bytes()
    if raw.lstrip().startswith(b"-----BEGIN"):
        return Signer.from_pem(raw)
    try:
        return Signer.from_hex(raw.decode("ascii"))
    except (UnicodeDecodeError, KeyFormatError) as e:
        raise KeyFormatError(f"{key}: neither a PKCS#8 PEM Ed25519 key nor 64 hex characters of seed") from e


def newest_event_type(name: str) -> schemas.EventType:
    """The newest catalogued version of the receipt event ``name``."""
    return max((e for e in schemas.catalogue() if e.name == name), key=lambda e: e.version)


def _rfc3339(when: datetime | str | None) -> str:
    if isinstance(when, str):
        return when
    moment = (when or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _sign(name: str, key: KeySource, data: dict[str, Any], *, event_id: str | None,
          time: datetime | str | None) -> dict[str, Any]:
    entry = newest_event_type(name)
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": f"/participants/{data['buyer_id']}",
        "type": entry.type,
        "subject": data["shipment_id"],
        "time": _rfc3339(time),
        "datacontenttype": "application/json",
        "dataschema": entry.schema_id,
        "data": {k: v for k, v in data.items() if v is not None},
    }
    signed = sign_event(envelope, load_signer(key))
    try:
        schemas.validate(signed)
    except schemas.SchemaError as e:
        errors = tuple({"path": x.path, "rule": x.rule, "message": x.message} for x in e.errors)
        raise ReceiptInputError(f"not a valid {name}: {e}", errors) from None
    return signed


def sign_confirmation(key: KeySource, *, buyer_id: str, shipment_id: str, order_id: str, station: str,
                      accepted_net_weight_kg: int, waybill_net_weight_kg: int | None = None,
                      wagon_count: int | None = None, assay: Mapping[str, Any] | None = None,
                      note: str | None = None, event_id: str | None = None,
                      time: datetime | str | None = None) -> dict[str, Any]:
    """A signed DeliveryConfirmed: the buyer accepts ``accepted_net_weight_kg`` (and states its own assay)."""
    return _sign("DeliveryConfirmed", key, {
        "shipment_id": shipment_id, "order_id": order_id, "buyer_id": buyer_id, "station": station,
        "accepted_net_weight_kg": accepted_net_weight_kg, "waybill_net_weight_kg": waybill_net_weight_kg,
        "wagon_count": wagon_count, "assay": dict(assay) if assay is not None else None, "note": note,
    }, event_id=event_id, time=time)


def sign_dispute(key: KeySource, *, buyer_id: str, shipment_id: str, order_id: str, station: str,
                 reason_code: str, measured_net_weight_kg: int, accepted_net_weight_kg: int,
                 waybill_net_weight_kg: int | None = None, assay: Mapping[str, Any] | None = None,
                 note: str | None = None, event_id: str | None = None,
                 time: datetime | str | None = None) -> dict[str, Any]:
    """A signed DeliveryDisputed: the buyer's reason code and its own figures."""
    return _sign("DeliveryDisputed", key, {
        "shipment_id": shipment_id, "order_id": order_id, "buyer_id": buyer_id, "station": station,
        "reason_code": reason_code, "measured_net_weight_kg": measured_net_weight_kg,
        "accepted_net_weight_kg": accepted_net_weight_kg, "waybill_net_weight_kg": waybill_net_weight_kg,
        "assay": dict(assay) if assay is not None else None, "note": note,
    }, event_id=event_id, time=time)


def from_pending(pending: Mapping[str, Any]) -> dict[str, Any]:
    """The identifying arguments of a confirmation, taken from one item of ``GET /v1/receipts/pending``."""
    station = pending.get("unloading_station") or pending.get("destination_station")
    if not station:
        raise ReceiptInputError(f"pending receipt {pending.get('shipment_id')!r} names no receiving station")
    return {"buyer_id": pending["buyer_id"], "shipment_id": pending["shipment_id"],
            "order_id": pending["order_id"], "station": station}


def submit(event: Mapping[str, Any], api_url: str, *, timeout_s: float = 10) -> list[str]:
    """``POST /v1/events`` to the gateway; returns the event ids accepted for validation (HTTP 202).

    Raises :class:`ReceiptInputError` when the gateway refuses the event (4xx, with its errors) and
    ``OSError`` (``urllib.error.URLError``) when it cannot be reached.
    """
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    request = urllib.request.Request(f"{api_url.rstrip('/')}/v1/events", data=body, method="POST",
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            answer = json.loads(response.read())
    except urllib.error.HTTPError as e:
        detail = e.read().decode("utf-8", "replace")
        raise ReceiptInputError(f"the gateway refused the event: HTTP {e.code}: {detail}") from None
    log.info("submitted %s for validation", event.get("id"))
    return [str(x) for x in answer.get("accepted_for_validation", [])]


def _post_json(url: str, body: Mapping[str, Any], timeout_s: float) -> Any:
    data = json.dumps(body).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST", headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        return json.loads(response.read())


def sign_in(api_url: str, key: KeySource, participant: str, *, timeout_s: float = 10) -> str:
    """A session token for ``participant``: sign the API's challenge with its key (``docs/api.md`` § Sign-in).

    Raises ``urllib.error.HTTPError`` (404: no such participant; 401: the key is not one of its keys).
    """
    signer = load_signer(key)
    base = api_url.rstrip("/")
    challenge = _post_json(f"{base}/v1/auth/challenge", {"participant": participant}, timeout_s)
    signature = base64.b64encode(signer.sign(str(challenge["message"]).encode("utf-8"))).decode("ascii")
    session = _post_json(f"{base}/v1/auth/session", {"participant": participant, "challenge": challenge["challenge"],
                                                     "key_id": signer.key_id, "signature": signature}, timeout_s)
    return str(session["token"])


def get_json(url: str, token: str | None = None, *, timeout_s: float = 30) -> Any:
    """GET a JSON document, with ``Authorization: Bearer <token>`` when given."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout_s) as response:
        return ijson.loads(response.read())
