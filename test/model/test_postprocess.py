import torch

from panoptic_ros.structures import Detections
from panoptic_ros.model.postprocess import drop_covered, instance_masks, suppress_overlaps, void_small_stuff
from panoptic_ros.model.upsnet_head import NEG

S = 2  # stuff channels; channel 2 is unknown, 3.. detection slots


def _dets(boxes, labels, scores, valid=None) -> Detections:
    valid = torch.ones(1, len(boxes), dtype=torch.bool) if valid is None else torch.tensor([valid])
    return Detections(torch.tensor([boxes], dtype=torch.float32), torch.tensor([labels]),
                      torch.tensor([scores]), valid)


def test_overlap_suppression_is_class_agnostic_and_keeps_the_higher_score():
    dets = _dets([[0, 0, 10, 10], [0, 0, 10, 9], [20, 0, 30, 10], [0, 0, 10, 10]], [1, 2, 1, 1],
                 [0.6, 0.9, 0.8, 0.5], [True, True, True, False])
    kept = suppress_overlaps(dets, 0.7)
    # slot 0 (car) overlaps slot 1 (person, higher score) by 0.9: gone; slot 3 is padding, never suppresses
    assert kept.valid.tolist() == [[False, True, True, False]]
    assert suppress_overlaps(dets, 1.0).valid.tolist() == dets.valid.tolist()


def test_mostly_covered_instances_are_dropped_and_their_pixels_re_decided():
    # 1x8 image. Slot 0 (channel 3) wins columns 0-5; slot 1's own mask is columns 4-7 but it wins only
    # columns 6-7 (half): kept at min_visible 0.5; slot 2's mask is columns 0-4, it wins nothing: dropped.
    logits = torch.full((1, S + 1 + 3, 1, 8), -5.0)
    logits[0, 3, 0, :6] = 5.0
    logits[0, 4, 0, 6:] = 5.0
    logits[0, 5, 0, :2] = 4.0
    logits[0, 0, 0, :2] = 3.0
    masks = torch.zeros(1, 3, 1, 8, dtype=torch.bool)
    masks[0, 0, 0, :6] = masks[0, 1, 0, 4:] = masks[0, 2, 0, :5] = True
    channels, confidence = drop_covered(logits, masks, S, 0.5)
    assert channels[0, 0].tolist() == [3, 3, 3, 3, 3, 3, 4, 4]
    # Slot 0 gone from columns 0-1: slot 2 wins them, 2 of its 5 mask pixels: dropped, road takes them.
    logits[0, 3, 0, :2] = NEG
    channels, _ = drop_covered(logits, masks, S, 0.5)
    assert channels[0, 0, :2].tolist() == [0, 0]
    kept, _ = drop_covered(logits, masks, S, 0.0)
    assert kept[0, 0, :2].tolist() == [5, 5]


def test_small_stuff_segments_become_void():
    channels = torch.tensor([[[0, 0, 0, 0, 0, 0, 1, 3, 2, 0]]])  # road 7 px, sky 1 px, a thing, unknown
    assert void_small_stuff(channels, S, 0.15).tolist() == [[[0, 0, 0, 0, 0, 0, 2, 3, 2, 0]]]
    assert torch.equal(void_small_stuff(channels, S, 0.0), channels)


def test_instance_masks_come_from_the_mask_pixels_or_box_and_semantic_class():
    sem = torch.zeros(1, 3, 4, 4)
    sem[0, 2, :, :2] = 5.0  # the thing class on the left half
    dets = _dets([[0, 0, 4, 4]], [1], [0.9])
    without = instance_masks(sem, dets, None, S)
    assert without[0, 0, :, :2].all() and not without[0, 0, :, 2:].any()
    pasted = torch.full((1, 1, 4, 4), -1.0)
    pasted[0, 0, 1:3, 1:3] = 2.0
    with_cues = instance_masks(sem, dets, pasted > 0, S)
    assert with_cues[0, 0].tolist() == (pasted[0, 0] > 0).tolist()


def _sequential_mask_removal(dets, pixels, max_overlap):
    """UPSNet's official rule, one detection at a time in descending score (the obvious reference)."""
    valid = dets.valid.clone()
    for b in range(valid.shape[0]):
        order = torch.argsort(torch.where(valid[b], dets.scores[b], -1.0), descending=True, stable=True)
        kept = {}
        for j in order.tolist():
            if not valid[b, j]:
                continue
            mask, label = pixels[b, j], int(dets.labels[b, j])
            earlier = kept.get(label)
            if not mask.any() or (earlier is not None and int((earlier & mask).sum()) > max_overlap * int(mask.sum())):
                valid[b, j] = False
                continue
            kept[label] = mask if earlier is None else earlier | mask
    return valid


def test_mask_removal_is_upsnets_sequential_rule_without_a_loop_over_detections():
    from panoptic_ros.model.postprocess import remove_overlapping_masks
    g = torch.Generator().manual_seed(0)
    for _ in range(40):
        b, n, h, w = 2, 12, 24, 32
        corner = torch.randint(0, 18, (b, n, 2), generator=g)
        size = torch.randint(2, 10, (b, n, 2), generator=g)
        ys, xs = torch.arange(h)[None, None, :, None], torch.arange(w)[None, None, None, :]
        pixels = ((ys >= corner[..., 0, None, None]) & (ys < (corner + size)[..., 0, None, None])
                  & (xs >= corner[..., 1, None, None]) & (xs < (corner + size)[..., 1, None, None]))
        pixels[0, 0] = False  # an empty mask goes too
        dets = Detections(torch.zeros(b, n, 4), torch.randint(1, 3, (b, n), generator=g), torch.rand(b, n, generator=g),
                          torch.rand(b, n, generator=g) > 0.15)
        got = remove_overlapping_masks(dets, pixels, 0.3).valid
        assert torch.equal(got, _sequential_mask_removal(dets, pixels, 0.3))
    assert remove_overlapping_masks(dets, pixels, 1.0) is dets  # 1: off
