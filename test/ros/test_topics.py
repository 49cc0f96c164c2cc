from panoptic_ros.ros.topics import (
    OUTPUTS, RESULT_OUTPUTS, camera_input_topic, camera_topic, input_topic, node_name, node_topic,
)


def test_outputs_are_the_results_then_the_overlay():
    assert list(RESULT_OUTPUTS) == ["panoptic", "semantic", "segments"]
    assert list(OUTPUTS) == ["panoptic", "semantic", "segments", "overlay"]


def test_topic_names():
    assert (input_topic(False), input_topic(True)) == ("image", "image/compressed")  # image_transport's names
    assert camera_topic("", "image") == "image" and camera_topic("rig/left", "panoptic") == "rig/left/panoptic"
    assert (node_name(), node_name("/ns/"), node_name("ns")) == ("/panoptic", "/ns/panoptic", "/ns/panoptic")
    assert node_topic("segments") == "/panoptic/segments" and node_topic("categories", "/ns") == "/ns/panoptic/categories"


def _resolver(remappings: dict[str, str]):
    """A node's ``resolve_topic_name`` in the root namespace with these remappings."""
    def resolve(name: str, only_expand: bool = False) -> str:
        full = "/" + name
        return full if only_expand else remappings.get(full, full)
    return resolve


def test_a_camera_s_compressed_input_follows_its_remapped_image_topic_as_image_transport_names_it():
    moved = _resolver({"/image": "/cam/image_raw"})
    assert camera_input_topic("", False, moved) == "image"
    assert camera_input_topic("", True, moved) == "/cam/image_raw/compressed"
    assert camera_input_topic("", True, _resolver({})) == "/image/compressed"
    own = _resolver({"/image": "/cam/image_raw", "/image/compressed": "/other/compressed"})
    assert camera_input_topic("", True, own) == "image/compressed"  # remapped itself: resolved by the node
    assert camera_input_topic("left", True, _resolver({"/left/image": "/l/raw"})) == "/l/raw/compressed"
