"""``Histogram.observe_one_ns`` is ``observe_ns((v,))`` without the tuple: same buckets, sum,
count and kept samples, for values on, between and beyond the bucket bounds."""

from __future__ import annotations

from mdi.stats import Histogram


def test_observe_one_ns_matches_observe_ns() -> None:
    values = [0, 1, 999, 1_000_000, 2_500_000, 10**9, 10**9 + 1, 7 * 10**10, 10**15]
    one, many = Histogram(), Histogram()
    one.keep_samples(100)
    many.keep_samples(100)
    for v in values + [round(b * 1e9) for b in one.buckets]:
        one.observe_one_ns(v)
        many.observe_ns((v,))
    assert one.counts == many.counts and one.n == many.n == len(values) + len(one.buckets)
    assert one.total == many.total
    assert one.cumulative() == many.cumulative()
    assert one.samples is not None and many.samples is not None
    assert sorted(one.samples.values) == sorted(many.samples.values)
