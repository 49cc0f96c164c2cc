from panoptic_ros.ros.topics import OUTPUTS, RESULT_OUTPUTS, camera_topic, input_topic, node_name, node_topic


def test_outputs_are_the_results_then_the_overlay():
    assert list(RESULT_OUTPUTS) == ["panoptic", "semantic", "segments"]
    assert list(OUTPUTS) == ["panoptic", "semantic", "segments", "overlay"]


def test_topic_names():
    assert (input_topic(False), input_topic(True)) == ("image", "image/compressed")  # image_transport's names
    assert camera_topic("", "image") == "image" and camera_topic("rig/left", "panoptic") == "rig/left/panoptic"
    assert (node_name(), node_name("/ns/"), node_name("ns")) == ("/panoptic", "/ns/panoptic", "/ns/panoptic")
    assert node_topic("segments") == "/panoptic/segments" and node_topic("categories", "/ns") == "/ns/panoptic/categories"
