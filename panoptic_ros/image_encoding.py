"""Camera image buffers <-> NumPy, with cv_bridge's encoding semantics, and no ROS import.

``image_view`` returns a zero-copy view of a ``sensor_msgs/Image``-style buffer (height, width,
encoding, step, is_bigendian, data), honouring row padding; ``rgb_tensor`` turns that view into an
RGB uint8 tensor on the inference device. Headed for a GPU, a BGR(A) frame is copied as it is and its
channels are swapped there (no pass over the frame on the robot's CPU); on the CPU, and for Bayer
and YUV frames everywhere, OpenCV converts it first, as cv_bridge does (one OpenCV pass beats an index
gather over the frame about 40x on the CPU).
Every malformed buffer raises ``ImageEncodingError`` with a message fit for a log line (bounded in
length whatever the sender put in the message). Compressed payloads are decoded with Pillow rather
than OpenCV: Pillow reads the header alone first, so a size is checked before any pixel memory is
taken, and its libjpeg error handler raises instead of writing one unthrottled stderr line per
corrupt JPEG.
"""
from __future__ import annotations

import io
import warnings
from array import array as Array

import cv2
import numpy as np
import torch
from PIL import Image as PILImage

from panoptic_ros.image_size import MAX_PIXELS

COMPRESSED_FORMATS = ("JPEG", "PNG")  # what sensor_msgs/CompressedImage carries from image_transport
MAGIC = {"JPEG": b"\xff\xd8\xff", "PNG": b"\x89PNG\r\n\x1a\n"}  # their first bytes
MAX_JPEG_SCANS = 100  # a progressive JPEG has about 10 scans; libjpeg-turbo's tools suggest 500 at most

# encoding -> (numpy dtype, channels)
ENCODINGS: dict[str, tuple[str, int]] = {
    "rgb8": ("u1", 3), "bgr8": ("u1", 3), "rgba8": ("u1", 4), "bgra8": ("u1", 4),
    "mono8": ("u1", 1), "mono16": ("u2", 1), "8UC1": ("u1", 1), "16UC1": ("u2", 1), "32SC1": ("i4", 1),
    "bayer_rggb8": ("u1", 1), "bayer_bggr8": ("u1", 1), "bayer_gbrg8": ("u1", 1), "bayer_grbg8": ("u1", 1),
    "yuv422": ("u1", 2), "yuv422_yuy2": ("u1", 2),  # 4:2:2, two bytes a pixel: UYVY and YUYV
}
INPUT_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8", "mono16",
                   "bayer_rggb8", "bayer_bggr8", "bayer_gbrg8", "bayer_grbg8", "yuv422", "yuv422_yuy2")
# Encodings OpenCV converts to RGB; for Bayer, cv_bridge's mapping from ROS patterns to OpenCV's
# (OpenCV names the pattern one pixel in). rgb8 / rgba8 need no conversion at all.
_TO_RGB = {
    "bayer_rggb8": cv2.COLOR_BayerBG2RGB, "bayer_bggr8": cv2.COLOR_BayerRG2RGB,
    "bayer_gbrg8": cv2.COLOR_BayerGR2RGB, "bayer_grbg8": cv2.COLOR_BayerGB2RGB,
    "bgr8": cv2.COLOR_BGR2RGB, "bgra8": cv2.COLOR_BGRA2RGB,
    "yuv422": cv2.COLOR_YUV2RGB_UYVY, "yuv422_yuy2": cv2.COLOR_YUV2RGB_YUY2,  # as cv_bridge converts them
}
DEVICE_SWAPS = ("bgr8", "bgra8")  # channel orders swapped on a GPU after the upload instead


class ImageEncodingError(ValueError):
    """A frame that cannot be interpreted; the message says why."""


