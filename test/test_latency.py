import pytest

from panoptic_ros.latency import latency_percentiles


def test_percentiles_in_milliseconds():
    out = latency_percentiles([0.001 * k for k in range(1, 101)])  # 1..100 ms
    assert out["p50"] == pytest.approx(50.5) and out["p90"] == pytest.approx(90.1)
    assert out["p99"] == pytest.approx(99.01) and out["max"] == pytest.approx(100) and out["mean"] == pytest.approx(50.5)


def test_no_values_no_figures():
    assert latency_percentiles([]) == {}
