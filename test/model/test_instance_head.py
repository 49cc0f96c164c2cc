from pathlib import Path

import pytest
import torch

from panoptic_ros.tools.bench_dispatch import DispatchCounter
from panoptic_ros.data.camvid import CamVidDataset
from panoptic_ros.heads import HEAD_KINDS
from panoptic_ros.inference.predictor import shipped_model_path
from panoptic_ros.model.checkpoint import load_checkpoint
from panoptic_ros.model.wait_free import AvoidsHostWaits, wait_free_ways

CAMVID = Path(__file__).resolve().parents[3] / "shared" / "data" / "camvid"


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
    torchvision's (the CPU's way) on held-out CamVid frames (all 101 were compared once: see
    ``fixed_size_detection.NMS_ROUNDS``)."""
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
def test_on_cuda_the_default_way_never_waits_and_in_fp32_finds_torchvision_s_detections(shipped, precision):
    """In fp16 torchvision's own NMS rounds its boxes (offset per class) and scores in half precision,
    so only fp32 is compared detection by detection; both must not wait."""
    frame = torch.from_numpy(CamVidDataset(CAMVID, "heldout")[50].image).permute(2, 0, 1)
    model = shipped.cuda()
    try:
        with torch.autocast("cuda", dtype=precision, enabled=precision != torch.float32):
            expected = _detect(model, frame, "cuda", wait_free=False)  # torchvision's way, same device
            _detect(model, frame, "cuda")  # caches filled
            counter = DispatchCounter()
            with counter:
                got = _detect(model, frame, "cuda")
    finally:
        shipped.cpu()
    assert counter.waits["other"] == 0 and got.num_slots == shipped.cfg.instance.detections_per_image
    if precision == torch.float32:
        n = int(expected.valid.sum())
        assert n > 0 and int(got.valid.sum()) == n
        assert torch.equal(got.labels[0, :n], expected.labels[0, :n])
        assert torch.allclose(got.boxes[0, :n], expected.boxes[0, :n], atol=1e-3)


def test_every_head_s_panoptic_result_is_the_same_either_way(shipped):
    """The fixed-size detections carry padding slots where torchvision's carry none: no head may
    notice (one held-out frame, every head, both modes)."""
    frame = torch.from_numpy(CamVidDataset(CAMVID, "heldout")[60].image).permute(2, 0, 1)[None].contiguous()
    for head in HEAD_KINDS:
        for mask_cues in (True, False):
            expected = shipped.predict(frame, mask_cues, head)[0]
            with wait_free_ways(shipped):
                got = shipped.predict(frame, mask_cues, head)[0]
            assert torch.equal(got.panoptic, expected.panoptic), (head, mask_cues)
            assert torch.equal(got.segment_ids, expected.segment_ids)
            assert torch.allclose(got.scores, expected.scores)


def test_anchors_are_float32_whatever_the_features_precision():
    """torchvision makes anchors in the features' dtype: in bf16, 8 pixels apart above 1024."""
    from torchvision.models.detection.image_list import ImageList
    from panoptic_ros.model.instance_head import CachedAnchorGenerator

    images = ImageList(torch.zeros(1, 3, 1024, 2048), [(1024, 2048)])
    features = [torch.zeros(1, 4, 1024 // s, 2048 // s) for s in (4, 8, 16, 32, 64)]
    generator = CachedAnchorGenerator(((32,), (64,), (128,), (256,), (512,)), ((0.5, 1.0, 2.0),) * 5)
    exact = generator(images, features)[0]
    low = CachedAnchorGenerator(((32,), (64,), (128,), (256,), (512,)), ((0.5, 1.0, 2.0),) * 5)(
        images, [f.bfloat16() for f in features])[0]
    assert exact.dtype == low.dtype == torch.float32 and torch.equal(exact, low)
