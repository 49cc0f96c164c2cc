"""Camera image buffers <-> NumPy, with cv_bridge's encoding semantics, and no ROS import.

``image_view`` returns a zero-copy view of a ``sensor_msgs/Image``-style buffer (height, width,
encoding, step, is_bigendian, data), honouring row padding; ``rgb_tensor`` turns that view into an
RGB uint8 tensor on the inference device. Headed for a GPU, a BGR(A) or grey frame is copied as it is
and its channels are swapped (grey: expanded) there (no pass over the frame on the robot's CPU); on the
CPU, and for Bayer, 4:2:2 and 4:2:0 YUV frames everywhere, OpenCV converts it first, as cv_bridge does
(one OpenCV pass beats an index gather over the frame about 40x on the CPU). Two-plane YUV (nv12, nv21,
nv24), which cv_bridge does not convert, is taken as BT.601 video range, as OpenCV decodes nv12 (a
message does not say its colour space); nv24, which OpenCV lacks, is decoded with OpenCV's fixed-point
coefficients for nv12 on the inference device.
A 16-bit frame is scaled to 8 bits by 255 / (2^bits - 1) (``bits`` 16: as cv_bridge scales it): first
where channel order or grey is all that changes (they commute), after demosaicing a mosaic.
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

from panoptic_ros.defaults import FULL_BITS
from panoptic_ros.image_size import MAX_PIXELS

COMPRESSED_FORMATS = ("JPEG", "PNG")  # what sensor_msgs/CompressedImage carries from image_transport
MAGIC = {"JPEG": b"\xff\xd8\xff", "PNG": b"\x89PNG\r\n\x1a\n"}  # their first bytes
PNG_BIT_DEPTH = 24  # offset of the bit depth in a PNG: signature (8), IHDR length and type (8), width, height
GREY_MODES = ("L", "I", "I;16", "I;16B", "I;16L")  # Pillow's modes of one-channel 8- and 16-bit images
MAX_JPEG_SCANS = 100  # a progressive JPEG has about 10 scans; libjpeg-turbo's tools suggest 500 at most

# Bayer patterns as ROS names them -> OpenCV's demosaicing (cv_bridge's mapping: OpenCV names the
# pattern one pixel in)
_BAYER = {"rggb": cv2.COLOR_BayerBG2RGB, "bggr": cv2.COLOR_BayerRG2RGB,
          "gbrg": cv2.COLOR_BayerGR2RGB, "grbg": cv2.COLOR_BayerGB2RGB}
# 4:2:2, two bytes a pixel, by byte order; sensor_msgs names each order twice (uyvy / yuyv, and the
# deprecated yuv422 / yuv422_yuy2 that drivers still send)
_YUV422 = {"uyvy": cv2.COLOR_YUV2RGB_UYVY, "yuv422": cv2.COLOR_YUV2RGB_UYVY,
           "yuyv": cv2.COLOR_YUV2RGB_YUY2, "yuv422_yuy2": cv2.COLOR_YUV2RGB_YUY2}
# Two-plane YUV, a Y plane then a plane of interleaved chroma pairs (V4L2's layout: its rows padded in
# proportion to the Y rows') -> chroma subsampling along each axis: 2 for 4:2:0, 1 for 4:4:4
_TWO_PLANE = {"nv12": 2, "nv21": 2, "nv24": 1}
_YUV420 = {"nv12": cv2.COLOR_YUV2RGB_NV12, "nv21": cv2.COLOR_YUV2RGB_NV21}
_YUV444 = tuple(name for name, factor in _TWO_PLANE.items() if factor == 1)
TWO_PLANE_ENCODINGS = tuple(_TWO_PLANE)
# BT.601 video range in OpenCV's fixed point for nv12 (coefficients x 2^20): nv24 decodes as nv12 does
_SHIFT = 20
_Y, _VR, _VG, _UG, _UB = (round(c * 2 ** _SHIFT) for c in (1.164, 1.596, -0.813, -0.391, 2.018))
_DEPTHS = (("8", "u1"), ("16", "u2"))
# encoding -> (numpy dtype, channels)
ENCODINGS: dict[str, tuple[str, int]] = {
    **{f"{order}{bits}": (kind, len(order)) for order in ("rgb", "bgr", "rgba", "bgra") for bits, kind in _DEPTHS},
    **{f"mono{bits}": (kind, 1) for bits, kind in _DEPTHS},
    **{f"bayer_{pattern}{bits}": (kind, 1) for pattern in _BAYER for bits, kind in _DEPTHS},
    **{name: ("u1", 2) for name in _YUV422},
    **{name: ("u1", 1) for name in _TWO_PLANE},  # a byte a pixel in the Y plane, which ``step`` describes
    "8UC1": ("u1", 1), "16UC1": ("u2", 1), "32SC1": ("i4", 1),  # label images, not camera frames
}
INPUT_ENCODINGS = tuple(name for name in ENCODINGS if not name[0].isdigit())
_DEMOSAIC = {f"bayer_{pattern}{bits}": code for pattern, code in _BAYER.items() for bits, _ in _DEPTHS}
# Encodings OpenCV converts to RGB (a mosaic at its own depth; 16-bit colour and grey are scaled to 8 bits
# first); rgb and rgba need no conversion at all
_TO_RGB = {"bgr8": cv2.COLOR_BGR2RGB, "bgra8": cv2.COLOR_BGRA2RGB, "mono8": cv2.COLOR_GRAY2RGB, **_YUV422,
           **_YUV420, **_DEMOSAIC}
# Converted on a GPU after the upload instead (a channel swap, grey expanded), sparing the robot's CPU a
# pass over the frame. On the CPU OpenCV makes them RGB, laid out channels-last as the input resize and
# the overlay take it: a grey view expanded to three channels would cost each of them a copy.
ON_DEVICE = ("bgr8", "bgra8", "mono8")
_DEEP = [name.removesuffix("16") for name in INPUT_ENCODINGS if ENCODINGS[name][0] == "u2"]  # 8 or 16 bits
SUPPORTED = (f"{', '.join(_DEEP)}, each as 8 or 16 bits (rgb8, rgb16, ...); "  # for error messages: one short line
             f"{', '.join(n for n in INPUT_ENCODINGS if n.removesuffix('8').removesuffix('16') not in _DEEP)}")


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
    """Zero-copy [H, W] or [H, W, C] view of an image buffer (row padding in ``step`` is skipped); for
    two-plane YUV see ``_two_plane_view``."""
    if encoding not in ENCODINGS:
        raise ImageEncodingError(f"unsupported encoding {_short(encoding)}; supported: {SUPPORTED}")
    _check_size(height, width)
    kind, channels = ENCODINGS[encoding]
    dtype = np.dtype(kind).newbyteorder(">" if is_bigendian else "<")
    row = width * channels * dtype.itemsize
    buf = np.frombuffer(data, dtype=np.uint8)
    if encoding in _TWO_PLANE and buf.size == unpadded_layout(height, width, encoding)[1]:
        step = row  # an unpadded buffer, whatever ``step`` says (see ``_two_plane_view``)
    if step < row:
        raise ImageEncodingError(f"step {step} is smaller than a {encoding} row of width {width} ({row} bytes)")
    if encoding in _TWO_PLANE:
        return _two_plane_view(height, width, encoding, step, buf)
    if buf.size != step * height:
        raise ImageEncodingError(f"data has {buf.size} bytes, expected step*height = {step}*{height} = {step * height}")
    shape = (height, width, channels) if channels > 1 else (height, width)
    strides = (step, channels * dtype.itemsize, dtype.itemsize)[: len(shape)]
    return np.ndarray(shape, dtype=dtype, buffer=buf, strides=strides)


def unpadded_layout(height: int, width: int, encoding: str) -> tuple[int, int]:
    """(step, bytes) of an unpadded ``height`` x ``width`` buffer in ``encoding`` (two-plane YUV: the Y
    plane's step, both planes' bytes)."""
    kind, channels = ENCODINGS[encoding]
    step = width * channels * np.dtype(kind).itemsize
    return step, step * _rows(height, encoding)


def _rows(height: int, encoding: str) -> int:
    """Rows of the Y plane's step a buffer holds: ``height``, and for two-plane YUV the chroma plane's
    ``height / factor`` rows of ``2 / factor`` times that step."""
    factor = _TWO_PLANE.get(encoding)
    return height if factor is None else height + 2 * (height // factor) // factor


def _two_plane_view(height: int, width: int, encoding: str, step: int, buf: np.ndarray) -> np.ndarray:
    """The planes' rows, W bytes each: nv12 / nv21 [H * 3/2, W] (the Y rows, then H/2 rows of W/2 chroma
    pairs, as OpenCV decodes them), nv24 [3 H, W] (the Y rows, then each row of W chroma pairs as two);
    zero-copy but for a padded nv24 frame, whose chroma rows are twice as long as its Y rows, so no single
    view spans both planes. ``step`` is the Y plane's row step; the chroma rows are padded in proportion
    (nv24's by twice as many bytes), as V4L2 and libcamera lay them out. ``image_view`` takes a buffer of
    exactly the unpadded size as unpadded whatever ``step`` says: some sensor_msgs versions count two
    channels a pixel for these encodings, which invites a ``step`` of 2 x width."""
    factor = _TWO_PLANE[encoding]
    if height % factor or width % factor:
        raise ImageEncodingError(f"{encoding} needs an even width and height (four pixels share their colour), "
                                 f"got {width}x{height}")
    chroma_rows, rows = height // factor, _rows(height, encoding)
    if buf.size != step * rows:
        raise ImageEncodingError(f"data has {buf.size} bytes; a {width}x{height} {encoding} frame with row step {step} "
                                 f"has {step * rows} (Y plane and chroma plane)")
    if factor == 2:
        return np.ndarray((height + chroma_rows, width), np.uint8, buffer=buf, strides=(step, 1))
    if step == width:
        return np.ndarray((rows, width), np.uint8, buffer=buf)
    luma = np.ndarray((height, width), np.uint8, buffer=buf, strides=(step, 1))
    chroma = np.ndarray((height, 2 * width), np.uint8, buffer=buf, offset=step * height, strides=(2 * step, 1))
    return np.vstack((luma, chroma.reshape(2 * height, width)))


def rgb_tensor(view: np.ndarray, encoding: str, device: torch.device | str = "cpu", bits: int = FULL_BITS
               ) -> torch.Tensor:
    """RGB uint8 [3, H, W] on ``device`` from an ``image_view`` of an input encoding (``bits``: the
    significant bits of a 16-bit one, see ``to_8_bit``)."""
    if encoding not in INPUT_ENCODINGS:
        raise ImageEncodingError(f"unsupported input encoding {_short(encoding)}; "
                                 f"supported: {SUPPORTED}")
    if encoding in _YUV422 and view.shape[1] % 2:
        raise ImageEncodingError(f"{encoding} needs an even width (two pixels share their colour), got {view.shape[1]}")
    if view.dtype.itemsize == 2 and encoding not in _DEMOSAIC:  # scaling commutes with channel order
        view, encoding = to_8_bit(view, bits), encoding.replace("16", "8")
    on_device = encoding in ON_DEVICE and torch.device(device).type != "cpu"
    if encoding in _TO_RGB and not on_device:
        view = cv2.cvtColor(_native(view) if view.dtype.itemsize == 2 else np.ascontiguousarray(view),
                            _TO_RGB[encoding])
    if view.dtype != np.uint8:  # a 16-bit mosaic, demosaiced at its own depth, as cv_bridge does
        view = to_8_bit(view, bits)
    t = torch.from_numpy(view if view.flags.writeable else view.copy()).to(device, non_blocking=True)
    if encoding in _YUV444:
        return yuv444_to_rgb(t)
    if on_device:
        return t.unsqueeze(0).expand(3, -1, -1) if t.dim() == 2 else bgr_to_rgb(t)
    return t[..., :3].permute(2, 0, 1)  # RGB(A), channels-last: a view, no copy


def _native(pixels: np.ndarray) -> np.ndarray:
    """16-bit pixels as OpenCV takes them: native byte order (a big-endian frame is copied) and rows of
    whole pixels (an odd row step is copied too)."""
    native = pixels.astype(np.uint16, copy=False)
    return native.copy() if any(stride % native.itemsize for stride in native.strides) else native


def to_8_bit(pixels: np.ndarray, bits: int = FULL_BITS) -> np.ndarray:
    """16-bit pixels (any byte order, any row step) as uint8, x 255 / (2^bits - 1), rounded and
    saturated. With 16 bits that is how cv_bridge converts 16-bit frames to rgb8 (65535 stays white);
    a camera that fills only 12 of them (0-4095) would come out nearly black, so ``bits`` 12 scales its
    4095 to white."""
    if not 1 <= bits <= FULL_BITS:
        raise ValueError(f"bits must be 1..{FULL_BITS}, got {bits}")
    return cv2.convertScaleAbs(_native(pixels), alpha=255 / (2 ** bits - 1))


def bgr_to_rgb(t: torch.Tensor) -> torch.Tensor:
    """[H, W, 3 or 4] BGR(A) uint8 -> RGB [3, H, W] on its own device: one gather, alpha dropped."""
    return t.permute(2, 0, 1)[[2, 1, 0]]


def yuv444_to_rgb(planes: torch.Tensor) -> torch.Tensor:
    """nv24's [3 H, W] uint8 planes (``image_view``; BT.601 video range) -> RGB [3, H, W] uint8 on their
    own device, in OpenCV's fixed-point arithmetic for nv12, so that an nv24 frame decodes as an nv12
    frame of the same colours does (bit for bit with OpenCV's portable code; a platform's accelerated
    OpenCV build may round nv12 differently), laid out channels-last as OpenCV's conversions are (see
    ``ON_DEVICE``). In place where it can."""
    height = planes.shape[0] // 3
    u, v = planes[height:].view(height, -1, 2).to(torch.int32).sub_(128).unbind(-1)
    luma = planes[:height].to(torch.int32).sub_(16).clamp_(min=0).mul_(_Y).add_(1 << (_SHIFT - 1))  # rounding
    rgb = torch.empty((3, *luma.shape), dtype=torch.int32, device=planes.device)
    torch.mul(v, _VR, out=rgb[0]).add_(luma)
    torch.mul(v, _VG, out=rgb[1]).add_(luma).add_(u * _UG)
    torch.mul(u, _UB, out=rgb[2]).add_(luma)
    channels_last = torch.empty((*luma.shape, 3), dtype=torch.uint8, device=planes.device).permute(2, 0, 1)
    return channels_last.copy_(rgb.bitwise_right_shift_(_SHIFT).clamp_(0, 255))


def decode_compressed(data: bytes | bytearray | memoryview, msg_format: str = "", bits: int = FULL_BITS
                      ) -> np.ndarray:
    """RGB uint8 [H, W, 3] from JPEG/PNG bytes (a ``sensor_msgs/CompressedImage`` payload).

    ``msg_format``: the message's ``format``, as image_transport writes it (``"bgr8; jpeg compressed
    bgr8"``): its first word is the camera's encoding. image_transport compresses a Bayer frame as it
    is, a grey mosaic, so a frame whose format names a Bayer pattern is demosaiced after decoding, as
    its raw frames are. ``bits``: the significant bits of a 16-bit PNG, as for raw frames."""
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
    demosaic = _DEMOSAIC.get(msg_format.split(";")[0].strip())
    try:
        if image.format == "PNG" and bytes(data[PNG_BIT_DEPTH:PNG_BIT_DEPTH + 1]) == b"\x10" \
                and image.mode in ("RGB", "RGBA"):
            return _deep_colour_png(data, size, bits)  # Pillow would keep only each value's high byte
        if image.mode not in GREY_MODES:
            return np.array(image.convert("RGB"))  # writeable, so torch.from_numpy takes it without a warning
        grey = np.asarray(image)
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt image data
        raise ImageEncodingError(f"compressed {image.format} image ({size} bytes) could not be decoded: "
                                 f"{str(exc)[:120]}") from None
    if demosaic is None:
        return np.repeat((grey if grey.dtype == np.uint8 else to_8_bit(grey, bits))[..., None], 3, axis=2)
    rgb = cv2.cvtColor(grey if grey.dtype == np.uint8 else _native(grey), demosaic)  # at its depth, as raw
    return rgb if rgb.dtype == np.uint8 else to_8_bit(rgb, bits)


def _deep_colour_png(data: bytes | bytearray | memoryview, size: int, bits: int) -> np.ndarray:
    """RGB uint8 from a 16-bit colour PNG (compressed_image_transport's rgb16 / bgr16), scaled as a raw
    16-bit frame is; its header has been checked already."""
    deep = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)  # BGR(A), uint16
    if deep is None or deep.ndim != 3:
        raise ImageEncodingError(f"compressed PNG image ({size} bytes) could not be decoded")
    return to_8_bit(cv2.cvtColor(deep, cv2.COLOR_BGR2RGB if deep.shape[2] == 3 else cv2.COLOR_BGRA2RGB), bits)


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
