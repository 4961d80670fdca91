"""Which JSON Schema patterns can be checked together in one regex (shared by the codegen and the fast path).

msgspec checks a ``Meta(pattern=...)`` by calling ``re`` once per string; a pattern ``^BODY$(?!\\n)`` whose
BODY cannot match NUL can instead be checked with others in one regex over NUL-separated values, exactly.
"""

from __future__ import annotations

from re import _constants as re_constants  # type: ignore[attr-defined]
from re import _parser as re_parser  # type: ignore[attr-defined]
from typing import Any

__all__ = ["liftable_body"]


def liftable_body(pattern: str) -> str | None:
    """BODY when ``pattern`` is ``^BODY$(?!\\n)`` with BODY made only of literals, character ranges and
    classes, groups, alternatives and repeats — none of which holds NUL (so BODY cannot match a string holding
    one): then a string matches ``pattern`` exactly when it fullmatches BODY. None otherwise."""
    suffix = "$(?!\\n)"
    if not (pattern.startswith("^") and pattern.endswith(suffix)):
        return None
    # the whole pattern must parse as ^, then BODY's items, then $(?!\n) — a top-level "|" would make it
    # (^a)|(b$): a search for either, not a fullmatch of BODY
    tree = list(re_parser.parse(pattern))
    if len(tree) < 3 or tree[0] != (re_constants.AT, re_constants.AT_BEGINNING) \
            or tree[-2] != (re_constants.AT, re_constants.AT_END) or tree[-1][0] is not re_constants.ASSERT_NOT \
            or tree[-1][1][0] != 1 or list(tree[-1][1][1]) != [(re_constants.LITERAL, 10)]:
        return None
    body = pattern[1:-len(suffix)]
    return body if _never_matches_nul(tree[1:-2]) else None


def _never_matches_nul(tree: Any) -> bool:
    for op, arg in tree:
        if op is re_constants.LITERAL:
            if arg == 0:
                return False
        elif op is re_constants.IN:
            for item_op, item_arg in arg:
                if item_op is re_constants.LITERAL and item_arg != 0:
                    continue
                if item_op is re_constants.RANGE and item_arg[0] > 0:
                    continue
                return False  # a negated set, a category (\\W holds NUL), NUL itself
        elif op in (re_constants.MAX_REPEAT, re_constants.MIN_REPEAT):
            if not _never_matches_nul(arg[2]):
                return False
        elif op is re_constants.SUBPATTERN:
            if not _never_matches_nul(arg[3]):
                return False
        elif op is re_constants.BRANCH:
            if not all(_never_matches_nul(alternative) for alternative in arg[1]):
                return False
        else:
            return False  # anchors, ".", look-arounds, back references: not lifted
    return True
