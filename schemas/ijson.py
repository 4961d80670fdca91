"""Strict I-JSON (RFC 7493) parsing: ``loads(raw) -> value`` or a :class:`JSONError` naming path and rule.

Every process that reads JSON from outside (the gateway, the validators, receipt verification) parses it
here, so that two parsers can never read two different documents from the same bytes. Refused, each with
its rule (``ErrorItem.rule``) and the JSON pointer where it was found:

* ``utf-8`` — the bytes are not UTF-8;
* ``lone-surrogate`` — a ``\\ud800``-style escape without its pair, or an encoded surrogate (``ED A0 80``);
* ``duplicate-key`` — an object names the same member twice (parsers disagree on which one wins);
* ``integer-too-long`` — an integer with more than :data:`MAX_INTEGER_DIGITS` digits;
* ``number-out-of-range`` — a number beyond IEEE 754 double range (``1e999``);
* ``not-a-number`` — ``NaN``, ``Infinity``, ``-Infinity`` (not JSON);
* ``too-deep`` — objects/arrays nested deeper than :data:`MAX_DEPTH`;
* ``trailing-data`` — anything but whitespace after the value;
* ``json`` — any other syntax error.

Limits: the catalogue nests at most 5 levels (envelope → data → list → object → value) and its largest
integer bound has 12 digits; :data:`MAX_DEPTH` = 32 and :data:`MAX_INTEGER_DIGITS` = 19 (every signed
64-bit integer, so offsets and tree sizes fit) leave margin, and the schemas refuse values beyond their own
bounds. Nothing here raises ``RecursionError`` or Python's 4300-digit ``ValueError``.

Speed: canonical input (what the gateway forwards and signers produce: compact, as msgspec would write it)
costs one msgspec decode, one msgspec encode and a comparison (a few µs). Other input adds one pass of the
standard library's C decoder with a duplicate check; only hostile input reaches the pure-Python scanner that
finds the path of the problem.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec

from schemas.errors import ErrorItem, SchemaError

__all__ = ["MAX_DEPTH", "MAX_INTEGER_DIGITS", "JSONError", "loads", "loads_within_schema_limits"]

MAX_DEPTH = 32
"""Deepest nesting of objects and arrays accepted (the top-level value is depth 1)."""
MAX_INTEGER_DIGITS = 19
"""Most digits an integer may have."""


class JSONError(SchemaError):
    """The bytes are not strict I-JSON. ``errors`` holds one item: path (JSON pointer), rule, message."""

    def __init__(self, path: str, rule: str, message: str) -> None:
        super().__init__([ErrorItem(path=path, rule=rule, message=message)])

    @property
    def path(self) -> str:
        return self.errors[0].path

    @property
    def rule(self) -> str:
        return self.errors[0].rule

    def __reduce__(self) -> tuple[object, ...]:
        return (JSONError, (self.path, self.rule, self.errors[0].message))


_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _Duplicate
    return out


class _Duplicate(Exception):
    pass


_stdlib_decode = json.JSONDecoder(object_pairs_hook=_reject_duplicates).decode


def loads(raw: bytes | bytearray | memoryview | str, *, max_depth: int = MAX_DEPTH,
          max_integer_digits: int = MAX_INTEGER_DIGITS) -> Any:
    """Parse strict I-JSON; raise :class:`JSONError` (a :class:`~schemas.errors.SchemaError`) otherwise."""
    if isinstance(raw, str):
        try:
            data = raw.encode("utf-8")
        except UnicodeEncodeError:
            _Scanner(raw, from_bytes=False, max_depth=max_depth, max_digits=max_integer_digits).run()
            raise JSONError("", "lone-surrogate", "a lone surrogate in the text") from None
    else:
        data = bytes(raw)
    try:
        value = _decode(data)
    except (msgspec.DecodeError, RecursionError) as e:
        _diagnose(data, max_depth, max_integer_digits)
        raise JSONError("", "json", f"not valid JSON: {e}") from None
    if data.count(b"[") + data.count(b"{") > max_depth and _too_deep(value, max_depth):
        _diagnose(data, max_depth, max_integer_digits)
    if b"0" * (max_integer_digits + 1) in data.translate(_DIGITS_AS_ZERO):
        _diagnose(data, max_depth, max_integer_digits)
    elif _encode(value) != data:
        # Not in msgspec's own form: its encoding of the value (which cannot repeat a key) differs from the
        # input, so the input may hold a duplicate key that msgspec silently folded. Ask a second parser.
        try:
            _stdlib_decode(data.decode("utf-8"))
        except _Duplicate:
            _diagnose(data, max_depth, max_integer_digits)
    return value


_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")


def loads_within_schema_limits(data: bytes) -> Any:
    """:func:`loads` for a caller that will refuse, by its own checks, any value that is too deep or holds a
    long integer — and that calls :func:`loads` itself before it reports any refusal (``schemas.validate``:
    every event schema bounds its integers to at most 12 digits and nests at most 5 levels, so a document
    that passes them is within :data:`MAX_DEPTH` and :data:`MAX_INTEGER_DIGITS`).

    Every other rule holds as in :func:`loads`: bytes in msgspec's own form (what signers and the gateway
    write) cost one decode and one encode, which proves that no member name repeats; any other input is
    handed to :func:`loads` whole, so what it returns or raises is :func:`loads`'s.
    """
    try:
        value = _decode(data)
    except (msgspec.DecodeError, RecursionError):
        return loads(data)
    if _encode(value) == data:
        return value
    return loads(data)


def _too_deep(value: Any, max_depth: int) -> bool:
    level = [value]
    depth = 0
    while level:
        depth += 1
        if depth > max_depth:
            return True
        nxt: list[Any] = []
        for node in level:
            children = node.values() if type(node) is dict else node
            nxt.extend(c for c in children if type(c) is dict or type(c) is list)
        level = nxt
    return False


def _diagnose(data: bytes, max_depth: int, max_digits: int) -> None:
    """Raise the precise error for ``data`` if the scanner finds one; return if it finds none."""
    text = data.decode("utf-8", "surrogateescape")
    _Scanner(text, from_bytes=True, max_depth=max_depth, max_digits=max_digits).run()


_WS = re.compile(r"[ \t\n\r]*")
_STR_CHUNK = re.compile(r'[^"\\\x00-\x1f\ud800-\udfff]*')
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_LITERALS = (("true", True), ("false", False), ("null", None))


def _pointer(parts: list[str | int]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


class _Scanner:
    """An iterative JSON scanner that checks every I-JSON rule and knows the path where it is."""

    def __init__(self, text: str, *, from_bytes: bool, max_depth: int, max_digits: int) -> None:
        self.text = text
        self.from_bytes = from_bytes
        self.max_depth = max_depth
        self.max_digits = max_digits
        self.path: list[str | int] = []
        self.keys: list[set[str] | None] = []  # one per open container: its keys (None for an array)

    def fail(self, rule: str, message: str, at: int) -> JSONError:
        return JSONError(_pointer(self.path), rule, f"{message} (at character {at})")

    def run(self) -> None:
        text = self.text
        end = len(text)
        i = self.ws(0)
        while True:
            i = self.value(i)
            # after a value: close containers or move to the next member/element
            while True:
                if not self.keys:
                    i = self.ws(i)
                    if i != end:
                        raise self.fail("trailing-data", "data after the JSON value", i)
                    return
                i = self.ws(i)
                c = text[i] if i < end else ""
                is_object = self.keys[-1] is not None
                if c == ",":
                    i = self.ws(i + 1)
                    if is_object:
                        i = self.key(i)
                    else:
                        index = self.path.pop()
                        assert isinstance(index, int)
                        self.path.append(index + 1)
                    break
                if c == ("}" if is_object else "]"):
                    self.keys.pop()
                    self.path.pop()
                    i += 1
                    continue
                raise self.unexpected(i, "',' or '}'" if is_object else "',' or ']'")

    def ws(self, i: int) -> int:
        match = _WS.match(self.text, i)
        assert match is not None
        return match.end()

    def unexpected(self, i: int, wanted: str) -> JSONError:
        if i >= len(self.text):
            return self.truncated(i, f"where {wanted} was expected")
        c = self.text[i]
        if "\ud800" <= c <= "\udfff":
            return self.bad_char(i)
        return self.fail("json", f"unexpected {c!r}, expected {wanted}", i)

    def truncated(self, i: int, where: str) -> JSONError:
        # a truncated document is wrong as a whole: the path is the document's, not the open member's
        return JSONError("", "json", f"the document ends {where} (at character {i})")

    def bad_char(self, i: int) -> JSONError:
        c = self.text[i]
        if not self.from_bytes:
            return self.fail("lone-surrogate", f"lone surrogate U+{ord(c):04X}", i)
        nxt = self.text[i + 1] if i + 1 < len(self.text) else ""
        if c == "\udced" and "\udca0" <= nxt <= "\udcbf":
            return self.fail("lone-surrogate", "an encoded UTF-16 surrogate (bytes ED A0..BF) is not UTF-8", i)
        return self.fail("utf-8", f"byte 0x{ord(c) - 0xDC00:02X} is not valid UTF-8", i)

    def open(self, i: int, keys: set[str] | None) -> None:
        if len(self.keys) >= self.max_depth:
            raise self.fail("too-deep", f"nested deeper than {self.max_depth} levels", i)
        self.keys.append(keys)

    def value(self, i: int) -> int:
        """Scan one value at ``i``. Containers are opened (their first member started), not finished."""
        text = self.text
        while True:
            c = text[i] if i < len(text) else ""
            if c == "{":
                self.open(i, set())
                i = self.ws(i + 1)
                if text.startswith("}", i):
                    self.keys.pop()
                    return i + 1
                self.path.append("")
                i = self.key(i)
                continue
            if c == "[":
                self.open(i, None)
                i = self.ws(i + 1)
                if text.startswith("]", i):
                    self.keys.pop()
                    return i + 1
                self.path.append(0)
                continue
            if c == '"':
                return self.string(i)[1]
            if c == "-" or "0" <= c <= "9":
                return self.number(i)
            for word, _ in _LITERALS:
                if text.startswith(word, i):
                    return i + len(word)
            for word in ("NaN", "Infinity", "-Infinity"):
                if text.startswith(word, i):
                    raise self.fail("not-a-number", f"{word} is not a JSON number", i)
            raise self.unexpected(i, "a value")

    def key(self, i: int) -> int:
        self.path.pop()  # a bad member name is reported at its object's path
        if not self.text.startswith('"', i):
            raise self.unexpected(i, "a member name in double quotes")
        name, i = self.string(i)
        keys = self.keys[-1]
        assert keys is not None
        self.path.append(name)
        if name in keys:
            raise self.fail("duplicate-key", f"member {name!r} appears twice in the object", i)
        keys.add(name)
        i = self.ws(i)
        if not self.text.startswith(":", i):
            raise self.unexpected(i, "':'")
        return self.ws(i + 1)

    def string(self, i: int) -> tuple[str, int]:
        text = self.text
        out: list[str] = []
        i += 1
        while True:
            match = _STR_CHUNK.match(text, i)
            assert match is not None
            out.append(match.group())
            i = match.end()
            c = text[i] if i < len(text) else ""
            if c == '"':
                return "".join(out), i + 1
            if c == "\\":
                esc = text[i + 1] if i + 1 < len(text) else ""
                if esc in _ESCAPES:
                    out.append(_ESCAPES[esc])
                    i += 2
                    continue
                if esc != "u" or not _HEX4.fullmatch(text, i + 2, i + 6):
                    raise self.fail("json", "invalid escape in a string", i)
                code = int(text[i + 2:i + 6], 16)
                i += 6
                if 0xDC00 <= code <= 0xDFFF:
                    raise self.fail("lone-surrogate", f"\\u{code:04x} is a low surrogate without a high one", i - 6)
                if 0xD800 <= code <= 0xDBFF:
                    low = int(text[i + 2:i + 6], 16) if (text.startswith("\\u", i)
                                                        and _HEX4.fullmatch(text, i + 2, i + 6)) else -1
                    if not 0xDC00 <= low <= 0xDFFF:
                        raise self.fail("lone-surrogate",
                                        f"\\u{code:04x} is a high surrogate without a low one", i - 6)
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                out.append(chr(code))
                continue
            if c == "":
                raise self.truncated(i, "inside a string")
            if "\ud800" <= c <= "\udfff":
                raise self.bad_char(i)
            raise self.fail("json", f"control character U+{ord(c):04X} must be escaped in a string", i)

    def number(self, i: int) -> int:
        text = self.text
        match = _NUMBER.match(text, i)
        if match is None:
            if text.startswith("-Infinity", i):
                raise self.fail("not-a-number", "-Infinity is not a JSON number", i)
            raise self.unexpected(i, "a number")
        token = match.group()
        if match.group(1) is None and match.group(2) is None:
            digits = len(token) - token.startswith("-")
            if digits > self.max_digits:
                raise self.fail("integer-too-long",
                                f"an integer of {digits} digits (at most {self.max_digits})", i)
        else:
            mantissa_digits = sum(ch.isdigit() for ch in token.split("e")[0].split("E")[0])
            exponent = match.group(2)
            if mantissa_digits > 400 or (exponent is not None and abs(int(exponent[1:][:6])) > 400) \
                    or abs(float(token)) == float("inf"):
                raise self.fail("number-out-of-range", f"{token[:40]} is beyond double precision range", i)
        return match.end()
