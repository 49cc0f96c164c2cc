"""``PanopticSample`` (one image + its panoptic ground truth) and its conversion to training arrays."""
from __future__ import annotations

import dataclasses

import numpy as np

from panoptic_ros.categories import VOID, CategoryTable
from panoptic_ros.structures import ID_DIVISOR, VOID_ID, panoptic_id


@dataclasses.dataclass
class PanopticSample:
    """One image with its panoptic ground truth, as every reader returns it (segment ids and their
    categories), so any data set feeds the same training targets and evaluation."""

    image: np.ndarray              # [H, W, 3] uint8 RGB
    segments: np.ndarray           # [H, W] int32 segment id, 0 = void
    categories: dict[int, int]     # segment id -> category id
    crowd: frozenset[int] = frozenset()  # segment ids marked iscrowd
    name: str = ""

    def __post_init__(self) -> None:
        if self.image.shape[:2] != self.segments.shape:
            turned = self.image.shape[1::-1] == self.segments.shape  # a camera's EXIF rotation, often
            hint = ("; turned by a quarter: was the label drawn on the photo as rotated by its EXIF orientation? "
                    "Pixels are read as stored" if turned else "")
            raise ValueError(f"{self.name or 'sample'}: image {self.image.shape[:2]} and its labels "
                             f"{self.segments.shape} differ in size (a label must cover its image pixel for pixel)"
                             f"{hint}")


# Thing segments of fewer pixels (at the training crop's scale) train as crowd, not instances: 13 % of
# CamVid's car components are 4 pixels or fewer (fragments split off by occlusion), each of which made
# the RPN's best anchor (IoU ~1/256) a positive and taught the box and mask heads from a sub-pixel box.
MIN_INSTANCE_AREA = 16


@dataclasses.dataclass
class TrainingArrays:
    """What the network's loss needs, per image (see ``PanopticTargets``)."""

    image: np.ndarray      # [3, H, W] uint8
    semantic: np.ndarray   # [H, W] int64 semantic channel, 255 void
    segments: np.ndarray   # [H, W] int64 segment index, -1 void or crowd
    instances: np.ndarray  # [H, W] int64 instance slot, -1 none
    boxes: np.ndarray      # [n, 4] float32
    labels: np.ndarray     # [n] int64, 1-based thing label


def to_training_arrays(sample: PanopticSample, table: CategoryTable,
                       min_instance_area: int = MIN_INSTANCE_AREA) -> TrainingArrays:
    """Vectorised lookups from segment ids to semantic channels, instance slots and boxes; thing
    segments under ``min_instance_area`` pixels become crowd (see ``MIN_INSTANCE_AREA``)."""
    seg = sample.segments
    ids = np.array(sorted(sample.categories), dtype=np.int64)
    channel_of = table.semantic_index()
    things = {c.id for c in table.things}
    sem_of_id = np.array([channel_of.get(sample.categories[i], VOID) for i in ids], dtype=np.int64)
    is_instance = np.array([sample.categories[i] in things and i not in sample.crowd for i in ids], dtype=bool)
    is_crowd = np.array([i in sample.crowd for i in ids], dtype=bool)
    known = sem_of_id != VOID

    pos = np.searchsorted(ids, seg) if len(ids) else np.zeros_like(seg, dtype=np.int64)
    pos = np.clip(pos, 0, max(len(ids) - 1, 0))
    present = (len(ids) > 0) & (ids[pos] == seg) if len(ids) else np.zeros(seg.shape, bool)
    areas = np.bincount(pos[present].ravel(), minlength=len(ids)) if len(ids) else np.zeros(0, int)
    # a speck of a thing (a fragment of an occluded car, a crop's sliver) is taught as a crowd region:
    # its class in the semantic target, "unknown" in the panoptic one, no box for the detector
    speck = is_instance & (areas < min_instance_area)
    is_instance, is_crowd = is_instance & ~speck, is_crowd | speck
    semantic = np.where(present & known[pos], sem_of_id[pos], VOID) if len(ids) else np.full(seg.shape, VOID)
    segments = np.where(present & known[pos] & ~is_crowd[pos], pos, -1) if len(ids) else np.full(seg.shape, -1)

    inst_ids = ids[is_instance & known]
    slot_of_pos = np.full(max(len(ids), 1), -1, dtype=np.int64)
    slot_of_pos[np.searchsorted(ids, inst_ids)] = np.arange(len(inst_ids))
    instances = np.where(present, slot_of_pos[pos], -1) if len(ids) else np.full(seg.shape, -1)

    n = len(inst_ids)
    ys, xs = np.nonzero(instances >= 0)
    slots = instances[ys, xs]
    boxes = np.zeros((n, 4), np.float32)
    if n:
        boxes[:, 0] = np.full(n, np.inf)
        boxes[:, 1] = np.full(n, np.inf)
        np.minimum.at(boxes[:, 0], slots, xs)
        np.minimum.at(boxes[:, 1], slots, ys)
        np.maximum.at(boxes[:, 2], slots, xs + 1)
        np.maximum.at(boxes[:, 3], slots, ys + 1)
    thing_index = {c.id: k + 1 for k, c in enumerate(table.things)}
    labels = np.array([thing_index[sample.categories[int(i)]] for i in inst_ids], dtype=np.int64)
    return TrainingArrays(np.ascontiguousarray(sample.image.transpose(2, 0, 1)), semantic.astype(np.int64),
                          segments.astype(np.int64), instances.astype(np.int64), boxes, labels)


def panoptic_ids(segments: np.ndarray, categories: dict[int, int], things: set[int]) -> np.ndarray:
    """Segment ids (0 void) -> the node's ``~/panoptic`` encoding (``structures.panoptic_id``), with
    instances numbered 1.. per category in segment-id order, stuff instance 0, void ``VOID_ID``.

    Raises:
        ValueError: a category with ``ID_DIVISOR`` or more instances: its ids would run into the next
        category's.
    """
    ids = np.array(sorted(categories), dtype=np.int64)
    if len(ids) == 0:
        return np.full(segments.shape, VOID_ID, np.int32)
    cats = np.array([categories[i] for i in ids], dtype=np.int64)
    is_thing = np.array([c in things for c in cats])
    order = np.argsort(cats, kind="stable")  # by category, segment-id order within one
    number = np.empty_like(cats)
    number[order] = np.arange(1, len(cats) + 1) - np.searchsorted(cats[order], cats[order])
    instance = np.where(is_thing, number, 0)
    if instance.max() >= ID_DIVISOR:
        raise ValueError(f"category {int(cats[instance.argmax()])} has {int(instance.max())} instances in one image; "
                         f"panoptic ids hold at most {ID_DIVISOR - 1}")
    values = panoptic_id(cats, instance).astype(np.int32)
    pos = np.clip(np.searchsorted(ids, segments), 0, len(ids) - 1)
    return np.where(ids[pos] == segments, values[pos], VOID_ID).astype(np.int32)
