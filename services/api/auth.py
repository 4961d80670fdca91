"""Participant sign-in: prove possession of a registered Ed25519 key, get a short-lived session token.

No passwords and no state on disk. Two round trips (``docs/api.md`` § Sign-in):

1. ``POST /v1/auth/challenge {"participant": "<id>"}`` → ``{"challenge", "message", "expires_at"}``: a
   fresh 32-byte nonce, bound to the participant and an expiry, authenticated by the server's HMAC key
   (so the server keeps nothing until the answer comes back);
2. ``POST /v1/auth/session {"participant", "challenge", "key_id", "signature"}`` with the Ed25519 signature
   (base64) of the UTF-8 bytes of ``message`` by one of the participant's registered, non-revoked keys →
   ``{"token", "participant", "roles", "expires_at"}``. Each challenge is good for one session only.

The token is ``v1.<base64url(JSON claims)>.<base64url(HMAC-SHA256)>`` and goes in ``Authorization: Bearer``.
The HMAC key is ``COALCHAIN_API_SESSION_KEY`` when set, else drawn at random when the API starts (one key for
all its worker processes, ``services.api.cli``): restarting the API then signs everybody out, which for
sessions of minutes is the right failure. Used challenges are remembered until they expire, in this process
(:class:`UsedChallenges`) or, with several workers, in memory they all share (:class:`SharedUsedChallenges`).
Routes use the dependencies :data:`SessionDep` (any signed-in participant) or :func:`session_of` (the
participant itself, or an auditor role).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import mmap
import multiprocessing
import secrets
import struct
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from chain_anchor.errors import ChainAnchorError
from services.registry import Participant, Registry, fold_sealed_registry_events, load_genesis
from services.store.postgres import LedgerStore

log = logging.getLogger(__name__)

__all__ = ["AUDITOR_ROLES", "CHALLENGE_TAG", "AuthService", "MaybeSessionDep", "Session", "SessionDep",
           "SharedUsedChallenges", "UsedChallenges", "challenge_message", "router", "session_of"]

CHALLENGE_TAG = "taijiao-coalchain/sign-in/v1"
"""First line of every message a participant signs to sign in (domain separation from events and blocks)."""
AUDITOR_ROLES = frozenset({"admin"})
"""Roles that may read every participant's receipts (the consortium's auditors)."""
CHALLENGE_TTL_S = 120
SESSION_TTL_S = 900
_PARTICIPANT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def _b64u(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def challenge_message(ledger_id: str, participant: str, nonce: str, expires_at: int) -> str:
    """The exact text a participant signs (UTF-8, lines ending in ``\\n``)."""
    return f"{CHALLENGE_TAG}\n{ledger_id}\n{participant}\n{nonce}\n{expires_at}\n"


@dataclass(frozen=True)
class Session:
    participant: str
    roles: frozenset[str]
    expires_at: int

    @property
    def auditor(self) -> bool:
        return bool(self.roles & AUDITOR_ROLES)

    def may_read(self, participant: str) -> bool:
        """A participant's own data, or anybody's for an auditor."""
        return self.participant == participant or self.auditor


class UsedChallenges:
    """The nonces of answered challenges, each until its challenge expires (one process)."""

    def __init__(self) -> None:
        self._used: dict[str, int] = {}

    def claim(self, nonce: str, expires_at: int, now: int) -> bool:
        """Mark ``nonce`` used; False if it already was (and has not expired)."""
        self._used = {n: e for n, e in self._used.items() if e >= now}
        if nonce in self._used:
            return False
        self._used[nonce] = expires_at
        return True


class SharedUsedChallenges(UsedChallenges):
    """The same, in an anonymous shared memory map made before the API's workers are forked, so a challenge
    answered at one worker is refused at every other. An open-addressing table of :data:`SLOTS` slots (16-byte
    BLAKE2b of the nonce, 8-byte expiry) under a process-shared lock; a slot whose challenge expired is free.
    Challenges live two minutes, so the table fills only past thousands of sign-ins a minute: then a
    sign-in is answered 503 + Retry-After rather than forgetting a used challenge."""

    SLOTS = 1 << 16
    PROBES = 64
    _SLOT = struct.Struct("<16sq")

    def __init__(self, table: mmap.mmap, lock: Any) -> None:
        self._table = table
        self._lock = lock

    @classmethod
    def create(cls) -> SharedUsedChallenges:
        return cls(mmap.mmap(-1, cls.SLOTS * cls._SLOT.size), multiprocessing.get_context("fork").Lock())

    def claim(self, nonce: str, expires_at: int, now: int) -> bool:
        digest = hashlib.blake2b(nonce.encode("utf-8"), digest_size=16).digest()
        start = int.from_bytes(digest[:8], "little") % self.SLOTS
        size = self._SLOT.size
        with self._lock:
            free = None
            for i in range(self.PROBES):
                offset = ((start + i) % self.SLOTS) * size
                held, expiry = self._SLOT.unpack_from(self._table, offset)
                if expiry < now:
                    free = offset if free is None else free
                elif held == digest:
                    return False
            if free is None:
                raise HTTPException(503, "sign-in: too many sign-ins at once; try again in a minute",
                                    headers={"Retry-After": "60"})
            self._SLOT.pack_into(self._table, free, digest, expires_at)
            return True


def session_key(settings: Any) -> bytes:
    """The HMAC key of challenges and sessions: from ``COALCHAIN_API_SESSION_KEY``, else a random one."""
    configured: str = getattr(settings, "api_session_key", "")
    return hashlib.sha256(configured.encode("utf-8")).digest() if configured else secrets.token_bytes(32)


@dataclass
class AuthService:
    """Issues challenges and session tokens; knows the participants (genesis + sealed registry events)."""

    ledger_id: str
    registry: Registry
    store: LedgerStore | None = None
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    now: Any = time.time
    used: UsedChallenges = field(default_factory=UsedChallenges)

    @classmethod
    def from_settings(cls, settings: Any, store: LedgerStore | None,
                      used: UsedChallenges | None = None) -> AuthService:
        path = settings.genesis_file or settings.home / "genesis.json"
        registry = load_genesis(path) if path.exists() else Registry()
        if not path.exists():
            log.warning("sign-in: no genesis file at %s; only participants registered on the ledger can sign in", path)
        return cls(settings.ledger_id, registry, store, session_key(settings), used=used or UsedChallenges())

    async def participant(self, participant_id: str) -> Participant | None:
        """The registered participant, refolding sealed registry events once when it is not known yet."""
        found = self.registry.get(participant_id)
        if found is None and self.store is not None:
            await fold_sealed_registry_events(self.registry, self.store)
            found = self.registry.get(participant_id)
        return found

    def _mac(self, *parts: str) -> str:
        return _b64u(hmac.new(self.key, "\n".join(parts).encode("utf-8"), hashlib.sha256).digest()[:24])

    def challenge(self, participant: str) -> dict[str, Any]:
        nonce = _b64u(secrets.token_bytes(32))
        expires_at = int(self.now()) + CHALLENGE_TTL_S
        token = f"{nonce}.{expires_at}.{self._mac('challenge', participant, nonce, str(expires_at))}"
        return {"participant": participant, "challenge": token, "expires_at": expires_at,
                "message": challenge_message(self.ledger_id, participant, nonce, expires_at)}

    def answer(self, participant: Participant, challenge: str, key_id: str, signature_b64: str) -> dict[str, Any]:
        """Check a signed challenge; return the session. Raises ``HTTPException(401)`` saying what is wrong."""
        try:
            nonce, expires_text, mac = challenge.split(".")
            expires_at = int(expires_text)
        except ValueError:
            raise HTTPException(401, "challenge: not a challenge this server issued") from None
        if not hmac.compare_digest(mac, self._mac("challenge", participant.id, nonce, expires_text)):
            raise HTTPException(401, "challenge: not a challenge this server issued for this participant")
        now = int(self.now())
        if expires_at < now:
            raise HTTPException(401, "challenge: expired; ask for a new one")
        if key_id not in participant.keys or key_id in participant.revoked:
            raise HTTPException(401, f"key_id: {key_id!r} is not a registered, unrevoked key of {participant.id}")
        try:
            signature = base64.b64decode(signature_b64, validate=True)
            message = challenge_message(self.ledger_id, participant.id, nonce, expires_at).encode("utf-8")
            participant.keys.verify(key_id, signature, message)
        except (ValueError, ChainAnchorError):
            raise HTTPException(401, "signature: the Ed25519 signature of the challenge message does not verify"
                                f" with key {key_id}") from None
        if not self.used.claim(nonce, expires_at, now):
            raise HTTPException(401, "challenge: already used; ask for a new one")
        session_expires = now + SESSION_TTL_S
        claims = {"p": participant.id, "r": sorted(participant.roles), "exp": session_expires}
        body = _b64u(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode("utf-8"))
        log.info("sign-in: %s with key %s", participant.id, key_id[:16])
        return {"token": f"v1.{body}.{self._mac('session', body)}", "participant": participant.id,
                "roles": sorted(participant.roles), "expires_at": session_expires}

    def session(self, token: str) -> Session:
        """The session a token stands for. Raises ``HTTPException(401)``."""
        try:
            version, body, mac = token.split(".")
            if version != "v1" or not hmac.compare_digest(mac, self._mac("session", body)):
                raise ValueError
            claims = json.loads(_unb64u(body))
            session = Session(str(claims["p"]), frozenset(claims["r"]), int(claims["exp"]))
        except (ValueError, KeyError, TypeError):
            raise _unauthorised("the session token is not valid here (signed by another API process?); sign in"
                                " again") from None
        if session.expires_at < int(self.now()):
            raise _unauthorised("the session has expired; sign in again")
        return session


def _unauthorised(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": 'Bearer realm="coalchain"'})


def get_auth(request: Request) -> AuthService:
    auth: AuthService | None = getattr(request.app.state, "auth", None)
    if auth is None:
        raise HTTPException(503, "sign-in is not available yet", headers={"Retry-After": "5"})
    return auth


AuthDep = Annotated[AuthService, Depends(get_auth)]


def get_session(request: Request, auth: AuthDep) -> Session:
    """The signed-in participant of ``Authorization: Bearer <token>``; 401 without one."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorised("sign in first: POST /v1/auth/challenge, then /v1/auth/session, and send"
                            " Authorization: Bearer <token>")
    return auth.session(token.strip())


