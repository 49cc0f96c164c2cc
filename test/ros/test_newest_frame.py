"""The newest-frame worker without DDS: drops per source, batches of every source, fairness, the
per-batch guard, bounded stops."""
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


def _gated_worker() -> tuple[NewestFrameWorker, threading.Event, threading.Event, list[dict[str, int]]]:
    """(worker, started, gate, handled): each batch sets ``started``, waits for ``gate``, then is handled."""
    started, gate, handled = threading.Event(), threading.Event(), []

    def handle(batch: dict[str, int]) -> None:
        started.set()
        gate.wait()
        handled.append(batch)

    return NewestFrameWorker(handle, lambda batch, exc: None), started, gate, handled


def test_items_waiting_behind_a_slow_one_are_dropped_and_the_newest_is_handled():
    worker, started, gate, handled = _gated_worker()
    assert worker.submit("cam", 0) is False
    assert started.wait(10)
    assert [worker.submit("cam", k) for k in (1, 2, 3)] == [False, True, True]
    gate.set()
    _wait(lambda: handled == [{"cam": 0}, {"cam": 3}])
    assert worker.stop(1.0)


def test_every_waiting_source_goes_into_one_batch_and_only_its_own_older_items_are_dropped():
    worker, started, gate, handled = _gated_worker()
    worker.submit("fast", 0)
    assert started.wait(10)
    drops = [worker.submit("fast", k) for k in range(1, 40)]  # one camera floods while the batch runs
    assert [worker.submit("left", 100), worker.submit("right", 200)] == [False, False]
    assert sum(drops) == 38
    gate.set()
    _wait(lambda: len(handled) == 2)
    assert handled[1] == {"fast": 39, "left": 100, "right": 200}
    assert worker.stop(1.0)


def test_a_camera_much_faster_than_the_others_starves_none_of_them():
    """Real threads, no gate: while one camera floods, each frame of two slow ones is handled promptly."""
    handled: list[dict[str, int]] = []

    def handle(batch: dict[str, int]) -> None:
        time.sleep(0.02)  # the network
        handled.append(batch)

    worker = NewestFrameWorker(handle, lambda batch, exc: None)
    flooding = threading.Event()
    fast_drops = []

    def flood() -> None:
        k = 0
        while not flooding.is_set():
            fast_drops.append(worker.submit("fast", k))
            k += 1
            time.sleep(0.001)

    flooder = threading.Thread(target=flood)
    flooder.start()
    try:
        for k in range(10):
            assert not worker.submit("left", k) and not worker.submit("right", k)
            _wait(lambda: all(any(b.get(c) == k for b in handled) for c in ("left", "right")), timeout=5.0)
    finally:
        flooding.set()
        flooder.join()
    assert worker.stop(1.0)
    for camera in ("left", "right"):
        assert [b[camera] for b in handled if camera in b] == list(range(10))
    assert any(fast_drops) and sum("fast" in b for b in handled) >= 10
    assert max(len(b) for b in handled) == 3  # the cameras shared batches


@pytest.mark.parametrize("error", [cv2.error("decoder assertion"), MemoryError(), KeyError("x"), RuntimeError("nan")])
def test_any_exception_of_one_batch_is_reported_and_the_next_batch_is_handled(error):
    failures, handled = [], []

    def handle(batch: dict[str, int]) -> None:
        if batch.get("cam") == 0:
            raise error
        handled.append(batch)

    worker = NewestFrameWorker(handle, lambda batch, exc: failures.append((batch, exc)))
    worker.submit("cam", 0)
    _wait(lambda: failures)
    worker.submit("cam", 1)
    _wait(lambda: handled == [{"cam": 1}])
    assert failures == [({"cam": 0}, error)]
    assert worker.stop(1.0)


def test_stop_waits_a_bounded_time_for_the_batch_in_hand_and_says_whether_it_ended():
    worker, started, release, handled = _gated_worker()
    worker.submit("cam", 0)
    assert started.wait(10)
    worker.submit("cam", 1)  # waiting: discarded by stop
    start = time.monotonic()
    assert worker.stop(0.2) is False
    assert time.monotonic() - start < 2.0
    release.set()
    assert worker.stop(1.0) is True and handled == [{"cam": 0}]
