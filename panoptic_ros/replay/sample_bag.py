"""Write a rosbag2 of any sample source's frames with their panoptic ground truth.

Topics: ``/camera/image_raw`` (sensor_msgs/Image, rgb8) and ``/camera/panoptic_gt``
(sensor_msgs/Image, 32SC1 in the node's ``~/panoptic`` encoding), same header stamps. The frames
are spread evenly over the source, so a bag of 24 frames from a held-out CamVid sequence covers the
whole drive.

    python -m panoptic_ros.replay.sample_bag out/bag --frames 50                      # synthetic scenes
    python -m panoptic_ros.replay.sample_bag out/camvid --data camvid --root ../shared/data/camvid
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
from builtin_interfaces.msg import Time
from std_msgs.msg import Header

from panoptic_ros.arguments import positive_float, positive_int, quiet_ctrl_c
from panoptic_ros.config import SOURCE_KINDS, SourceConfig
from panoptic_ros.data.dataset import SampleSource, build_source
from panoptic_ros.data.sample import panoptic_ids
from panoptic_ros.replay.bag_io import DEFAULT_STORAGE, STORAGES, BagWriter
from panoptic_ros.ros.conversions import image_message
from panoptic_ros.ros.topics import DEFAULT_CAMERA, ENCODINGS, PANOPTIC

IMAGE_TOPIC = DEFAULT_CAMERA
GT_TOPIC = "/camera/panoptic_gt"
START_NS = 1_700_000_000_000_000_000


def write_sample_bag(path: Path, source: SampleSource, frames: int, rate_hz: float = 5.0,
                     storage: str = DEFAULT_STORAGE) -> Path:
    """Write ``frames`` evenly spaced samples of ``source`` (all of them if it has fewer) at ``rate_hz``."""
    things = {c.id for c in source.categories.things}
    picks = np.unique(np.linspace(0, len(source) - 1, min(frames, len(source))).round().astype(int))
    with BagWriter(path, storage) as bag:
        for k, i in enumerate(picks.tolist()):
            sample = source[i]
            t = START_NS + int(k * 1e9 / rate_hz)
            header = Header(stamp=Time(sec=t // 1_000_000_000, nanosec=t % 1_000_000_000), frame_id="camera")
            bag.write(IMAGE_TOPIC, image_message(sample.image, "rgb8", header), t)
            labels = panoptic_ids(sample.segments, sample.categories, things)
            bag.write(GT_TOPIC, image_message(labels, ENCODINGS[PANOPTIC], header), t)
    return path


@quiet_ctrl_c("sample_bag")
def main(argv: list[str] | None = None) -> int:
    """The sample-bag writer's entry: writes a bag of a data source's frames with their ground truth; 0,
    or 2 with one line for a data set it cannot read (and no half-written bag)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--data", default="synthetic", choices=SOURCE_KINDS)
    parser.add_argument("--root", default="", help="dataset folder (not synthetic)")
    parser.add_argument("--split", default="heldout")
    parser.add_argument("--frames", type=positive_int, default=20)
    parser.add_argument("--height", type=positive_int, default=256, help="synthetic scene height")
    parser.add_argument("--width", type=positive_int, default=512, help="synthetic scene width")
    parser.add_argument("--seed", type=int, default=1_000_000, help="synthetic seed")
    parser.add_argument("--rate", type=positive_float, default=5.0, help="frames per second")
    parser.add_argument("--storage", default=DEFAULT_STORAGE, choices=list(STORAGES))
    args = parser.parse_args(argv)
    if args.out.exists():
        parser.error(f"{args.out} exists: a bag is written to a new folder")
    try:
        source = build_source(SourceConfig(kind=args.data, root=args.root, split=args.split, images=args.frames,
                                           seed=args.seed, height=args.height, width=args.width))
        written = write_sample_bag(args.out, source, args.frames, args.rate, args.storage)
    except (OSError, ValueError, KeyError) as exc:
        shutil.rmtree(args.out, ignore_errors=True)  # refused above if it existed: what is there is ours
        print(f"sample_bag: {exc}", file=sys.stderr)
        return 2
    print(written)
    return 0


if __name__ == "__main__":
    sys.exit(main())
