"""Round trips of the built panoptic_msgs through rclpy's serialisation (what DDS carries)."""
from rclpy.serialization import deserialize_message, serialize_message

from panoptic_msgs.msg import Category, PanopticInfo, PanopticSegmentation, Segment
from sensor_msgs.msg import RegionOfInterest
from std_msgs.msg import ColorRGBA, Header


def _round_trip(msg):
    return deserialize_message(serialize_message(msg), type(msg))


def test_segmentation_round_trip_keeps_every_field():
    seg = Segment(id=26003, category_id=26, instance_id=3, is_thing=True, score=0.75, area=1234,
                  bbox=RegionOfInterest(x_offset=4, y_offset=5, width=60, height=70))
    msg = PanopticSegmentation(header=Header(frame_id="camera"), height=1024, width=2048, mask_cues=False,
                               segments=[seg, Segment(id=7000, category_id=7, area=99)])
    back = _round_trip(msg)
    assert back == msg
    assert back.segments[0].bbox.height == 70 and back.segments[1].instance_id == 0
    assert not back.mask_cues


def test_info_round_trip_and_field_types():
    msg = PanopticInfo(header=Header(frame_id="camera"), model_name="street_r18", categories=[
        Category(id=65535, name="car", is_thing=True, color=ColorRGBA(r=0.0, g=0.0, b=0.5, a=1.0))])
    assert _round_trip(msg) == msg
    fields = Segment.get_fields_and_field_types()
    assert fields == {"id": "int32", "category_id": "uint16", "instance_id": "uint32", "is_thing": "boolean",
                      "score": "float", "area": "uint32", "bbox": "sensor_msgs/RegionOfInterest"}
    assert PanopticSegmentation.get_fields_and_field_types() == {
        "header": "std_msgs/Header", "height": "uint32", "width": "uint32", "mask_cues": "boolean",
        "segments": "sequence<panoptic_msgs/Segment>"}
