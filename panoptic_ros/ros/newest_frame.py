"""The newest-frame policy, without ROS: one thread works on the newest item of every source
(camera) at once, as one batch; older items of the same source are dropped.

A camera callback must never wait for the network, and frames must never queue up behind a slow
one (latency would grow without bound), so the callback only parks its frame in its camera's
slot; a waiting frame that a newer one of the same camera replaces is dropped and reported to the
caller for counting. Each step takes every occupied slot, so the cameras share one network call,
and no camera can starve another: a fast camera only ever replaces its own frame, and a slow
camera's frame is in the very next batch. The whole batch runs inside one guard: whatever it raises
goes to ``on_failure`` and the thread carries on with the next batch, so no input can silence the
node. Stopping waits a bounded time for the batch in hand and says whether the thread ended, so
the caller can abandon a stuck inference cleanly.
"""
from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Callable, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class NewestFrameWorker(Generic[K, T]):
    """``handle`` gets ``{source: newest item}`` of every source that has one waiting (in the order
    the sources first submitted since the previous batch); ``on_failure`` gets that batch and what
    ``handle`` raised."""

    def __init__(self, handle: Callable[[dict[K, T]], None], on_failure: Callable[[dict[K, T], Exception], None],
                 name: str = "newest-frame-worker") -> None:
        self._handle = handle
        self._on_failure = on_failure
        self._pending: dict[K, T] = {}
        self._stopping = threading.Event()
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, source: K, item: T) -> bool:
        """Park ``item`` as ``source``'s next; True when it replaced one of ``source`` still waiting (a drop)."""
        with self._wake:
            dropped = source in self._pending
            self._pending[source] = item
            self._wake.notify()
        return dropped

    def stop(self, timeout: float) -> bool:
        """Discard the waiting items, wait up to ``timeout`` s for the batch in hand; True when the thread ended."""
        with self._wake:
            self._stopping.set()
            self._pending = {}
            self._wake.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: bool(self._pending) or self._stopping.is_set())
                if self._stopping.is_set():
                    return
                batch, self._pending = self._pending, {}
            try:
                self._handle(batch)
            except Exception as exc:  # the guard: any failure of one batch is reported, the next one goes on
                self._on_failure(batch, exc)
