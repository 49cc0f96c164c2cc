"""The wait-free parts give torchvision's results: RoI pooling, box decoding, proposal filtering."""
import pytest
import torch
from torchvision.models.detection._utils import BoxCoder
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.rpn import RegionProposalNetwork, RPNHead
from torchvision.ops import MultiScaleRoIAlign

from panoptic_ros.tools.bench_dispatch import DispatchCounter
from panoptic_ros.model.wait_free import FixedSizeRPN, LevelSelectRoIAlign, WaitFreeBoxCoder

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
    assert counts == {True: 0, None: 5}  # otherwise one per FPN level and the level mapper's tensor


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


def test_box_decoding_is_torchvision_s_bit_for_bit_without_a_tensor_from_host_data():
    g = torch.Generator().manual_seed(1)
    boxes = torch.rand(40, 2, generator=g) * 300
    boxes = torch.cat([boxes, boxes + torch.rand(40, 2, generator=g) * 100], dim=1)
    codes = torch.randn(40, 3 * 4, generator=g)
    codes[0, 2] = 20.0  # beyond the clip of the log-scale
    for weights in ((1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)):
        ours, theirs = WaitFreeBoxCoder(weights), BoxCoder(weights)
        counter = DispatchCounter()
        with counter:
            got = ours.decode(codes, [boxes[:25], boxes[25:]])
        assert torch.equal(got, theirs.decode(codes, [boxes[:25], boxes[25:]]))
        assert counter.waits["other"] == 0
        for low in (torch.half, torch.bfloat16):  # low-precision deltas decode in float32 (bf16: 8 px steps at 1024+)
            assert torch.equal(ours.decode(codes.to(low), [boxes.to(low)]),
                               theirs.decode(codes.to(low).float(), [boxes.to(low).float()]))


def test_counting_sees_a_tensor_built_from_host_data():
    counter = DispatchCounter()
    with counter:
        torch.tensor([1.0, 2.0])
    assert counter.waits["other"] == 1


@pytest.mark.parametrize("score_threshold, min_size", [(0.0, 1e-3), (0.6, 3.0)])
def test_fixed_size_proposals_are_torchvision_s_then_padding(score_threshold, min_size):
    """Two images through an RPN of random weights, both ways: the same proposals and probabilities
    in the same order, then empty padding up to ``post_nms_top_n`` (more than NMS leaves of 1000
    candidates; one level with fewer anchors than ``pre_nms_top_n``)."""
    torch.manual_seed(0)
    kwargs = dict(anchor_generator=AnchorGenerator(((16,), (32,), (64,), (128,)), ((0.5, 1.0, 2.0),) * 4),
                  head=RPNHead(8, 3), fg_iou_thresh=0.7, bg_iou_thresh=0.3, batch_size_per_image=256,
                  positive_fraction=0.5, pre_nms_top_n={"training": 300, "testing": 300},
                  post_nms_top_n={"training": 900, "testing": 900}, nms_thresh=0.7,
                  score_thresh=score_threshold)
    ours = FixedSizeRPN(**kwargs).eval()
    ours.wait_free = True
    theirs = RegionProposalNetwork(**kwargs).eval()
    theirs.load_state_dict(ours.state_dict())
    proposals = torch.rand(2, 2000, 2) * 200
    proposals = torch.cat([proposals, proposals + torch.rand(2, 2000, 2) * 60], dim=2)  # some past the image
    objectness = torch.randn(2 * 2000, 1) * 3
    sizes = [(180, 220)] * 2
    levels = [1000, 600, 300, 100]
    with torch.inference_mode():
        got_boxes, got_scores = ours.filter_proposals(proposals, objectness, sizes, levels)
        boxes, scores = theirs.filter_proposals(proposals, objectness, sizes, levels)
    for b, s, gb, gs in zip(boxes, scores, got_boxes, got_scores, strict=True):
        n = len(b)
        assert 0 < n < 900 and gb.shape == (900, 4)
        assert torch.equal(gb[:n], b)
        assert torch.allclose(gs[:n], s, rtol=1e-6, atol=0)  # the sigmoid's last bit depends on the layout
        assert (gb[n:] == 0).all() and (gs[n:] == 0).all()
