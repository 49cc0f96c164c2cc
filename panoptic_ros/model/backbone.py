"""ResNet + FPN backbone from torchvision building blocks.

Module names match torchvision's ``maskrcnn_resnet50_fpn`` (``body``/``fpn``) so its state dicts,
or a plain ResNet's, load into the matching parts.
"""
from __future__ import annotations

from functools import partial

import torch.nn as nn
import torchvision
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.ops import FrozenBatchNorm2d
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from panoptic_ros.config import BackboneConfig

FPN_LEVELS = ("0", "1", "2", "3", "pool")  # P2 (1/4) .. P5 (1/32), P6 (1/64)


def _norm_layer(kind: str) -> type[nn.Module] | partial:
    if kind == "frozen_bn":
        return FrozenBatchNorm2d
    if kind == "bn":
        return nn.BatchNorm2d
    return partial(nn.GroupNorm, 32)


def build_backbone(cfg: BackboneConfig) -> BackboneWithFPN:
    resnet = getattr(torchvision.models, f"resnet{cfg.depth}")(weights=None, norm_layer=_norm_layer(cfg.norm))
    stages = ["layer4", "layer3", "layer2", "layer1", "conv1"][: cfg.trainable_layers]
    if "conv1" in stages:
        stages.append("bn1")
    for name, param in resnet.named_parameters():
        param.requires_grad_(any(name.startswith(s) for s in stages))
    c2 = resnet.inplanes // 8  # layer1 width: 64 (BasicBlock) or 256 (Bottleneck)
    return BackboneWithFPN(
        resnet,
        return_layers={"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"},
        in_channels_list=[c2, c2 * 2, c2 * 4, c2 * 8],
        out_channels=cfg.fpn_channels,
        extra_blocks=LastLevelMaxPool(),
    )
