"""The newest-frame worker without DDS: drops, the per-frame guard, bounded stops."""
import threading
import time

import cv2
import pytest

from panoptic_ros.ros.newest_frame import NewestFrameWorker


def _wait(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_items_waiting_behind_a_slow_one_are_dropped_and_the_newest_is_handled():
    gate, handled = threading.Event(), []

    def handle(item: int) -> None:
        gate.wait()
        handled.append(item)

    worker = NewestFrameWorker(handle, lambda item, exc: None)
    assert worker.submit(0) is False
    _wait(lambda: worker.busy)
    assert [worker.submit(k) for k in (1, 2, 3)] == [False, True, True]
    gate.set()
    _wait(lambda: handled == [0, 3] and not worker.busy)
    assert worker.stop(1.0)


@pytest.mark.parametrize("error", [cv2.error("decoder assertion"), MemoryError(), KeyError("x"), RuntimeError("nan")])
def test_any_exception_of_one_frame_is_reported_and_the_next_frame_is_handled(error):
    failures, handled = [], []

    def handle(item: int) -> None:
        if item == 0:
            raise error
        handled.append(item)

    worker = NewestFrameWorker(handle, lambda item, exc: failures.append((item, exc)))
    worker.submit(0)
    _wait(lambda: failures)
    worker.submit(1)
    _wait(lambda: handled == [1])
    assert failures == [(0, error)]
    assert worker.stop(1.0)


def test_stop_waits_a_bounded_time_for_the_item_in_hand_and_says_whether_it_ended():
    release = threading.Event()
    worker = NewestFrameWorker(lambda item: release.wait(), lambda item, exc: None)
    worker.submit(0)
    _wait(lambda: worker.busy)
    worker.submit(1)  # waiting: discarded by stop
    start = time.monotonic()
    assert worker.stop(0.2) is False and worker.stopping
    assert time.monotonic() - start < 2.0
    release.set()
    _wait(lambda: not worker.busy)
    assert worker.stop(1.0) is True
