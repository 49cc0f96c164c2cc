"""A frame gives the same panoptic output alone and in a batch with frames that have more detections
(padding slots must not reach any head), and void pixels never weigh in the affinity loss."""
from __future__ import annotations

import pytest
import torch

from panoptic_ros.heads import HEAD_KINDS
from panoptic_ros.model.affinity_head import AffinityHead
from panoptic_ros.structures import Detections
from panoptic_ros.config import PanopticHeadConfig
from panoptic_ros.model.panoptic_heads import PanopticInputs, run_panoptic_head

S, T = 2, 2  # stuff and thing classes


def _frame(seed: int, n: int) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    sem = torch.randn(1, S + T, 16, 16, generator=g) * 3
    fused = torch.randn(1, 8, 16, 16, generator=g)
    xy = torch.rand(n, 2, generator=g) * 10
    boxes = torch.cat([xy, xy + 2 + torch.rand(n, 2, generator=g) * 6], 1)
    labels = torch.randint(1, T + 1, (n,), generator=g)
    masks = torch.randn(n, 28, 28, generator=g) * 3
    return sem, fused, [boxes, labels, torch.rand(n, generator=g), masks]


def _outputs(frames: list, head: str, mask_cues: bool, affinity: AffinityHead) -> torch.Tensor:
    """Channel map and confidence of every frame, stacked: [2, B, H, W]."""
    sem = torch.cat([f[0] for f in frames])
    fused = torch.cat([f[1] for f in frames])
    dets = Detections.from_lists([f[2][0] for f in frames], [f[2][1] for f in frames], [f[2][2] for f in frames])
    n = dets.num_slots
    masks = torch.stack([torch.cat([f[2][3], torch.zeros(n - len(f[2][3]), 28, 28)]) for f in frames])
    inputs = PanopticInputs(sem, fused, dets, masks if mask_cues else None, affinity, 2, S, min_visible=0.5,
                            mask_removal=PanopticHeadConfig().mask_removal)
    channels, confidence = run_panoptic_head(head, inputs)
    return torch.stack([channels.float(), confidence])


@pytest.mark.parametrize("head", HEAD_KINDS)
@pytest.mark.parametrize("mask_cues", [True, False])
@pytest.mark.parametrize("own", [0, 1, 3])
def test_a_frame_alone_and_in_a_batch_give_identical_channels_and_confidences_up_to_rounding(head, mask_cues, own):
    torch.manual_seed(0)
    affinity = AffinityHead(8, 4).eval()
    frame, other = _frame(1, own), _frame(2, 5)
    with torch.no_grad():
        alone = _outputs([frame], head, mask_cues, affinity)
        batched = _outputs([frame, other], head, mask_cues, affinity)[:, :1]
    assert torch.equal(alone[0], batched[0])  # every pixel's channel
    assert torch.allclose(alone[1], batched[1], atol=1e-5), (alone - batched).abs().max()  # its confidence


def test_void_pixels_take_no_part_in_the_affinity_loss():
    torch.manual_seed(0)
    head = AffinityHead(8, 4)
    emb = torch.nn.functional.normalize(torch.randn(1, 4, 4, 4), dim=1)
    segments = torch.tensor([[0, 0, 1, 1]] * 2 + [[-1, -1, -1, -1]] * 2)[None]
    torch.manual_seed(1)
    loss = head.loss(emb, segments, 64)
    # Void pixels are neither drawn (while labelled ones exist) nor part of any row: what they embed
    # changes nothing.
    other = emb.clone()
    other[..., 2:, :] = torch.nn.functional.normalize(torch.randn(1, 4, 2, 4), dim=1)
    torch.manual_seed(1)
    assert torch.isfinite(loss) and loss > 0 and torch.equal(loss, head.loss(other, segments, 64))
    torch.manual_seed(1)
    all_void = head.loss(emb, torch.full_like(segments, -1), 64)
    assert all_void.item() == 0.0
