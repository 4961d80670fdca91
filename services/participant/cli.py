"""``coalchain participant keygen|register|rotate|revoke``: onboarding, from a new key to a sealed registration.

* ``keygen -o FILE`` — a new Ed25519 key as PKCS#8 PEM, passphrase-encrypted (passphrase from
  ``--passphrase-file``, else ``COALCHAIN_KEY_PASSPHRASE``, else a prompt); ``--no-encrypt`` writes it in
  the clear. Prints the key id and the public key, which is all the consortium admin needs.
* ``register`` / ``rotate`` / ``revoke`` — build the registry event (ParticipantRegistered, KeyRotated,
  KeyRevoked). Without ``--admin-key`` the unsigned event is written for the consortium admin; with it the
  event is signed (the admin's key), checked against the catalogue's schema and, with ``--send``, posted to
  the gateway and waited for (sealed or rejected), or with ``--kafka`` published to the raw topic.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import getpass
import json
import os
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import schemas
from chain_anchor.events import sign_event
from chain_anchor.keys import Signer
from services.config import Settings
from services.errors import UserError
from services.outcome import outcome_line, submit, wait_for_outcome

PASSPHRASE_ENV = "COALCHAIN_KEY_PASSPHRASE"
ADMIN = "consortium-admin"


def configure_parser(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="participant_command", required=True, metavar="ACTION")
    keygen = sub.add_parser("keygen", help="make a new Ed25519 key (PKCS#8 PEM, passphrase-encrypted)")
    keygen.add_argument("-o", "--output", type=Path, required=True, help="key file to write (mode 0600)")
    keygen.add_argument("--no-encrypt", action="store_true", help="write the key unencrypted")
    _passphrase(keygen)

    register = sub.add_parser("register", help="build a ParticipantRegistered for the consortium admin")
    register.add_argument("--id", required=True, help="participant id, e.g. new-mine-sales")
    register.add_argument("--name", required=True, help="registered name")
    register.add_argument("--name-en", help="English name")
    register.add_argument("--credit-code", help="unified social credit code")
    register.add_argument("--role", action="append", required=True,
                          help="mine, railway, carrier, buyer or admin (repeat for several)")
    register.add_argument("--mine", action="append", default=[], help="a mine id it reports for (repeat)")
    register.add_argument("--station", action="append", default=[], help="a station code it publishes for (repeat)")
    _public_key(register, "")
    _admin(register)

    rotate = sub.add_parser("rotate", help="build a KeyRotated (the old key stops being valid)")
    rotate.add_argument("--id", required=True, help="participant id")
    rotate.add_argument("--old-key-id", required=True, help="key id being replaced")
    _public_key(rotate, "new-")
    _admin(rotate)

    revoke = sub.add_parser("revoke", help="build a KeyRevoked")
    revoke.add_argument("--id", required=True, help="participant id")
    revoke.add_argument("--key-id", required=True, help="key id to revoke")
    revoke.add_argument("--reason", choices=["compromised", "superseded", "retired"], required=True)
    revoke.add_argument("--compromised-since", help="RFC 3339 time from which its signatures are suspect")
    _admin(revoke)


def _passphrase(p: argparse.ArgumentParser, prefix: str = "") -> None:
    p.add_argument(f"--{prefix}passphrase-file", type=Path,
                   help=f"file holding the passphrase (default: ${PASSPHRASE_ENV}, else a prompt)")


def _public_key(p: argparse.ArgumentParser, prefix: str) -> None:
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument(f"--{prefix}public-key", help="the participant's public key (base64, as keygen prints)")
    group.add_argument(f"--{prefix}key", type=Path, help="or the participant's key file (its public half is used)")
    _passphrase(p)


def _admin(p: argparse.ArgumentParser) -> None:
    p.add_argument("--admin-key", type=Path, help="sign with the consortium admin's key file (else: unsigned)")
    p.add_argument("--admin-id", default=ADMIN, help=f"the admin's participant id (default {ADMIN})")
    p.add_argument("--admin-passphrase-file", type=Path, help="passphrase of an encrypted admin key")
    p.add_argument("--event-id", help="event id (default: a new UUID)")
    p.add_argument("-o", "--output", type=Path, help="write the event here (default: stdout)")
    target = p.add_mutually_exclusive_group()
    target.add_argument("--send", action="store_true", help="POST it to the gateway (--api) and wait for the outcome")
    target.add_argument("--kafka", metavar="BOOTSTRAP", help="publish it to the raw topic of this broker")
    p.add_argument("--api", help="API base URL (default: http://COALCHAIN_API_HOST:COALCHAIN_API_PORT)")
    p.add_argument("--timeout", type=float, default=30, help="seconds to wait for sealed/rejected (default 30)")


# --- keys -------------------------------------------------------------------------------------------------

def read_passphrase(path: Path | None, *, confirm: bool = False, what: str = "key") -> bytes:
    if path is not None:
        try:
            return path.read_text(encoding="utf-8").rstrip("\r\n").encode("utf-8")
        except OSError as e:
            raise UserError(f"{path}: cannot read the passphrase file: {e.strerror}") from None
    if os.environ.get(PASSPHRASE_ENV):
        return os.environ[PASSPHRASE_ENV].encode("utf-8")
    if not sys.stdin.isatty():
        raise UserError(f"no passphrase for the {what}: give --passphrase-file, set ${PASSPHRASE_ENV}, or"
                        " --no-encrypt (keygen)")
    first = getpass.getpass(f"passphrase for the {what}: ")
    if confirm and getpass.getpass("again: ") != first:
        raise UserError("the two passphrases differ")
    if not first:
        raise UserError("an empty passphrase; use --no-encrypt to write the key unencrypted")
    return first.encode("utf-8")


def load_key(path: Path, passphrase_file: Path | None) -> Signer:
    """A signer from a PKCS#8 PEM key file, decrypting it when it is encrypted."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise UserError(f"{path}: cannot read the key file: {e.strerror}") from None
    encrypted = raw.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    password = read_passphrase(passphrase_file, what=str(path)) if encrypted else None
    try:
        key = serialization.load_pem_private_key(raw, password=password)
    except (ValueError, TypeError):
        raise UserError(f"{path}: not a PKCS#8 PEM Ed25519 key{' or a wrong passphrase' if encrypted else ''}"
                        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UserError(f"{path}: not an Ed25519 key")
    return Signer.from_seed(key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                              serialization.NoEncryption()))


