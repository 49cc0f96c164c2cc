"""Start panoptic_node with config/panoptic.yaml, its camera topic(s) and an optional namespace.

    ros2 launch panoptic_ros panoptic.launch.py camera:=/camera/image_raw device:=cuda mask_cues:=false
    ros2 launch panoptic_ros panoptic.launch.py cameras:="[front, left]" \
        camera:="[/front/image_raw, /left/image_raw]"

Every node parameter is a launch argument; an argument left empty keeps the params file's value.
``camera`` is the one camera's topic; with several ``cameras`` it is a list, one topic per camera, or
left at its default to keep each camera ``c`` on ``c/image``. The camera subscriptions' QoS is set
the standard way, in the params file:
``qos_overrides./camera/image_raw.subscription.{reliability,depth,history}`` (the remapped topic's name).

The node is launch_ros's ``LifecycleNode``, so launch's lifecycle events reach it. Its own
``autostart`` parameter (default true) configures and activates it; the action's ``autostart`` is
left off, or launch would ask an already active node to configure again.
"""
import os

import yaml
from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode

from panoptic_ros.ros.parameters import camera_remappings, validate

# name -> description; values are parsed as YAML (true, 0.3, [256, 512]) except for the strings.
NODE_PARAMETERS = {
    "autostart": "true, or false to leave configure/activate to a lifecycle manager",
    "model": "checkpoint path (empty: the shipped model)",
    "device": "auto, cpu, cuda or cuda:N",
    "precision": "fp32, fp16 or bf16",
    "mask_cues": "true, or false for the lightweight boxes-only mode",
    "head": "affinity, upsnet or heuristic (empty: the checkpoint's choice)",
    "score_threshold": "minimum detection score",
    "cameras": "camera names, e.g. [front, left]: camera c subscribes c/image and publishes ~/c/panoptic, ...",
    "input_transport": "raw or compressed",
    "publish_overlay": "publish ~/overlay even without subscribers",
    "overlay_alpha": "overlay opacity, 0..1",
    "overlay_max_size": "longest side of ~/overlay in pixels, 0 for the input's size",
    "inference_size": "[height, width] the network runs at, [0, 0] for the input's size",
    "diagnostics_period": "seconds between /diagnostics messages",
    "shutdown_timeout": "seconds a stop waits for the frame in inference",
}
DEFAULT_CAMERA = "/camera/image_raw"  # config/panoptic.yaml sets its subscription's QoS overrides
STRING_PARAMETERS = {"model", "device", "precision", "head", "input_transport"}


def _node(context):
    overrides = {}
    for name in NODE_PARAMETERS:
        value = LaunchConfiguration(name).perform(context)
        if value != "":
            overrides[name] = value if name in STRING_PARAMETERS else yaml.safe_load(value)
    cameras = validate({"cameras": overrides.get("cameras", [""])})["cameras"]
    return [LifecycleNode(
        package="panoptic_ros", executable="panoptic_node", name="panoptic",
        namespace=LaunchConfiguration("namespace"), output="screen",
        parameters=[LaunchConfiguration("params_file"), overrides],
        remappings=camera_remappings(cameras, LaunchConfiguration("camera").perform(context), DEFAULT_CAMERA),
    )]


def generate_launch_description():
    share = get_package_share_directory("panoptic_ros")
    return LaunchDescription([
        DeclareLaunchArgument("camera", default_value=DEFAULT_CAMERA,
                              description="camera image topic; with several cameras, a list of one topic each"),
        DeclareLaunchArgument("namespace", default_value="", description="namespace of the node"),
        DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "panoptic.yaml"),
                              description="parameters file"),
        *[DeclareLaunchArgument(name, default_value="", description=f"{desc} (empty: params file)")
          for name, desc in NODE_PARAMETERS.items()],
        OpaqueFunction(function=_node),
    ])
