"""The newest-frame policy, without ROS: one thread works on the newest item, older ones are dropped.

A camera callback must never wait for the network, and frames must never queue up behind a slow
one (latency would grow without bound), so the callback only parks its frame here; a waiting frame
that a newer one replaces is dropped and reported to the caller for counting. The whole per-frame
path runs inside one guard: whatever it raises goes to ``on_failure`` and the thread carries on
with the next frame, so no input can silence the node. Stopping waits a bounded time for the frame
in hand and says whether the thread ended, so the caller can abandon a stuck inference cleanly.
"""
from __future__ import annotations

import threading
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class NewestFrameWorker(Generic[T]):
    def __init__(self, handle: Callable[[T], None], on_failure: Callable[[T, Exception], None],
                 name: str = "newest-frame-worker") -> None:
        self._handle = handle
        self._on_failure = on_failure
        self._pending: T | None = None
        self._busy = False
        self._stopping = threading.Event()
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: T) -> bool:
        """Park ``item`` as the next to process; True when it replaced one still waiting (a drop)."""
        with self._wake:
            dropped = self._pending is not None
            self._pending = item
            self._wake.notify()
        return dropped

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    @property
    def busy(self) -> bool:
        """True while an item is being handled."""
        with self._wake:
            return self._busy

    def stop(self, timeout: float) -> bool:
        """Discard the waiting item, wait up to ``timeout`` s for the one in hand; True when the thread ended."""
        with self._wake:
            self._stopping.set()
            self._pending = None
            self._wake.notify_all()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._pending is not None or self._stopping.is_set())
                if self._stopping.is_set():
                    return
                item, self._pending, self._busy = self._pending, None, True
            try:
                self._handle(item)  # type: ignore[arg-type]
            except Exception as exc:  # the guard: any failure of one frame is reported, the next one goes on
                self._on_failure(item, exc)  # type: ignore[arg-type]
            finally:
                with self._wake:
                    self._busy = False
