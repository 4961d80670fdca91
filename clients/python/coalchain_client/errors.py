"""Errors of the client. Retry semantics are on the type (``retriable``)::

    ClientError
    ├── KeyFileError (ValueError)        a key file cannot be read or decrypted
    ├── Refused                          the gateway refused the request (4xx): .status, .errors
    ├── Unreachable (OSError)            no answer, or 503/429 after every retry      retriable
    ├── ProofInvalid                     the ledger's answer does not verify against the trust
    └── WaitTimedOut (TimeoutError)      neither sealed nor rejected in time           retriable
"""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    retriable = False


class KeyFileError(ClientError, ValueError):
    pass


class Refused(ClientError):
    def __init__(self, message: str, status: int, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors or []


class Unreachable(ClientError, OSError):
    retriable = True


class ProofInvalid(ClientError):
    pass


class WaitTimedOut(ClientError, TimeoutError):
    retriable = True
