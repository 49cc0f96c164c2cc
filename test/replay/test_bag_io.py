"""Bag reading and writing: what other tools make of our bags, and what we make of theirs."""
from __future__ import annotations

from pathlib import Path

import pytest
from builtin_interfaces.msg import Time
from rclpy.serialization import serialize_message
from rosbags.rosbag2 import Writer
from rosbags.rosbag2.enums import CompressionFormat, CompressionMode, StoragePlugin
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from helpers import damaged_mid_way
from panoptic_ros.data.dataset import SyntheticStreetScenes
from panoptic_ros.replay.bag_io import (
    IMAGE_TYPES, BagError, FrameStream, camera_rate, open_reader, read_frames, topic_summaries, typestore,
)
from panoptic_ros.replay.sample_bag import IMAGE_TOPIC, write_sample_bag


def _message_compressed_bag(path: Path) -> Path:
    """A bag as ``ros2 bag record --compression-mode message`` writes it: each message zstd-compressed,
    which only its metadata.yaml says."""
    writer = Writer(path, version=8, storage_plugin=StoragePlugin.MCAP)
    writer.set_compression(CompressionMode.MESSAGE, CompressionFormat.ZSTD)
    with writer:
        conn = writer.add_connection("/cam", "sensor_msgs/msg/Image", typestore=typestore())
        for i in range(2):
            msg = Image(header=Header(stamp=Time(sec=i)), height=2, width=2, encoding="mono8", step=2, data=bytes(4))
            writer.write(conn, i, serialize_message(msg))
    return path


def test_a_message_compressed_bag_reads_from_its_folder_or_metadata_and_its_file_alone_says_why_not(tmp_path):
    bag = _message_compressed_bag(tmp_path / "bag")
    for path in (bag, bag / "metadata.yaml"):
        assert [frame.msg.header.stamp.sec for frame in read_frames(path, ["/cam"])] == [0, 1]
    (storage_file,) = bag.glob("*.mcap")
    frames = list(read_frames(storage_file, ["/cam"]))
    assert [frame.msg for frame in frames] == [None, None]
    assert "--compression-mode message" in frames[0].error and "metadata.yaml" in frames[0].error


def test_a_folder_without_metadata_names_what_to_do(tmp_path):
    split = tmp_path / "split"
    split.mkdir()
    for k in range(2):
        (split / f"split_{k}.mcap").write_bytes(b"")
    with pytest.raises(BagError, match="ros2 bag reindex"):
        open_reader(split)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BagError, match="not a bag"):
        open_reader(tmp_path / "empty")


def test_a_file_compressed_bag_s_file_or_a_folder_without_its_metadata_names_what_to_do(tmp_path):
    """``ros2 bag record --compression-mode file`` writes ``*.mcap.zstd``, which only its metadata says."""
    writer = Writer(tmp_path / "bag", version=8, storage_plugin=StoragePlugin.MCAP)
    writer.set_compression(CompressionMode.FILE, CompressionFormat.ZSTD)
    with writer:
        conn = writer.add_connection("/cam", "sensor_msgs/msg/Image", typestore=typestore())
        writer.write(conn, 0, serialize_message(Image(height=1, width=1, encoding="mono8", step=1, data=bytes(1))))
    assert [frame.msg.height for frame in read_frames(tmp_path / "bag", ["/cam"])] == [1]
    (compressed,) = (tmp_path / "bag").glob("*.zstd")
    with pytest.raises(BagError, match="is one compressed file of a bag: give the bag's folder"):
        open_reader(compressed)
    (tmp_path / "bag" / "metadata.yaml").unlink()
    with pytest.raises(BagError, match=r"holds compressed bag files \(.zstd\) but no metadata.yaml"):
        open_reader(tmp_path / "bag")


def test_a_topics_summary_comes_from_the_bags_metadata(tmp_path):
    bag = write_sample_bag(tmp_path / "bag", SyntheticStreetScenes(4, 5, 32, 64), 4, rate_hz=20.0)
    summary = topic_summaries(bag, [IMAGE_TOPIC], IMAGE_TYPES)[IMAGE_TOPIC]
    assert (summary.cls, summary.count, summary.best_effort) == (Image, 4, False)
    assert summary.rate == pytest.approx(20.0, rel=1e-6)
    one = write_sample_bag(tmp_path / "one", SyntheticStreetScenes(1, 5, 32, 64), 1)
    assert topic_summaries(one, [IMAGE_TOPIC], IMAGE_TYPES)[IMAGE_TOPIC].rate is None


