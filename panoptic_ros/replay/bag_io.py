"""rosbag2 reading and writing with ``rosbags`` (no ROS install needed for the container format).

Messages are (de)serialised with rclpy's own CDR code and the same message classes the node uses,
so what the replay writes is byte for byte what the node would publish; ``rosbags`` only handles
the sqlite3/mcap container and its metadata (our panoptic_msgs definitions are registered with its
type store so the bag describes them).
"""
from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
from rclpy.qos import QoSProfile
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.rosbag2 import Reader, Writer
from rosbags.rosbag2.enums import CompressionFormat, CompressionMode, StoragePlugin
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from panoptic_ros.resources import package_file
from panoptic_ros.image_encoding import ImageEncodingError, image_view
from panoptic_ros.ros.topics import ENCODINGS, OVERLAY, PANOPTIC
from sensor_msgs.msg import CompressedImage, Image

IMAGE_TYPES = {"sensor_msgs/msg/Image": Image, "sensor_msgs/msg/CompressedImage": CompressedImage}
PANOPTIC_MSGS = ("Category", "PanopticInfo", "Segment", "PanopticSegmentation")


class BagError(RuntimeError):
    """A bag that cannot be used (missing, corrupt, or without the requested topic)."""


class MessageError(BagError):
    """One message of a readable bag that cannot be deserialised (its storage is fine)."""


def typestore() -> Any:
    """rosbags' Kilted type store plus panoptic_msgs."""
    store = get_typestore(Stores.ROS2_KILTED)
    types: dict[str, Any] = {}
    for name in PANOPTIC_MSGS:
        definition = package_file("panoptic_msgs", "msg", f"{name}.msg").read_text()
        types |= get_types_from_msg(definition, f"panoptic_msgs/msg/{name}")
    store.register(types)
    return store


def stamp_ns(msg: Any) -> int:
    """A message's header stamp in nanoseconds: the key that pairs frames, outputs and ground truth."""
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


@dataclasses.dataclass
class Frame:
    """One message of a camera topic: its bag receive time and the image, or why there is none."""

    timestamp: int   # bag receive time, ns
    topic: str       # the camera topic it was recorded on
    msg: Image | CompressedImage | None
    error: str = ""  # when ``msg`` is None: why the message could not be read

    @property
    def stamp_ns(self) -> int:
        assert self.msg is not None, self.error
        return stamp_ns(self.msg)


def open_reader(path: Path) -> Reader:
    """A rosbag2 reader of ``path``: a bag folder (or its ``metadata.yaml``), or one ``.mcap`` / ``.db3``
    file (also a folder holding just that file without its ``metadata.yaml``); what cannot be read is a
    ``BagError`` saying what to do."""
    if not path.exists():
        raise BagError(f"bag {path} does not exist")
    if path.name == "metadata.yaml":
        path = path.parent
    if path.is_file() and path.suffix == ".bag":
        raise BagError(f"{path} is a ROS 1 bag; convert it to rosbag2 first: rosbags-convert --src {path} "
                       f"--dst {path.with_suffix('')}")
    if path.is_file() and path.suffix == ".zstd":  # ``ros2 bag record --compression-mode file``
        raise BagError(f"{path} is one compressed file of a bag: give the bag's folder (with its metadata.yaml, "
                       "which says how it was compressed)")
    if path.is_dir() and not (path / "metadata.yaml").is_file():
        if any(p.suffix == ".zstd" for p in path.iterdir()):
            raise BagError(f"{path} holds compressed bag files (.zstd) but no metadata.yaml, which says how they "
                           "were compressed: restore it, or decompress them (zstd -d) and give the folder again")
        files = [p for p in path.iterdir() if p.suffix in (".mcap", ".db3")]
        if len(files) != 1:
            raise BagError(f"{path} has no metadata.yaml and {len(files)} .mcap/.db3 files: "
                           + ("a split recording cut short? `ros2 bag reindex` writes its metadata.yaml, or give "
                              "one file's path to replay that split alone" if files else "not a bag"))
        path = files[0]
    try:
        reader = Reader(path)
        reader.open()
    except Exception as exc:  # rosbags raises several types for damaged metadata or storage
        hint = " (a recording cut short? `ros2 bag reindex` or `mcap recover` can repair it)" \
            if "magic" in str(exc).lower() else ""
        raise BagError(f"cannot open bag {path}: {type(exc).__name__}: {exc}{hint}") from exc
    return reader


@dataclasses.dataclass(frozen=True)
class TopicSummary:
    """What a bag's metadata says of one topic, read once before a replay."""

    cls: type           # its message class
    count: int          # messages (for progress bars)
    rate: float | None  # the camera's messages per second (``camera_rate``; None: unknown), what a
                        # preview plays at so it runs at the camera's speed
    best_effort: bool   # recorded from best-effort publishers only (a driver on the sensor-data profile);
                        # a bag that recorded no QoS counts as reliable, the ordinary driver's


