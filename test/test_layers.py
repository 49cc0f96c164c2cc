"""Layers import downwards only: the core (the top-level modules, ``model``, ``data``, ``eval``,
``inference``, ``train``) never imports ROS, the ROS layer or the tools above it; the ROS layer never
imports the replay or the tools; the replay never imports the tools. Read from the source (every
``import``, function-level ones too), so a lazy import cannot hide."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "panoptic_ros"
ROS = ("rclpy", "sensor_msgs", "std_msgs", "panoptic_msgs", "visualization_msgs", "diagnostic_msgs",
       "lifecycle_msgs", "builtin_interfaces", "rosbags")
ABOVE = {  # layer -> the modules it must not import
    "core": ROS + ("panoptic_ros.ros", "panoptic_ros.replay", "panoptic_ros.tools"),
    "ros": ("panoptic_ros.replay", "panoptic_ros.tools"),
    "replay": ("panoptic_ros.tools",),
}


def _layer(path: Path) -> str | None:
    part = path.relative_to(PACKAGE).parts
    if len(part) == 1 or part[0] in ("model", "data", "eval", "inference"):
        return "core"
    return part[0] if part[0] in ("ros", "replay") else None


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return names


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if _layer(p))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_imports_nothing_from_the_layers_above_it(path):
    banned = ABOVE[_layer(path)]
    wrong = sorted(n for n in _imports(path) if any(n == b or n.startswith(b + ".") for b in banned))
    assert not wrong, f"{path.relative_to(PACKAGE)} imports {wrong}"


def test_every_layer_has_modules():
    assert {_layer(p) for p in MODULES} == set(ABOVE)
