"""The metrics' own arithmetic, in-process: histogram buckets and the model's numbers."""

from __future__ import annotations

from cog.server.metrics import Histogram, numbers


def test_a_value_on_a_bound_falls_in_that_bound_and_buckets_are_cumulative():
    histogram = Histogram((0.1, 1.0))
    for value in (0.05, 0.1, 0.5, 1.0, 7.0):
        histogram.observe(value)
    assert histogram.buckets() == [("0.1", 2.0), ("1.0", 4.0), ("+Inf", 5.0)]
    assert histogram.total == 8.65


def test_only_numbers_are_measures_and_nested_names_are_dot_joined():
    metrics = {"tokens": 3, "timing": {"model": 0.5, "unit": "s"}, "ok": True, "steps": [1, 2]}
    assert dict(numbers(metrics)) == {"tokens": 3.0, "timing.model": 0.5}
