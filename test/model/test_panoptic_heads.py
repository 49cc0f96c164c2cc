"""The three panoptic heads behind one interface: same inputs, same outputs, masks pasted once."""
from __future__ import annotations

import pytest
import torch

from panoptic_ros.heads import HEAD_KINDS
from panoptic_ros.model import upsnet_head
from panoptic_ros.model.affinity_head import AffinityHead
from panoptic_ros.config import PanopticHeadConfig
from panoptic_ros.model.panoptic_heads import PANOPTIC_HEADS, PanopticInputs, run_panoptic_head
from panoptic_ros.structures import Detections

S, T = 2, 2


def _inputs(mask_cues: bool, min_visible: float = 0.5) -> PanopticInputs:
    g = torch.Generator().manual_seed(0)
    boxes = torch.tensor([[1.0, 1.0, 9.0, 9.0], [4.0, 4.0, 14.0, 12.0], [0.0, 8.0, 6.0, 16.0]])
    dets = Detections.from_lists([boxes], [torch.tensor([1, 2, 1])], [torch.tensor([0.9, 0.8, 0.7])])
    masks = torch.randn(1, 3, 28, 28, generator=g) * 3 if mask_cues else None
    return PanopticInputs(torch.randn(1, S + T, 16, 16, generator=g) * 3, torch.randn(1, 8, 16, 16, generator=g),
                          dets, masks, AffinityHead(8, 4).eval(), 2, S, min_visible, PanopticHeadConfig().mask_removal)


def test_every_head_name_has_one_implementation():
    assert sorted(PANOPTIC_HEADS) == sorted(HEAD_KINDS)
    with pytest.raises(ValueError, match="unknown panoptic head 'nope'"):
        run_panoptic_head("nope", _inputs(True))  # type: ignore[arg-type]


@pytest.mark.parametrize("head", HEAD_KINDS)
@pytest.mark.parametrize("mask_cues", [True, False])
def test_every_head_returns_a_channel_map_and_a_confidence(head, mask_cues):
    with torch.no_grad():
        channels, confidence = run_panoptic_head(head, _inputs(mask_cues))
    assert channels.shape == confidence.shape == (1, 16, 16)
    assert channels.dtype == torch.int64 and 0 <= int(channels.min()) and int(channels.max()) < S + 1 + 3
    assert confidence.dtype == torch.float32 and bool(((confidence >= 0) & (confidence <= 1)).all())


@pytest.mark.parametrize("head", HEAD_KINDS)
def test_masks_are_pasted_once_per_frame_including_min_visible(head, monkeypatch):
    """``min_visible`` needs each instance's mask; the learnt heads reuse the paste behind their logits."""
    calls = []
    original = upsnet_head.paste_in_boxes

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(upsnet_head, "paste_in_boxes", counting)
    monkeypatch.setattr("panoptic_ros.model.panoptic_heads.paste_in_boxes", counting)
    with torch.no_grad():
        run_panoptic_head(head, _inputs(True, min_visible=0.5))
    assert len(calls) == 1


@pytest.mark.parametrize("head", ["upsnet", "affinity"])
def test_learnt_heads_drop_instances_by_their_pasted_masks(head):
    """The masks from the head's own paste give the same result as pasting again (the old way)."""
    x = _inputs(True, min_visible=0.9)
    with torch.no_grad():
        channels, _ = run_panoptic_head(head, x)
        kept, _ = run_panoptic_head(head, PanopticInputs(**{**x.__dict__, "min_visible": 0.0}))
        pasted = upsnet_head.paste_in_boxes(x.mask_logits, x.dets.boxes, (16, 16), 1.0)
    assert not torch.equal(channels, kept)  # the step acts on this frame
    dropped = set(kept.unique().tolist()) - set(channels.unique().tolist())
    area = (pasted > 0).sum(dim=(2, 3))[0]
    visible = torch.stack([(kept[0] == S + 1 + i).sum() for i in range(3)])
    assert dropped == {S + 1 + i for i in range(3) if visible[i] < 0.9 * area[i]}