RATE_SAMPLE = 31  # messages whose spacing gives a camera's rate: read at once, a second at 30 Hz


def camera_rate(timestamps: list[int]) -> float | None:
    """Messages per second from consecutive receive times (ns): the median spacing, so a pause in the
    recording, other topics recorded longer, or a few dropped frames do not make a camera look slow.
    None: fewer than two distinct times."""
    spacing = np.diff(np.asarray(timestamps, dtype=np.int64))
    spacing = spacing[spacing > 0]
    return 1e9 / float(np.median(spacing)) if len(spacing) else None


def topic_summaries(path: Path, topics: Sequence[str], types: dict[str, type]) -> dict[str, TopicSummary]:
    """Each topic's summary, from the metadata and its first ``RATE_SAMPLE`` messages' receive times, in
    one opening of the bag (``rosbags`` decompresses a bag compressed by file on each opening); ``BagError``
    when the bag cannot be read or lacks a topic (naming what it has)."""
    reader = open_reader(path)
    try:
        return {topic: _summary(reader, path, topic, types) for topic in topics}
    finally:
        reader.close()


def _summary(reader: Reader, path: Path, topic: str, types: dict[str, type]) -> TopicSummary:
    conns, cls = _connections(reader, path, topic, types)
    count = sum(c.msgcount for c in conns)
    timestamps: list[int] = []
    try:
        for _, timestamp, _ in itertools.islice(reader.messages(connections=conns), RATE_SAMPLE):
            timestamps.append(timestamp)
    except Exception:  # a damaged storage: the replay reports it frame by frame; the rate stays unknown
        timestamps = []
    offered = [q for c in conns for q in c.ext.offered_qos_profiles]
    return TopicSummary(cls, count, camera_rate(timestamps),
                        bool(offered) and all(q.reliability == QosReliability.BEST_EFFORT for q in offered))


def _connections(reader: Reader, path: Path, topic: str, types: dict[str, type]) -> tuple[list[Any], type]:
    """``topic``'s connections and message class; ``BagError`` naming what the bag has instead."""
    conns = [c for c in reader.connections if c.topic == topic]
    if not conns:
        available = ", ".join(f"{c.topic} ({c.msgtype})" for c in reader.connections)
        raise BagError(f"topic {topic!r} is not in {path}; it has: {available}")
    if conns[0].msgtype not in types:
        raise BagError(f"topic {topic!r} has type {conns[0].msgtype}, expected one of {sorted(types)}")
    return conns, types[conns[0].msgtype]


def _serialized(path: Path, topics: Sequence[str], types: dict[str, type]
                ) -> Iterator[tuple[int, bytes, type, str]]:
    """(timestamp, CDR bytes, message class, topic) of ``topics``, all in the order of their receive
    times; a storage that fails is a ``BagError``."""
    reader = open_reader(path)
    try:
        by_connection: dict[int, tuple[type, str]] = {}
        for topic in topics:
            conns, cls = _connections(reader, path, topic, types)
            by_connection |= {c.id: (cls, topic) for c in conns}
        try:
            for conn, timestamp, raw in reader.messages(
                    connections=[c for c in reader.connections if c.id in by_connection]):
                yield timestamp, bytes(raw), *by_connection[conn.id]
        except Exception as exc:
            raise BagError(f"bag {path} is corrupt: {type(exc).__name__}: {exc}") from exc
    finally:
        reader.close()


ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _deserialized(raw: bytes, cls: type) -> tuple[Any, str]:
    """(message, "") or (None, why it cannot be deserialised)."""
    if raw.startswith(ZSTD_MAGIC):  # only the metadata says so, and it was not read
        return None, ("a message is zstd-compressed (recorded with --compression-mode message): give the "
                      "bag's folder, with its metadata.yaml, not its storage file")
    try:
        return deserialize_message(raw, cls), ""
    except Exception as exc:  # rclpy raises RMWError and others for damaged CDR
        first_line = str(exc).splitlines()[0] if str(exc) else ""
        return None, f"a message cannot be deserialised ({type(exc).__name__}: {first_line})"


def read_messages(path: Path, topic: str, types: dict[str, type]) -> Iterator[tuple[int, Any]]:
    """(timestamp, message) of ``topic``, whose type must be one of ``types``; a message that cannot be
    deserialised is a ``MessageError``, a storage that fails a ``BagError``."""
    for timestamp, raw, cls, _ in _serialized(path, [topic], types):
        msg, error = _deserialized(raw, cls)
        if msg is None:
            raise MessageError(f"bag {path}, {topic} at bag time {timestamp}: {error}")
        yield timestamp, msg


