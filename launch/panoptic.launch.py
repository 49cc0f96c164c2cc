"""Start panoptic_node with config/panoptic.yaml, its camera topic(s) and an optional namespace.

    ros2 launch panoptic_ros panoptic.launch.py camera:=/camera/image_raw device:=cuda mask_cues:=false
    ros2 launch panoptic_ros panoptic.launch.py namespace:=robot1   # /robot1/camera/image_raw
    ros2 launch panoptic_ros panoptic.launch.py node_name:=panoptic_rear camera:=/rear/image_raw  # a second one
    ros2 launch panoptic_ros panoptic.launch.py cameras:="[front, left]" \
        camera:="[/front/image_raw, /left/image_raw]"

Every node parameter is a launch argument; an argument left empty keeps the params file's value, and a
string parameter given as two quotes is set to the empty string (``head:="''"``: the checkpoint's head,
``model:="''"``: the shipped model, whatever the params file says).
``camera`` is the one camera's topic; with several ``cameras`` (the launch argument's, else the params
file's) it is a list, one topic per camera, or left at its default to keep each camera ``c`` on
``c/image``. A compressed input follows its camera's topic (``topic/compressed``). The camera subscriptions' QoS is set
the standard way, in the params file:
``qos_overrides./camera/image_raw.subscription.{reliability,depth,history}`` (the remapped topic's name).

The node is launch_ros's ``LifecycleNode``, so launch's lifecycle events reach it. Its own
``autostart`` parameter (default true) configures and activates it; the action's ``autostart`` is
left off, or launch would ask an already active node to configure again. ``use_sim_time:=true`` (a bag
played with ``--clock``) and ``log_level:=debug`` work as for any ROS 2 node.
"""
import os

import yaml
from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode
from launch_ros.parameter_descriptions import ParameterValue

from panoptic_ros.ros.parameters import PARAMETERS, camera_remappings, file_parameters, validate
from panoptic_ros.ros.topics import DEFAULT_CAMERA, NODE_NAME, node_name

# The default camera topic, relative: namespace:=robot1 subscribes /robot1/camera/image_raw, as the
# robot's own driver in that namespace publishes it (without a namespace: /camera/image_raw).
CAMERA = DEFAULT_CAMERA.lstrip("/")
# Launch arguments are parsed as YAML (true, 0.3, [256, 512]), except the string parameters' values,
# which go to launch_ros as typed strings: it parses a plain string as YAML again (model:=/m/2024 an int).
STRING_PARAMETERS = {p.name for p in PARAMETERS if isinstance(p.default, str)}
EMPTY_STRINGS = ("''", '""')  # what sets a string parameter to "" (an empty argument keeps the file's)


def _node(context):
    overrides = {}
    for name in (p.name for p in PARAMETERS):
        value = LaunchConfiguration(name).perform(context)
        if value in EMPTY_STRINGS and name in STRING_PARAMETERS:
            overrides[name] = ""
        elif value != "":
            overrides[name] = value if name in STRING_PARAMETERS else yaml.safe_load(value)
    overrides = validate(overrides)  # 1 -> 1.0 for float parameters, and a bad value stops the launch here
    namespace = LaunchConfiguration("namespace").perform(context)
    name = LaunchConfiguration("node_name").perform(context)
    qualified = node_name(namespace, name)  # a name rcl would refuse stops the launch here
    cameras = overrides.get("cameras") or file_parameters(
        LaunchConfiguration("params_file").perform(context), qualified).get("cameras", [""])
    cameras = validate({"cameras": cameras})["cameras"]
    overrides = {name: ParameterValue(value, value_type=str) if name in STRING_PARAMETERS else value
                 for name, value in overrides.items()}
    sim_time = LaunchConfiguration("use_sim_time").perform(context)
    if sim_time != "":
        overrides["use_sim_time"] = yaml.safe_load(sim_time)
        if not isinstance(overrides["use_sim_time"], bool):
            raise ValueError(f"use_sim_time must be true or false, got {sim_time!r}")
    return [LifecycleNode(
        package="panoptic_ros", executable="panoptic_node", name=name,
        namespace=namespace, output="screen",
        parameters=[LaunchConfiguration("params_file"), overrides],
        ros_arguments=["--log-level", LaunchConfiguration("log_level").perform(context)],
        remappings=camera_remappings(cameras, LaunchConfiguration("camera").perform(context), CAMERA),
    )]


def generate_launch_description() -> LaunchDescription:
    """The launch arguments (one per node parameter, empty: the params file's value) and the node."""
    share = get_package_share_directory("panoptic_ros")
    return LaunchDescription([
        DeclareLaunchArgument("camera", default_value=CAMERA,
                              description="camera image topic; with several cameras, a list of one topic each"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of the node"),
        DeclareLaunchArgument("node_name", default_value=NODE_NAME,
                              description="name of the node (two in one namespace need two names); its topics "
                                          "are ~/..., so they follow it"),
        DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "panoptic.yaml"),
                              description="parameters file"),
        DeclareLaunchArgument("use_sim_time", default_value="",
                              description="true: the /clock topic's time (a bag played with --clock); "
                                          "unset: the params file's value, else false"),
        DeclareLaunchArgument("log_level", default_value="info",
                              description="the node's log level: debug, info, warn, error or fatal"),
        *[DeclareLaunchArgument(p.name, default_value="", description=f"{p.description} (launch argument unset: the params file's value)")
          for p in PARAMETERS],
        OpaqueFunction(function=_node),
    ])
