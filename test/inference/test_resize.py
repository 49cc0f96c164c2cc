import pytest
import torch
import torch.nn.functional as F

from panoptic_ros.inference.resize import check_inference_size, network_size, resize_rgb


@pytest.mark.parametrize("size,target", [((301, 517), (128, 256)), ((100, 140), (352, 480)), ((64, 96), (63, 97))])
def test_input_resize_is_within_one_grey_level_of_the_float_computation(size, target):
    gen = torch.Generator().manual_seed(size[0])
    image = torch.randint(0, 256, (*size, 3), dtype=torch.uint8, generator=gen).permute(2, 0, 1)  # as messages arrive
    exact = F.interpolate(image[None].double(), size=target, mode="bilinear", align_corners=False,
                          antialias=True)[0].round().clamp(0, 255)
    out = resize_rgb(image, target)
    assert out.dtype == torch.uint8 and out.shape == (3, *target)
    assert (out.double() - exact).abs().max() <= 1


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


@pytest.mark.parametrize("size", [[360, 0], [0, 640], [0, 0], [32, 8192]])
def test_inference_sizes_allowed(size):
    check_inference_size(size)


@pytest.mark.parametrize("size,message", [([-1, 480], "whole numbers"), ([360], "whole numbers"),
                                          ([360.0, 0], "whole numbers"), ([16, 0], "out of range"),
                                          ([0, 9000], "out of range")])
def test_inference_sizes_refused_with_the_name_given(size, message):
    with pytest.raises(ValueError, match=f"--inference-size .*{message}|--inference-size {message}"):
        check_inference_size(size, "--inference-size")
