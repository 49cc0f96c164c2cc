"""Camera image buffers <-> NumPy, with cv_bridge's encoding semantics, and no ROS import.

``image_view`` returns a zero-copy view of a ``sensor_msgs/Image``-style buffer (height, width,
encoding, step, is_bigendian, data), honouring row padding; ``rgb_tensor`` turns that view into an
RGB uint8 tensor on the inference device (channel swaps happen there, after one host-to-device copy
of the raw bytes; only Bayer demosaicing runs on the CPU, through OpenCV as cv_bridge does).
Every malformed buffer raises ``ImageEncodingError`` with a message fit for a log line.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

MAX_PIXELS = 8192 * 8192  # refuse absurd sizes before touching memory

# encoding -> (numpy dtype, channels)
ENCODINGS: dict[str, tuple[str, int]] = {
    "rgb8": ("u1", 3), "bgr8": ("u1", 3), "rgba8": ("u1", 4), "bgra8": ("u1", 4),
    "mono8": ("u1", 1), "mono16": ("u2", 1), "8UC1": ("u1", 1), "16UC1": ("u2", 1), "32SC1": ("i4", 1),
    "bayer_rggb8": ("u1", 1), "bayer_bggr8": ("u1", 1), "bayer_gbrg8": ("u1", 1), "bayer_grbg8": ("u1", 1),
}
INPUT_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8", "mono16",
                   "bayer_rggb8", "bayer_bggr8", "bayer_gbrg8", "bayer_grbg8")
# cv_bridge's mapping from ROS Bayer patterns to OpenCV's (OpenCV names the pattern one pixel in).
_BAYER_TO_RGB = {
    "bayer_rggb8": cv2.COLOR_BayerBG2RGB, "bayer_bggr8": cv2.COLOR_BayerRG2RGB,
    "bayer_gbrg8": cv2.COLOR_BayerGR2RGB, "bayer_grbg8": cv2.COLOR_BayerGB2RGB,
}


class ImageEncodingError(ValueError):
    """A frame that cannot be interpreted; the message says why."""


def image_view(height: int, width: int, encoding: str, step: int, data: bytes | bytearray | memoryview,
               is_bigendian: bool = False) -> np.ndarray:
    """Zero-copy [H, W] or [H, W, C] view of an image buffer (row padding in ``step`` is skipped)."""
    if encoding not in ENCODINGS:
        raise ImageEncodingError(f"unsupported encoding {encoding!r}; supported: {', '.join(INPUT_ENCODINGS)}")
    if height <= 0 or width <= 0:
        raise ImageEncodingError(f"empty image ({width}x{height})")
    if height * width > MAX_PIXELS:
        raise ImageEncodingError(f"image of {width}x{height} exceeds the {MAX_PIXELS} pixel limit")
    kind, channels = ENCODINGS[encoding]
    dtype = np.dtype(kind).newbyteorder(">" if is_bigendian else "<")
    row = width * channels * dtype.itemsize
    if step < row:
        raise ImageEncodingError(f"step {step} is smaller than a {encoding} row of width {width} ({row} bytes)")
    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size != step * height:
        raise ImageEncodingError(f"data has {buf.size} bytes, expected step*height = {step}*{height} = {step * height}")
    shape = (height, width, channels) if channels > 1 else (height, width)
    strides = (step, channels * dtype.itemsize, dtype.itemsize)[: len(shape)]
    return np.ndarray(shape, dtype=dtype, buffer=buf, strides=strides)


def rgb_tensor(view: np.ndarray, encoding: str, device: torch.device | str = "cpu") -> torch.Tensor:
    """RGB uint8 [3, H, W] on ``device`` from an ``image_view`` of an input encoding."""
    if encoding not in INPUT_ENCODINGS:
        raise ImageEncodingError(f"unsupported input encoding {encoding!r}; supported: {', '.join(INPUT_ENCODINGS)}")
    if encoding in _BAYER_TO_RGB:
        view = cv2.cvtColor(np.ascontiguousarray(view), _BAYER_TO_RGB[encoding])
        encoding = "rgb8"
    if encoding == "mono16":
        view = view.astype(np.uint16, copy=False)  # native byte order for torch
    t = torch.from_numpy(view if view.flags.writeable else view.copy()).to(device, non_blocking=True)
    if encoding == "mono16":
        # cv_bridge scales 16 -> 8 bit by 1/256 with OpenCV's rounding (half to even), as torch.round does.
        t = torch.round(t.to(torch.float32) / 256).clamp_(0, 255).to(torch.uint8)
    if t.dim() == 2:
        return t.unsqueeze(0).expand(3, -1, -1)
    order = {"rgb8": [0, 1, 2], "rgba8": [0, 1, 2], "bgr8": [2, 1, 0], "bgra8": [2, 1, 0]}[encoding]
    return t[..., order].permute(2, 0, 1)


def decode_compressed(data: bytes | bytearray | memoryview) -> np.ndarray:
    """RGB uint8 [H, W, 3] from JPEG/PNG bytes (a ``sensor_msgs/CompressedImage`` payload)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    if buf.size == 0:
        raise ImageEncodingError("compressed image is empty")
    image = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if image is None:
        raise ImageEncodingError(f"compressed image ({buf.size} bytes) could not be decoded as JPEG or PNG")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def image_fields(array: np.ndarray, encoding: str) -> tuple[int, int, int, bytes]:
    """(height, width, step, data) for publishing a contiguous array in ``encoding`` (little endian)."""
    kind, channels = ENCODINGS[encoding]
    arr = np.ascontiguousarray(array, dtype=np.dtype(kind).newbyteorder("<"))
    expected = arr.shape[:2] + ((channels,) if channels > 1 else ())
    if arr.shape != expected:
        raise ImageEncodingError(f"array of shape {arr.shape} does not fit encoding {encoding}")
    h, w = arr.shape[:2]
    return h, w, w * channels * arr.dtype.itemsize, arr.tobytes()
