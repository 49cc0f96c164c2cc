import torch

from panoptic_ros.structures import Detections
from panoptic_ros.model.matching import keep_some_instances, match_detections, pairwise_iou, positive_proposals


def _dets(boxes: list[list[float]], labels: list[int]) -> Detections:
    return Detections.from_lists([torch.tensor(boxes).reshape(-1, 4)], [torch.tensor(labels, dtype=torch.long)])


def test_pairwise_iou_by_hand():
    a = torch.tensor([[[0.0, 0.0, 2.0, 2.0]]])
    b = torch.tensor([[[1.0, 0.0, 3.0, 2.0], [5.0, 5.0, 6.0, 6.0]]])
    assert torch.allclose(pairwise_iou(a, b), torch.tensor([[[2 / 6, 0.0]]]))


def test_matching_is_one_to_one_by_class_and_overlap():
    gt = _dets([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]], [1, 1, 2])
    dets = _dets([[0, 0, 10, 9],      # instance 0, IoU 0.9
                  [0, 0, 10, 10],     # instance 0 again, IoU 1.0: it wins, the first is a duplicate
                  [20, 0, 30, 10],    # instance 1 box but the wrong class: no match
                  [40, 0, 50, 10]],   # instance 2
                 [1, 1, 2, 2])
    assert match_detections(dets, gt).tolist() == [[1, -1, 3]]


def test_matching_with_no_detections_or_no_ground_truth():
    gt = _dets([[0, 0, 10, 10]], [1])
    none = Detections.from_lists([torch.zeros(0, 4)], [torch.zeros(0, dtype=torch.long)])
    assert match_detections(none, gt).tolist() == [[-1]]
    assert match_detections(gt, none).shape == (1, 0)


def test_positive_proposals_draw_overlapping_boxes_and_add_the_ground_truth():
    gt = Detections.from_lists([torch.tensor([[0.0, 0, 10, 10], [20, 0, 30, 10]]), torch.zeros(0, 4)],
                               [torch.tensor([1, 2]), torch.zeros(0, dtype=torch.long)])
    proposals = [torch.tensor([[0.0, 0, 10, 9], [21, 0, 30, 10], [60, 60, 70, 70]]), torch.tensor([[0.0, 0, 5, 5]])]
    boxes, source = positive_proposals(proposals, gt, per_image=8)
    assert boxes.valid[0].sum() == 4 and boxes.valid[1].sum() == 0  # 2 positives + 2 GT; nothing to learn
    kept = source[0][boxes.valid[0]]
    assert sorted(kept.tolist()) == [0, 0, 1, 1]
    assert torch.equal(boxes.labels[0][boxes.valid[0]], torch.tensor([1, 2])[kept])
    capped, _ = positive_proposals(proposals, gt, per_image=1)
    assert capped.valid[0].sum() == 1 + 2


def test_keep_some_instances_keeps_about_the_fraction_and_at_least_one():
    torch.manual_seed(0)
    valid = torch.ones(2000, 5, dtype=torch.bool)
    valid[:, 3:] = False
    keep = keep_some_instances(valid, 0.7)
    assert not (keep & ~valid).any() and keep.any(dim=1).all()
    assert 0.68 < keep[:, :3].float().mean() < 0.8
    assert keep_some_instances(valid, 0.0).sum(dim=1).eq(1).all()
    assert keep_some_instances(torch.zeros(2, 0, dtype=torch.bool), 0.7).shape == (2, 0)
