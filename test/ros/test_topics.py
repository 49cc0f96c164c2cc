from panoptic_ros.ros.entry import node_command
from panoptic_ros.ros.topics import (
    COMPRESSED_IMAGE, IMAGE, OUTPUTS, RESULT_OUTPUTS, camera_topic, input_topic, node_name, node_topic,
)


def test_outputs_are_the_results_then_the_overlay():
    assert list(OUTPUTS) == [*RESULT_OUTPUTS, "overlay"]


def test_topic_names():
    assert input_topic(False) == IMAGE == camera_topic("", "image")
    assert camera_topic("rig/left", input_topic(True)) == "rig/left/" + COMPRESSED_IMAGE
    assert (node_name(), node_name("/ns/")) == ("/panoptic", "/ns/panoptic")
    assert node_topic("segments") == "/panoptic/segments" and node_topic("categories", "/ns") == "/ns/panoptic/categories"


def test_node_command_passes_parameters_and_remappings():
    cmd = node_command({"device": "cpu", "inference_size": "[256,512]"}, {"image": "/cam/image_raw"})
    assert cmd[1:4] == ["-m", "panoptic_ros.ros.node", "--ros-args"]
    assert cmd[4:] == ["-p", "device:=cpu", "-p", "inference_size:=[256,512]", "-r", "image:=/cam/image_raw"]
