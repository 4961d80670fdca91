"""Units of signed data: percentages are two-decimal strings, everything else integers with the unit in
the field name (``net_weight_kg``, ``qnet_ar_kcal_per_kg``). These helpers convert for arithmetic."""

from __future__ import annotations

__all__ = ["KJ_PER_KCAL_X10000", "format_hundredths", "hundredths", "kcal_to_kj"]

KJ_PER_KCAL_X10000 = 41816
"""1 kcal = 4.1816 kJ, the factor of COAL_DOMAIN.md / GB/T 483 practice, times 10 000."""


def hundredths(percent: str) -> int:
    """``"12.35"`` → 1235. The argument must already match the schema's two-decimal pattern."""
    return int(percent[:-3]) * 100 + int(percent[-2:])


def format_hundredths(value: int) -> str:
    """1235 → ``"12.35"`` (the inverse of :func:`hundredths`, for 0 ≤ value ≤ 10000)."""
    return f"{value // 100}.{value % 100:02d}"


def kcal_to_kj(kcal: int) -> int:
    """kcal/kg → kJ/kg, rounded half up."""
    return (kcal * KJ_PER_KCAL_X10000 + 5000) // 10000
