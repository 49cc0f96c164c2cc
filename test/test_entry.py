"""Console-script entries: a Ctrl-C during a tool's seconds of imports ends it like one a moment later."""
import signal
import types

import pytest

from helpers import swallowing_import
from panoptic_ros import entry
from panoptic_ros.arguments import CTRL_C_STATUS


@pytest.mark.parametrize("tool", ["replay", "train", "evaluate", "bench", "soak", "predict"])
def test_a_ctrl_c_during_a_tool_s_imports_is_one_line_and_status_130(monkeypatch, capsys, fresh_dispositions, tool):
    monkeypatch.setattr(entry.importlib, "import_module", swallowing_import(signal.SIGINT))
    assert getattr(entry, tool)() == CTRL_C_STATUS
    assert capsys.readouterr().err.strip().endswith(": interrupted")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_without_a_signal_the_tool_s_main_runs(monkeypatch):
    monkeypatch.setattr(entry.importlib, "import_module", lambda name: types.SimpleNamespace(main=lambda: 7))
    assert entry.predict() == 7


def test_a_ctrl_c_the_tool_was_started_ignoring_stays_ignored(monkeypatch, fresh_dispositions):
    """``trap '' INT`` or a job started with ``&``: Python leaves an inherited ignored SIGINT alone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    monkeypatch.setattr(entry.importlib, "import_module", swallowing_import(signal.SIGINT))
    with pytest.raises(pytest.fail.Exception, match="ran after the signal"):  # the tool ran on: ignored
        entry.predict()
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