def test_a_cameras_rate_is_its_own_spacing_not_the_bags_span(tmp_path):
    """A 10 Hz camera in a bag paused for a minute and recording another topic for ten: still 10 Hz (the
    bag's span said 0.08 Hz, and the preview skipped almost every frame)."""
    ms = 1_000_000
    with Writer(tmp_path / "bag", version=8, storage_plugin=StoragePlugin.MCAP) as writer:
        cam = writer.add_connection("/cam", "sensor_msgs/msg/Image", typestore=typestore())
        other = writer.add_connection("/other", "sensor_msgs/msg/Image", typestore=typestore())
        msg = serialize_message(Image(height=1, width=1, encoding="mono8", step=1, data=bytes(1)))
        for t in [*range(0, 1000, 100), *range(61_000, 62_000, 100)]:
            writer.write(cam, t * ms, msg)
        writer.write(other, 600_000 * ms, msg)
    summary = topic_summaries(tmp_path / "bag", ["/cam"], IMAGE_TYPES)["/cam"]
    assert summary.count == 20 and summary.rate == pytest.approx(10.0)


def test_several_topics_are_summarised_in_one_opening_of_the_bag(tmp_path, monkeypatch):
    """A bag compressed by file is decompressed on each opening: one for all cameras."""
    from panoptic_ros.replay import bag_io
    with Writer(tmp_path / "bag", version=8, storage_plugin=StoragePlugin.MCAP) as writer:
        msg = serialize_message(Image(height=1, width=1, encoding="mono8", step=1, data=bytes(1)))
        for k, topic in enumerate(("/front", "/left")):
            writer.write(writer.add_connection(topic, "sensor_msgs/msg/Image", typestore=typestore()), k, msg)
    opened = []
    monkeypatch.setattr(bag_io, "open_reader", lambda path, opening=bag_io.open_reader: opened.append(path) or
                        opening(path))
    summaries = topic_summaries(tmp_path / "bag", ["/front", "/left"], IMAGE_TYPES)
    assert [s.count for s in summaries.values()] == [1, 1] and len(opened) == 1


def test_camera_rate_ignores_repeated_times_and_knows_when_it_cannot_tell():
    assert camera_rate([0, 50_000_000, 50_000_000, 100_000_000, 5_000_000_000]) == pytest.approx(20.0)
    assert camera_rate([7]) is None and camera_rate([3, 3]) is None and camera_rate([]) is None


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_several_camera_topics_read_interleaved_as_they_were_received(storage, tmp_path):
    from panoptic_ros.replay.bag_io import BagWriter
    with BagWriter(tmp_path / "bag", storage) as bag:
        for topic, times in (("/left", (1, 4)), ("/front", (0, 2, 3))):  # written one topic after the other
            for t in times:
                bag.write(topic, Image(header=Header(stamp=Time(sec=t)), encoding="mono8"), t)
        bag.write("/other", Image(), 5)
    frames = list(read_frames(tmp_path / "bag", ["/front", "/left"]))
    assert [(f.topic, f.timestamp) for f in frames] == [("/front", 0), ("/left", 1), ("/front", 2),
                                                         ("/front", 3), ("/left", 4)]
    assert [f.msg.header.stamp.sec for f in frames] == [0, 1, 2, 3, 4]


TOPICS = ["/camera/image_raw", "/camera/image_raw/compressed"]


def test_a_storage_damaged_mid_way_ends_the_frames_before_it_and_says_where(tmp_path):
    bag = damaged_mid_way(tmp_path / "bag")
    with pytest.raises(BagError, match="is corrupt"):  # read_frames alone loses what it read
        list(read_frames(bag, TOPICS))
    frames = FrameStream(bag, TOPICS, 12)
    read = list(frames)
    assert 0 < len(read) < 12 and all(frame.msg is not None for frame in read)
    assert "is corrupt" in frames.error and f"after {len(read)} of the 12 frames" in frames.error
    assert f"bag time {read[-1].timestamp}" in frames.error


def test_a_storage_failing_before_its_first_frame_raises(tmp_path, monkeypatch):
    def failing(path, topics):
        raise BagError("bag is corrupt: at once")
        yield
    monkeypatch.setattr("panoptic_ros.replay.bag_io.read_frames", failing)
    with pytest.raises(BagError, match="at once"):
        list(FrameStream(tmp_path, TOPICS, 12))


def test_an_undamaged_bag_streams_all_its_frames_without_error():
    frames = FrameStream(Path(__file__).resolve().parents[3] / "shared" / "data" / "bags" / "coco_sample_mcap",
                         TOPICS, 12)
    assert len(list(frames)) == 12 and frames.error == ""
