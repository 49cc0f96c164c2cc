import signal

import pytest

import panoptic_ros.entry as entries
from panoptic_ros.ros import entry
from helpers import swallowing_import


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_during_the_imports_stops_the_node_quietly(monkeypatch, fresh_dispositions, signum):
    """A Ctrl-C or SIGTERM (systemd, launch) while the node's imports run: exit 0, the node never
    starts (SIGTERM used to kill the process, and an import could swallow the Ctrl-C)."""
    monkeypatch.setattr(entries.importlib, "import_module", swallowing_import(signum))
    assert entry.main() == 0
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
