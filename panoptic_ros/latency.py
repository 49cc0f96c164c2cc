"""Latency percentiles, one definition for every report that prints them: the node's diagnostics,
the replay report and the soak test."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def latency_percentiles(seconds: Sequence[float]) -> dict[str, float]:
    """``p50``, ``p90``, ``p99``, ``max`` and ``mean`` of ``seconds`` in milliseconds ({} for none)."""
    if not len(seconds):
        return {}
    ms = np.asarray(seconds, dtype=np.float64) * 1000
    return {"p50": float(np.percentile(ms, 50)), "p90": float(np.percentile(ms, 90)),
            "p99": float(np.percentile(ms, 99)), "max": float(ms.max()), "mean": float(ms.mean())}
