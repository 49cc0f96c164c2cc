"""The helper scripts that the model card tells readers to run still run (they are no tests' imports, so
a rename elsewhere breaks them silently)."""
import py_compile
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CAMVID = ROOT.parent / "shared" / "data" / "camvid"


def test_every_python_script_compiles(tmp_path):
    for script in sorted((ROOT / "scripts").glob("*.py")):
        py_compile.compile(str(script), cfile=str(tmp_path / f"{script.stem}.pyc"), doraise=True)


def test_the_class_shares_script_prints_the_held_out_drive_s_make_up():
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "camvid_class_shares.py"), str(CAMVID), "heldout"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("heldout (101 frames): sky ") and "cyclist 0.07 % (14 frames)" in out.stdout