SessionDep = Annotated[Session, Depends(get_session)]


def get_maybe_session(request: Request, auth: AuthDep) -> Session | None:
    """Like :func:`get_session`, but None without an ``Authorization`` header (the route decides, after
    checking its own parameters, with :func:`session_of`)."""
    if "authorization" not in request.headers:
        return None
    return get_session(request, auth)


MaybeSessionDep = Annotated[Session | None, Depends(get_maybe_session)]


def session_of(session: Session | None, participant: str) -> Session:
    """``session`` if it may read ``participant``'s data (itself, or an auditor); 401 without one, else 403."""
    if session is None:
        raise _unauthorised(f"sign in as {participant} (or an auditor) first: POST /v1/auth/challenge, then"
                            " /v1/auth/session, and send Authorization: Bearer <token>")
    if not session.may_read(participant):
        raise HTTPException(403, f"signed in as {session.participant}: only {participant} or an auditor"
                            f" ({', '.join(sorted(AUDITOR_ROLES))}) may read this")
    return session


# --- routes ----------------------------------------------------------------------------------------------

router = APIRouter(prefix="/v1/auth", tags=["sign-in"])


class ChallengeRequest(BaseModel):
    participant: str = Field(min_length=1, max_length=64)


class SessionRequest(BaseModel):
    participant: str = Field(min_length=1, max_length=64)
    challenge: str = Field(min_length=1, max_length=200)
    key_id: str = Field(pattern=r"^[0-9a-f]{64}$")
    signature: str = Field(min_length=88, max_length=88)


async def _registered(auth: AuthService, participant_id: str) -> Participant:
    if not set(participant_id) <= _PARTICIPANT_CHARS:
        raise HTTPException(422, f"participant: {participant_id!r} is not a participant id")
    found = await auth.participant(participant_id)
    if found is None:
        raise HTTPException(404, f"participant: no participant {participant_id!r} is registered on this ledger")
    return found


@router.post("/challenge")
async def challenge(body: ChallengeRequest, auth: AuthDep) -> dict[str, Any]:
    """A nonce to sign with the participant's key (valid two minutes, once)."""
    await _registered(auth, body.participant)
    return auth.challenge(body.participant)


@router.post("/session")
async def session(body: SessionRequest, auth: AuthDep) -> dict[str, Any]:
    """Trade a signed challenge for a session token (valid fifteen minutes)."""
    participant = await _registered(auth, body.participant)
    return auth.answer(participant, body.challenge, body.key_id, body.signature)


@router.get("/whoami")
async def whoami(session: SessionDep) -> dict[str, Any]:
    return {"participant": session.participant, "roles": sorted(session.roles), "expires_at": session.expires_at}
