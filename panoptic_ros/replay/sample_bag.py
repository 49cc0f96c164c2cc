"""Write a rosbag2 of synthetic street scenes with their panoptic ground truth.

Topics: ``/camera/image_raw`` (sensor_msgs/Image, rgb8) and ``/camera/panoptic_gt``
(sensor_msgs/Image, 32SC1 in the node's ``~/panoptic`` encoding), same header stamps.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from builtin_interfaces.msg import Time
from std_msgs.msg import Header

from panoptic_ros.data.sample import panoptic_ids
from panoptic_ros.data.synthetic import StreetSceneGenerator
from panoptic_ros.replay.bag_io import BagWriter
from panoptic_ros.ros.conversions import image_message

IMAGE_TOPIC = "/camera/image_raw"
GT_TOPIC = "/camera/panoptic_gt"
START_NS = 1_700_000_000_000_000_000


def write_synthetic_bag(path: Path, frames: int, height: int, width: int, seed: int, rate_hz: float = 5.0,
                        storage: str = "mcap") -> Path:
    from panoptic_ros.data.street_categories import STREET_CATEGORIES
    things = {c.id for c in STREET_CATEGORIES.things}
    generator = StreetSceneGenerator(height, width, seed)
    with BagWriter(path, storage) as bag:
        for i in range(frames):
            scene = generator.generate(i)
            t = START_NS + int(i * 1e9 / rate_hz)
            header = Header(stamp=Time(sec=t // 1_000_000_000, nanosec=t % 1_000_000_000), frame_id="camera")
            bag.write(IMAGE_TOPIC, image_message(scene.image, "rgb8", header), t)
            bag.write(GT_TOPIC, image_message(panoptic_ids(scene.segments, scene.categories, things), "32SC1",
                                              header), t)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--seed", type=int, default=2_000_003)
    parser.add_argument("--rate", type=float, default=5.0, help="frames per second")
    parser.add_argument("--storage", default="mcap", choices=["mcap", "sqlite3"])
    args = parser.parse_args(argv)
    print(write_synthetic_bag(args.out, args.frames, args.height, args.width, args.seed, args.rate, args.storage))


if __name__ == "__main__":
    main()
