"""The instance head's parts that can run without making the host wait for the device.

On a GPU the host queues kernels ahead of the device; an op whose output size or value the host needs
(a one-argument ``where``, NMS's copy to the host, a tensor built from host data) stops the host until
the device has caught up, so the next kernels start late. torchvision's RPN, box post-processing, RoI
pooling and box decoding each do so. The parts here keep torchvision's results and avoid the waits,
where that costs more arithmetic only in the GPU's way (``AvoidsHostWaits``).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.detection._utils import BoxCoder
from torchvision.models.detection.rpn import RegionProposalNetwork
from torchvision.ops import MultiScaleRoIAlign, box_area, poolers, roi_align

from panoptic_ros.model.fixed_size_detection import fixed_size_proposals


class AvoidsHostWaits:
    """A part with two ways to the same result: torchvision's, and one that never makes the host wait
    for the device, at the price of more arithmetic on it (so it pays only on a GPU, where a wait
    stalls the queue of kernels). ``wait_free`` picks: True, False, or None for the wait-free way at
    inference on CUDA; on the CPU nothing waits, and training keeps torchvision's way. The dispatch
    count and the tests set it to run the GPU's way on the CPU."""

    wait_free: bool | None = None
    training: bool

    def use_wait_free(self, on: torch.Tensor) -> bool:
        """Whether this call, on ``on``'s device, takes the wait-free way."""
        return self.wait_free if self.wait_free is not None else on.is_cuda and not self.training


@contextmanager
def wait_free_ways(module: nn.Module, wait_free: bool | None = True) -> Iterator[None]:
    """Every ``AvoidsHostWaits`` part of ``module`` set to ``wait_free`` for the block, then restored."""
    parts = [m for m in module.modules() if isinstance(m, AvoidsHostWaits)]
    saved = [part.wait_free for part in parts]
    try:
        for part in parts:
            part.wait_free = wait_free
        yield
    finally:
        for part, previous in zip(parts, saved, strict=True):
            part.wait_free = previous


