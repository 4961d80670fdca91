"""The error tree: one root, matching builtins, data carried, never retriable."""

from __future__ import annotations

import inspect

from chain_anchor import errors


def _error_classes() -> list[type[errors.ChainAnchorError]]:
    return [
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, errors.ChainAnchorError) and obj.__module__ == errors.__name__
    ]


def test_every_error_is_exported_drawn_and_has_a_builtin() -> None:
    classes = _error_classes()
    assert len(classes) >= 25
    assert errors.__doc__ is not None
    for cls in classes:
        assert cls.__name__ in errors.__all__
        assert cls.__name__ in errors.__doc__, f"{cls.__name__} missing from the drawn tree"
        assert cls.retriable is False
        if cls is not errors.ChainAnchorError:
            assert issubclass(cls, ValueError | LookupError), cls


def test_errors_carry_data() -> None:
    e1 = errors.RootMismatch(expected=b"\x01", calculated=b"\x02")
    assert (e1.expected, e1.calculated) == (b"\x01", b"\x02") and "01" in str(e1)
    e2 = errors.ChainError(7, "broken")
    assert (e2.height, e2.reason) == (7, "broken") and "7" in str(e2)
    e3 = errors.HeaderError("height", "bad")
    assert (e3.field, e3.reason) == ("height", "bad")
    e4 = errors.UnknownKey("ab")
    assert e4.key_id == "ab" and str(e4) == "unknown key id 'ab'"
    assert isinstance(e4, KeyError)
    e5 = errors.QuorumNotMet(required=3, verified=1)
    assert (e5.required, e5.verified) == (3, 1)
    e6 = errors.ItemTooLarge(10, 5)
    assert (e6.size_bytes, e6.limit_bytes) == (10, 5)
    e7 = errors.BlockError(2, "x")
    assert (e7.height, e7.reason) == (2, "x")
    e8 = errors.MissingNode(3, 4)
    assert (e8.level, e8.index) == (3, 4) and isinstance(e8, LookupError)
    e9 = errors.MissingSignature("cd")
    assert e9.key_id == "cd"
    e10 = errors.FloatNotAllowed("$.a")
    assert e10.path == "$.a"
    e11 = errors.IntegerOutOfRange("$", 2**60)
    assert e11.value == 2**60
