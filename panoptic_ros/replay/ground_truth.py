"""Ground truth for a replay, by frame stamp: from a label-image topic of the bag or a COCO panoptic
folder, checked against the model's categories before anything runs."""
from __future__ import annotations

import dataclasses
import zlib
from pathlib import Path

import numpy as np
from sensor_msgs.msg import Image

from panoptic_ros.categories import Category, CategoryTable
from panoptic_ros.data.coco_panoptic import CocoPanopticDataset
from panoptic_ros.data.sample import panoptic_ids
from panoptic_ros.image_encoding import ImageEncodingError
from panoptic_ros.replay.bag_io import BagError, MessageError, label_image, read_messages, stamp_ns
from panoptic_ros.structures import VOID_ID, category_of


@dataclasses.dataclass(frozen=True)
class PackedLabels:
    """A label image (``~/panoptic`` encoding) held compressed: a replay keeps one per frame with ground
    truth until it is scored, and label images compress tens of times, so a long labelled bag fits."""

    data: bytes
    shape: tuple[int, ...]

    @classmethod
    def pack(cls, labels: np.ndarray) -> "PackedLabels":
        """``labels`` (any integer type within int32), compressed fast (zlib level 1)."""
        return cls(zlib.compress(np.ascontiguousarray(labels, np.int32).tobytes(), 1), labels.shape)

    def unpack(self) -> np.ndarray:
        """The label image as packed, as int32 (read-only: a view of the decompressed bytes)."""
        return np.frombuffer(zlib.decompress(self.data), np.int32).reshape(self.shape)


@dataclasses.dataclass(frozen=True)
class GroundTruthFrame:
    """One frame's labels, and the values of its crowd regions (a crowd is never a miss, and a
    prediction on one of its category is no false positive)."""

    labels: PackedLabels
    crowd: frozenset[int] = frozenset()

    @classmethod
    def of(cls, panoptic: np.ndarray, crowd: frozenset[int] = frozenset()) -> "GroundTruthFrame":
        """A frame of the label image ``panoptic`` (packed) and its crowd values."""
        return cls(PackedLabels.pack(panoptic), crowd)

    @property
    def panoptic(self) -> np.ndarray:
        """The label image, unpacked anew on each access."""
        return self.labels.unpack()


def from_label_topic(bag: Path, topic: str) -> tuple[dict[int, GroundTruthFrame], str]:
    """(stamp (ns) -> the topic's 32SC1 label images (no crowd regions: the encoding has none), "" or
    where the bag's storage failed). A bag whose storage fails part-way (a bad page, a recording cut
    short) keeps the label images before the damage, which are scored as any others.

    Raises:
        ValueError: two label images share a stamp, so which frame each labels is unknown.
        MessageError: a label image cannot be deserialised (ground truth with a hole is refused).
        BagError: the storage failed before the first label image.
    """
    out: dict[int, GroundTruthFrame] = {}
    try:
        for _, msg in read_messages(bag, topic, {"sensor_msgs/msg/Image": Image}):
            stamp = stamp_ns(msg)
            if stamp in out:
                raise ValueError(f"{topic}: two label images have the stamp {stamp}; ground truth is paired with "
                                 "frames by stamp, so each label image needs its frame's own")
            try:
                out[stamp] = GroundTruthFrame.of(label_image(msg))
            except ImageEncodingError as exc:
                raise ValueError(f"ground-truth topic {topic}: {exc}") from exc
    except MessageError:
        raise
    except BagError as exc:
        if not out:
            raise
        return out, f"{exc}; the ground truth of {topic} stopped there, after {len(out)} label image(s)"
    return out, ""


def from_coco_panoptic(gt_json: Path, gt_dir: Path) -> tuple[dict[int, GroundTruthFrame], tuple[Category, ...]]:
    """(stamp (ns) -> a COCO panoptic folder's labels, whose PNGs are named by the frame's stamp; the
    categories its JSON declares, for ``check_categories`` to hold against the model's)."""
    ds = CocoPanopticDataset(gt_json, gt_dir)
    if not ds.category_records:  # without them every instance of a class would merge into one segment
        raise ValueError(f"{gt_json} lists no categories: ground truth needs them to tell things (one segment "
                         "per instance) from stuff")
    things = {c.id for c in ds.category_records if c.is_thing}
    out = {}
    for i, ann in enumerate(ds.annotations):
        name = Path(ann["file_name"]).stem
        if not name.isdigit():
            raise ValueError(f"{gt_json}: {ann['file_name']!r} is not named by its frame's stamp in nanoseconds")
        segments, categories, crowd = ds.load_segments(i)
        panoptic = panoptic_ids(segments, categories, things)
        pairs = np.unique(np.stack([segments.ravel(), panoptic.ravel()]), axis=1)  # segment id -> its value
        out[int(name)] = GroundTruthFrame.of(panoptic, frozenset(int(v) for s, v in pairs.T if s in crowd))
    return out, ds.category_records


def check_categories(ground_truth: dict[int, GroundTruthFrame], categories: CategoryTable,
                     declared: tuple[Category, ...] = ()) -> None:
    """Raise ``ValueError`` naming the ground truth's categories that the model does not have (their
    segments could be neither matched nor scored), and the ``declared`` ones (a COCO JSON's) whose id
    the model gives another name or kind (they would be scored as another class without a word)."""
    model = {c.id: c for c in categories.categories}
    renamed = [f"{d.id} is {d.name!r} ({'thing' if d.is_thing else 'stuff'}) in the ground truth, "
               f"{model[d.id].name!r} ({'thing' if model[d.id].is_thing else 'stuff'}) in the model"
               for d in declared if d.id in model and (d.name, d.is_thing) != (model[d.id].name, model[d.id].is_thing)]
    if renamed:
        raise ValueError("the ground truth's category ids mean other classes than the model's: "
                         + "; ".join(renamed[:5]))
    values = np.unique(np.concatenate([np.unique(f.panoptic).ravel() for f in ground_truth.values()] or [[]]))
    present = {int(c) for c in category_of(values[values != VOID_ID].astype(np.int64))}
    unknown = sorted(present - {c.id for c in categories.categories})
    if unknown:
        known = ", ".join(f"{c.id} {c.name}" for c in categories.categories)
        raise ValueError(f"the ground truth has category ids the model does not know: {unknown[:10]} "
                         f"(the model's: {known})")
