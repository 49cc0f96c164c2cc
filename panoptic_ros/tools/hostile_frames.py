"""Camera frames that a broken driver, a damaged bag or a hostile sender can produce, without ROS.

Each one must be refused by ``panoptic_node`` as a bad frame (counted, logged once, no output)
without stalling it. The node's tests, the decoder's tests and the soak tool use this one
catalogue: ``RAW`` holds ``sensor_msgs/Image`` fields, ``COMPRESSED`` ``CompressedImage`` payloads.
"""
from __future__ import annotations

import io
import struct
from typing import Any

import cv2
import numpy as np
from PIL import Image as PILImage

RGB = np.random.default_rng(0).integers(0, 256, (48, 80, 3), dtype=np.uint8)
_GOOD = {"height": 48, "width": 80, "encoding": "rgb8", "is_bigendian": 0, "step": 240, "data": RGB.tobytes()}


def jpeg() -> bytes:
    """The good frame as a JPEG: what the hostile ones are made from, and a well-formed one to send between them."""
    return cv2.imencode(".jpg", RGB[..., ::-1])[1].tobytes()


def jpeg_claiming(height: int, width: int) -> bytes:
    """A valid small JPEG whose frame header (SOF0) claims ``height`` x ``width``: a decompression bomb."""
    data = bytearray(jpeg())
    sof = data.find(b"\xff\xc0")
    data[sof + 5: sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def jpeg_with_scans(copies: int, multi_picture: bool = False) -> bytes:
    """A valid progressive JPEG with its first picture's last scan repeated ``copies`` times: a scan bomb
    (decoding time grows with every scan, at a few bytes each). ``multi_picture``: as a phone's MPO
    (two pictures behind a multi-picture header), which Pillow opens as its own format."""
    buf = io.BytesIO()
    image = PILImage.fromarray(RGB)
    if multi_picture:
        image.save(buf, format="MPO", save_all=True, append_images=[image], progressive=True)
    else:
        image.save(buf, format="JPEG", progressive=True)
    data = buf.getvalue()
    end = data.find(b"\xff\xd9")  # the first picture's end
    last_scan = data.rfind(b"\xff\xda", 0, end)
    return data[:end] + data[last_scan:end] * copies + data[end:]


def _gif() -> bytes:
    buf = io.BytesIO()
    PILImage.fromarray(RGB).save(buf, format="GIF")
    return buf.getvalue()


RAW: dict[str, dict[str, Any]] = {name: _GOOD | change for name, change in {
    "unsupported encoding (a depth image)": {"encoding": "32FC1"},
    "step smaller than a row": {"step": 80},
    "truncated data": {"data": RGB.tobytes()[:-7]},
    "empty image": {"height": 0, "width": 0, "step": 0, "data": b""},
    "absurd size": {"encoding": "mono8", "height": 60000, "width": 60000, "step": 60000, "data": b"\0" * 16},
    "1-MB encoding name": {"encoding": "x" * 1_000_000},
}.items()}

COMPRESSED: dict[str, bytes] = {
    "empty payload": b"",
    "corrupt JPEG": jpeg()[:40],
    "JPEG header claiming 65500x40000": jpeg_claiming(40000, 65500),
    "JPEG header claiming 12000x12000": jpeg_claiming(12000, 12000),
    "JPEG header claiming 8192x8192, its data missing": jpeg_claiming(8192, 8192),
    "progressive JPEG of 210 scans": jpeg_with_scans(200),
    "progressive MPO (phone JPEG) of 220 scans": jpeg_with_scans(200, multi_picture=True),
    "BMP": cv2.imencode(".bmp", RGB)[1].tobytes(),
    "GIF": _gif(),
}
