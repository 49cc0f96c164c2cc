"""Training augmentation on ``PanopticSample``s (runs in DataLoader workers).

Geometry (scale jitter, crop, flip) moves image and label map together; labels are resampled with
nearest neighbour so segment ids stay exact. Colour jitter touches only the image.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from panoptic_ros.data.sample import PanopticSample


@dataclasses.dataclass
class Augmentation:
    scale: tuple[float, float] = (0.75, 1.25)
    crop: tuple[int, int] = (256, 512)
    hflip: bool = True
    color: float = 0.2

    def __call__(self, s: PanopticSample, rng: np.random.Generator) -> PanopticSample:
        image, seg = s.image, s.segments
        f = rng.uniform(*self.scale)
        if f != 1.0:
            size = (max(1, round(image.shape[1] * f)), max(1, round(image.shape[0] * f)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
            seg = cv2.resize(seg, size, interpolation=cv2.INTER_NEAREST)
        ch, cw = self.crop
        ph, pw = max(0, ch - image.shape[0]), max(0, cw - image.shape[1])
        if ph or pw:  # pad with void
            image = np.pad(image, ((0, ph), (0, pw), (0, 0)))
            seg = np.pad(seg, ((0, ph), (0, pw)))
        y = rng.integers(0, image.shape[0] - ch + 1)
        x = rng.integers(0, image.shape[1] - cw + 1)
        image, seg = image[y:y + ch, x:x + cw], seg[y:y + ch, x:x + cw]
        if self.hflip and rng.random() < 0.5:
            image, seg = image[:, ::-1], seg[:, ::-1]
        if self.color > 0:
            gain = 1 + rng.uniform(-self.color, self.color, size=3)
            bias = rng.uniform(-self.color, self.color) * 64
            image = np.clip(image.astype(np.float32) * gain + bias, 0, 255).astype(np.uint8)
        return dataclasses.replace(s, image=np.ascontiguousarray(image), segments=np.ascontiguousarray(seg))
