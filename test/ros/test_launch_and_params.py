"""The launch file and config/panoptic.yaml agree with the node's declared parameters.

``launch``/``launch_ros`` are not installable here, so the launch file runs against small stand-ins
of the parts of their API it uses, which record what it declares and starts; on a ROS 2 install
``ros2 launch panoptic_ros panoptic.launch.py`` runs it for real (``scripts/check_launch_file.py``).
"""
import dataclasses
import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import yaml

from panoptic_ros.ros.parameters import PARAMETERS, file_parameters, validate
from panoptic_ros.ros.topics import DEFAULT_CAMERA, NODE_NAME, node_name

ROOT = Path(__file__).resolve().parents[2]


class _Recorded:
    """A stand-in action: keeps its arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs


@dataclasses.dataclass
class _TypedValue:
    """A stand-in ``ParameterValue``: launch_ros parses a plain string value as YAML, a typed one not."""
    value: Any
    value_type: type


class _LaunchConfiguration:
    def __init__(self, name: str) -> None:
        self.name = name

    def perform(self, context: dict[str, str]) -> str:
        return context[self.name]


@pytest.fixture
def launch_file(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """``launch/panoptic.launch.py`` imported against stand-ins of launch, launch_ros and ament_index."""
    stand_ins = {
        "ament_index_python": {}, "ament_index_python.packages": {"get_package_share_directory": lambda name: "/share"},
        "launch": {"LaunchDescription": list}, "launch.actions": {"DeclareLaunchArgument": _Recorded,
                                                                  "OpaqueFunction": _Recorded},
        "launch.substitutions": {"LaunchConfiguration": _LaunchConfiguration},
        "launch_ros": {}, "launch_ros.actions": {"LifecycleNode": _Recorded},
        "launch_ros.parameter_descriptions": {"ParameterValue": _TypedValue},
    }
    for name, attrs in stand_ins.items():
        monkeypatch.setitem(sys.modules, name, types.SimpleNamespace(**attrs))
    spec = importlib.util.spec_from_file_location("panoptic_launch", ROOT / "launch" / "panoptic.launch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _launch(module: types.ModuleType, **arguments: str) -> tuple[dict[str, _Recorded], dict[str, Any]]:
    """The declared arguments by name, and the keyword arguments of the node the launch would start
    with ``arguments`` given on the command line (the rest at their defaults)."""
    actions = module.generate_launch_description()
    declared = {a.args[0]: a for a in actions if a.args}
    context = {name: a.kwargs["default_value"] for name, a in declared.items()} | arguments
    (opaque,) = [a for a in actions if not a.args]
    (node,) = opaque.kwargs["function"](context)
    return declared, node.kwargs


def test_launch_file_declares_every_node_parameter_and_nothing_else(launch_file):
    declared, _ = _launch(launch_file)
    assert list(declared) == ["camera", "namespace", "node_name", "params_file", "use_sim_time", "log_level",
                              *(p.name for p in PARAMETERS)]
    assert "/" + declared["camera"].kwargs["default_value"] == DEFAULT_CAMERA  # relative: follows namespace:=
    assert declared["params_file"].kwargs["default_value"] == "/share/config/panoptic.yaml"
    for p in PARAMETERS:  # unset keeps the params file's value; ``ros2 launch -s`` shows the description
        assert declared[p.name].kwargs["default_value"] == ""
        assert declared[p.name].kwargs["description"].startswith(p.description)


def test_params_file_sets_every_parameter_with_a_valid_value():
    path = ROOT / "config" / "panoptic.yaml"
    values = file_parameters(path, node_name("some/namespace"))  # the file applies in any namespace
    assert values == yaml.safe_load(path.read_text())["/**"]["ros__parameters"]
    qos = values.pop("qos_overrides")  # rclpy's own parameters for the camera subscription
    camera_qos = {"subscription": {"depth": 5, "history": "keep_last"}}  # reliability: the node chooses
    assert qos == {DEFAULT_CAMERA: camera_qos, f"{DEFAULT_CAMERA}/compressed": camera_qos}  # raw and compressed
    assert list(values) == [p.name for p in PARAMETERS]
    validate(dict(values))
    for p in PARAMETERS:  # the file documents the defaults the node uses without it
        assert values[p.name] == p.default, p.name


def test_launch_overrides_are_parsed_like_the_node_expects(launch_file):
    _, node = _launch(launch_file, mask_cues="false", inference_size="[256, 512]", score_threshold="0.3",
                      device="cuda:0", cameras="[front, left]", model="0.5", overlay_alpha="1",
                      diagnostics_period="2")
    params_file, overrides = node["parameters"]
    assert params_file.name == "params_file"
    assert overrides == {"mask_cues": False, "inference_size": [256, 512], "score_threshold": 0.3,
                         "device": _TypedValue("cuda:0", str), "cameras": ["front", "left"],
                         "model": _TypedValue("0.5", str),  # strings stay strings, in launch_ros too
                         "overlay_alpha": 1.0, "diagnostics_period": 2.0}  # a double, or rclpy refuses an int
    assert all(type(overrides[k]) is float for k in ("overlay_alpha", "diagnostics_period"))
    with pytest.raises(ValueError, match="score_threshold"):  # the launch stops, naming it
        _launch(launch_file, score_threshold="2")


def test_two_quotes_set_a_string_parameter_back_to_empty_whatever_the_params_file_says(launch_file):
    _, node = _launch(launch_file, head="''", model='""')
    assert node["parameters"][1] == {"head": _TypedValue("", str), "model": _TypedValue("", str)}


def test_launch_passes_sim_time_and_the_log_level_as_for_any_ros_node(launch_file):
    _, node = _launch(launch_file)
    assert "use_sim_time" not in node["parameters"][1]  # unset: the params file decides
    assert node["ros_arguments"] == ["--log-level", "info"]
    _, node = _launch(launch_file, use_sim_time="true", log_level="debug")
    assert node["parameters"][1]["use_sim_time"] is True and node["ros_arguments"] == ["--log-level", "debug"]
    with pytest.raises(ValueError, match="use_sim_time"):
        _launch(launch_file, use_sim_time="sometimes")


def test_launch_starts_a_lifecycle_node_that_autostarts_itself_with_the_cameras_remapped(launch_file):
    """launch_ros's LifecycleNode needs ``name`` and ``namespace``; its own ``autostart`` stays off (the
    node's parameter activates it; launch's would ask an active node to configure again)."""
    _, node = _launch(launch_file, namespace="car")
    assert node["name"] == NODE_NAME and node["namespace"] == "car" and "autostart" not in node
    assert (node["package"], node["executable"]) == ("panoptic_ros", "panoptic_node")
    assert node["parameters"][1] == {}  # nothing given: the params file decides
    assert node["remappings"] == [("image", DEFAULT_CAMERA.lstrip("/"))]  # /car/camera/image_raw; image/compressed follows
    _, node = _launch(launch_file, cameras="[front, left]")
    assert node["remappings"] == []  # several cameras, camera:= left alone: each camera stays on c/image
    _, node = _launch(launch_file, cameras="[front, left]", camera="[/f/image_raw, /l/image_raw]")
    assert node["remappings"][0] == ("front/image", "/f/image_raw")


def test_launch_takes_the_cameras_from_the_params_file_when_not_given(launch_file, tmp_path):
    params = tmp_path / "rig.yaml"
    params.write_text("/**:\n  ros__parameters:\n    cameras: [front, left]\n")
    _, node = _launch(launch_file, params_file=str(params), namespace="car",
                      camera="[/f/image_raw, /l/image_raw]")
    assert node["remappings"] == [("front/image", "/f/image_raw"), ("left/image", "/l/image_raw")]
    _, node = _launch(launch_file, params_file=str(params), cameras="[front]", camera="/f/image_raw")
    assert node["remappings"] == [("front/image", "/f/image_raw")]  # the launch argument wins


def test_rviz_config_shows_the_overlay_and_the_legend():
    rviz = yaml.safe_load((ROOT / "config" / "panoptic.rviz").read_text())
    topics = {d["Topic"]["Value"] for d in rviz["Visualization Manager"]["Displays"]}
    assert {"/panoptic/overlay", "/panoptic/legend"} <= topics


def test_a_second_node_in_one_namespace_takes_another_name_and_its_params_file_section(launch_file, tmp_path):
    params = tmp_path / "two.yaml"
    params.write_text(yaml.safe_dump({"/car/panoptic_rear": {"ros__parameters": {"cameras": ["rear"]}}}))
    _, node = _launch(launch_file, namespace="car", node_name="panoptic_rear", params_file=str(params))
    assert node["name"] == "panoptic_rear"
    assert node["remappings"] == [("rear/image", DEFAULT_CAMERA.lstrip("/"))]  # its own section's one camera
    for cameras in ("", "[front]"):  # refused whether or not the params file is read for the cameras
        with pytest.raises(ValueError, match="node name '2nd'"):
            _launch(launch_file, node_name="2nd", cameras=cameras)
