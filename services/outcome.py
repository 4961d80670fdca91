"""Waiting for what became of a published event: ``GET /v1/events/{id}`` until sealed or rejected.

Used by the CLI commands that send (``receipt sign --send``, ``participant register --send``): "sent" is
not an outcome. A rejection counts only when it is of these very bytes (same ``envelope_sha256``): anybody can
send bytes that claim an event id.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from chain_anchor.canonical import canonicalize
from services.errors import Unreachable, UserError


class WaitTimedOut(UserError, TimeoutError):
    exit_code = 3


def submit(event: Mapping[str, Any], api_url: str) -> None:
    """``POST /v1/events``: :class:`UserError` with the gateway's answer when it refuses the event."""
    body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    request = urllib.request.Request(f"{api_url.rstrip('/')}/v1/events", data=body, method="POST",
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10):
            pass
    except urllib.error.HTTPError as e:
        raise UserError(f"{api_url}: the gateway refused the event: HTTP {e.code}:"
                        f" {e.read().decode('utf-8', 'replace')}") from None
    except (urllib.error.URLError, OSError) as e:
        raise Unreachable(f"{api_url}: cannot reach the API: {getattr(e, 'reason', e)}") from None


def wait_for_outcome(api_url: str, event: Mapping[str, Any], *, timeout_s: float = 30,
                     poll_s: float = 0.1) -> dict[str, Any]:
    """The event's status document once it is ``sealed`` or ``rejected`` (the matching rejection merged in
    at the top level); :class:`WaitTimedOut` after ``timeout_s``, :class:`Unreachable` without an API."""
    url = f"{api_url.rstrip('/')}/v1/events/{event['id']}"
    own = hashlib.sha256(canonicalize(dict(event))).hexdigest()
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                doc: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as e:
            if e.code not in (429, 503):
                raise UserError(f"{url}: HTTP {e.code}: {e.read().decode('utf-8', 'replace')}") from None
            doc = {"status": "pending"}
        except (urllib.error.URLError, OSError) as e:
            raise Unreachable(f"{api_url}: cannot reach the API: {getattr(e, 'reason', e)}") from None
        if doc.get("status") == "sealed":
            return doc
        mine = [r for r in doc.get("rejections", []) if r.get("envelope_sha256") == own and r.get("reason") != "replay"]
        if doc.get("status") == "rejected" and mine:
            return {**doc, **mine[-1], "status": "rejected"}
        if time.monotonic() >= deadline:
            raise WaitTimedOut(f"event {event['id']}: neither sealed nor rejected after {timeout_s:g} s; ask {url}"
                               " later")
        time.sleep(poll_s)


def outcome_line(doc: Mapping[str, Any]) -> str:
    if doc["status"] == "sealed":
        return f"sealed: event {doc['event_id']} at leaf {doc['leaf_index']} in block {doc['height']}"
    errors = "; ".join(f"{e.get('path')} ({e.get('rule')}): {e.get('message')}" for e in doc.get("errors", []))
    return f"rejected ({doc['stage']}): {doc['reason']}: {doc['detail']}" + (f" [{errors}]" if errors else "")
