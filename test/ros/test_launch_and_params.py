"""The launch file and config/panoptic.yaml agree with the node's declared parameters.

``launch``/``launch_ros`` are not installable here, so the launch file is checked by parsing it;
on a ROS 2 install ``ros2 launch panoptic_ros panoptic.launch.py`` runs it for real.
"""
import ast
from pathlib import Path

import yaml

from panoptic_ros.ros.parameters import PARAMETERS, validate

ROOT = Path(__file__).resolve().parents[2]


def _launch_module() -> ast.Module:
    return ast.parse((ROOT / "launch" / "panoptic.launch.py").read_text())


def _literal(name: str):
    for node in _launch_module().body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not found in the launch file")


def test_launch_file_declares_every_node_parameter_and_nothing_else():
    assert list(_literal("NODE_PARAMETERS")) == [p.name for p in PARAMETERS]
    strings = {p.name for p in PARAMETERS if isinstance(p.default, str)}
    assert _literal("STRING_PARAMETERS") == strings
    declared = [c.args[0].value for c in ast.walk(_launch_module()) if isinstance(c, ast.Call)
                and getattr(c.func, "id", None) == "DeclareLaunchArgument" and c.args
                and isinstance(c.args[0], ast.Constant)]
    assert set(declared) == {"camera", "namespace", "params_file"}  # the rest come from NODE_PARAMETERS


def test_params_file_sets_every_parameter_with_a_valid_value():
    data = yaml.safe_load((ROOT / "config" / "panoptic.yaml").read_text())
    values = data["panoptic"]["ros__parameters"]
    qos = values.pop("qos_overrides")  # rclpy's own parameters for the camera subscription
    assert qos == {_literal("DEFAULT_CAMERA"): {"subscription": {"reliability": "reliable", "depth": 5,
                                                                  "history": "keep_last"}}}
    assert list(values) == [p.name for p in PARAMETERS]
    validate(dict(values))
    for p in PARAMETERS:  # the file documents the defaults the node uses without it
        assert values[p.name] == p.default, p.name


def test_launch_overrides_are_parsed_like_the_node_expects():
    strings = _literal("STRING_PARAMETERS")
    overrides = {"mask_cues": "false", "inference_size": "[256, 512]", "score_threshold": "0.3", "device": "cuda:0",
                 "cameras": "[front, left]"}
    parsed = {k: v if k in strings else yaml.safe_load(v) for k, v in overrides.items()}
    assert validate(parsed) == {"mask_cues": False, "inference_size": [256, 512], "score_threshold": 0.3,
                                "device": "cuda:0", "cameras": ["front", "left"]}


def test_launch_starts_a_lifecycle_node_that_autostarts_itself_with_the_cameras_remapped():
    """launch_ros's LifecycleNode needs ``name`` and ``namespace``; its own ``autostart`` stays off (the
    node's parameter activates it; launch's would ask an active node to configure again)."""
    calls = {c.func.id: c for c in ast.walk(_launch_module()) if isinstance(c, ast.Call)
             and isinstance(c.func, ast.Name)}
    assert "Node" not in calls
    keywords = {k.arg: k.value for k in calls["LifecycleNode"].keywords}
    assert {"name", "namespace", "package", "executable", "parameters", "remappings"} <= set(keywords)
    assert "autostart" not in keywords and ast.literal_eval(keywords["name"]) == "panoptic"
    remap = keywords["remappings"]
    assert isinstance(remap, ast.Call) and remap.func.id == "camera_remappings"
    assert ast.unparse(remap.args[2]) == "DEFAULT_CAMERA"  # several cameras, camera:= left alone: no remapping


def test_rviz_config_shows_the_overlay_and_the_legend():
    rviz = yaml.safe_load((ROOT / "config" / "panoptic.rviz").read_text())
    topics = {d["Topic"]["Value"] for d in rviz["Visualization Manager"]["Displays"]}
    assert {"/panoptic/overlay", "/panoptic/legend"} <= topics
