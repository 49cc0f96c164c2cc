import pytest

from panoptic_ros.ros.parameters import PARAMETERS, camera_remappings, file_parameters, validate
from panoptic_ros.ros.topics import camera_topic


def test_defaults_are_valid():
    defaults = {p.name: p.default for p in PARAMETERS}
    assert validate(dict(defaults)) == defaults


@pytest.mark.parametrize("values,message", [
    ({"precision": "fp64"}, "must be one of"),
    ({"score_threshold": 1.5}, "must be <= 1.0"),
    ({"score_threshold": -1.5}, "must be >= -1.0"),
    ({"diagnostics_period": 0}, "must be >= 0.05"),
    ({"mask_cues": "yes"}, "must be bool"),
    ({"inference_size": [-1, 256]}, "inference_size"),
    ({"inference_size": [16, 16]}, "out of range"),
    ({"nonsense": 1}, "unknown parameter"),
    ({"cameras": []}, "cameras"),
    ({"cameras": ["front", "front"]}, "distinct"),
    ({"cameras": ["", "left"]}, "cameras"),  # the unnamed camera only alone
    ({"cameras": ["/front"]}, "cameras"),
    ({"cameras": ["front/"]}, "cameras"),
    ({"cameras": ["2nd"]}, "cameras"),
    ({"cameras": "front"}, "must be list"),
    ({"cameras": [["front"]]}, "cameras"),
])
def test_bad_values_are_refused_with_the_parameter_named(values, message):
    with pytest.raises(ValueError, match=message):
        validate(values)


def test_integers_are_accepted_for_float_parameters():
    assert validate({"overlay_alpha": 1}) == {"overlay_alpha": 1.0}


def test_camera_names_and_their_topics():
    assert validate({"cameras": ["front", "rig/left_1"]}) == {"cameras": ["front", "rig/left_1"]}
    assert [camera_topic(c, "image/compressed") for c in ("", "front", "rig/left")] == [
        "image/compressed", "front/image/compressed", "rig/left/image/compressed"]


@pytest.mark.parametrize("key,applies", [
    ("panoptic", False), ("/panoptic", False), ("/ns/panoptic", True), ("ns/panoptic", True), ("/**", True),
    ("/**/panoptic", True), ("/*/panoptic", True), ("/ns/*", True), ("/*", False),
    ("/other/panoptic", False)])
def test_params_file_keys_apply_to_a_node_as_rcl_matches_them(tmp_path, key, applies):
    path = tmp_path / "params.yaml"
    path.write_text(f"{key}:\n  ros__parameters:\n    cameras: [front]\n")
    assert file_parameters(path, "/ns/panoptic") == ({"cameras": ["front"]} if applies else {})
    assert file_parameters(tmp_path / "absent.yaml", "/ns/panoptic") == {}


def test_later_keys_of_a_params_file_override_earlier_ones(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("/**:\n  ros__parameters: {cameras: [a], head: upsnet}\n"
                    "panoptic:\n  ros__parameters: {cameras: [b]}\n")
    assert file_parameters(path, "/panoptic") == {"cameras": ["b"], "head": "upsnet"}


def test_launch_remappings_pair_each_camera_with_its_topic():
    default = "/camera/image_raw"
    assert camera_remappings([""], default, default) == [("image", default)]  # image/compressed follows it
    assert camera_remappings(["front"], "/f/image_raw", default) == [("front/image", "/f/image_raw")]
    assert camera_remappings(["front", "left"], "[/f/image_raw, /l/image_raw]", default) == [
        ("front/image", "/f/image_raw"), ("left/image", "/l/image_raw")]
    assert camera_remappings(["front", "left"], default, default) == []  # each camera stays on c/image
    for camera in ("[/f/image_raw]", "/f/image_raw", "[/f/image_raw, 3]", "[/f/image_raw, '']"):
        with pytest.raises(ValueError, match="one topic per camera"):
            camera_remappings(["front", "left"], camera, default)
