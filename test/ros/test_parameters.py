import pytest

from panoptic_ros.ros.parameters import PARAMETERS, validate


def test_defaults_are_valid():
    validate({p.name: p.default for p in PARAMETERS})


@pytest.mark.parametrize("values,message", [
    ({"precision": "fp64"}, "must be one of"),
    ({"score_threshold": 1.5}, "must be <= 1.0"),
    ({"diagnostics_period": 0}, "must be >= 0.05"),
    ({"mask_cues": "yes"}, "must be bool"),
    ({"inference_size": [0, 256]}, "inference_size"),
    ({"inference_size": [16, 16]}, "out of range"),
    ({"nonsense": 1}, "unknown parameter"),
])
def test_bad_values_are_refused_with_the_parameter_named(values, message):
    with pytest.raises(ValueError, match=message):
        validate(values)


def test_integers_are_accepted_for_float_parameters():
    assert validate({"overlay_alpha": 1}) == {"overlay_alpha": 1.0}
