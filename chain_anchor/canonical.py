"""RFC 8785 (JSON Canonicalization Scheme) bytes for signed and hashed data.

``canonicalize(value)`` accepts the JSON data model as Python values:

* ``dict`` (and subclasses) with ``str`` keys, ``list``, ``tuple``, ``str``, ``int``, ``bool``, ``None``;
* **no floats, anywhere** — :class:`~chain_anchor.errors.FloatNotAllowed`. Quantities are integers with the
  unit in the name (``net_weight_kg``) or decimal strings;
* integers only within ±(2**53 - 1): JCS numbers are IEEE 754 doubles, so a larger integer cannot be
  represented exactly and another implementation would serialise it differently —
  :class:`~chain_anchor.errors.IntegerOutOfRange`;
* strings must be valid Unicode scalar sequences (no lone surrogates) so they encode as UTF-8.

Anything else raises :class:`~chain_anchor.errors.CanonicalizationError`.

Speed: with no floats, JCS output equals what ``msgspec.json.Encoder(order="sorted")`` writes (and what
``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` writes, 7× slower) — same string
escaping (ECMAScript ``JSON.stringify``: ``\\b \\t \\n \\f \\r \\" \\\\`` and ``\\u00xx`` in lower-case hex
for other C0 controls; everything else, U+2028 included, literal) and same integer form. The only difference
is key order: JCS sorts by UTF-16 code units, msgspec and Python by code points, and the two orders disagree
only between astral characters (UTF-16 surrogates D800–DBFF) and U+E000–U+FFFF. So a quick scan checks
types and looks for any key holding a character ≥ U+D800; if there is one, the reference implementation
(``rfc8785``) produces the bytes instead. Property tests (hypothesis) check both paths byte for byte
against ``rfc8785`` over the JSON value space the catalogue admits.
"""

from __future__ import annotations

import msgspec
import rfc8785

from chain_anchor.errors import CanonicalizationError, FloatNotAllowed, IntegerOutOfRange

__all__ = ["MAX_SAFE_INTEGER", "canonicalize", "canonicalize_prevalidated"]

MAX_SAFE_INTEGER = 2**53 - 1
"""Largest integer magnitude accepted (ECMAScript ``Number.MAX_SAFE_INTEGER``)."""

_SURROGATE_START = "\ud800"

_encode = msgspec.json.Encoder(order="sorted").encode


class _Unusual(Exception):
    """Raised by the fast scan for anything it does not handle; the slow diagnosis decides."""


def canonicalize(value: object) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of ``value``.

    Raises :class:`FloatNotAllowed`, :class:`IntegerOutOfRange` or :class:`CanonicalizationError`.
    """
    try:
        try:
            needs_utf16_sort = _scan(value)
        except _Unusual:
            _diagnose(value, "$")
            needs_utf16_sort = True
    except RecursionError as e:
        raise CanonicalizationError("value is nested too deeply (or is circular)") from e
    if needs_utf16_sort:
        return _reference_jcs(value)
    try:
        return _encode(value)
    except UnicodeEncodeError as e:
        raise CanonicalizationError("string contains a lone surrogate; not valid UTF-8") from e


def canonicalize_prevalidated(value: object) -> bytes:
    """The RFC 8785 bytes of a value the *caller* guarantees is inside :func:`canonicalize`'s fast domain.

    That is: plain ``dict``/``list``/``str``/``int``/``bool``/``None``, no floats, integers within
    ±(2**53 - 1), and no dict key holding a character ≥ U+D800 — for example an event that passed
    ``schemas.validate``, whose schemas admit no floats, bound every integer and allow only ASCII keys.
    The type scan is skipped (it costs more than the encoding); a value outside that domain gives wrong
    bytes, not an error (a lone surrogate raises ``UnicodeEncodeError``). When unsure, call
    :func:`canonicalize`.
    """
    return _encode(value)


def _reference_jcs(value: object) -> bytes:
    try:
        out: bytes = rfc8785.dumps(value)  # type: ignore[arg-type]  # checked by _diagnose/_scan
    except (rfc8785.CanonicalizationError, UnicodeEncodeError) as e:
        raise CanonicalizationError(f"cannot canonicalize: {e}") from e
    return out


def _scan(value: object) -> bool:
    """Check exact JSON types quickly; return True when some key needs UTF-16 ordering."""
    if type(value) is dict:
        return _scan_dict(value)
    if type(value) is list or type(value) is tuple:
        return _scan_items(value)
    return _scan_scalar(value)


def _scan_dict(value: dict[object, object]) -> bool:
    needs = False
    for key, item in value.items():
        if type(key) is not str:
            raise _Unusual
        if not key.isascii() and max(key) >= _SURROGATE_START:
            needs = True
        if not _is_plain_scalar(item) and _scan(item):
            needs = True
    return needs


def _scan_items(value: list[object] | tuple[object, ...]) -> bool:
    needs = False
    for item in value:
        if not _is_plain_scalar(item) and _scan(item):
            needs = True
    return needs


def _scan_scalar(value: object) -> bool:
    if _is_plain_scalar(value):
        return False
    raise _Unusual


def _is_plain_scalar(value: object) -> bool:
    """str, None, bool, or an int within ±(2**53 - 1) — exact types only."""
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return True
    return type(value) is int and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER


def _diagnose(value: object, path: str) -> None:
    """Raise the precise error for ``value`` at ``path``; return if it is valid (e.g. a str subclass)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalizationError(f"object key at {path} is {type(key).__name__}, not str")
            _diagnose(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _diagnose(item, f"{path}[{index}]")
    elif isinstance(value, float):
        raise FloatNotAllowed(path)
    elif isinstance(value, bool) or value is None or isinstance(value, str):
        return
    elif isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise IntegerOutOfRange(path, value)
    else:
        raise CanonicalizationError(f"unsupported type {type(value).__name__} at {path}")
