import pytest
import torch
import torch.nn.functional as F

from panoptic_ros.inference.resize import resize_rgb


@pytest.mark.parametrize("size,target", [((301, 517), (128, 256)), ((100, 140), (352, 480)), ((64, 96), (63, 97))])
def test_input_resize_is_within_one_grey_level_of_the_float_computation(size, target):
    gen = torch.Generator().manual_seed(size[0])
    image = torch.randint(0, 256, (*size, 3), dtype=torch.uint8, generator=gen).permute(2, 0, 1)  # as messages arrive
    exact = F.interpolate(image[None].double(), size=target, mode="bilinear", align_corners=False,
                          antialias=True)[0].round().clamp(0, 255)
    out = resize_rgb(image, target)
    assert out.dtype == torch.uint8 and out.shape == (3, *target)
    assert (out.double() - exact).abs().max() <= 1
