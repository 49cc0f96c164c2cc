from pathlib import Path

import pytest
import torch
from torchvision.ops import MultiScaleRoIAlign

from panoptic_ros.bench_dispatch import DispatchCounter
from panoptic_ros.data.camvid import CamVidDataset
from panoptic_ros.heads import HEAD_KINDS
from panoptic_ros.inference.predictor import shipped_model_path
from panoptic_ros.model.checkpoint import load_checkpoint
from panoptic_ros.model.instance_head import AvoidsHostWaits, LevelSelectRoIAlign, wait_free_ways

CAMVID = Path(__file__).resolve().parents[3] / "shared" / "data" / "camvid"
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
    ours.wait_free = True
    expected = MultiScaleRoIAlign(LEVELS, output_size, 2)(features, boxes, [SIZE] * 3)
    assert torch.equal(ours(features, boxes, [SIZE] * 3), expected)
    assert len(torch.unique(ours.map_levels(boxes))) == 4


def test_pooling_every_level_never_makes_the_host_wait_and_the_cpu_keeps_torchvision_s_way():
    features, boxes = _features_and_boxes([20, 5])
    pool = LevelSelectRoIAlign(LEVELS, 7, 2)
    pool(features, boxes, [SIZE] * 2)  # the first call sets up the levels' scales (host values), once
    counts = {}
    for wait_free in (True, None):  # None on the CPU: torchvision's per-level selection
        pool.wait_free = wait_free
        counter = DispatchCounter()
        with counter:
            pool(features, boxes, [SIZE] * 2)
        counts[wait_free] = counter.waits["other"]
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


@pytest.fixture(scope="module")
def shipped():
    model, _ = load_checkpoint(shipped_model_path())
    return model.for_inference().eval()


def _detect(model, frame: torch.Tensor, device: str = "cpu", wait_free: bool | None = None):
    images = model.prepare(frame[None].to(device))
    with torch.inference_mode(), wait_free_ways(model, wait_free):
        return model.detect(images, model.extract(images))


@pytest.mark.parametrize("index", [0, 100])
def test_wait_free_detections_are_torchvision_s_on_real_frames(shipped, index):
    """Fixed-size proposal filtering and post-processing (the GPU's way) find the very detections of
    torchvision's (the CPU's way) on held-out CamVid frames; the sweep over all 101 is in the note."""
    frame = torch.from_numpy(CamVidDataset(CAMVID, "heldout")[index].image).permute(2, 0, 1)
    expected, got = _detect(shipped, frame), _detect(shipped, frame, wait_free=True)
    n = int(expected.valid.sum())
    assert n > 0 and got.num_slots == shipped.cfg.instance.detections_per_image
    assert int(got.valid.sum()) == n and got.valid[0, :n].all()
    assert torch.equal(got.labels[0, :n], expected.labels[0, :n])
    assert torch.allclose(got.scores[0, :n], expected.scores[0, :n])
    assert torch.allclose(got.boxes[0, :n], expected.boxes[0, :n], atol=1e-4)


def test_only_inference_on_cuda_takes_the_wait_free_ways_by_default(shipped):
    parts = [m for m in shipped.modules() if isinstance(m, AvoidsHostWaits)]
    assert len(parts) == 3  # the RPN's proposal filter (and with it the detections), two RoI pools
    cpu = torch.zeros(1)
    assert not any(p.use_wait_free(cpu) for p in parts)
    with wait_free_ways(shipped):
        assert all(p.use_wait_free(cpu) for p in parts)
    assert all(p.wait_free is None for p in parts)  # restored


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the wait-free ways run by default on CUDA")
@pytest.mark.parametrize("precision", [torch.float32, torch.float16])
def test_on_cuda_the_default_way_never_waits_and_finds_torchvision_s_detections(shipped, precision):
    frame = torch.from_numpy(CamVidDataset(CAMVID, "heldout")[50].image).permute(2, 0, 1)
    model = shipped.cuda()
    try:
        with torch.autocast("cuda", dtype=precision, enabled=precision != torch.float32):
            expected = _detect(model, frame, "cuda", wait_free=False)  # torchvision's way, same device and dtype
            _detect(model, frame, "cuda")  # caches filled
            counter = DispatchCounter()
            with counter:
                got = _detect(model, frame, "cuda")
    finally:
        shipped.cpu()
    n = int(expected.valid.sum())
    assert counter.waits["other"] == 0 and n > 0 and int(got.valid.sum()) == n
    assert torch.equal(got.labels[0, :n], expected.labels[0, :n])
    assert torch.allclose(got.boxes[0, :n].float(), expected.boxes[0, :n].float(), atol=1e-2)


def test_every_head_s_panoptic_result_is_the_same_either_way(shipped):
    """The fixed-size detections carry padding slots where torchvision's carry none: no head may
    notice (one held-out frame, every head, both modes; six frames were checked in session 13)."""
    frame = torch.from_numpy(CamVidDataset(CAMVID, "heldout")[60].image).permute(2, 0, 1)[None].contiguous()
    for head in HEAD_KINDS:
        for mask_cues in (True, False):
            expected = shipped.predict(frame, mask_cues, head)[0]
            with wait_free_ways(shipped):
                got = shipped.predict(frame, mask_cues, head)[0]
            assert torch.equal(got.panoptic, expected.panoptic), (head, mask_cues)
            assert torch.equal(got.segment_ids, expected.segment_ids)
            assert torch.allclose(got.scores, expected.scores)
