import pytest
import torch
import torch.nn.functional as F

from panoptic_ros.model.nearest import NearestGrid


@pytest.mark.parametrize("out_size", [(1024, 2048), (7, 5), (360, 480), (100, 900)])
@pytest.mark.parametrize("dtype", [torch.int32, torch.uint8])
def test_resize_equals_interpolate_for_every_id_and_leading_shape(out_size, dtype):
    high = 2**31 - 1 if dtype == torch.int32 else 256
    labels = torch.randint(0, high, (2, 3, 36, 48), dtype=dtype)
    grid = NearestGrid.between((36, 48), out_size, "cpu")
    expected = F.interpolate(labels.double(), size=out_size, mode="nearest").to(dtype)
    assert torch.equal(grid.resize(labels), expected)
    assert torch.equal(grid.resize(labels[0, 0]), expected[0, 0])


def test_resize_refuses_other_dtypes():
    with pytest.raises(TypeError, match="int32 or uint8"):
        NearestGrid.between((2, 2), (4, 4), "cpu").resize(torch.zeros(2, 2))
