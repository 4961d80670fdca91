"""Naive recursive RFC 6962 / RFC 9162 reference, written straight from the RFC's definitions.

Memoised over one fixed list of leaf hashes (``Reference(leaves)``) so that cross-checking every tree
size up to a few thousand stays cheap; every function is the textbook recursion otherwise.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache


def _hash_children(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class Reference:
    """MTH, PATH and PROOF of RFC 9162 §2.1 over ``leaves[begin:end]`` ranges of one leaf list."""

    def __init__(self, leaf_hashes: list[bytes]) -> None:
        self.leaves = leaf_hashes
        self.mth = lru_cache(maxsize=None)(self._mth)

    def _mth(self, begin: int, end: int) -> bytes:
        n = end - begin
        if n == 0:
            return hashlib.sha256(b"").digest()
        if n == 1:
            return self.leaves[begin]
        k = _split(n)
        return _hash_children(self.mth(begin, begin + k), self.mth(begin + k, end))

    def path(self, m: int, begin: int, end: int) -> list[bytes]:
        """PATH(m, D[begin:end]): audit path of leaf begin+m."""
        n = end - begin
        if n <= 1:
            return []
        k = _split(n)
        if m < k:
            return [*self.path(m, begin, begin + k), self.mth(begin + k, end)]
        return [*self.path(m - k, begin + k, end), self.mth(begin, begin + k)]

    def proof(self, m: int, n: int) -> list[bytes]:
        """PROOF(m, D[0:n])."""
        if m == 0 or m == n:
            return []
        return self._subproof(m, 0, n, True)

    def _subproof(self, m: int, begin: int, end: int, whole: bool) -> list[bytes]:
        n = end - begin
        if m == n:
            return [] if whole else [self.mth(begin, end)]
        k = _split(n)
        if m <= k:
            return [*self._subproof(m, begin, begin + k, whole), self.mth(begin + k, end)]
        return [*self._subproof(m - k, begin + k, end, False), self.mth(begin, begin + k)]
