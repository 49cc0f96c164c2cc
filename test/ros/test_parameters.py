import pytest

from panoptic_ros.ros.parameters import PARAMETERS, camera_remappings, validate
from panoptic_ros.ros.topics import camera_topic


def test_defaults_are_valid():
    defaults = {p.name: p.default for p in PARAMETERS}
    assert validate(dict(defaults)) == defaults


@pytest.mark.parametrize("values,message", [
    ({"precision": "fp64"}, "must be one of"),
    ({"score_threshold": 1.5}, "must be <= 1.0"),
    ({"diagnostics_period": 0}, "must be >= 0.05"),
    ({"mask_cues": "yes"}, "must be bool"),
    ({"inference_size": [0, 256]}, "inference_size"),
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


def test_launch_remappings_pair_each_camera_with_its_topic():
    default = "/camera/image_raw"
    assert camera_remappings([""], default, default) == [
        ("image", default), ("image/compressed", default + "/compressed")]
    assert camera_remappings(["front"], "/f/image_raw", default) == [
        ("front/image", "/f/image_raw"), ("front/image/compressed", "/f/image_raw/compressed")]
    assert camera_remappings(["front", "left"], "[/f/image_raw, /l/image_raw]", default) == [
        ("front/image", "/f/image_raw"), ("front/image/compressed", "/f/image_raw/compressed"),
        ("left/image", "/l/image_raw"), ("left/image/compressed", "/l/image_raw/compressed")]
    assert camera_remappings(["front", "left"], default, default) == []  # each camera stays on c/image
    for camera in ("[/f/image_raw]", "/f/image_raw", "[/f/image_raw, 3]", "[/f/image_raw, '']"):
        with pytest.raises(ValueError, match="one topic per camera"):
            camera_remappings(["front", "left"], camera, default)
