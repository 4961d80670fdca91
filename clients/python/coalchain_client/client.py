"""The HTTP side: publish to the gateway, wait for the outcome, verify a sealed event's inclusion locally.

``wait(event_id)`` ends in one of two answers and nothing else: :class:`Sealed`, after this process has
checked the checkpoint's signature against the trusted sequencer key(s) and the inclusion proof of the
event's leaf against that checkpoint's root; or :class:`Rejected` with the reason code, the rule and path
details, the stage and the time. A rejection is only taken as the answer when it is of *these* bytes (its
``envelope_sha256`` is the SHA-256 of the event's RFC 8785 bytes): anybody can send bytes claiming any id.

Retries: a 429 or 503 (or no answer) is retried up to ``retries`` times, sleeping what ``Retry-After``
says (else an exponential backoff capped at ``max_backoff_s``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chain_anchor.canonical import canonicalize
from chain_anchor.checkpoint import NoteVerifier, verify_checkpoint
from chain_anchor.errors import ChainAnchorError
from chain_anchor.events import sign_event
from chain_anchor.hashing import leaf_hash
from chain_anchor.keys import Signer
from chain_anchor.merkle import verify_inclusion
from coalchain_client.errors import ProofInvalid, Refused, Unreachable, WaitTimedOut

log = logging.getLogger(__name__)

CATALOGUE_PREFIX = "cn.taijiao.coal."
SCHEMA_BASE = "https://schemas.taijiao-coal.cn"
RETRY_STATUSES = (429, 502, 503, 504)


def make_event(*, participant: str, type: str, subject: str, data: Mapping[str, Any], event_id: str | None = None,
               time: datetime | str | None = None, dataschema: str | None = None) -> dict[str, Any]:
    """An unsigned CloudEvent of the catalogue. ``type`` is the full type (``cn.taijiao.coal.inventory.
    StockReported.v1``) or ``area.Name.vN``; ``dataschema`` defaults to the catalogue's schema id for it."""
    full = type if type.startswith(CATALOGUE_PREFIX) else CATALOGUE_PREFIX + type
    area, name, version = full[len(CATALOGUE_PREFIX):].split(".")
    moment = time if isinstance(time, str) else (time or datetime.now(UTC)).astimezone(UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    return {
        "specversion": "1.0", "id": event_id or str(uuid.uuid4()), "source": f"/participants/{participant}",
        "type": full, "subject": subject, "time": moment, "datacontenttype": "application/json",
        "dataschema": dataschema or f"{SCHEMA_BASE}/{area}/{name}/{version}.json", "data": dict(data),
    }


def sign(envelope: Mapping[str, Any], signer: Signer) -> dict[str, Any]:
    """The envelope with ``sigkeyid`` and ``signature`` (Ed25519 over TAG_EVENT ‖ JCS(envelope))."""
    return dict(sign_event(envelope, signer))


@dataclass(frozen=True)
class Trust:
    """What a client trusts: the ledger id and the sequencer's public key(s) (from ``coalchain trust export``)."""

    ledger_id: str
    sequencer_keys: tuple[bytes, ...]

    @classmethod
    def from_file(cls, path: Path | str) -> Trust:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(str(doc["ledger_id"]), tuple(base64.b64decode(k, validate=True) for k in doc["sequencer_keys"]))

    @property
    def origin(self) -> str:
        return f"taijiao-coalchain.cn/ledger/{self.ledger_id}"

    def verifiers(self) -> list[NoteVerifier]:
        return [NoteVerifier(self.origin, 1, k) for k in self.sequencer_keys]


@dataclass(frozen=True)
class Sealed:
    event_id: str
    leaf_index: int
    height: int
    tree_size: int  # of the verified checkpoint the proof was checked against
    root: str  # hex root of that checkpoint
    event: dict[str, Any] = field(repr=False)

    status = "sealed"


@dataclass(frozen=True)
class Rejected:
    event_id: str
    reason: str
    detail: str
    errors: list[dict[str, Any]]
    stage: str
    rejected_at: str | None

    status = "rejected"


Outcome = Sealed | Rejected


class Client:
    def __init__(self, api_url: str, *, trust: Trust | None = None, timeout_s: float = 10, retries: int = 5,
                 max_backoff_s: float = 30, sleep: Callable[[float], None] = time.sleep) -> None:
        self.api_url = api_url.rstrip("/")
        self.trust = trust
        self.timeout_s = timeout_s
        self.retries = retries
        self.max_backoff_s = max_backoff_s
        self._sleep = sleep
        self.token: str | None = None

    # --- transport ------------------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"accept": "application/json"}
        if data is not None:
            headers["content-type"] = "application/json"
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        url = self.api_url + path
        for attempt in range(self.retries + 1):
            request = urllib.request.Request(url, data=data, method=method, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                    return int(response.status), bytes(response.read())
            except urllib.error.HTTPError as e:
                payload = e.read()
                if e.code not in RETRY_STATUSES or attempt == self.retries:
                    if e.code in RETRY_STATUSES:
                        raise Unreachable(f"{url}: HTTP {e.code} after {attempt + 1} attempts") from None
                    return e.code, payload
                wait = _retry_after(e.headers.get("Retry-After"), attempt, self.max_backoff_s)
                log.info("%s %s: HTTP %s, retrying in %.1f s", method, path, e.code, wait)
            except (urllib.error.URLError, OSError) as e:
                if attempt == self.retries:
                    raise Unreachable(f"{url}: {getattr(e, 'reason', e)}") from None
                wait = _retry_after(None, attempt, self.max_backoff_s)
                log.info("%s %s: %s, retrying in %.1f s", method, path, e, wait)
            self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _json(self, method: str, path: str, body: Any = None, ok: Sequence[int] = (200,)) -> Any:
        status, payload = self._request(method, path, body)
        try:
            doc = json.loads(payload) if payload else {}
        except json.JSONDecodeError:
            doc = {"detail": payload.decode("utf-8", "replace")}
        if status not in ok:
            errors = doc.get("errors") if isinstance(doc, dict) else None
            detail = doc.get("detail") if isinstance(doc, dict) else doc
            named = "; ".join(f"{e.get('path')} ({e.get('rule')}): {e.get('message')}" for e in (errors or [])[:5])
            raise Refused(f"{method} {path}: HTTP {status}: {detail}" + (f": {named}" if named else ""), status,
                          errors)
        return doc

    # --- publishing -----------------------------------------------------------------------------------
    def publish(self, events: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[str]:
        """``POST /v1/events``; the ids accepted for validation. :class:`Refused` (with ``errors``) on 4xx."""
        body = [dict(e) for e in events] if isinstance(events, Sequence) else dict(events)
        doc = self._json("POST", "/v1/events", body, ok=(200, 202))
        return [str(x) for x in doc.get("accepted_for_validation", [])]

    def status(self, event_id: str) -> dict[str, Any]:
        """``GET /v1/events/{id}``: ``status`` is sealed, rejected or pending."""
        doc: dict[str, Any] = self._json("GET", f"/v1/events/{urllib.parse.quote(event_id)}")
        return doc

    def wait(self, event_id: str, *, event: Mapping[str, Any] | None = None, timeout_s: float = 30,
             poll_s: float = 0.05) -> Outcome:
        """Poll until the event is sealed (proof verified locally, needs ``trust``) or rejected. ``event``,
        the signed event itself, makes sure a rejection is of these very bytes and the sealed leaf is it."""
        deadline = time.monotonic() + timeout_s
        own = hashlib.sha256(canonicalize(dict(event))).hexdigest() if event is not None else None
        while True:
            doc = self.status(event_id)
            if doc["status"] == "sealed":
                return self.verify_sealed(event_id, doc, event=event)
            if doc["status"] == "rejected":
                mine = [r for r in doc.get("rejections", []) if r.get("reason") != "replay"
                        and (own is None or r.get("envelope_sha256") == own)]
                if mine:
                    r = mine[-1]
                    return Rejected(event_id, r["reason"], r["detail"], r.get("errors", []), r["stage"],
                                    r.get("rejected_at"))
            if time.monotonic() >= deadline:
                raise WaitTimedOut(f"event {event_id}: neither sealed nor rejected after {timeout_s} s")
            self._sleep(poll_s)

    def verify_sealed(self, event_id: str, doc: Mapping[str, Any] | None = None, *,
                      event: Mapping[str, Any] | None = None) -> Sealed:
        """Check a sealed event locally: the checkpoint's signature (trusted sequencer keys), then the
        inclusion proof of the event's leaf at the checkpoint's tree size. :class:`ProofInvalid` otherwise."""
        if self.trust is None:
            raise ProofInvalid("no trust given: cannot verify the checkpoint (Client(..., trust=Trust.from_file())")
        doc = doc or self.status(event_id)
        sealed_event = doc["event"]
        if event is not None and sealed_event.get("signature") != event.get("signature"):
            raise ProofInvalid(f"event {event_id}: the sealed event is not the one given (signatures differ)")
        index = int(doc["leaf_index"])
        digest = leaf_hash(canonicalize(sealed_event))
        if doc.get("leaf_hash") not in (None, digest.hex()):
            raise ProofInvalid(f"event {event_id}: leaf_hash does not match the event's canonical bytes")
        status, note = self._request("GET", "/v1/checkpoint")
        if status != 200:
            raise Refused(f"GET /v1/checkpoint: HTTP {status}", status)
        try:
            checkpoint = verify_checkpoint(note, self.trust.verifiers(), origin=self.trust.origin)
        except ChainAnchorError as e:
            raise ProofInvalid(f"checkpoint: {e}") from None
        if checkpoint.tree_size <= index:
            raise ProofInvalid(f"checkpoint of size {checkpoint.tree_size} cannot contain leaf {index}")
        proof = self._json("GET", f"/v1/proofs/inclusion?event_id={event_id}&tree_size={checkpoint.tree_size}")
        try:
            verify_inclusion(leaf_hash=digest, index=index, tree_size=checkpoint.tree_size,
                             proof=[bytes.fromhex(p) for p in proof["proof"]], root=checkpoint.root_hash)
        except (ChainAnchorError, ValueError) as e:
            raise ProofInvalid(f"event {event_id}: inclusion proof does not verify: {e}") from None
        return Sealed(event_id, index, int(doc["height"]), checkpoint.tree_size, checkpoint.root_hash.hex(),
                      dict(sealed_event))

    def send(self, event: Mapping[str, Any], *, timeout_s: float = 30) -> Outcome:
        """Publish one signed event and wait for its outcome."""
        self.publish(event)
        return self.wait(str(event["id"]), event=event, timeout_s=timeout_s)

    # --- a publisher's own outcomes -------------------------------------------------------------------
    def sign_in(self, participant: str, signer: Signer) -> str:
        """Sign in by key possession (``/v1/auth/challenge`` + ``/v1/auth/session``); keeps the token."""
        challenge = self._json("POST", "/v1/auth/challenge", {"participant": participant})
        signature = base64.b64encode(signer.sign(challenge["message"].encode("utf-8"))).decode("ascii")
        session = self._json("POST", "/v1/auth/session", {"participant": participant, "key_id": signer.key_id,
                                                          "challenge": challenge["challenge"], "signature": signature})
        self.token = str(session["token"])
        return self.token

    def rejections(self, participant: str, *, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """``GET /v1/rejections?source=…`` (sign in first)."""
        query = urllib.parse.urlencode({"source": participant, "after": after, "limit": limit})
        doc = self._json("GET", f"/v1/rejections?{query}")
        return list(doc["rejections"])


def _retry_after(header: str | None, attempt: int, cap_s: float) -> float:
    if header:
        try:
            return min(max(float(header), 0.0), cap_s)
        except ValueError:
            pass
    return float(min(0.2 * 2**attempt, cap_s))
