import torch

from panoptic_ros.structures import Detections
from panoptic_ros.model.upsnet_head import IGNORE, NEG, box_masks, panoptic_targets, paste_in_boxes, upsnet_logits

ROAD, SKY, CAR, PERSON = 0, 1, 2, 3  # semantic channels: 2 stuff, then 2 things


def _case() -> tuple[torch.Tensor, Detections, torch.Tensor]:
    """4x4 grid: a car over columns 0-2 whose box covers only columns 0-1; road in column 3."""
    sem = torch.zeros(1, 4, 4, 4)
    sem[0, CAR, :, :3] = 5.0
    sem[0, ROAD, :, 3] = 5.0
    dets = Detections(torch.tensor([[[0.0, 0.0, 2.0, 4.0]]]), torch.tensor([[1]]), torch.tensor([[0.9]]),
                      torch.tensor([[True]]))
    masks = torch.full((1, 1, 28, 28), 2.0)
    return sem, dets, masks


def test_unknown_channel_claims_thing_pixels_no_instance_explains():
    sem, dets, masks = _case()
    logits, _ = upsnet_logits(sem, dets, masks, num_stuff=2, stride=1.0)
    assert logits.shape == (1, 2 + 1 + 1, 4, 4) and logits.dtype == torch.float32
    unknown, inst = logits[0, 2], logits[0, 3]
    # Inside the box: Y = X[car] + M = 7; unknown = max thing (5) - max box-cropped X[car] (5) = 0:
    # the mask logits take no part in the unknown class (UPSNet's official formula).
    assert torch.allclose(inst[:, :2], torch.full((4, 2), 7.0))
    assert torch.allclose(unknown[:, :2], torch.zeros(4, 2))
    # Column 2: a car pixel outside every box -> unknown = 5 - 0; the instance has no say.
    assert torch.allclose(unknown[:, 2], torch.full((4,), 5.0))
    assert torch.all(inst[:, 2:] == NEG)
    winner = logits.argmax(dim=1)[0]
    assert torch.all(winner[:, :2] == 3) and torch.all(winner[:, 2] == 2) and torch.all(winner[:, 3] == ROAD)


def test_unknown_channel_by_hand_with_two_overlapping_instances():
    """X: car logit 3, person logit 6 everywhere. A car box over columns 0-2 and a person box over
    columns 1-3, each with mask logits 4. Unknown = max(X_car, X_person) - max over the boxes covering
    the pixel of X[c_i] (0 where none): 6-3 in column 0, 6-6 in columns 1-2 and 3, 6-0 nowhere here."""
    sem = torch.zeros(1, 4, 4, 4)
    sem[0, CAR], sem[0, PERSON] = 3.0, 6.0
    dets = Detections(torch.tensor([[[0.0, 0.0, 3.0, 4.0], [1.0, 0.0, 4.0, 4.0]]]), torch.tensor([[1, 2]]),
                      torch.tensor([[0.9, 0.8]]), torch.tensor([[True, True]]))
    logits, _ = upsnet_logits(sem, dets, torch.full((1, 2, 28, 28), 4.0), num_stuff=2, stride=1.0)
    expected = torch.tensor([3.0, 0.0, 0.0, 0.0]).expand(4, 4)
    assert torch.allclose(logits[0, 2], expected)
    assert torch.allclose(logits[0, 3, :, :3], torch.full((4, 3), 7.0))   # car: 3 + 4 inside its box
    assert torch.allclose(logits[0, 4, :, 1:], torch.full((4, 3), 10.0))  # person: 6 + 4


def test_panoptic_targets_follow_the_channel_layout():
    semantic = torch.tensor([[[ROAD, SKY, CAR, CAR, PERSON, 255]]])
    instances = torch.tensor([[[-1, -1, 0, 1, 2, -1]]])
    shown_slot = torch.tensor([[1, -1, 0]])  # instance 0 in slot 1, instance 1 hidden, instance 2 in slot 0
    target = panoptic_targets(semantic, instances, shown_slot, num_stuff=2)
    assert target.tolist() == [[[ROAD, SKY, 2 + 1 + 1, 2, 2 + 1 + 0, IGNORE]]]
    none = panoptic_targets(semantic, torch.full_like(instances, -1), torch.zeros(1, 0, dtype=torch.long), 2)
    assert none.tolist() == [[[ROAD, SKY, 2, 2, 2, IGNORE]]]  # thing pixels of no instance: unknown, as UPSNet
    crowd = panoptic_targets(semantic, torch.tensor([[[-1, -1, 0, -1, 2, -1]]]), shown_slot, num_stuff=2)
    assert crowd.tolist() == [[[ROAD, SKY, 2 + 1 + 1, 2, 2 + 1 + 0, IGNORE]]]


def test_without_mask_cues_instances_start_from_box_and_class_logits():
    sem, dets, _ = _case()
    logits, inst = upsnet_logits(sem, dets, None, num_stuff=2, stride=1.0)
    assert torch.allclose(logits[0, 3, :, :2], torch.full((4, 2), 5.0))
    assert torch.all(inst.values[0, 0, :, 2:] == 0)


