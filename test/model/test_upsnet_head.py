import torch

from panoptic_ros.model.detections import Detections
from panoptic_ros.model.upsnet_head import NEG, box_masks, paste_in_boxes, upsnet_logits

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
    # Inside the box: Y = X[car] + M = 7, unknown = max thing (5) - max instance (7) = -2.
    assert torch.allclose(inst[:, :2], torch.full((4, 2), 7.0))
    assert torch.allclose(unknown[:, :2], torch.full((4, 2), -2.0))
    # Column 2: a car pixel outside every box -> unknown = 5 - 0; the instance has no say.
    assert torch.allclose(unknown[:, 2], torch.full((4,), 5.0))
    assert torch.all(inst[:, 2:] == NEG)
    winner = logits.argmax(dim=1)[0]
    assert torch.all(winner[:, :2] == 3) and torch.all(winner[:, 2] == 2) and torch.all(winner[:, 3] == ROAD)


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


def test_box_masks_and_paste_use_cell_centres():
    boxes = torch.tensor([[[4.0, 0.0, 12.0, 8.0]]])
    inside = box_masks(boxes, (4, 4), stride=4.0)[0, 0]
    expected = torch.zeros(4, 4, dtype=torch.bool)
    expected[:2, 1:3] = True
    assert torch.equal(inside, expected)
    pasted = paste_in_boxes(torch.ones(1, 1, 28, 28), boxes, (4, 4), 4.0)[0, 0]
    assert torch.allclose(pasted[expected], torch.ones(4)) and torch.all(pasted[~expected] == 0)
