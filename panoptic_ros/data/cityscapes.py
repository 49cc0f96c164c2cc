"""Cityscapes ground truth: ``leftImg8bit`` + ``gtFine/*_instanceIds.png``.

``instanceIds`` pixels hold a label id (< 1000: stuff, or a thing region without instances, which
is read as crowd) or ``label_id * 1000 + k`` for instance k. Category ids are Cityscapes label ids;
labels outside ``CITYSCAPES_CATEGORIES`` (ego vehicle, void ...) are void.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from panoptic_ros.categories import Category, CategoryTable
from panoptic_ros.data.coco_panoptic import read_rgb
from panoptic_ros.data.sample import PanopticSample

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


class CityscapesDataset:
    """``root/leftImg8bit/<split>/<city>/*_leftImg8bit.png`` with ``root/gtFine/<split>/<city>/*``."""

    def __init__(self, root: str | Path, split: str = "val") -> None:
        self.root = Path(root)
        self.categories = CITYSCAPES_CATEGORIES
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
        segments, categories, crowd = read_instance_ids(label, self.categories)
        return PanopticSample(image, segments, categories, crowd, stem)
