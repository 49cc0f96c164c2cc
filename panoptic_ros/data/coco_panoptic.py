"""COCO panoptic format: PNGs with RGB-encoded segment ids + JSON ``segments_info`` (panopticapi's
convention, ``id = R + 256 G + 256^2 B``). Reading and writing, so synthetic data and predictions
share the format that the evaluator reads.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Iterable

import cv2
import numpy as np

from panoptic_ros.categories import Category, CategoryTable, categories_from_records
from panoptic_ros.data.sample import PanopticSample
from panoptic_ros.structures import COCO_VOID_ID


def rgb_to_id(rgb: np.ndarray) -> np.ndarray:
    """COCO panoptic PNG colours -> segment ids (``R + 256 G + 256^2 B``, panopticapi's encoding)."""
    rgb = rgb.astype(np.int32)
    return rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]


def id_to_rgb(ids: np.ndarray) -> np.ndarray:
    """Segment ids -> COCO panoptic PNG colours (the inverse of ``rgb_to_id``)."""
    ids = ids.astype(np.int64)
    return np.stack([ids % 256, ids // 256 % 256, ids // 65536 % 256], axis=-1).astype(np.uint8)


def read_rgb(path: Path) -> np.ndarray:
    """An image file as [H, W, 3] uint8 RGB, its pixels as stored; a clear error when it cannot be read.

    An EXIF orientation tag is not applied: labels are drawn on the stored pixels (as panopticapi reads
    them), and a camera delivers them so; OpenCV's default would turn a tagged photo against its labels.
    """
    img = cv2.imread(str(path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if img is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def write_rgb(path: Path, rgb: np.ndarray) -> None:
    """[H, W, 3] uint8 RGB to an image file; a clear error when it cannot be written."""
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write {path}")


def segment_record(segment_id: int, category_id: int, box: tuple[int, int, int, int], area: int,
                   crowd: bool = False) -> dict[str, Any]:
    """One COCO ``segments_info`` record; ``box`` is (x0, y0, x1, y1) with x1 and y1 exclusive, written as
    COCO's [x, y, width, height]."""
    x0, y0, x1, y1 = box
    return {"id": int(segment_id), "category_id": int(category_id), "iscrowd": int(crowd),
            "bbox": [int(x0), int(y0), int(x1 - x0), int(y1 - y0)], "area": int(area)}


def segments_info(segments: np.ndarray, categories: dict[int, int], crowd: Iterable[int] = ()) -> list[dict[str, Any]]:
    """COCO ``segments_info`` (``segment_record``s) of the segments present in a map of segment ids."""
    crowd = set(crowd)
    ids, inverse, areas = np.unique(segments, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(segments.shape)
    ys, xs = np.indices(segments.shape)
    out = []
    for k, sid in enumerate(ids.tolist()):
        if sid == COCO_VOID_ID or sid not in categories:
            continue
        m = inverse == k
        box = (xs[m].min(), ys[m].min(), xs[m].max() + 1, ys[m].max() + 1)
        out.append(segment_record(sid, categories[sid], box, areas[k], sid in crowd))
    return out


def _check_annotations(path: Path, data: Any) -> None:
    """Refuse, naming the file and the record, a JSON without the fields that scoring reads: a list of
    ``annotations``, each with ``image_id``, ``file_name`` and ``segments_info`` records of ``id`` and
    ``category_id``."""
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise ValueError(f"{path}: not a COCO panoptic file (no list of 'annotations')")
    for ann in data["annotations"]:
        missing = [key for key in ("image_id", "file_name", "segments_info") if key not in ann]
        if missing:
            raise ValueError(f"{path}: annotation {str(ann)[:80]} has no {', '.join(missing)}")
        incomplete = [s for s in ann["segments_info"] if "id" not in s or "category_id" not in s]
        if incomplete:
            raise ValueError(f"{path}: a segments_info record of {ann['file_name']} has no id or category_id: "
                             f"{str(incomplete[0])[:80]}")


class CocoPanopticDataset:
    """Read-only access to a COCO panoptic split (images + panoptic PNGs + JSON).

    ``category_records`` are the JSON's categories as given (a prediction file may have none);
    ``categories`` is their ``CategoryTable``, checked against a model's rules only when training or a
    model's evaluation asks for it, so scoring files works for any COCO-panoptic data set.
    """

    def __init__(self, json_path: str | Path, panoptic_dir: str | Path, image_dir: str | Path | None = None) -> None:
        self.json_path = Path(json_path)
        data = json.loads(self.json_path.read_text())
        self.panoptic_dir = Path(panoptic_dir)
        self.image_dir = Path(image_dir) if image_dir is not None else None
        try:
            self.category_records: tuple[Category, ...] = categories_from_records(data.get("categories", []))
        except ValueError as exc:
            raise ValueError(f"{self.json_path}: {exc}") from None
        _check_annotations(self.json_path, data)
        images = {im["id"]: im for im in data.get("images", []) if "id" in im}
        self.annotations = data["annotations"]
        self.images = [images.get(a["image_id"], {"file_name": Path(a["file_name"]).with_suffix(".jpg").name})
                       for a in self.annotations]
        self._check_files_and_categories()

    def _check_files_and_categories(self) -> None:
        """Refuse, before any training or scoring starts, a segment of a category the file does not list
        (trained as void, then fatal when scored) and a missing image file (fatal mid-run): every image
        the JSON lists, one file-system check each (seconds for COCO's 118k), also for a partial download."""
        if self.category_records:
            known = {c.id for c in self.category_records}
            for ann in self.annotations:
                unknown = sorted({s["category_id"] for s in ann["segments_info"]} - known)
                if unknown:
                    raise ValueError(f"{self.json_path}: {ann['file_name']} has segments of category {unknown[:5]}, "
                                     f"which its categories do not list")
        if self.image_dir is not None:
            missing = [im["file_name"] for im in self.images if not (self.image_dir / im["file_name"]).is_file()]
            if missing:
                raise FileNotFoundError(f"{self.image_dir}: {len(missing)} image(s) of {self.json_path.name} "
                                        f"missing, e.g. {', '.join(missing[:3])}")

    @functools.cached_property
    def categories(self) -> CategoryTable:
        return CategoryTable(self.category_records)

    def __len__(self) -> int:
        return len(self.annotations)

    def load_segments(self, i: int) -> tuple[np.ndarray, dict[int, int], frozenset[int]]:
        """Image ``i``'s segments: segment ids, id -> category (in ``segments_info`` order), and the
        crowd segments' ids.

        Raises:
            ValueError: the PNG holds a segment id that ``segments_info`` does not list (typically a PNG
                written with its channels swapped: OpenCV writes BGR), which would otherwise be scored
                as neither a segment nor void.
        """
        ann = self.annotations[i]
        path = self.panoptic_dir / ann["file_name"]
        seg = rgb_to_id(read_rgb(path))
        info = {s["id"]: s["category_id"] for s in ann["segments_info"]}
        crowd = frozenset(s["id"] for s in ann["segments_info"] if s.get("iscrowd", 0))
        unlisted = np.setdiff1d(np.unique(seg), np.array([0, *info], dtype=np.int64))
        if len(unlisted):
            raise ValueError(f"{path}: segment ids {unlisted[:5].tolist()} are in the PNG but not in its "
                             f"segments_info (ids are R + 256 G + 256^2 B; a PNG written as BGR swaps them)")
        return seg, info, crowd

    def __getitem__(self, i: int) -> PanopticSample:
        if self.image_dir is None:
            raise ValueError("this dataset was opened without an image directory")
        seg, info, crowd = self.load_segments(i)
        image = read_rgb(self.image_dir / self.images[i]["file_name"])
        return PanopticSample(image, seg, info, crowd, Path(self.annotations[i]["file_name"]).stem)


def category_records(categories: CategoryTable) -> list[dict[str, Any]]:
    """A table as a COCO panoptic JSON's ``categories`` (id, name, isthing, color)."""
    return [{"id": c.id, "name": c.name, "isthing": int(c.is_thing), "color": list(c.color)}
            for c in categories.categories]
