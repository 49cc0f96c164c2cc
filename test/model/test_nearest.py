import tracemalloc

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


@pytest.mark.parametrize("out_size", [(1, 100_000), (100_000, 1), (2, 3)])
def test_a_sliver_frame_costs_memory_in_proportion_to_its_own_size(out_size):
    """A 1 x 100000 frame from a 360-row map: gathering columns first held 360 x 100000 values (a
    3000000 x 1 PNG of 3 KB then took 4 GB); the smaller intermediate goes first."""
    labels = torch.randint(0, 1000, (360, 480), dtype=torch.int32)
    grid = NearestGrid.between((360, 480), out_size, "cpu")
    tracemalloc.start()
    try:
        out = grid.resize(labels)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    expected = F.interpolate(labels[None, None].double(), size=out_size, mode="nearest")[0, 0].to(torch.int32)
    assert torch.equal(out, expected)
    assert peak < 2 * out.numel() * 4 + 2_000_000  # the output, plus an intermediate no larger than it


@pytest.mark.parametrize("small,out_size,then", [((16, 20), (6, 8), (4, 5)), ((9, 16), (180, 320), (56, 100)),
                                                 ((5, 5), (5, 5), (9, 2))])
def test_a_grid_then_another_resize_reads_what_resizing_its_output_would(small, out_size, then):
    labels = torch.randint(0, 1000, small, dtype=torch.int32)
    grid = NearestGrid.between(small, out_size, "cpu")
    twice = F.interpolate(grid.resize(labels)[None, None].double(), size=then, mode="nearest")[0, 0].int()
    assert torch.equal(grid.then(then).resize(labels), twice)
    assert grid.direct and not grid.then(then).direct  # so that off the CPU it is not one interpolation
    if torch.cuda.is_available():  # off the CPU, resize interpolates: not for a composed grid
        assert torch.equal(grid.then(then).to("cuda").resize(labels.cuda()).cpu(), twice)