def keygen(args: argparse.Namespace) -> int:
    out: Path = args.output
    if out.exists():
        raise UserError(f"{out}: already exists; not overwriting a key")
    password = None if args.no_encrypt else read_passphrase(args.passphrase_file, confirm=True, what="new key")
    signer = Signer.generate()
    algorithm: serialization.KeySerializationEncryption = (
        serialization.NoEncryption() if password is None else serialization.BestAvailableEncryption(password))
    pem = Ed25519PrivateKey.from_private_bytes(signer.private_bytes()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, algorithm)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as e:
        raise UserError(f"{out}: cannot write the key file: {e.strerror}") from None
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    print(f"wrote {out} ({'unencrypted' if password is None else 'passphrase-encrypted'})")
    print(f"key_id:     {signer.key_id}")
    print(f"public_key: {base64.b64encode(signer.public_key_raw).decode()}")
    return 0


# --- registry events --------------------------------------------------------------------------------------

def _public(args: argparse.Namespace, prefix: str) -> Signer | bytes:
    text = getattr(args, f"{prefix}public_key")
    if text:
        try:
            raw = base64.b64decode(text, validate=True)
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise UserError(f"--{prefix.replace('_', '-')}public-key: not the base64 of a 32-byte Ed25519 key")
        return raw
    return load_key(getattr(args, f"{prefix}key"), args.passphrase_file)


def _raw(key: Signer | bytes) -> bytes:
    return key.public_key_raw if isinstance(key, Signer) else key


