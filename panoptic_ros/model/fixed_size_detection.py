"""torchvision's proposal filtering and detection post-processing at a fixed size: no host waits.

torchvision's RPN and box head drop candidates step by step (small boxes, low scores, NMS, top-k), so
every step's output size depends on the data, and on a GPU the host waits for the device at each: a
one-argument ``where`` per filter, and NMS, which copies its overlap bitmask to the host for the greedy
sweep. Those waits were all that was left of them in the network (``panoptic-bench --tables
dispatch``), and a network that never waits is what lets the host queue a whole frame's kernels ahead
of the device (and, later, replay them as one CUDA graph).

Here no candidate is ever dropped: each keeps its slot and a validity mask says what torchvision would
have dropped, and the outputs have one size per configuration and input size (at most
``post_nms_top_n`` proposals and ``detections_per_img`` detections per image, padding marked
invalid). Greedy NMS is computed as the fixed point of "a box is kept unless a kept, higher-ranked
box of its group overlaps it by more than the threshold" (``greedy_nms``): the first round settles the
boxes nothing can suppress, and each further round the boxes whose longest chain of would-be
suppressors is one longer. The number of rounds is fixed (checking whether a round changed anything
would be a host wait): with more rounds than the longest chain in a frame the result is exactly greedy
NMS's, and a box still undecided after them is dropped, so a short count can only lose a box, never
keep a duplicate.
"""
from __future__ import annotations

import torch
from torchvision.models.detection._utils import BoxCoder
from torchvision.ops import clip_boxes_to_image

from panoptic_ros.model.matching import pairwise_iou
from panoptic_ros.structures import Detections

# Rounds of the fixed-point NMS (see the module docstring). On the 101 held-out CamVid frames, with
# the shipped model, the RPN's NMS settled within 9 rounds (10 give greedy NMS's result exactly) and
# the box head's within 3; every frame's detections were torchvision's (with 8 rounds, and with 12).
NMS_ROUNDS = 12
# Overlap entries (K x K per row) one pass of ``greedy_nms`` may hold: about 30 bytes each at its peak
# (the IoU's intermediates), so about 250 MB. The box head suppresses per class, so without a bound
# memory grows with classes x proposals^2: 2.4 GB for 80 classes of 1000 proposals (8 classes: one pass).
MAX_NMS_ENTRIES = 1 << 23


