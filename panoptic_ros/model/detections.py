"""Batched, padded detections: the one shape every panoptic head consumes."""
from __future__ import annotations

import dataclasses

import torch


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
