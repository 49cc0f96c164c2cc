"""Image sizes: the network's size for a frame, the ``inference_size`` check, and that the parameter
table (what the launch file imports) loads without PyTorch or OpenCV."""
import subprocess
import sys

import pytest

from panoptic_ros.image_size import check_inference_size, inference_size_or_none, network_size


@pytest.mark.parametrize("image,inference,expected", [
    ((1080, 1920), (360, 0), (360, 640)),     # 16:9 keeps its shape
    ((375, 1242), (360, 0), (360, 1192)),     # a KITTI frame, not squeezed 2.5x into 480 columns
    ((360, 480), (360, 0), (360, 480)),       # CamVid: the size the model was trained at
    ((1080, 1920), (0, 480), (270, 480)),
    ((4000, 10), (360, 0), (360, 32)),        # never narrower than the network's smallest side
    ((1, 100), (360, 0), (360, 1440)), ((100, 1), (0, 360), (1440, 360)),  # a sliver costs at most 4:1
    ((1080, 1920), (360, 480), (360, 480)),   # both given: exactly that
    ((1080, 1920), (0, 0), (1080, 1920)), ((1080, 1920), None, (1080, 1920))])
def test_the_network_size_keeps_the_aspect_ratio_where_a_side_is_zero(image, inference, expected):
    assert network_size(image, inference) == expected


@pytest.mark.parametrize("size,expected", [([360, 0], (360, 0)), ((0, 640), (0, 640)), ([360, 480], (360, 480)),
                                           ([0, 0], None), ((0, 0), None), (None, None), ([], None)])
def test_each_inputs_own_size_is_none_however_it_is_said(size, expected):
    assert inference_size_or_none(size) == expected


@pytest.mark.parametrize("size", [[360, 0], [0, 640], [0, 0], [32, 8192]])
def test_inference_sizes_allowed(size):
    check_inference_size(size)


@pytest.mark.parametrize("size,message", [([-1, 480], "whole numbers"), ([360], "whole numbers"),
                                          ([360.0, 0], "whole numbers"), ([16, 0], "out of range"),
                                          ([0, 9000], "out of range")])
def test_inference_sizes_refused_with_the_name_given(size, message):
    with pytest.raises(ValueError, match=f"--inference-size .*{message}|--inference-size {message}"):
        check_inference_size(size, "--inference-size")


def test_the_node_parameters_load_without_pytorch_or_opencv():
    """``ros2 launch`` imports the parameter table; it must not wait seconds for a deep-learning stack,
    nor fail where that stack lives in another environment than the launch tools."""
    code = ("import sys, panoptic_ros.ros.parameters; "
            "print(sorted(m for m in ('torch', 'cv2', 'PIL') if m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "[]"