def _suppressors(boxes: torch.Tensor, ranked_valid: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """[B, K, K] bool: ``[b, i, j]`` when box j ranks above box i, is valid and overlaps it by more
    than ``iou_threshold`` (boxes already in rank order)."""
    k = boxes.shape[1]
    above = torch.ones(k, k, dtype=torch.bool, device=boxes.device).tril(-1)    # j < i
    return (pairwise_iou(boxes, boxes) > iou_threshold) & above & ranked_valid[:, None, :]


def _gather_boxes(boxes: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``boxes[b, index[b, i]]``: [B, K, 4] boxes picked by a [B, k] index."""
    return boxes.gather(1, index[..., None].expand(-1, -1, 4))


def rank_order(scores: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """[B, K] order of the slots by descending score, invalid ones last, ties by slot."""
    return torch.where(valid, scores.float(), float("-inf")).argsort(dim=1, descending=True, stable=True)


def greedy_nms(boxes: torch.Tensor, scores: torch.Tensor, valid: torch.Tensor, iou_threshold: float,
               rounds: int = NMS_ROUNDS) -> torch.Tensor:
    """Greedy non-maximum suppression of each row of a batch, of fixed size (see the module docstring).

    Args:
        boxes: [B, K, 4] (x0, y0, x1, y1); scores: [B, K]; valid: [B, K] bool, the candidates (others
            are ignored). Each row is suppressed on its own: one row per image and group (FPN level,
            class), as torchvision's ``batched_nms`` keeps groups apart, in K x K rather than (GK)^2.
        iou_threshold: a box is suppressed by a kept, higher-scored one that overlaps it by more.
        rounds: fixed-point rounds; boxes with longer suppression chains than this are dropped.
    Returns:
        [B, K] bool, the boxes kept, in the input's slot order.
    """
    if rounds < 1:
        raise ValueError(f"greedy_nms needs at least one round, got {rounds}")
    order = rank_order(scores, valid)
    ranked_valid = valid.gather(1, order)
    suppressors = _suppressors(_gather_boxes(boxes.float(), order), ranked_valid,
                               iou_threshold).to(torch.uint8)  # a uint8 max is many times a bool any on the CPU
    kept, previous = ranked_valid, ranked_valid
    for _ in range(rounds):  # kept: valid and not suppressed by a kept box (a > b is a and not b)
        previous, kept = kept, ranked_valid > (suppressors & kept[:, None, :]).amax(dim=2)
    decided = kept & previous  # undecided boxes alternate between rounds: drop them
    return torch.zeros_like(valid).scatter(1, order, decided)


def _nms_per_group(boxes: torch.Tensor, scores: torch.Tensor, valid: torch.Tensor,
                   iou_threshold: float) -> torch.Tensor:
    """[B, G, K] kept: ``greedy_nms`` within each of G groups of K candidates per image
    (boxes [B, G, K, 4], scores and valid [B, G, K]), in passes of at most ``MAX_NMS_ENTRIES``
    overlaps (rows are independent: the same result; the number of passes is fixed by the shapes)."""
    b, g, k = scores.shape
    rows = max(1, MAX_NMS_ENTRIES // max(1, k * k))
    boxes, scores, valid = boxes.reshape(b * g, k, 4), scores.reshape(b * g, k), valid.reshape(b * g, k)
    kept = [greedy_nms(boxes[i:i + rows], scores[i:i + rows], valid[i:i + rows], iou_threshold)
            for i in range(0, b * g, rows)]
    return torch.cat(kept).reshape(b, g, k)


def _best(boxes: torch.Tensor, scores: torch.Tensor, kept: torch.Tensor, n: int
          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ``n`` best kept of N candidates (boxes [B, N, 4], scores and kept [B, N]), ties in candidate
    order as torchvision's stable sort: ([B, n', 4] boxes, [B, n'] scores, [B, n'] candidate index,
    [B, n'] valid) in descending score, n' = min(n, N); boxes and scores zero where nothing was kept."""
    index = rank_order(scores, kept)[:, :n]
    valid = kept.gather(1, index)
    return (torch.where(valid[..., None], _gather_boxes(boxes, index), 0),
            torch.where(valid, scores.gather(1, index), 0), index, valid)


def _large_enough(boxes: torch.Tensor, min_size: float) -> torch.Tensor:
    """Both sides at least ``min_size`` (torchvision's ``remove_small_boxes`` as a mask)."""
    return ((boxes[..., 2] - boxes[..., 0]) >= min_size) & ((boxes[..., 3] - boxes[..., 1]) >= min_size)


def fixed_size_proposals(proposals: torch.Tensor, objectness: torch.Tensor, valid: torch.Tensor,
                         image_size: tuple[int, int], min_size: float, score_threshold: float,
                         nms_threshold: float, post_nms_top_n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The RPN's proposals as torchvision's ``filter_proposals`` picks them, padded to a fixed number.

    Args:
        proposals: [B, L, K, 4] decoded boxes of each FPN level's top-scored anchors; objectness:
            [B, L, K] their logits; valid: [B, L, K] (False where a level has fewer than K anchors).
        image_size: (h, w) the boxes are clipped to.
        min_size, score_threshold, nms_threshold, post_nms_top_n: the RPN's settings.
    Returns:
        ([B, P, 4] boxes in descending objectness, [B, P] their probabilities), P = min(L * K,
        ``post_nms_top_n``); boxes and probabilities of padding slots are zero (an empty box: whatever
        the box head decodes from it is empty too, so it never becomes a detection).
    """
    boxes = clip_boxes_to_image(proposals, image_size)
    scores = torch.sigmoid(objectness.float())
    valid = valid & _large_enough(boxes, min_size) & (scores >= score_threshold)
    kept = _nms_per_group(boxes, scores, valid, nms_threshold)                  # candidates level by level
    boxes, scores, _, _ = _best(boxes.flatten(1, 2), scores.flatten(1), kept.flatten(1), post_nms_top_n)
    return boxes, scores


def fixed_size_detections(class_logits: torch.Tensor, box_regression: torch.Tensor, proposals: torch.Tensor,
                          box_coder: BoxCoder, image_size: tuple[int, int], score_threshold: float,
                          nms_threshold: float, detections_per_image: int) -> Detections:
    """The box head's detections as torchvision's ``postprocess_detections`` makes them, padded.

    Every (proposal, thing class) pair is a candidate, as in torchvision: valid above
    ``score_threshold`` with a non-empty box, suppressed per class, the best ``detections_per_image``
    kept in descending score.

    Args:
        class_logits: [B * P, T + 1]; box_regression: [B * P, (T + 1) * 4] (the box predictor's);
        proposals: [B, P, 4] (empty boxes for padding slots); box_coder: the box head's.
        image_size: (h, w) the boxes are clipped to.
    Returns:
        ``Detections`` with min(P * T, ``detections_per_image``) slots (labels 1-based, padding zero).
    """
    b, p = proposals.shape[:2]
    classes = class_logits.shape[-1]
    boxes = box_coder.decode(box_regression, list(proposals.unbind(0))).reshape(b, p, classes, 4)
    boxes = clip_boxes_to_image(boxes[:, :, 1:], image_size)                     # [B, P, T, 4]
    scores = torch.softmax(class_logits.float(), -1).reshape(b, p, classes)[:, :, 1:]
    valid = (scores > score_threshold) & _large_enough(boxes, 1e-2)
    kept = _nms_per_group(boxes.transpose(1, 2), scores.transpose(1, 2), valid.transpose(1, 2), nms_threshold)
    # ranked over (proposal, class) pairs in torchvision's order, so that ties come out as its do
    boxes, scores, index, valid = _best(boxes.reshape(b, -1, 4), scores.reshape(b, -1),
                                        kept.transpose(1, 2).reshape(b, -1), detections_per_image)
    return Detections(boxes, torch.where(valid, index % (classes - 1) + 1, 0), scores, valid)
