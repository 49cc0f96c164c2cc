"""The live replay's pacing and restamping (its runs through a real node are in test_replay.py)."""
import pytest

from panoptic_ros.inference.video import MAX_HOLD_SECONDS
from panoptic_ros.replay.live import Pacing, UniqueStamps

SECOND = 1_000_000_000


def test_frames_are_due_at_the_bag_s_pace_with_long_gaps_cut():
    pacing = Pacing(rate=2.0)
    start, cut = pacing.due(100 * SECOND)
    assert pacing.start == start and not cut
    assert pacing.due(101 * SECOND) == (pytest.approx(start + 0.5), False)  # twice the pace
    paused = start + 0.5 + MAX_HOLD_SECONDS / 2
    assert pacing.due(3701 * SECOND) == (pytest.approx(paused), True)  # an hour's pause
    assert pacing.due(3701 * SECOND) == (pytest.approx(paused), False)  # another camera's frame of that time
    assert pacing.due(3700 * SECOND) == (pytest.approx(paused), False)  # late: due now
    assert pacing.due(3702 * SECOND) == (pytest.approx(paused + 0.5), False)
    assert pacing.gaps_cut == 1


def test_frames_sharing_a_stamp_get_the_next_free_nanoseconds():
    stamps = UniqueStamps()
    assert [stamps.key(0) for _ in range(4)] == [0, 1, 2, 3]
    assert stamps.key(2) == 4 and stamps.key(7) == 7 and stamps.key(0) == 5
    many = UniqueStamps()
    keys = [many.key(0) for _ in range(20_000)]  # an unclocked driver: each found at once
    assert keys == list(range(20_000)) and len(many.next_free) == 1
