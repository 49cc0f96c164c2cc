"""Finding installed package files: the ament share directory (colcon install), else the source tree."""
from __future__ import annotations

from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parents[1]


def package_file(package: str, *parts: str) -> Path:
    """``share/<package>/<parts>`` when ament knows the package and the file exists there, else the
    same path in this repository (``panoptic_ros`` is the root, other packages are folders in it)."""
    try:
        from ament_index_python.packages import get_package_share_directory
        candidate = Path(get_package_share_directory(package)).joinpath(*parts)
        if candidate.exists():
            return candidate
    except (ImportError, LookupError, ValueError, OSError):  # no ament index, or not installed there
        pass
    root = SOURCE_ROOT if package == "panoptic_ros" else SOURCE_ROOT / package
    return root.joinpath(*parts)
