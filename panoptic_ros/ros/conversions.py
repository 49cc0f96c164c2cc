"""PanopticResult / category table -> ROS messages (the only place that builds output messages)."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from panoptic_msgs.msg import Category, PanopticInfo, PanopticSegmentation, Segment
from sensor_msgs.msg import CompressedImage, Image, RegionOfInterest
from std_msgs.msg import ColorRGBA, Header
from visualization_msgs.msg import Marker, MarkerArray

from panoptic_ros.categories import Category as CategoryRecord, CategoryTable
from panoptic_ros.defaults import FULL_BITS
from panoptic_ros.image_encoding import decode_compressed, image_fields, image_view, rgb_tensor
from panoptic_ros.ros.topics import ENCODINGS, LABEL_IMAGES, OVERLAY, PANOPTIC, SEGMENTS
from panoptic_ros.structures import PanopticResult


def rgb_from_message(msg: Image | CompressedImage, device: torch.device | str = "cpu", bits: int = FULL_BITS
                     ) -> torch.Tensor:
    """RGB uint8 [3, H, W] on ``device`` from a camera message (raises ``ImageEncodingError``); ``bits``:
    the significant bits of a 16-bit frame."""
    if isinstance(msg, CompressedImage):
        return torch.from_numpy(decode_compressed(msg.data, msg.format, bits)).to(device).permute(2, 0, 1)
    view = image_view(msg.height, msg.width, msg.encoding, msg.step, msg.data, bool(msg.is_bigendian))
    return rgb_tensor(view, msg.encoding, device, bits)


def image_message(array: np.ndarray, encoding: str, header: Header) -> Image:
    """A host array as a sensor_msgs/Image (``encoding``: 32SC1, mono8, rgb8), copied once."""
    h, w, step, data = image_fields(array, encoding)
    msg = Image(header=header, height=h, width=w, encoding=encoding, is_bigendian=0, step=step)
    msg.data = data  # the setter keeps (or copies once) an array('B'); the constructor would copy it twice
    return msg


def _region(box: tuple[int, int, int, int]) -> RegionOfInterest:
    x0, y0, x1, y1 = box
    return RegionOfInterest(x_offset=x0, y_offset=y0, width=x1 - x0, height=y1 - y0)


def segments_message(result: PanopticResult, header: Header) -> PanopticSegmentation:
    """Per-segment message (``PanopticResult.segment_rows``: two host copies)."""
    segments = [
        Segment(id=row.id, category_id=row.category_id, instance_id=row.instance_id, is_thing=row.instance_id > 0,
                score=float(row.score), area=row.area, bbox=_region(row.box))
        for row in result.segment_rows()
    ]
    h, w = result.size
    return PanopticSegmentation(header=header, height=h, width=w, mask_cues=result.mask_cues, segments=segments)


def label_message(result: PanopticResult, name: str, header: Header) -> Image:
    """The label image ``name`` of ``topics.LABEL_IMAGES``: ``~/panoptic`` (panoptic ids) or
    ``~/semantic`` (category ids), in its ``topics.ENCODINGS`` encoding, stamped with ``header``."""
    labels = result.panoptic if name == PANOPTIC else result.semantic
    return image_message(labels.cpu().numpy(), ENCODINGS[name], header)


def frame_messages(result: PanopticResult, header: Header, overlay: torch.Tensor | None,
                   label_images: tuple[str, ...] = LABEL_IMAGES) -> dict[str, Any]:
    """A frame's messages keyed by their output's name (``topics.OUTPUTS``): the ``label_images``,
    ``~/segments``, and the overlay where one was drawn. Which images to make is the caller's: the
    node makes only those someone listens to (a full-size copy off the device each), the offline
    replay records them all."""
    messages: dict[str, Any] = {name: label_message(result, name, header) for name in label_images}
    messages[SEGMENTS] = segments_message(result, header)
    if overlay is not None:
        messages[OVERLAY] = overlay_message(overlay, header)
    return messages


def _rgba(color: tuple[int, int, int]) -> ColorRGBA:
    return ColorRGBA(r=color[0] / 255, g=color[1] / 255, b=color[2] / 255, a=1.0)


def _rgb(color: ColorRGBA) -> tuple[int, int, int]:
    return round(color.r * 255), round(color.g * 255), round(color.b * 255)


def categories_message(table: CategoryTable, model_name: str, header: Header) -> PanopticInfo:
    """The model's categories (ids, names, things, overlay colours) for the latched ``~/categories``."""
    return PanopticInfo(header=header, model_name=model_name, categories=[
        Category(id=c.id, name=c.name, is_thing=c.is_thing, color=_rgba(c.color)) for c in table.categories])


def categories_from_message(info: PanopticInfo) -> CategoryTable:
    """The table a ``~/categories`` message carries (``categories_message``'s inverse, colours 0-255):
    what a listener needs to name and colour a node's ids without its model."""
    return CategoryTable(tuple(CategoryRecord(c.id, c.name, c.is_thing, _rgb(c.color)) for c in info.categories))


def legend_message(table: CategoryTable, frame_id: str) -> MarkerArray:
    """The category names in their overlay colours, stacked as text markers for RViz, in the camera's
    frame at time zero ("the latest transform"): the legend is latched, and an RViz that joins later
    with another fixed frame would look the transform up at a stale stamp, fail, and hide it."""
    markers = []
    header = Header(frame_id=frame_id)
    for k, c in enumerate(table.categories):
        m = Marker(header=header, ns="panoptic_legend", id=k, type=Marker.TEXT_VIEW_FACING, action=Marker.ADD,
                   text=f"{c.name} ({c.id}{', thing' if c.is_thing else ''})", color=_rgba(c.color))
        m.pose.position.y = -0.25 * k
        m.pose.orientation.w = 1.0
        m.scale.z = 0.2
        markers.append(m)
    return MarkerArray(markers=markers)


def overlay_message(overlay: torch.Tensor, header: Header) -> Image:
    """A rendered overlay (uint8 [H, W, 3] on any device) as an rgb8 Image."""
    return image_message(overlay.cpu().numpy(), ENCODINGS[OVERLAY], header)
