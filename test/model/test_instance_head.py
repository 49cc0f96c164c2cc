import pytest
import torch
from torchvision.ops import MultiScaleRoIAlign

from panoptic_ros.bench_dispatch import DispatchCounter
from panoptic_ros.model.instance_head import LevelSelectRoIAlign

LEVELS = ["0", "1", "2", "3"]
SIZE = (512, 512)


def _features_and_boxes(counts: list[int]) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    h, w = SIZE
    features = {name: torch.randn(len(counts), 8, h >> (k + 2), w >> (k + 2), generator=g)
                for k, name in enumerate(LEVELS)}
    boxes = []
    for n in counts:  # sides from 4 to 500 px: every FPN level gets some (level 3 from about 450)
        xy = torch.rand(n, 2, generator=g) * torch.tensor([w - 4.0, h - 4.0])
        boxes.append(torch.cat([xy, xy + 4 + torch.rand(n, 1, generator=g) ** 2 * 496], dim=1))
    return features, boxes


@pytest.mark.parametrize("output_size", [7, 14])
def test_pooling_every_level_gives_torchvision_s_values(output_size):
    features, boxes = _features_and_boxes([60, 0, 30])  # an image without boxes too
    ours = LevelSelectRoIAlign(LEVELS, output_size, 2)
    ours.every_level = True
    expected = MultiScaleRoIAlign(LEVELS, output_size, 2)(features, boxes, [SIZE] * 3)
    assert torch.equal(ours(features, boxes, [SIZE] * 3), expected)
    assert len(torch.unique(ours.map_levels(boxes))) == 4


def test_pooling_every_level_never_makes_the_host_wait_and_the_cpu_keeps_torchvision_s_way():
    features, boxes = _features_and_boxes([20, 5])
    pool = LevelSelectRoIAlign(LEVELS, 7, 2)
    pool(features, boxes, [SIZE] * 2)  # the first call sets up the levels' scales (host values), once
    counts = {}
    for every_level in (True, None):  # None on the CPU: torchvision's per-level selection
        pool.every_level = every_level
        counter = DispatchCounter()
        with counter:
            pool(features, boxes, [SIZE] * 2)
        counts[every_level] = counter.waits["other"]
    assert counts == {True: 0, None: 4}  # one wait per FPN level otherwise


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the path that pools every level runs on CUDA")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_on_cuda_inference_pools_every_level_with_torchvision_s_values_and_dtype(dtype):
    features, boxes = _features_and_boxes([60, 0, 30])
    features = {k: f.cuda() for k, f in features.items()}
    boxes = [b.cuda() for b in boxes]
    ours = LevelSelectRoIAlign(LEVELS, 7, 2).eval()
    with torch.autocast("cuda", dtype=dtype, enabled=dtype != torch.float32), torch.inference_mode():
        expected = MultiScaleRoIAlign(LEVELS, 7, 2)(features, boxes, [SIZE] * 3)
        ours(features, boxes, [SIZE] * 3)  # sets up the levels' scales, once
        counter = DispatchCounter()
        with counter:
            got = ours(features, boxes, [SIZE] * 3)
    assert got.dtype == expected.dtype and torch.equal(got, expected)
    assert counter.waits["other"] == 0
