import pytest
import torch
from torchvision.models.detection._utils import BoxCoder
from torchvision.ops import nms

from panoptic_ros.tools.bench_dispatch import DispatchCounter
from panoptic_ros.model.fixed_size_detection import fixed_size_detections, fixed_size_proposals, greedy_nms


def _clustered_boxes(images: int, k: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Boxes in a few tight clusters (suppression chains), random scores: [B, K, 4], [B, K]."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.rand(images, 6, 2, generator=g) * 200
    pick = torch.randint(0, 6, (images, k), generator=g)
    centre = centres.gather(1, pick[..., None].expand(-1, -1, 2)) + torch.randn(images, k, 2, generator=g) * 6
    half = 10 + torch.rand(images, k, 2, generator=g) * 20
    return torch.cat([centre - half, centre + half], dim=-1), torch.rand(images, k, generator=g)


def _torchvision_keep(boxes, scores, valid, threshold) -> torch.Tensor:
    keep = torch.zeros_like(valid)
    for i in range(len(boxes)):
        index = valid[i].nonzero()[:, 0]
        keep[i, index[nms(boxes[i, index], scores[i, index], threshold)]] = True
    return keep


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.7])
def test_greedy_nms_keeps_what_torchvision_keeps(threshold):
    boxes, scores = _clustered_boxes(3, 300, seed=1)
    valid = scores > 0.2
    expected = _torchvision_keep(boxes, scores, valid, threshold)
    assert torch.equal(greedy_nms(boxes, scores, valid, threshold), expected)


def test_greedy_nms_with_too_few_rounds_for_a_chain_only_ever_drops_boxes():
    """A row of boxes, each overlapping the next by IoU 0.54 and the one after by 0.25, in descending
    score: greedy NMS keeps every second one, and each round of the fixed point settles one more box."""
    k = 30
    x = torch.arange(k, dtype=torch.float32) * 3
    boxes = torch.stack([x, torch.zeros(k), x + 10, torch.full((k,), 10.0)], dim=1)[None]
    scores = torch.linspace(1, 0.5, k)[None]
    valid = torch.ones(1, k, dtype=torch.bool)
    greedy = _torchvision_keep(boxes, scores, valid, 0.5)
    assert torch.equal(greedy[0], torch.arange(k) % 2 == 0)
    for rounds in range(1, k + 2):
        kept = greedy_nms(boxes, scores, valid, 0.5, rounds=rounds)[0]
        assert torch.equal(kept, greedy[0] & (torch.arange(k) < rounds)), rounds  # the settled ones


def test_greedy_nms_ignores_invalid_boxes_and_never_makes_the_host_wait():
    boxes, scores = _clustered_boxes(1, 50, seed=3)
    valid = torch.zeros_like(scores, dtype=torch.bool)
    valid[0, :10] = True
    scores[0, 10:] = 2.0  # invalid boxes score highest: they must suppress nothing
    counter = DispatchCounter()
    with counter, torch.inference_mode():
        kept = greedy_nms(boxes, scores, valid, 0.5)
    assert not kept[0, 10:].any()
    assert torch.equal(kept, _torchvision_keep(boxes, scores, valid, 0.5))
    assert counter.waits["other"] == 0


def test_fixed_size_proposals_pad_to_post_nms_top_n_in_descending_objectness():
    boxes, logits = _clustered_boxes(2, 120, seed=4)
    boxes[0, :5, 2:] = boxes[0, :5, :2] + 1e-4  # too small: never proposals, however high they score
    logits[0, :5] = 10.0
    filled = torch.ones(1, 120, dtype=torch.bool)  # one level's block of 120
    picked, scores = fixed_size_proposals(boxes[:, None], (logits * 8 - 4)[:, None], filled, (150, 180), 1e-3,
                                          0.0, 0.7, 100)
    assert picked.shape == (2, 100, 4) and scores.shape == (2, 100)
    valid = scores > 0
    assert valid[0].sum() < 100  # clusters: NMS leaves fewer than 100, the rest is padding
    assert (picked[~valid] == 0).all()
    assert (scores[0] < 0.99).all()  # none of the small boxes (probability 1.0; the others at most 0.982)
    assert (scores[:, :-1] >= scores[:, 1:]).all()  # descending, padding last
    assert (picked[..., 0::2] <= 180).all() and (picked[..., 1::2] <= 150).all() and (picked >= 0).all()


@pytest.mark.parametrize("max_entries", [None, 80 * 80])  # None: one pass; 80 x 80: a pass per (image, class)
def test_fixed_size_detections_match_torchvision_s_post_processing(max_entries, monkeypatch):
    """Every (proposal, class) pair is a candidate; the same boxes, labels and scores as torchvision's
    ``RoIHeads.postprocess_detections`` (score threshold, empty boxes, NMS per class, top N), in one
    pass or in the passes that bound memory for many classes."""
    if max_entries is not None:
        monkeypatch.setattr("panoptic_ros.model.fixed_size_detection.MAX_NMS_ENTRIES", max_entries)
    from torchvision.models.detection.roi_heads import RoIHeads
    g = torch.Generator().manual_seed(5)
    b, p, classes, n = 2, 80, 4, 10
    proposals, _ = _clustered_boxes(b, p, seed=6)
    proposals[1, 60:] = 0  # padding slots: empty boxes
    logits = torch.randn(b * p, classes, generator=g) * 3
    regression = torch.randn(b * p, classes * 4, generator=g) * 0.2
    coder = BoxCoder((10.0, 10.0, 5.0, 5.0))
    heads = RoIHeads(None, None, None, 0.5, 0.5, 512, 0.25, None, 0.3, 0.5, n)
    boxes, scores, labels = heads.postprocess_detections(logits, regression, list(proposals.unbind(0)), [(200, 220)] * b)
    dets = fixed_size_detections(logits, regression, proposals, coder, (200, 220), 0.3, 0.5, n)
    assert dets.boxes.shape == (b, n, 4)
    for i in range(b):
        k = int(dets.valid[i].sum())
        assert k == len(boxes[i]) and dets.valid[i, :k].all()
        assert torch.equal(dets.labels[i, :k], labels[i]) and torch.allclose(dets.scores[i, :k], scores[i])
        assert torch.allclose(dets.boxes[i, :k], boxes[i])
        assert (dets.labels[i, k:] == 0).all() and (dets.boxes[i, k:] == 0).all()


def test_tied_detections_come_out_in_torchvision_s_order():
    """Three far-apart proposals whose two classes all score alike: torchvision's stable sort keeps
    (proposal, class) order among ties, and which of them survive the top-N cut depends on it."""
    from torchvision.models.detection.roi_heads import RoIHeads
    proposals = torch.tensor([[[0.0, 0, 10, 10], [50, 50, 60, 60], [100, 0, 110, 10]]])
    logits = torch.tensor([[0.0, 5.0, 5.0]]).repeat(3, 1)
    regression = torch.zeros(3, 3 * 4)
    heads = RoIHeads(None, None, None, 0.5, 0.5, 512, 0.25, None, 0.3, 0.5, 4)
    boxes, scores, labels = heads.postprocess_detections(logits, regression, [proposals[0]], [(200, 200)])
    dets = fixed_size_detections(logits, regression, proposals, BoxCoder((10.0, 10.0, 5.0, 5.0)), (200, 200),
                                 0.3, 0.5, 4)
    assert torch.equal(dets.labels[0], labels[0]) and torch.equal(dets.boxes[0], boxes[0])
