from panoptic_ros.ros.entry import node_command
from panoptic_ros.ros.topics import OUTPUTS, RESULT_OUTPUTS, camera_topic, input_topic, node_name, node_topic


def test_outputs_are_the_results_then_the_overlay():
    assert list(RESULT_OUTPUTS) == ["panoptic", "semantic", "segments"]
    assert list(OUTPUTS) == ["panoptic", "semantic", "segments", "overlay"]


def test_topic_names():
    assert (input_topic(False), input_topic(True)) == ("image", "image/compressed")  # image_transport's names
    assert camera_topic("", "image") == "image" and camera_topic("rig/left", "panoptic") == "rig/left/panoptic"
    assert (node_name(), node_name("/ns/"), node_name("ns")) == ("/panoptic", "/ns/panoptic", "/ns/panoptic")
    assert node_topic("segments") == "/panoptic/segments" and node_topic("categories", "/ns") == "/ns/panoptic/categories"


def test_node_command_passes_parameters_and_remappings():
    cmd = node_command({"device": "cpu", "inference_size": "[256,512]"}, {"image": "/cam/image_raw"})
    assert cmd[1:4] == ["-m", "panoptic_ros.ros.node", "--ros-args"]
    assert cmd[4:] == ["-p", "device:=cpu", "-p", "inference_size:=[256,512]", "-r", "image:=/cam/image_raw"]