def _short(text: str, limit: int = 40) -> str:
    """``repr`` of a sender-supplied string, cut so that one log line stays one line."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text)} characters)"


def _check_size(height: int, width: int) -> None:
    if height <= 0 or width <= 0:
        raise ImageEncodingError(f"empty image ({width}x{height})")
    if height * width > MAX_PIXELS:
        raise ImageEncodingError(f"image of {width}x{height} exceeds the {MAX_PIXELS} pixel limit")


def image_view(height: int, width: int, encoding: str, step: int, data: bytes | bytearray | memoryview,
               is_bigendian: bool = False) -> np.ndarray:
    """Zero-copy [H, W] or [H, W, C] view of an image buffer (row padding in ``step`` is skipped)."""
    if encoding not in ENCODINGS:
        raise ImageEncodingError(f"unsupported encoding {_short(encoding)}; supported: {', '.join(INPUT_ENCODINGS)}")
    _check_size(height, width)
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
        raise ImageEncodingError(f"unsupported input encoding {_short(encoding)}; "
                                 f"supported: {', '.join(INPUT_ENCODINGS)}")
    if encoding.startswith("yuv422") and view.shape[1] % 2:
        raise ImageEncodingError(f"{encoding} needs an even width (two pixels share their colour), got {view.shape[1]}")
    swap_on_device = encoding in DEVICE_SWAPS and torch.device(device).type != "cpu"
    if encoding in _TO_RGB and not swap_on_device:
        view = cv2.cvtColor(np.ascontiguousarray(view), _TO_RGB[encoding])
        encoding = "rgb8"
    if encoding == "mono16":
        view = view.astype(np.uint16, copy=False)  # native byte order for torch
    if any(stride % view.itemsize for stride in view.strides):  # an odd row step of 16-bit pixels
        view = np.ascontiguousarray(view)  # torch takes strides in whole elements only
    t = torch.from_numpy(view if view.flags.writeable else view.copy()).to(device, non_blocking=True)
    if encoding == "mono16":
        # cv_bridge scales 16 -> 8 bit by 1/256 with OpenCV's rounding (half to even), as torch.round does.
        t = torch.round(t.to(torch.float32) / 256).clamp_(0, 255).to(torch.uint8)
    if t.dim() == 2:
        return t.unsqueeze(0).expand(3, -1, -1)
    if swap_on_device:
        return bgr_to_rgb(t)
    return t[..., :3].permute(2, 0, 1)  # rgb8 / rgba8: a view, no copy


def bgr_to_rgb(t: torch.Tensor) -> torch.Tensor:
    """[H, W, 3 or 4] BGR(A) uint8 -> RGB [3, H, W] on its own device: one gather, alpha dropped."""
    return t.permute(2, 0, 1)[[2, 1, 0]]


def decode_compressed(data: bytes | bytearray | memoryview) -> np.ndarray:
    """RGB uint8 [H, W, 3] from JPEG/PNG bytes (a ``sensor_msgs/CompressedImage`` payload)."""
    size = len(memoryview(data).cast("B"))
    if size == 0:
        raise ImageEncodingError("compressed image is empty")
    try:
        with warnings.catch_warnings():  # our own MAX_PIXELS check below replaces Pillow's bomb warning
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            image = PILImage.open(io.BytesIO(data), formats=COMPRESSED_FORMATS)  # reads the header only
    except PILImage.DecompressionBombError:  # more than twice Pillow's own limit, itself above ours
        raise ImageEncodingError(f"compressed image ({size} bytes) claims a size that exceeds the {MAX_PIXELS} "
                                 "pixel limit") from None
    except PILImage.UnidentifiedImageError:
        kind = next((name for name, magic in MAGIC.items() if bytes(data[:len(magic)]) == magic), None)
        what = f"a corrupt {kind} header (a zero size?)" if kind else "not JPEG or PNG"
        raise ImageEncodingError(f"compressed image ({size} bytes) could not be decoded: {what}") from None
    except (OSError, ValueError, SyntaxError) as exc:  # Pillow's header parsers raise these
        raise ImageEncodingError(f"compressed image ({size} bytes) could not be decoded: corrupt header "
                                 f"({str(exc)[:120]})") from None
    _check_size(image.height, image.width)
    if image.format in ("JPEG", "MPO"):  # Pillow calls a JPEG with a multi-picture header (phones) MPO
        _check_jpeg_cost(data, size, image.height, image.width)
    try:
        if image.mode.startswith("I"):  # 16-bit grey PNG: to 8 bit by the high byte, as OpenCV does
            grey = (np.asarray(image).astype(np.uint32) >> 8).astype(np.uint8)
            return np.repeat(grey[..., None], 3, axis=2)
        return np.array(image.convert("RGB"))  # writeable, so torch.from_numpy takes it without a warning
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt image data
        raise ImageEncodingError(f"compressed {image.format} image ({size} bytes) could not be decoded: "
                                 f"{str(exc)[:120]}") from None


def _check_jpeg_cost(data: bytes | bytearray | memoryview, size: int, height: int, width: int) -> None:
    """Refuse, before decoding, a JPEG whose decoding would cost far more than its bytes can hold:

    * more than ``MAX_JPEG_SCANS`` scans: each is another pass over every block (3000 copies of one
      99-byte scan in 560 KB took 18 s to decode, every camera waiting). Counted exactly from the
      start-of-scan markers: a 0xFF inside entropy-coded data is always followed by 0x00.
    * fewer bytes than one bit per 8x8 block: every block codes its DC coefficient with at least one
      bit, so the data is missing, and libjpeg would only warn and hand back a grey frame of the size
      the header claims (a 4 KB file patched to 8192x8192 cost 4 s and 1.6 GB, then was segmented).
    """
    scans = (data if isinstance(data, bytes) else bytes(data)).count(b"\xff\xda")
    if scans > MAX_JPEG_SCANS:
        raise ImageEncodingError(f"compressed JPEG image ({size} bytes) has {scans} scans, more than "
                                 f"{MAX_JPEG_SCANS}: refused, its decoding time would be unbounded")
    blocks = -(-height // 8) * -(-width // 8)
    if size < blocks // 8:
        raise ImageEncodingError(f"compressed JPEG image ({size} bytes) is too small for its {width}x{height} "
                                 f"header (at least {blocks // 8} bytes): its data is missing")


def image_fields(array: np.ndarray, encoding: str) -> tuple[int, int, int, Array]:
    """(height, width, step, data) for publishing a contiguous array in ``encoding`` (little endian).

    ``data`` is the ``array('B')`` that message classes store, filled with one copy of the pixels (a
    ``bytes`` would cost two more in the message's constructor: 6 ms per 2048x1024 label image on an H100
    machine)."""
    kind, channels = ENCODINGS[encoding]
    arr = np.ascontiguousarray(array, dtype=np.dtype(kind).newbyteorder("<"))
    expected = arr.shape[:2] + ((channels,) if channels > 1 else ())
    if arr.shape != expected:
        raise ImageEncodingError(f"array of shape {arr.shape} does not fit encoding {encoding}")
    h, w = arr.shape[:2]
    data = Array("B")
    data.frombytes(memoryview(arr).cast("B"))
    return h, w, w * channels * arr.dtype.itemsize, data
