import dataclasses

import numpy as np
import torch
from std_msgs.msg import Header
from visualization_msgs.msg import Marker

from helpers import small_categories
from panoptic_ros.model.nearest import NearestGrid
from panoptic_ros.ros.conversions import (
    categories_from_message, categories_message, frame_messages, image_message, legend_message, overlay_message,
    rgb_from_message,
)
from panoptic_ros.ros.topics import OUTPUTS, RESULT_OUTPUTS
from panoptic_ros.structures import PanopticResult

HEADER = Header(frame_id="camera")


def _result() -> PanopticResult:
    panoptic = torch.tensor([[1000, 1000, 11001],
                             [-1, 11001, 11001]], dtype=torch.int32)  # road; car 1; one void pixel
    return PanopticResult(
        segment_ids=torch.tensor([1000, 11001], dtype=torch.int32), category_ids=torch.tensor([1, 11]),
        instance_ids=torch.tensor([0, 1]), scores=torch.tensor([1.0, 0.75]),
        areas=torch.tensor([2, 3]), boxes=torch.tensor([[0, 0, 2, 1], [1, 0, 3, 2]]), coarse=panoptic,
        coarse_semantic=torch.tensor([[1, 1, 11], [255, 11, 11]], dtype=torch.uint8),
        grid=NearestGrid.between((2, 3), (2, 3), "cpu"))


def test_result_messages_carry_the_maps_and_every_segment():
    panoptic, semantic, segments = frame_messages(_result(), HEADER, None).values()
    assert (panoptic.encoding, panoptic.height, panoptic.width, panoptic.step) == ("32SC1", 2, 3, 12)
    assert np.array_equal(np.frombuffer(bytes(panoptic.data), "<i4").reshape(2, 3), _result().panoptic.numpy())
    assert (semantic.encoding, semantic.step) == ("mono8", 3)
    assert np.array_equal(np.frombuffer(bytes(semantic.data), np.uint8).reshape(2, 3), _result().semantic.numpy())
    assert (segments.height, segments.width, segments.mask_cues, segments.header.frame_id) == (2, 3, True, "camera")
    road, car = segments.segments
    assert (road.id, road.category_id, road.instance_id, road.is_thing, road.area) == (1000, 1, 0, False, 2)
    assert (car.id, car.category_id, car.instance_id, car.is_thing, car.area) == (11001, 11, 1, True, 3)
    assert car.score == 0.75
    box = car.bbox  # x1/y1 exclusive: a width, not a corner
    assert (box.x_offset, box.y_offset, box.width, box.height) == (1, 0, 2, 2)


def test_a_frames_messages_are_keyed_by_output_and_the_overlay_only_when_drawn():
    assert list(frame_messages(_result(), HEADER, None)) == list(RESULT_OUTPUTS)
    messages = frame_messages(_result(), HEADER, torch.zeros(2, 3, 3, dtype=torch.uint8))
    assert list(messages) == list(OUTPUTS) and all(type(m) is OUTPUTS[name] for name, m in messages.items())
    assert messages["overlay"].encoding == "rgb8" and messages["segments"].header.frame_id == "camera"


def test_segments_alone_never_write_the_full_size_maps():
    result = dataclasses.replace(_result(), grid=NearestGrid.between((2, 3), (4, 6), "cpu"))
    only_segments = frame_messages(result, HEADER, None, label_images=())
    segments = only_segments["segments"]
    assert list(only_segments) == ["segments"] and (segments.height, segments.width) == (4, 6)
    assert not {"panoptic", "semantic"} & set(vars(result))
    panoptic = frame_messages(result, HEADER, None, label_images=("panoptic",))["panoptic"]
    assert (panoptic.height, panoptic.width) == (4, 6) and "semantic" not in vars(result)


def test_images_of_any_layout_become_messages():
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    msg = image_message(rgb[:, ::-1], "rgb8", HEADER)  # not contiguous
    assert (msg.height, msg.width, msg.step) == (2, 3, 9)
    assert np.array_equal(np.frombuffer(bytes(msg.data), np.uint8).reshape(2, 3, 3), rgb[:, ::-1])
    overlay = overlay_message(torch.from_numpy(rgb), HEADER)
    assert overlay.encoding == "rgb8" and bytes(overlay.data) == rgb.tobytes()


def test_categories_and_legend_name_every_category_in_its_colour():
    table = small_categories()
    info = categories_message(table, "small", HEADER)
    assert info.model_name == "small"
    assert [(c.id, c.name, c.is_thing) for c in info.categories] == [
        (c.id, c.name, c.is_thing) for c in table.categories]
    car = next(c for c in info.categories if c.name == "car")
    assert (car.color.r, car.color.g, car.color.b) == (0.0, 0.0, 142 / 255)
    assert categories_from_message(info) == table  # what a listener rebuilds: ids, names, kinds, colours
    legend = legend_message(table, HEADER.frame_id)
    assert [m.text for m in legend.markers] == ["road (1)", "sky (2)", "car (11, thing)", "person (12, thing)"]
    assert all(m.type == Marker.TEXT_VIEW_FACING and m.header.frame_id == "camera" for m in legend.markers)
    assert all((m.header.stamp.sec, m.header.stamp.nanosec) == (0, 0) for m in legend.markers)  # latest TF
    assert len({m.id for m in legend.markers}) == 4 and len({m.pose.position.y for m in legend.markers}) == 4


def test_a_compressed_bayer_frame_is_demosaiced_as_its_format_says():
    """compressed_image_transport sends a Bayer camera's frames as a grey mosaic, its encoding in ``format``."""
    import cv2
    from sensor_msgs.msg import CompressedImage
    mosaic = np.zeros((8, 8), np.uint8)
    mosaic[0::2, 0::2], mosaic[0::2, 1::2], mosaic[1::2, 0::2], mosaic[1::2, 1::2] = 200, 120, 120, 40  # RGGB
    png = cv2.imencode(".png", mosaic)[1].tobytes()
    msg = CompressedImage(format="bayer_rggb8; png compressed ", data=png)
    rgb = rgb_from_message(msg)
    assert rgb[:, 2:6, 2:6].reshape(3, -1).float().mean(1).round().tolist() == [200, 120, 40]
