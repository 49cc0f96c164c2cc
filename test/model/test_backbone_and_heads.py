import pytest
import torch
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList

from panoptic_ros.config import BackboneConfig, InstanceHeadConfig
from panoptic_ros.model.backbone import FPN_LEVELS, build_backbone
from panoptic_ros.structures import Detections
from panoptic_ros.model.instance_head import MASK_SIZE, CachedAnchorGenerator, InstanceHead
from panoptic_ros.model.semantic_head import SemanticHead


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50", "resnet101",
                                  "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"])
def test_fpn_levels_and_strides(name):
    backbone = build_backbone(BackboneConfig(name=name, fpn_channels=32, norm="frozen_bn", trainable_layers=2)).eval()
    with torch.no_grad():
        feats = backbone(torch.zeros(1, 3, 64, 128))
    assert tuple(feats) == FPN_LEVELS
    assert [tuple(f.shape[-2:]) for f in feats.values()] == [(16, 32), (8, 16), (4, 8), (2, 4), (1, 2)]
    assert all(f.shape[1] == 32 for f in feats.values())
    if name.startswith("resnet"):
        trainable = {n.split(".")[0] for n, p in backbone.body.named_parameters() if p.requires_grad}
        assert trainable == {"layer3", "layer4"}


def test_semantic_head_fuses_levels_at_quarter_scale():
    head = SemanticHead(in_channels=16, channels=8, num_layers=2, num_classes=5)
    feats = [torch.randn(2, 16, 16 // 2 ** k, 32 // 2 ** k) for k in range(4)]
    logits, fused = head(feats)
    assert logits.shape == (2, 5, 16, 32) and fused.shape == (2, 32, 16, 32)
    assert torch.all(head.blocks[0].offset.weight == 0)  # deformable offsets start at zero


def test_instance_head_pads_detections_and_gives_one_mask_per_slot():
    torch.manual_seed(0)
    head = InstanceHead(InstanceHeadConfig(anchor_sizes=(8, 16, 32, 64, 128), rpn_pre_nms_top_n=50,
                                           rpn_post_nms_top_n=20, box_representation=32, mask_head_channels=8,
                                           mask_head_layers=1, detections_per_image=7, score_threshold=0.0),
                        in_channels=16, num_things=3).eval()
    feats = {k: torch.randn(2, 16, 16 // 2 ** i, 32 // 2 ** i) for i, k in enumerate(FPN_LEVELS)}
    images = ImageList(torch.zeros(2, 3, 64, 128), [(64, 128)] * 2)
    with torch.no_grad():
        dets, _, losses = head.detect(images, feats)
        masks = head.mask_logits(feats, dets, (64, 128))
    assert losses == {} and dets.boxes.shape[:2] == dets.labels.shape == dets.valid.shape
    assert dets.num_slots <= 7 and bool(((dets.labels >= 1) & (dets.labels <= 3))[dets.valid].all())
    assert masks.shape == (2, dets.num_slots, MASK_SIZE, MASK_SIZE)


def test_detections_from_lists_pads_with_invalid_slots():
    d = Detections.from_lists([torch.ones(2, 4), torch.ones(0, 4)], [torch.tensor([1, 2]), torch.zeros(0, dtype=torch.long)])
    assert d.boxes.shape == (2, 2, 4) and d.valid.tolist() == [[True, True], [False, False]]
    assert d.scores.tolist() == [[1.0, 1.0], [0.0, 0.0]]
    empty = Detections.from_lists([torch.ones(0, 4)], [torch.zeros(0, dtype=torch.long)])
    assert empty.num_slots == 0 and empty.valid.shape == (1, 0)


def test_anchors_are_torchvisions_and_made_again_only_when_the_grid_changes():
    args = (((8,), (16,), (32,)), ((0.5, 1.0, 2.0),) * 3)
    cached, reference = CachedAnchorGenerator(*args), AnchorGenerator(*args)
    for h, w in ((64, 96), (64, 96), (96, 64)):
        images = ImageList(torch.zeros(2, 3, h, w), [(h, w)] * 2)
        feats = [torch.zeros(2, 4, h // s, w // s) for s in (4, 8, 16)]
        first = cached(images, feats)[0]
        expected = reference(images, feats)
        assert len(cached(images, feats)) == 2
        for got in cached(images, feats):
            torch.testing.assert_close(got, expected[0], rtol=0, atol=0)
        assert cached(images, feats)[0] is first  # remembered, not made again
