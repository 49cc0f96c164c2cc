"""Cityscapes ground truth: ``leftImg8bit`` + ``gtFine/*_instanceIds.png``.

``instanceIds`` pixels hold a label id (< 1000: stuff, or a thing region without instances, which
is read as crowd) or ``label_id * 1000 + k`` for instance k. Category ids are Cityscapes label ids;
labels outside ``CITYSCAPES_CATEGORIES`` (ego vehicle, void ...) are void.

Read onto the street categories instead (``CityscapesDataset(..., street=True)``, the source kind
``cityscapes_street``), the same frames score and train a street model, such as the shipped one, as
CamVid's do: the 19 classes are grouped as CamVid's 11 group its 32 (``STREET_FROM_CITYSCAPES``).
Cars and people keep Cityscapes' own instances; a cyclist is, as in CamVid, one 8-connected region of
rider, bicycle and motorcycle pixels, so a rider and the bicycle under them are one instance (and two
cyclists who touch are one, as in CamVid). The group regions of a thing category (pixels of no
instance) form its one crowd segment.
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

# Cityscapes class -> street category, as CamVid's 11 classes group its 32 (Brostow et al.): walls are
# building, traffic lights signs, terrain vegetation; trucks, buses and trains are cars; riders,
# bicycles and motorcycles cyclists (a parked bicycle too, where CamVid's Bicyclist is a rider on a
# bike). Every other label is void, as in Cityscapes' own evaluation.
STREET_FROM_CITYSCAPES = {
    "road": ROAD, "sidewalk": SIDEWALK, "building": BUILDING, "wall": BUILDING, "fence": FENCE, "pole": POLE,
    "traffic light": TRAFFIC_SIGN, "traffic sign": TRAFFIC_SIGN, "vegetation": VEGETATION, "terrain": VEGETATION,
    "sky": SKY, "person": PERSON, "rider": CYCLIST, "car": CAR, "truck": CAR, "bus": CAR, "train": CAR,
    "motorcycle": CYCLIST, "bicycle": CYCLIST,
}
_STREET_OF_LABEL = np.zeros(CITYSCAPES_ID_DIVISOR, np.int32)  # Cityscapes label id -> street category, 0 void
for _c in CITYSCAPES_CATEGORIES.categories:
    _STREET_OF_LABEL[_c.id] = STREET_FROM_CITYSCAPES[_c.name]
_STREET_THINGS = [c.id for c in STREET_CATEGORIES.things]
# street segment ids above every instanceIds value (< 34 * 1000 + 1000): cyclist region k (from 0) is
# CYCLIST_SEGMENTS + k, and a thing category's one crowd segment CROWD_SEGMENTS + its id
CYCLIST_SEGMENTS, CROWD_SEGMENTS = 1 << 20, 1 << 21


def _read_instance_png(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(values, Cityscapes label id of each pixel) of an instanceIds PNG, both int32; a clear error when
    it cannot be read."""
    raw = cv2.imread(str(path), cv2.IMREAD_ANYDEPTH)
    if raw is None:
        raise FileNotFoundError(f"cannot read {path}")
    raw = raw.astype(np.int32)
    return raw, np.where(raw >= CITYSCAPES_ID_DIVISOR, raw // CITYSCAPES_ID_DIVISOR, raw)


def read_instance_ids(path: Path, table: CategoryTable = CITYSCAPES_CATEGORIES
                      ) -> tuple[np.ndarray, dict[int, int], frozenset[int]]:
    """(segment ids with void = 0, segment -> category, crowd segment ids) from an instanceIds PNG."""
    raw, label = _read_instance_png(path)
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
    their Cityscapes instance; cyclists one per 8-connected region of their pixels. Thing pixels of no
    instance (Cityscapes' group regions), and a cyclist region holding any, are one crowd segment per
    category, as PQ's crowd handling (COCO's and ``PQAccumulator``'s) expects."""
    raw, label = _read_instance_png(path)
    street = _STREET_OF_LABEL[label]
    thing = np.isin(street, _STREET_THINGS)
    segments = np.where(thing, raw, street)  # stuff: its category's id; things: the instanceIds value
    crowd_pixels = thing & (raw < CITYSCAPES_ID_DIVISOR)
    cyclist = street == CYCLIST
    _, regions = cv2.connectedComponents(cyclist.astype(np.uint8), connectivity=8)
    segments[cyclist] = regions[cyclist] + (CYCLIST_SEGMENTS - 1)
    crowd_pixels |= cyclist & np.isin(regions, np.unique(regions[crowd_pixels & cyclist]))
    segments = np.where(crowd_pixels, CROWD_SEGMENTS + street, segments) * (street > 0)
    ids, first = np.unique(segments, return_index=True)  # a segment's category: that of its first pixel
    categories = {int(v): int(street.flat[k]) for v, k in zip(ids, first) if v != 0}
    crowd = frozenset(int(v) for v in np.unique(segments[crowd_pixels]))
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
