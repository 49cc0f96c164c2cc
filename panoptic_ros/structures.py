"""The data types every layer shares (model, data, eval, inference, ROS), and the panoptic id encoding.

Kept apart from the code that fills them so that the data layer can build ``PanopticTargets`` and
the eval and ROS layers can read a ``PanopticResult`` without importing the network.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING, NamedTuple, TypeVar

import numpy as np
import torch

if TYPE_CHECKING:
    from panoptic_ros.model.nearest import NearestGrid

# A panoptic id is category_id * ID_DIVISOR + instance_id (0 for stuff); VOID_ID marks void / unknown.
# The node's ~/panoptic images, the eval files and the replay's ground truth all use it.
ID_DIVISOR = 1000
VOID_ID = -1
# In COCO panoptic files (PNG ids R + 256 G + 256^2 B, 0 void) a segment's id is its panoptic id plus
# this, so that void, VOID_ID here, is COCO's 0
COCO_ID_OFFSET = 1
COCO_VOID_ID = VOID_ID + COCO_ID_OFFSET

Ids = TypeVar("Ids", np.ndarray, torch.Tensor)


def panoptic_id(category: Ids, instance: Ids) -> Ids:
    """Encode (category id, instance id) arrays or tensors; instance 0 for stuff."""
    return category * ID_DIVISOR + instance


def category_of(ids: Ids) -> Ids:
    """The category id of each (non-void) panoptic id."""
    return ids // ID_DIVISOR


def instance_of(ids: Ids) -> Ids:
    """The instance id of each (non-void) panoptic id; 0 for stuff."""
    return ids % ID_DIVISOR


@dataclasses.dataclass
class Detections:
    """``N`` detection slots per image; ``valid`` marks the real ones (the rest is padding).

    boxes: [B, N, 4] float (x0, y0, x1, y1) in network-input pixels; labels: [B, N] int64, 1-based
    thing label (0 on padding); scores: [B, N]; valid: [B, N] bool.
    """

    boxes: torch.Tensor
    labels: torch.Tensor
    scores: torch.Tensor
    valid: torch.Tensor

    @property
    def num_slots(self) -> int:
        return self.boxes.shape[1]

    def images(self, index: torch.Tensor) -> "Detections":
        """The detections of the images ``index`` [k] of the batch, in that order."""
        return Detections(self.boxes[index], self.labels[index], self.scores[index], self.valid[index])

    @classmethod
    def from_lists(cls, boxes: list[torch.Tensor], labels: list[torch.Tensor],
                   scores: list[torch.Tensor] | None = None) -> "Detections":
        """Pad per-image tensors (as torchvision returns them) into one batch."""
        device = boxes[0].device
        count = torch.tensor([len(b) for b in boxes], device=device)
        n = max(len(b) for b in boxes)
        valid = torch.arange(n, device=device)[None, :] < count[:, None]
        pad = torch.nn.utils.rnn.pad_sequence
        if n == 0:
            b = len(boxes)
            return cls(torch.zeros(b, 0, 4, device=device), torch.zeros(b, 0, dtype=torch.int64, device=device),
                       torch.zeros(b, 0, device=device), valid)
        if scores is None:
            scores = [torch.ones(len(b), device=device) for b in boxes]
        return cls(pad(boxes, batch_first=True), pad(labels, batch_first=True),
                   pad(scores, batch_first=True), valid)


@dataclasses.dataclass
class PanopticTargets:
    """Ground truth for a batch of equally sized images.

    semantic: [B, H, W] semantic channel (255 void); segments: [B, H, W] segment index (-1 void);
    instances: [B, H, W] index into that image's ``boxes`` (-1 for non-instance pixels);
    boxes / labels: per image [n, 4] float boxes and [n] 1-based thing labels.
    """

    semantic: torch.Tensor
    segments: torch.Tensor
    instances: torch.Tensor
    boxes: list[torch.Tensor]
    labels: list[torch.Tensor]

    def to(self, device: torch.device | str) -> "PanopticTargets":
        return PanopticTargets(self.semantic.to(device), self.segments.to(device), self.instances.to(device),
                               [b.to(device) for b in self.boxes], [lb.to(device) for lb in self.labels])


class SegmentRow(NamedTuple):
    """One segment's statistics on the host, as messages and files list them."""

    id: int
    category_id: int
    instance_id: int
    area: int
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (x1/y1 exclusive)
    score: float


@dataclasses.dataclass
class PanopticResult:
    """The network's output for one image, on the network's device; ids as ``panoptic_id``.

    The segments' statistics are those of the maps at the input's resolution, but the maps themselves
    (``panoptic``, ``semantic``) are written from the network's small ones on first use: a node whose
    label images nobody listens to never writes the full-size maps, nor copies them off the device.
    """

    segment_ids: torch.Tensor   # [K] int32, the values present in ``panoptic`` (void excluded)
    category_ids: torch.Tensor  # [K] int64
    instance_ids: torch.Tensor  # [K] int64, 0 for stuff
    scores: torch.Tensor        # [K] float32
    areas: torch.Tensor         # [K] int64 pixels
    boxes: torch.Tensor         # [K, 4] int64 x0, y0, x1, y1 (x1/y1 exclusive)
    coarse: torch.Tensor        # [h, w] int32 the network's panoptic map: ``panoptic == grid.resize(coarse)``
    coarse_semantic: torch.Tensor  # [h, w] uint8 its semantic map: ``semantic == grid.resize(coarse_semantic)``
    grid: NearestGrid
    mask_cues: bool = True

    @property
    def size(self) -> tuple[int, int]:
        """(H, W): the input's resolution, that of ``panoptic`` and ``semantic``."""
        return self.grid.out_size

    def write_maps(self) -> "PanopticResult":
        """This result with its full-size maps written now: for a tool that keeps them, so that writing
        them counts in its timing and fails (out of memory, say) inside its guard."""
        _ = self.panoptic, self.semantic  # each written once and kept (cached_property)
        return self

    @functools.cached_property
    def panoptic(self) -> torch.Tensor:
        """[H, W] int32 panoptic ids, ``VOID_ID`` = void."""
        return self.grid.resize(self.coarse)

    @functools.cached_property
    def semantic(self) -> torch.Tensor:
        """[H, W] uint8 category ids, 255 = void."""
        return self.grid.resize(self.coarse_semantic)

    def to(self, device: torch.device | str) -> "PanopticResult":
        return dataclasses.replace(self, **{f.name: getattr(self, f.name).to(device)
                                            for f in dataclasses.fields(self) if f.name != "mask_cues"})

    def segment_rows(self) -> list[SegmentRow]:
        """The segments' statistics on the host, in two copies (the integers, the scores): one per
        field would make every message or file wait for the device several times."""
        ints = torch.cat([self.segment_ids[:, None].long(), self.category_ids[:, None], self.instance_ids[:, None],
                          self.areas[:, None], self.boxes], dim=1).cpu().tolist()
        scores = self.scores.cpu().tolist()
        return [SegmentRow(sid, cat, inst, area, (x0, y0, x1, y1), score)
                for (sid, cat, inst, area, x0, y0, x1, y1), score in zip(ints, scores)]
