"""``services.metrics.observe_many`` gives exactly what observing one amount at a time gives."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Histogram

from services.metrics import _LATENCY_BUCKETS, observe_many


def _samples(h: Histogram) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in h.collect() for s in family.samples if not s.name.endswith("_created")}


@given(st.lists(st.one_of(st.sampled_from(_LATENCY_BUCKETS),  # exactly on a bound: that bucket, not the next
                          st.floats(min_value=0, max_value=120, allow_nan=False)), max_size=300))
def test_observe_many_equals_one_by_one(amounts: list[float]) -> None:
    one, many = (Histogram("h", "h", buckets=_LATENCY_BUCKETS, registry=CollectorRegistry()) for _ in range(2))
    for a in amounts:
        one.observe(a)
    assert observe_many(many, amounts) == len(amounts)
    got, want = _samples(many), _samples(one)
    assert got.keys() == want.keys()
    for k, v in want.items():
        if k[0].endswith("_sum"):  # one sum of all amounts vs a running sum: equal up to rounding
            assert abs(got[k] - v) <= 1e-9 * max(1.0, v), k
        else:  # bucket counts and the count: exactly
            assert got[k] == v, k


def test_the_fallback_observes_one_by_one_when_the_internals_are_missing() -> None:
    class Plain:
        def __init__(self) -> None:
            self.seen: list[float] = []

        def observe(self, amount: float) -> None:
            self.seen.append(amount)

    h = Plain()
    assert observe_many(h, [0.5, 3.0]) == 2  # type: ignore[arg-type]
    assert h.seen == [0.5, 3.0]