def read_frames(path: Path, topics: Sequence[str]) -> Iterator[Frame]:
    """The camera topics' frames, interleaved in the order they were received (as the cameras
    published them); one that cannot be deserialised is a ``Frame`` without a message (counted as a
    bad frame), so one damaged message does not end a long replay."""
    for timestamp, raw, cls, topic in _serialized(path, topics, IMAGE_TYPES):
        msg, error = _deserialized(raw, cls)
        yield Frame(timestamp, topic, msg, error)


class FrameStream:
    """``read_frames`` of ``topics``, as an iterable that ends, instead of raising, where the bag's storage
    fails after its first frame (a damaged page, a recording cut short mid-file): the frames before the
    damage are still replayed, written and reported, and ``error`` says where the bag stopped. A storage
    that fails before its first frame raises its ``BagError``: there is nothing to replay."""

    def __init__(self, path: Path, topics: Sequence[str], expected: int) -> None:
        """``expected``: the topics' messages as the metadata counts them, to say how many were lost."""
        self.path, self.topics, self.expected = path, list(topics), expected
        self.error = ""

    def __iter__(self) -> Iterator[Frame]:
        read, last = 0, None
        try:
            for frame in read_frames(self.path, self.topics):
                read, last = read + 1, frame.timestamp
                yield frame
        except BagError as exc:
            if not read:
                raise
            self.error = (f"{exc}; the replay stopped there, after {read} of the {self.expected} frames the "
                          f"metadata counts (the last read at bag time {last})")


def label_image(msg: Image) -> np.ndarray:
    """A label image in the ``~/panoptic`` encoding (32SC1), ground truth or the node's own, as an array."""
    if msg.encoding != ENCODINGS[PANOPTIC]:
        raise ImageEncodingError(f"ground-truth label images must be {ENCODINGS[PANOPTIC]}, got {msg.encoding!r}")
    return np.array(image_view(msg.height, msg.width, msg.encoding, msg.step, msg.data, bool(msg.is_bigendian)))


def rgb_image(msg: Image) -> np.ndarray:
    """An ``~/overlay`` image (rgb8) as an [H, W, 3] array, row padding and all."""
    if msg.encoding != ENCODINGS[OVERLAY]:
        raise ImageEncodingError(f"overlay images must be {ENCODINGS[OVERLAY]}, got {msg.encoding!r}")
    return np.array(image_view(msg.height, msg.width, msg.encoding, msg.step, msg.data))


_INFINITE = QosTime(sec=9223372036, nsec=854775807)  # how rosbag2 writes an infinite duration


def recorded_qos(profile: QoSProfile) -> Qos:
    """An rclpy publisher profile (``ros.qos``) as rosbag2 records it, so ``ros2 bag play`` offers the
    topic the same way (a latched ``~/categories`` reaches a subscriber that joins later)."""
    return Qos(history=QosHistory(profile.history.value), depth=profile.depth,
               reliability=QosReliability(profile.reliability.value),
               durability=QosDurability(profile.durability.value), deadline=_INFINITE, lifespan=_INFINITE,
               liveliness=QosLiveliness.AUTOMATIC, liveliness_lease_duration=_INFINITE,
               avoid_ros_namespace_conventions=False)


# rosbag2's metadata format 8: what Humble, Jazzy and Kilted all read (9 writes QoS as a list, which
# Humble's reader takes for a string and fails on).
METADATA_VERSION = 8


STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}  # the output bags' storage plugins
DEFAULT_STORAGE = "mcap"


class BagWriter:
    """Write rclpy messages to a new rosbag2 (mcap by default) that Humble, Jazzy and Kilted and any MCAP
    tool read: an mcap's chunks are zstd-compressed inside the file (MCAP's own compression, which
    Foxglove and ``mcap`` read), never each message (rosbag2's per-message mode, which only
    ``ros2 bag`` undoes, and only with the metadata beside the file); sqlite3 is stored plain."""

    def __init__(self, path: Path, storage: str = DEFAULT_STORAGE) -> None:
        self.store = typestore()
        plugin = STORAGES[storage]
        self.writer = Writer(path, version=METADATA_VERSION, storage_plugin=plugin)
        if plugin == StoragePlugin.MCAP:
            self.writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
        self.writer.open()
        self.connections: dict[str, Any] = {}

    def write(self, topic: str, msg: Any, timestamp: int, qos: Qos | None = None) -> None:
        """``msg`` on ``topic`` at bag time ``timestamp`` (ns); ``qos``: the QoS the topic is recorded as
        offered with (``recorded_qos``; its first message decides; None: none recorded)."""
        if topic not in self.connections:
            module = type(msg).__module__.split(".")[0]
            msgtype = f"{module}/msg/{type(msg).__name__}"
            self.connections[topic] = self.writer.add_connection(
                topic, msgtype, typestore=self.store, offered_qos_profiles=[qos] if qos else [])
        self.writer.write(self.connections[topic], timestamp, serialize_message(msg))

    def close(self) -> None:
        self.writer.close()

    def __enter__(self) -> "BagWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