def test_padding_slots_never_win_and_no_detections_is_fine():
    sem, dets, masks = _case()
    padded = Detections(torch.cat([dets.boxes, torch.zeros(1, 1, 4)], 1), torch.tensor([[1, 0]]),
                        torch.tensor([[0.9, 0.0]]), torch.tensor([[True, False]]))
    logits, _ = upsnet_logits(sem, padded, torch.cat([masks, masks], 1), 2, 1.0)
    assert torch.all(logits[0, 4] == NEG)
    empty = Detections(torch.zeros(1, 0, 4), torch.zeros(1, 0, dtype=torch.long), torch.zeros(1, 0),
                       torch.zeros(1, 0, dtype=torch.bool))
    logits, _ = upsnet_logits(sem, empty, None, 2, 1.0)
    assert logits.shape == (1, 3, 4, 4)
    assert torch.allclose(logits[0, 2], sem[0, 2:].amax(0))  # unknown = max thing logit


def test_cell_centres_are_exact_for_bf16_boxes():
    boxes = torch.tensor([[[250.0, 0.0, 254.0, 2.0]]], dtype=torch.bfloat16)  # 4 columns wide at 480 columns
    inside = box_masks(boxes, (2, 480), stride=1.0)[0, 0]
    assert inside[0].nonzero().flatten().tolist() == [250, 251, 252, 253]


def test_box_masks_and_paste_use_cell_centres():
    boxes = torch.tensor([[[4.0, 0.0, 12.0, 8.0]]])
    inside = box_masks(boxes, (4, 4), stride=4.0)[0, 0]
    expected = torch.zeros(4, 4, dtype=torch.bool)
    expected[:2, 1:3] = True
    assert torch.equal(inside, expected)
    pasted = paste_in_boxes(torch.ones(1, 1, 28, 28), boxes, (4, 4), 4.0)[0, 0]
    assert torch.allclose(pasted[expected], torch.ones(4)) and torch.all(pasted[~expected] == 0)


def test_paste_reads_the_mask_border_not_zero_logits_at_the_box_edge():
    """Cell centres just inside the box (0.25 in a box from 0.24) sample beyond the mask's outer cell
    centres: they keep the mask's value there."""
    boxes = torch.tensor([[[0.24, 0.24, 2.76, 2.76]]])
    pasted = paste_in_boxes(torch.full((1, 1, 28, 28), 6.0), boxes, (8, 8), 0.5)[0, 0]
    inside = box_masks(boxes, (8, 8), 0.5)[0, 0]
    assert torch.allclose(pasted[inside], torch.full((int(inside.sum()),), 6.0))


def _paste_by_grid_sample(masks: torch.Tensor, boxes: torch.Tensor, size: tuple[int, int], stride: float) -> torch.Tensor:
    """The direct definition: bilinear ``grid_sample`` of each mask at the cells' centres (border padding)."""
    import torch.nn.functional as F
    b, n = masks.shape[:2]
    ys = (torch.arange(size[0], dtype=torch.float32) + 0.5) * stride
    xs = (torch.arange(size[1], dtype=torch.float32) + 0.5) * stride
    bx = boxes.reshape(b * n, 4)
    gx = (xs[None, :] - bx[:, 0:1]) / (bx[:, 2] - bx[:, 0])[:, None] * 2 - 1
    gy = (ys[None, :] - bx[:, 1:2]) / (bx[:, 3] - bx[:, 1])[:, None] * 2 - 1
    grid = torch.stack(torch.broadcast_tensors(gx[:, None, :], gy[:, :, None]), dim=-1)
    out = F.grid_sample(masks.reshape(b * n, 1, *masks.shape[2:]), grid, mode="bilinear", padding_mode="border",
                        align_corners=False)
    return out.reshape(b, n, *size) * box_masks(boxes, size, stride)


def test_the_separable_paste_is_bilinear_resampling_into_the_box():
    g = torch.Generator().manual_seed(0)
    for b, n, h, w, stride in ((2, 50, 45, 80, 4.0), (1, 5, 120, 200, 1.0), (1, 3, 8, 8, 0.5)):
        corner = torch.rand(b, n, 2, generator=g) * torch.tensor([w * stride, h * stride]) - 5
        boxes = torch.cat([corner, corner + torch.rand(b, n, 2, generator=g) * 60 * stride + 0.5], dim=-1)
        masks = torch.randn(b, n, 28, 28, generator=g)
        pasted = paste_in_boxes(masks, boxes, (h, w), stride)
        assert torch.allclose(pasted, _paste_by_grid_sample(masks, boxes, (h, w), stride), atol=1e-5)


def test_the_paste_stays_float32_under_autocast():
    boxes = torch.tensor([[[2.0, 3.0, 40.0, 30.0]]])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        pasted = paste_in_boxes(torch.randn(1, 1, 28, 28), boxes, (32, 48), 1.0)
    assert pasted.dtype == torch.float32