class WaitFreeBoxCoder(BoxCoder):
    """torchvision's box coder with the same decoding arithmetic, minus its two ``torch.tensor(0.5,
    device=...)`` per call: on a GPU each is a copy from host memory, which waits for the device."""

    def decode_single(self, rel_codes: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        """[N, K * 4] box deltas applied to [N, 4] reference boxes: [N, K * 4] float32 boxes (x0, y0, x1, y1).

        In float32 whatever the deltas' precision (torchvision decodes in theirs): pixel coordinates
        need it, bf16 has 8 pixels between neighbouring values above 1024.
        """
        rel_codes, boxes = rel_codes.float(), boxes.float()
        size = (boxes[:, 2:] - boxes[:, :2])[:, None]              # [N, 1, (w, h)]
        centre = boxes[:, None, :2] + 0.5 * size
        codes = rel_codes.unflatten(1, (-1, 4))                    # [N, K, (dx, dy, dw, dh)]
        wx, wy, ww, wh = self.weights
        shift = torch.stack([codes[..., 0] / wx, codes[..., 1] / wy], dim=-1)
        log_scale = torch.stack([codes[..., 2] / ww, codes[..., 3] / wh], dim=-1).clamp(max=self.bbox_xform_clip)
        new_centre = shift * size + centre
        half = 0.5 * (torch.exp(log_scale) * size)
        return torch.cat([new_centre - half, new_centre + half], dim=-1).flatten(1)


class LevelSelectRoIAlign(MultiScaleRoIAlign, AvoidsHostWaits):
    """torchvision's multi-scale RoIAlign, without host waits at inference on a GPU.

    torchvision pools each FPN level's RoIs on their own, picked with ``torch.where(levels == l)``,
    whose data-dependent size makes the host wait for the device once per level: four waits per call,
    eight per frame with mask cues. The wait-free way pools every RoI at every level and keeps its own
    level's result: the same values (RoIAlign treats each RoI alone), L times the pooling arithmetic
    (and, in training, L times the memory of the pooled features and their gradients).
    """

    def forward(self, x: dict[str, torch.Tensor], boxes: list[torch.Tensor],
                image_shapes: list[tuple[int, int]]) -> torch.Tensor:
        """[sum of boxes, C, out, out] pooled features, as ``MultiScaleRoIAlign``."""
        if not self.use_wait_free(boxes[0]):
            return super().forward(x, boxes, image_shapes)
        features = [x[name] for name in self.featmap_names]
        if self.scales is None or self.map_levels is None:  # torchvision's own set-up, cached as it does
            self.scales, self.map_levels = poolers._setup_scales(features, image_shapes, self.canonical_scale,
                                                                 self.canonical_level)
        rois = torch.cat([torch.cat([torch.full_like(b[:, :1], i), b], dim=1) for i, b in enumerate(boxes)])
        levels = self._levels(rois[:, 1:])[:, None, None, None]
        out = None
        for level, (feature, scale) in enumerate(zip(features, self.scales)):
            pooled = roi_align(feature, rois, self.output_size, scale, self.sampling_ratio)
            out = pooled if out is None else torch.where(levels == level, pooled, out)
        return out.to(features[0].dtype)  # as torchvision's result (autocast may pool in another dtype)

    def _levels(self, boxes: torch.Tensor) -> torch.Tensor:
        """[N] FPN level index of each box (FPN's equation 1), as torchvision's ``LevelMapper`` computes
        it but with its epsilon a Python number: torchvision builds a tensor from it at every call."""
        m = self.map_levels
        level = torch.floor(m.lvl0 + torch.log2(torch.sqrt(box_area(boxes)) / m.s0) + m.eps)
        return level.clamp(min=m.k_min, max=m.k_max).to(torch.int64) - m.k_min


class FixedSizeRPN(RegionProposalNetwork, AvoidsHostWaits):
    """torchvision's RPN whose wait-free way filters proposals at a fixed size
    (``fixed_size_proposals``): as many per image whatever the frame (``post_nms_top_n`` unless the
    levels hold fewer anchors), padding slots empty boxes."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.box_coder = WaitFreeBoxCoder(self.box_coder.weights, self.box_coder.bbox_xform_clip)
        self._blocks: tuple[tuple, torch.Tensor] | None = None

    def _filled(self, num_anchors_per_level: list[int], k: int, device: torch.device) -> torch.Tensor:
        """[L, k] which slots of each level's block hold one of its top anchors (a level may have
        fewer than k), remembered for the last grid as the anchors are."""
        key = (tuple(num_anchors_per_level), k, device)
        if self._blocks is None or self._blocks[0] != key:
            slot = torch.arange(k, device=device)
            self._blocks = (key, torch.stack([slot < min(n, k) for n in num_anchors_per_level]))
        return self._blocks[1]

    def filter_proposals(self, proposals: torch.Tensor, objectness: torch.Tensor,
                         image_shapes: list[tuple[int, int]], num_anchors_per_level: list[int]
                         ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per image: (boxes [P, 4], objectness probabilities [P]), as torchvision's."""
        if not self.use_wait_free(proposals):
            return super().filter_proposals(proposals, objectness, image_shapes, num_anchors_per_level)
        if len(set(image_shapes)) != 1:
            raise ValueError(f"the fixed-size proposal filter needs one image size per batch, got {image_shapes}")
        b, k = proposals.shape[0], self.pre_nms_top_n()
        objectness = objectness.detach().reshape(b, -1)
        top, start = [], 0
        for n in num_anchors_per_level:  # each level's k best anchors (torchvision's pick) as one block
            index = objectness[:, start:start + n].topk(min(k, n), dim=1).indices + start
            top.append(F.pad(index, (0, k - index.shape[1])))  # a short level's padding: unfilled slots
            start += n
        index = torch.stack(top, dim=1).flatten(1)                        # [B, L * k]
        boxes, scores = fixed_size_proposals(
            proposals.gather(1, index[..., None].expand(-1, -1, 4)).view(b, -1, k, 4),
            objectness.gather(1, index).view(b, -1, k), self._filled(num_anchors_per_level, k, index.device),
            image_shapes[0], self.min_size, self.score_thresh, self.nms_thresh, self.post_nms_top_n())
        return list(boxes.unbind(0)), list(scores.unbind(0))
