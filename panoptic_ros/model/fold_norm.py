"""Fold batch norms with fixed statistics into the convolutions that feed them, for inference.

A batch norm whose statistics no longer change (frozen, or any batch norm in eval mode) is an affine
map per channel, so ``bn(conv(x))`` equals one convolution with rescaled weights and a bias. Folding
removes, per norm layer, a pass over its activation map and the handful of small tensor ops that
recompute its scale and shift on every call: about 50 layers in EfficientNet-Lite0 and in ResNet-50,
which on a GPU cost more in kernel launches than the arithmetic they do (see the README's H100 table).

A norm is folded only where it is registered directly after a ``Conv2d`` of as many output channels
in the same parent (torchvision's ResNets and timm's EfficientNets register every conv-norm pair that
way, and run them in that order); any other norm stays as it is.
"""
from __future__ import annotations

import torch
import torch.nn as nn
from timm.layers.norm_act import BatchNormAct2d, FrozenBatchNormAct2d
from torchvision.ops import FrozenBatchNorm2d

_FROZEN = (FrozenBatchNorm2d, FrozenBatchNormAct2d)


def _foldable(norm: nn.Module) -> bool:
    if isinstance(norm, nn.BatchNorm2d):  # timm's BatchNormAct2d too; statistics fixed only in eval mode
        return not norm.training and norm.track_running_stats and norm.affine
    return isinstance(norm, _FROZEN)


def _after_norm(norm: nn.Module) -> nn.Module:
    """What the norm layer applies after normalising: timm's norm-act layers carry dropout and activation."""
    if isinstance(norm, (FrozenBatchNormAct2d, BatchNormAct2d)):
        return nn.Sequential(norm.drop, norm.act)
    return nn.Identity()


@torch.no_grad()
def fold_into_conv(conv: nn.Conv2d, norm: nn.Module) -> None:
    """Rescale ``conv`` in place so that it computes ``norm(conv(x))`` (before any activation of ``norm``).

    Args:
        conv: the convolution whose output only ``norm`` reads.
        norm: a batch norm with fixed statistics over ``conv.out_channels`` channels.
    """
    scale = norm.weight.double() * (norm.running_var.double() + norm.eps).rsqrt()
    conv_bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(scale)
    bias = (conv_bias - norm.running_mean.double()) * scale + norm.bias.double()
    conv.weight.copy_((conv.weight.double() * scale.view(-1, 1, 1, 1)).to(conv.weight.dtype))
    if conv.bias is None:
        conv.bias = nn.Parameter(bias.to(conv.weight.dtype), requires_grad=conv.weight.requires_grad)
    else:
        conv.bias.copy_(bias.to(conv.bias.dtype))


def fold_batch_norms(module: nn.Module) -> int:
    """Fold every foldable batch norm under ``module`` into its convolution (see the module docstring).

    Args:
        module: a network in eval mode; changed in place, for inference only (its state dict no longer
            matches its config, so it cannot be saved as a checkpoint or trained).
    Returns:
        How many norm layers were folded.
    """
    folded = 0
    for parent in list(module.modules()):
        children = list(parent.named_children())
        for (_, before), (name, norm) in zip(children, children[1:]):
            if (_foldable(norm) and isinstance(before, nn.Conv2d)
                    and before.out_channels == norm.running_mean.numel()):
                fold_into_conv(before, norm)
                setattr(parent, name, _after_norm(norm))
                folded += 1
    return folded
