"""Training augmentation on ``PanopticSample``s (runs in DataLoader workers).

Geometry (scale jitter, crop, flip) moves image and label map together; labels are resampled with
nearest neighbour so segment ids stay exact. Photometric changes (gain and bias per channel,
saturation, gamma, blur) touch only the image: they stand in for the cameras, exposures and weather of
drives the model never saw, which is where a model trained on a few drives fails first.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np

from panoptic_ros.data.sample import PanopticSample


@dataclasses.dataclass
class Augmentation:
    """Random geometry and photometry for one training sample.

    ``color``: per-channel gain within 1 +- color and a common bias within +-64 * color.
    ``saturation``: blend towards (or away from) the pixel's grey value by a factor within 1 +- saturation.
    ``gamma``: exponent drawn log-uniformly within [1 / (1 + gamma), 1 + gamma].
    ``blur``: probability of a Gaussian blur with sigma between 0.3 and 1.5 pixels (defocus, haze).
    A zero switches a change off. The result is rounded to uint8 (float32 arithmetic throughout).
    """

    scale: tuple[float, float] = (0.75, 1.25)
    crop: tuple[int, int] = (256, 512)
    hflip: bool = True
    color: float = 0.2
    saturation: float = 0.0
    gamma: float = 0.0
    blur: float = 0.0

    def __call__(self, s: PanopticSample, rng: np.random.Generator) -> PanopticSample:
        image, seg = s.image, s.segments
        f = rng.uniform(*self.scale)
        if f != 1.0:
            size = (max(1, round(image.shape[1] * f)), max(1, round(image.shape[0] * f)))
            # shrinking averages areas, as the node's antialiased input resize does (plain linear aliases)
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
            seg = cv2.resize(seg, size, interpolation=cv2.INTER_NEAREST_EXACT)  # pixel centres, as the image's
        ch, cw = self.crop
        ph, pw = max(0, ch - image.shape[0]), max(0, cw - image.shape[1])
        if ph or pw:  # pad with void, the frame anywhere in the crop (always top-left biased positions)
            top, left = rng.integers(0, ph + 1), rng.integers(0, pw + 1)
            image = np.pad(image, ((top, ph - top), (left, pw - left), (0, 0)))
            seg = np.pad(seg, ((top, ph - top), (left, pw - left)))
        y = rng.integers(0, image.shape[0] - ch + 1)
        x = rng.integers(0, image.shape[1] - cw + 1)
        image, seg = image[y:y + ch, x:x + cw], seg[y:y + ch, x:x + cw]
        if self.hflip and rng.random() < 0.5:
            image, seg = image[:, ::-1], seg[:, ::-1]
        image = self._photometric(np.ascontiguousarray(image), rng)
        return dataclasses.replace(s, image=image, segments=np.ascontiguousarray(seg))

    def _photometric(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if not (self.color or self.saturation or self.gamma or self.blur):
            return image
        x = image.astype(np.float32)
        if self.color > 0:
            gain = 1 + rng.uniform(-self.color, self.color, size=3).astype(np.float32)
            x = x * gain + np.float32(rng.uniform(-self.color, self.color) * 64)
        if self.saturation > 0:
            grey = x.mean(axis=2, keepdims=True)
            x = grey + (x - grey) * np.float32(rng.uniform(1 - self.saturation, 1 + self.saturation))
        x = np.clip(x, 0, 255)
        if self.gamma > 0:
            bound = np.log1p(self.gamma)
            x = 255 * (x / 255) ** np.float32(np.exp(rng.uniform(-bound, bound)))
        if self.blur > 0 and rng.random() < self.blur:
            x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.3, 1.5))
        return np.ascontiguousarray(np.clip(x + 0.5, 0, 255).astype(np.uint8))
