"""Cityscapes ground truth: ``leftImg8bit`` + ``gtFine/*_instanceIds.png``.

``instanceIds`` pixels hold a label id (< 1000: stuff, or a thing region without instances, which
is read as crowd) or ``label_id * 1000 + k`` for instance k. Category ids are Cityscapes label ids;
labels outside ``CITYSCAPES_CATEGORIES`` (ego vehicle, void ...) are void.

Read onto the street categories instead (``CityscapesDataset(..., street=True)``, the source kind
``cityscapes_street``), the same frames score and train a street model, such as the shipped one, as
CamVid's do: the 19 classes are grouped as CamVid's 11 group its 32 (``STREET_FROM_CITYSCAPES``).
Cars and people keep Cityscapes' own instances; a cyclist is, as in CamVid, one 8-connected region of
rider, bicycle and motorcycle pixels, so a rider and the bicycle under them are one instance (and two
cyclists who touch are one, as in CamVid).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from panoptic_ros.categories import Category, CategoryTable
from panoptic_ros.data.coco_panoptic import read_rgb
from panoptic_ros.data.sample import PanopticSample
from panoptic_ros.data.street_categories import (
    BUILDING, CAR, CYCLIST, FENCE, PERSON, POLE, ROAD, SIDEWALK, SKY, STREET_CATEGORIES, TRAFFIC_SIGN, VEGETATION,
)

CITYSCAPES_CATEGORIES = CategoryTable(tuple(Category(*c) for c in (
    (7, "road", False, (128, 64, 128)), (8, "sidewalk", False, (244, 35, 232)),
    (11, "building", False, (70, 70, 70)), (12, "wall", False, (102, 102, 156)),
    (13, "fence", False, (190, 153, 153)), (17, "pole", False, (153, 153, 153)),
    (19, "traffic light", False, (250, 170, 30)), (20, "traffic sign", False, (220, 220, 0)),
    (21, "vegetation", False, (107, 142, 35)), (22, "terrain", False, (152, 251, 152)),
    (23, "sky", False, (70, 130, 180)), (24, "person", True, (220, 20, 60)),
    (25, "rider", True, (255, 0, 0)), (26, "car", True, (0, 0, 142)), (27, "truck", True, (0, 0, 70)),
    (28, "bus", True, (0, 60, 100)), (31, "train", True, (0, 80, 100)),
    (32, "motorcycle", True, (0, 0, 230)), (33, "bicycle", True, (119, 11, 32)),
)))


# Cityscapes' instanceIds encoding (its own, not ours): label * 1000 + instance for a thing's
# instance, the bare label for stuff and for a crowd region of a thing class
CITYSCAPES_ID_DIVISOR = 1000

# Cityscapes label id -> street category, as CamVid's 11 classes group its 32 (Brostow et al.): walls
# are building, traffic lights signs, terrain vegetation; trucks, buses and trains are cars; riders,
# bicycles and motorcycles cyclists. The other labels are void, as in Cityscapes' own evaluation.
STREET_FROM_CITYSCAPES = {
    7: ROAD, 8: SIDEWALK, 11: BUILDING, 12: BUILDING, 13: FENCE, 17: POLE, 19: TRAFFIC_SIGN, 20: TRAFFIC_SIGN,
    21: VEGETATION, 22: VEGETATION, 23: SKY, 24: PERSON, 25: CYCLIST, 26: CAR, 27: CAR, 28: CAR, 31: CAR,
    32: CYCLIST, 33: CYCLIST,
}
CYCLIST_SEGMENTS = 1 << 20  # ids of cyclist regions start here, above every instanceIds value (< 34 * 1000 + 1000)


def read_instance_ids(path: Path, table: CategoryTable = CITYSCAPES_CATEGORIES
                      ) -> tuple[np.ndarray, dict[int, int], frozenset[int]]:
    """(segment ids with void = 0, segment -> category, crowd segment ids) from an instanceIds PNG."""
    raw = cv2.imread(str(path), cv2.IMREAD_ANYDEPTH)
    if raw is None:
        raise FileNotFoundError(f"cannot read {path}")
    raw = raw.astype(np.int32)
    label = np.where(raw >= CITYSCAPES_ID_DIVISOR, raw // CITYSCAPES_ID_DIVISOR, raw)
    known = {c.id: c for c in table.categories}
    valid = np.isin(label, list(known))
    segments = np.where(valid, raw, 0).astype(np.int32)
    ids = [int(v) for v in np.unique(segments) if v != 0]
    categories = {v: (v // CITYSCAPES_ID_DIVISOR if v >= CITYSCAPES_ID_DIVISOR else v) for v in ids}
    crowd = frozenset(v for v in ids if v < CITYSCAPES_ID_DIVISOR and known[v].is_thing)
    return segments, categories, crowd


def read_street_instance_ids(path: Path) -> tuple[np.ndarray, dict[int, int], frozenset[int]]:
    """(segment ids with void = 0, segment -> street category, crowd segment ids) from an instanceIds
    PNG, grouped by ``STREET_FROM_CITYSCAPES``: one segment per stuff category; cars and people by
    their Cityscapes instance (a region without one is crowd); cyclists one per 8-connected region of
    their pixels, crowd where any of it is a region without instances."""
    raw = cv2.imread(str(path), cv2.IMREAD_ANYDEPTH)
    if raw is None:
        raise FileNotFoundError(f"cannot read {path}")
    raw = raw.astype(np.int32)
    label = np.where(raw >= CITYSCAPES_ID_DIVISOR, raw // CITYSCAPES_ID_DIVISOR, raw)
    lut = np.zeros(CITYSCAPES_ID_DIVISOR, np.int32)  # label -> street category, 0 = void
    for cityscapes, street in STREET_FROM_CITYSCAPES.items():
        lut[cityscapes] = street
    street = lut[label]
    things = {c.id for c in STREET_CATEGORIES.things}
    # stuff: the category's id; car and person: the instanceIds value (an instance's, or a crowd
    # region's bare label, both above every stuff id)
    segments = np.where(np.isin(street, list(things)), raw, street) * (street > 0)
    cyclist = street == CYCLIST
    count, regions = cv2.connectedComponents(cyclist.astype(np.uint8), connectivity=8)
    segments[cyclist] = regions[cyclist] + (CYCLIST_SEGMENTS - 1)
    ids, first = np.unique(segments, return_index=True)  # a segment's category: that of its first pixel
    categories = {int(v): int(street.flat[k]) for v, k in zip(ids, first) if v != 0}
    bare = (raw < CITYSCAPES_ID_DIVISOR) & np.isin(street, list(things))  # thing pixels of no instance
    crowd = frozenset(int(v) for v in np.unique(segments[bare]))
    return segments.astype(np.int32), categories, crowd


class CityscapesDataset:
    """``root/leftImg8bit/<split>/<city>/*_leftImg8bit.png`` with ``root/gtFine/<split>/<city>/*``, in
    Cityscapes' categories or (``street``) the street categories (see the module's docstring)."""

    def __init__(self, root: str | Path, split: str = "val", street: bool = False) -> None:
        self.root = Path(root)
        self.categories = STREET_CATEGORIES if street else CITYSCAPES_CATEGORIES
        self._read = read_street_instance_ids if street else read_instance_ids
        self.labels = sorted((self.root / "gtFine" / split).glob("*/*_gtFine_instanceIds.png"))
        if not self.labels:
            raise FileNotFoundError(f"no gtFine/{split}/*/*_gtFine_instanceIds.png under {self.root}")

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> PanopticSample:
        label = self.labels[i]
        stem = label.name.replace("_gtFine_instanceIds.png", "")
        image = read_rgb(self.root / "leftImg8bit" / label.parent.relative_to(self.root / "gtFine")
                         / f"{stem}_leftImg8bit.png")
        segments, categories, crowd = self._read(label)
        return PanopticSample(image, segments, categories, crowd, stem)
