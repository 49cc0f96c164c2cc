"""UPSNet's semantic head: deformable convolutions on each FPN level, fused at 1/4 scale.

The deformable stack is shared across P2..P5 (as in UPSNet); its offsets start at zero so the head
begins as an ordinary convolution and learns where to look.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.ops import DeformConv2d


class DeformConvBlock(nn.Module):
    """3x3 deformable convolution + GroupNorm + ReLU, offsets predicted from the input."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.offset = nn.Conv2d(in_channels, 2 * 9, 3, padding=1)
        nn.init.zeros_(self.offset.weight)
        nn.init.zeros_(self.offset.bias)
        self.conv = DeformConv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.norm = nn.GroupNorm(min(32, out_channels), out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        offset = self.offset(x)
        if x.device.type == "cpu" and x.dtype != torch.float32:
            # torchvision's CPU kernel has no bf16/fp16 path (its CUDA autocast handles precision itself).
            with torch.autocast("cpu", enabled=False):
                return F.relu(self.norm(self.conv(x.float(), offset.float())))
        return F.relu(self.norm(self.conv(x, offset)))


class ConvBlock(nn.Sequential):
    """3x3 convolution + GroupNorm + ReLU: the plain stand-in for ``DeformConvBlock``."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
                         nn.GroupNorm(min(32, out_channels), out_channels), nn.ReLU(inplace=True))


class SemanticHead(nn.Module):
    """Per-level (deformable) features -> upsampled to P2 -> concatenated -> class logits at 1/4.

    ``deformable=False`` swaps UPSNet's deformable layers for plain ones: torchvision's CPU kernel for
    deformable convolution makes training on a CPU about twice as slow.
    """

    def __init__(self, in_channels: int, channels: int, num_layers: int, num_classes: int,
                 deformable: bool = True) -> None:
        super().__init__()
        block = DeformConvBlock if deformable else ConvBlock
        self.blocks = nn.Sequential(*[block(in_channels if i == 0 else channels, channels) for i in range(num_layers)])
        self.classifier = nn.Conv2d(4 * channels, num_classes, 1)

    def forward(self, features: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """``features``: P2..P5. Returns (logits, fused features), both at P2's size."""
        size = features[0].shape[-2:]
        fused = torch.cat(
            [F.interpolate(self.blocks(f), size=size, mode="bilinear", align_corners=False) if i else self.blocks(f)
             for i, f in enumerate(features)],
            dim=1,
        )
        return self.classifier(fused), fused