def _envelope(args: argparse.Namespace, name: str, subject: str, data: dict[str, Any]) -> dict[str, Any]:
    entry = max((e for e in schemas.catalogue() if e.name == name), key=lambda e: e.version)
    return {
        "specversion": "1.0", "id": args.event_id or str(uuid.uuid4()), "source": f"/participants/{args.admin_id}",
        "type": entry.type, "subject": subject, "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "datacontenttype": "application/json", "dataschema": entry.schema_id, "data": data,
    }


def build_event(args: argparse.Namespace) -> dict[str, Any]:
    from chain_anchor.keys import key_id

    command = args.participant_command
    if command == "register":
        raw = _raw(_public(args, ""))
        data: dict[str, Any] = {
            "participant_id": args.id, "name": args.name, "roles": sorted(set(args.role)),
            "public_key": base64.b64encode(raw).decode(), "key_id": key_id(raw),
            "mines": args.mine, "stations": args.station,
        }
        if args.name_en:
            data["name_en"] = args.name_en
        if args.credit_code:
            data["credit_code"] = args.credit_code
        return _envelope(args, "ParticipantRegistered", args.id, data)
    if command == "rotate":
        raw = _raw(_public(args, "new_"))
        return _envelope(args, "KeyRotated", args.id, {
            "participant_id": args.id, "old_key_id": args.old_key_id,
            "new_public_key": base64.b64encode(raw).decode(), "new_key_id": key_id(raw)})
    data = {"participant_id": args.id, "key_id": args.key_id, "reason_code": args.reason}
    if args.compromised_since:
        data["compromised_since"] = args.compromised_since
    return _envelope(args, "KeyRevoked", args.id, data)


def _check(event: dict[str, Any]) -> None:
    try:
        schemas.validate(event)
    except schemas.SchemaError as e:
        first = e.errors[0] if e.errors else None
        where = f" at {first.path} ({first.rule}): {first.message}" if first else f": {e}"
        raise UserError(f"not a valid {event['type'].split('.')[-2]}{where}") from None


async def send_kafka(settings: Settings, bootstrap: str, event: dict[str, Any]) -> None:
    from services.kafka import clients
    from services.kafka.topics import Topics

    s = settings.model_copy(update={"kafka_bootstrap_servers": bootstrap})
    producer = clients.producer(s, request_timeout_ms=10_000)
    await producer.start()
    try:
        value = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        await (await producer.send(Topics.from_settings(s).raw, value, key=str(event["subject"]).encode(),
                                   headers=[("content-type", b"application/cloudevents+json")]))
    finally:
        await producer.stop()


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.participant_command == "keygen":
        return keygen(args)
    event = build_event(args)
    if args.admin_key:
        event = dict(sign_event(event, load_key(args.admin_key, args.admin_passphrase_file)))
        _check(event)
    elif args.send or args.kafka:
        raise UserError("--send/--kafka need a signed event: give --admin-key (the consortium admin's key)")
    text = json.dumps(event, ensure_ascii=False, indent=2) + "\n"
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output} ({'signed' if args.admin_key else 'unsigned: for the consortium admin to sign'})")
    elif not (args.send or args.kafka):
        sys.stdout.write(text)
    if args.send:
        api = str(args.api or f"http://{settings.api_host}:{settings.api_port}").rstrip("/")
        submit(event, api)
        doc = wait_for_outcome(api, event, timeout_s=args.timeout)
        print(outcome_line(doc))
        return 0 if doc["status"] == "sealed" else 1
    elif args.kafka:
        try:
            asyncio.run(send_kafka(settings, args.kafka, event))
        except Exception as e:  # aiokafka's errors: the broker address is the user's input
            raise UserError(f"{args.kafka}: cannot publish to the broker: {type(e).__name__}: {e}") from None
        print(f"published {event['id']} to the raw topic; ask GET /v1/events/{event['id']} for its outcome")
    return 0
