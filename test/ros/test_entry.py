import builtins
import os
import signal
import time
import types

import pytest

from panoptic_ros.ros import entry


def test_a_ctrl_c_during_the_imports_stops_the_node_even_where_an_import_swallows_it(monkeypatch):
    """``import torchvision`` swallowed a ``KeyboardInterrupt`` raised inside it, and the node then ran
    on, deaf to that Ctrl-C; the entry holds Ctrl-C back until the imports are done."""
    real_import = builtins.__import__

    def swallowing_import(name, *args, **kwargs):
        if name != "panoptic_ros.ros.node":
            return real_import(name, *args, **kwargs)
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)  # the handler runs here
        except KeyboardInterrupt:
            pass  # what the library did
        return types.SimpleNamespace(main=lambda: pytest.fail("the node started after a Ctrl-C"))

    monkeypatch.setattr(builtins, "__import__", swallowing_import)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a fresh interpreter
    try:
        assert entry.main() == 0
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    finally:
        signal.signal(signal.SIGINT, previous)
