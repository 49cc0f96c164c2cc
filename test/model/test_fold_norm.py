import dataclasses

import pytest
import torch
import torch.nn as nn
from timm.layers.norm_act import FrozenBatchNormAct2d
from torchvision.ops import FrozenBatchNorm2d

from helpers import small_categories, small_model_config
from panoptic_ros.config import BackboneConfig
from panoptic_ros.model.backbone import build_backbone
from panoptic_ros.model.checkpoint import save_checkpoint
from panoptic_ros.model.fold_norm import fold_batch_norms
from panoptic_ros.model.network import PanopticNet

NORMS = (FrozenBatchNorm2d, FrozenBatchNormAct2d, nn.BatchNorm2d)


def _randomise_statistics(module: nn.Module) -> None:
    """Norm layers far from the identity, so a wrong fold cannot pass unnoticed."""
    gen = torch.Generator().manual_seed(0)
    for m in module.modules():
        if isinstance(m, NORMS):
            for name, low, high in (("weight", 0.5, 1.5), ("bias", -0.5, 0.5), ("running_mean", -0.5, 0.5),
                                    ("running_var", 0.5, 2.0)):
                t = getattr(m, name)
                with torch.no_grad():
                    t.copy_(torch.empty(t.shape).uniform_(low, high, generator=gen))


@pytest.mark.parametrize("name,norm", [("resnet18", "frozen_bn"), ("resnet50", "bn"),
                                       ("efficientnet_lite0", "frozen_bn"), ("efficientnet_lite0", "bn")])
def test_every_norm_of_both_backbone_families_folds_and_features_stay_the_same(name, norm):
    backbone = build_backbone(BackboneConfig(name=name, fpn_channels=16, norm=norm, trainable_layers=5)).eval()
    _randomise_statistics(backbone)
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        before = backbone(x)
        norms = sum(isinstance(m, NORMS) for m in backbone.modules())
        assert fold_batch_norms(backbone) == norms >= 20
        after = backbone(x)
    assert not any(isinstance(m, NORMS) for m in backbone.modules())
    for level in before:
        torch.testing.assert_close(after[level], before[level], rtol=1e-4, atol=1e-4 * before[level].abs().max().item())


def test_a_batch_norm_that_still_learns_or_follows_no_conv_stays():
    learning = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))  # training mode: batch statistics
    assert fold_batch_norms(learning) == 0
    after_relu = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), FrozenBatchNorm2d(4)).eval()
    assert fold_batch_norms(after_relu) == 0 and isinstance(after_relu[2], FrozenBatchNorm2d)


def test_prepared_network_predicts_as_before_and_can_neither_train_nor_be_saved(tmp_path):
    torch.manual_seed(0)
    cfg = small_model_config()
    cfg = dataclasses.replace(cfg, backbone=dataclasses.replace(cfg.backbone, norm="frozen_bn"))
    model = PanopticNet(cfg, small_categories()).eval()
    _randomise_statistics(model)
    images = torch.randint(0, 256, (1, 3, 64, 96), dtype=torch.uint8)
    with torch.no_grad():
        before = model.semantic(model.extract(model.prepare(images)))[0]
        model.for_inference()
        after = model.semantic(model.extract(model.prepare(images)))[0]
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-4 * before.abs().max().item())
    assert model.for_inference() is model  # a second call changes nothing
    with pytest.raises(RuntimeError, match="folded"):
        model.train()
    with pytest.raises(ValueError, match="cannot be saved"):
        save_checkpoint(tmp_path / "m.pt", model, "m")
