"""What a user gets after activating the environment: the imports and console scripts work anywhere."""
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def test_rclpy_and_the_built_messages_import_from_any_directory(tmp_path):
    code = "import rclpy, panoptic_msgs.msg as m; print(m.PanopticSegmentation.__name__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "PanopticSegmentation"


@pytest.mark.parametrize("script", ["panoptic-train", "panoptic-eval", "panoptic-replay", "replay", "panoptic-bench",
                                    "panoptic-predict"])
def test_console_scripts_run_from_any_directory(script, tmp_path):
    out = subprocess.run([str(BIN / script), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "usage:" in out.stdout
