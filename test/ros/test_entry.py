import builtins
import os
import signal
import time
import types

import pytest

from panoptic_ros.ros import entry


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_during_the_imports_stops_the_node_even_where_an_import_swallows_it(monkeypatch, signum):
    """``import torchvision`` swallowed a ``KeyboardInterrupt`` raised inside it, and the node then ran
    on, deaf to that Ctrl-C; a SIGTERM (systemd, launch) killed the process. The entry holds both back
    until the imports are done, then exits 0."""
    real_import = builtins.__import__

    def swallowing_import(name, *args, **kwargs):
        if name != "panoptic_ros.ros.node":
            return real_import(name, *args, **kwargs)
        try:
            os.kill(os.getpid(), signum)
            time.sleep(0.2)  # the handler runs here
        except KeyboardInterrupt:
            pass  # what the library did
        return types.SimpleNamespace(main=lambda: pytest.fail("the node started after a Ctrl-C"))

    monkeypatch.setattr(builtins, "__import__", swallowing_import)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a fresh interpreter
    previous_term = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        assert entry.main() == 0
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)
