"""The sequencer's batch timer starts when a block's first verdict was signed (services.sequencer.service)."""

from __future__ import annotations

import pytest

from services.sequencer.service import timer_start

SIGNED = "2026-12-02T20:00:00.000000Z"
SIGNED_WALL = 1_796_241_600.0  # SIGNED as a Unix time


def test_signed_clock_is_the_unix_time_used_below() -> None:
    assert timer_start(SIGNED, 0.2, now=100.0, wall_now=SIGNED_WALL + 0.03) == pytest.approx(100.0 - 0.03)


def test_the_hop_already_travelled_is_credited_at_most_half_the_timeout() -> None:
    assert timer_start(SIGNED, 0.2, now=100.0, wall_now=SIGNED_WALL + 5.0) == pytest.approx(99.9)


def test_a_validator_clock_ahead_or_an_unreadable_time_credits_nothing() -> None:
    assert timer_start(SIGNED, 0.2, now=100.0, wall_now=SIGNED_WALL - 1.0) == 100.0
    assert timer_start("not a time", 0.2, now=100.0, wall_now=SIGNED_WALL) == 100.0
    assert timer_start("", 0.2, now=100.0, wall_now=SIGNED_WALL) == 100.0
