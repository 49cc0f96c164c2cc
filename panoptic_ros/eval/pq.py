"""Panoptic Quality (Kirillov et al. 2019), as the COCO panoptic definition computes it.

Per image: a predicted and a ground-truth segment of the same category match when their IoU > 0.5
(matches are then unique). Pixels that are void in the ground truth do not count against a
prediction (they leave its IoU union); a prediction that is unmatched is a false positive unless
more than half of it lies on ground-truth void or on a crowd region of its own category (the last
one listed, when there are several). Crowd ground-truth segments are never matched and never false
negatives; every other listed ground-truth segment that is not matched is a false negative, even one
with no pixels, and ground-truth pixels of an unlisted id are neither void nor a segment, exactly as
panopticapi's ``pq_compute`` counts them (``CocoPanopticDataset`` refuses a PNG whose ids its
``segments_info`` does not list, most often a PNG written with its channels swapped, rather than score it
so). Per category PQ = sum IoU(TP) / (TP + FP/2 + FN/2) =
SQ * RQ; averages over the categories seen (TP+FP+FN > 0).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterable

import numpy as np

from panoptic_ros.categories import Category
from panoptic_ros.structures import COCO_VOID_ID as VOID_ID  # segment id of void pixels in both maps
_OFFSET = 1 << 32


@dataclasses.dataclass
class _Stat:
    iou: float = 0.0
    tp: int = 0
    fp: int = 0
    fn: int = 0


class PQAccumulator:
    """PQ / SQ / RQ per category over many images (Kirillov et al.: segments match at IoU > 0.5;
    crowd regions and void are not held against a prediction).

    Categories are a plain sequence, not a ``CategoryTable``: files of any COCO-panoptic data set are
    scored, whatever its ids or kinds; names label the report, so they must differ.
    """
    def __init__(self, categories: Iterable[Category]) -> None:
        self.categories = tuple(categories)
        names = [c.name for c in self.categories]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"category names must be unique (they label the report); repeated: {repeated[:5]}")
        self.stats = {c.id: _Stat() for c in self.categories}

    def add(self, gt: np.ndarray, gt_cats: dict[int, int], gt_crowd: set[int] | frozenset[int],
            pred: np.ndarray, pred_cats: dict[int, int]) -> None:
        """One image: segment-id maps (0 = void) and their id -> category dictionaries (``gt_cats`` in
        the ground truth's listing order, which picks a category's crowd region when it has several)."""
        if VOID_ID in gt_cats or VOID_ID in pred_cats:
            raise ValueError(f"segment id {VOID_ID} is void and cannot be given a category")
        if gt.shape != pred.shape:
            raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in size")
        for which, cats in (("ground-truth", gt_cats), ("predicted", pred_cats)):
            unknown = {sid: c for sid, c in cats.items() if c not in self.stats}
            if unknown:
                sid, cat = next(iter(unknown.items()))
                raise ValueError(f"{which} segment {sid} has category {cat}, which is not in the evaluation's "
                                 f"categories {sorted(self.stats)}")
        gt = gt.astype(np.int64)
        pred = pred.astype(np.int64)
        present = set(np.unique(pred).tolist())
        unknown_pred = present - set(pred_cats) - {VOID_ID}
        if unknown_pred:
            raise ValueError(f"prediction has segment ids without a category: {sorted(unknown_pred)[:5]}")
        absent_pred = set(pred_cats) - present
        if absent_pred:  # as panopticapi's pq_compute refuses them
            raise ValueError(f"predicted segments {sorted(absent_pred)[:5]} are listed but have no pixels")
        pairs, counts = np.unique(gt * _OFFSET + pred, return_counts=True)
        inter = {(int(p // _OFFSET), int(p % _OFFSET)): int(c) for p, c in zip(pairs, counts)}
        gt_area: dict[int, int] = {}
        pred_area: dict[int, int] = {}
        for (g, p), c in inter.items():
            gt_area[g] = gt_area.get(g, 0) + c
            pred_area[p] = pred_area.get(p, 0) + c

        matched_gt, matched_pred = set(), set()
        for (g, p), c in inter.items():
            if g not in gt_cats or p == VOID_ID or g in gt_crowd or gt_cats[g] != pred_cats[p]:
                continue
            union = pred_area[p] + gt_area[g] - c - inter.get((VOID_ID, p), 0)
            iou = c / union
            if iou > 0.5:
                st = self.stats[gt_cats[g]]
                st.tp += 1
                st.iou += iou
                matched_gt.add(g)
                matched_pred.add(p)

        crowd_of_cat: dict[int, int] = {}
        for g, cat in gt_cats.items():
            if g in gt_crowd:
                crowd_of_cat[cat] = g
            elif g not in matched_gt:
                self.stats[cat].fn += 1
        for p, area in pred_area.items():
            if p == VOID_ID or p in matched_pred:
                continue
            cat = pred_cats[p]
            ignored = inter.get((VOID_ID, p), 0)
            if cat in crowd_of_cat:
                ignored += inter.get((crowd_of_cat[cat], p), 0)
            if ignored / area > 0.5:
                continue
            self.stats[cat].fp += 1

    def merge(self, other: "PQAccumulator") -> None:
        """Add ``other``'s images (scored over the same categories): PQ over both sets of images, as if
        every image had been added here (a camera rig's PQ from its cameras')."""
        if [c.id for c in other.categories] != [c.id for c in self.categories]:
            raise ValueError("PQ accumulators over different categories cannot be merged")
        for cat, stat in other.stats.items():
            mine = self.stats[cat]
            mine.iou, mine.tp, mine.fp, mine.fn = (mine.iou + stat.iou, mine.tp + stat.tp, mine.fp + stat.fp,
                                                   mine.fn + stat.fn)

    def summary(self) -> dict[str, Any]:
        """``{"All"|"Things"|"Stuff": {pq, sq, rq, n}, "per_class": {name: {pq, sq, rq, tp, fp, fn}}}``."""
        per_class: dict[str, dict[str, float]] = {}
        for c in self.categories:
            st = self.stats[c.id]
            if st.tp + st.fp + st.fn == 0:
                continue
            sq = st.iou / st.tp if st.tp else 0.0
            rq = st.tp / (st.tp + 0.5 * st.fp + 0.5 * st.fn)
            per_class[c.name] = {"pq": sq * rq, "sq": sq, "rq": rq, "tp": st.tp, "fp": st.fp, "fn": st.fn,
                                 "is_thing": c.is_thing}
        out: dict[str, Any] = {}
        for group, keep in (("All", lambda v: True), ("Things", lambda v: v["is_thing"]),
                            ("Stuff", lambda v: not v["is_thing"])):
            vals = [v for v in per_class.values() if keep(v)]
            n = len(vals)
            out[group] = {k: (sum(v[k] for v in vals) / n if n else 0.0) for k in ("pq", "sq", "rq")} | {"n": n}
        out["per_class"] = per_class
        return out


def format_table(summary: dict[str, Any]) -> str:
    """A fixed-width text table of a ``summary`` (percent, as papers report)."""
    lines = [f"{'':10s} {'PQ':>6s} {'SQ':>6s} {'RQ':>6s} {'N':>4s}"]
    for group in ("All", "Things", "Stuff"):
        g = summary[group]
        lines.append(f"{group:10s} {100 * g['pq']:6.2f} {100 * g['sq']:6.2f} {100 * g['rq']:6.2f} {g['n']:4d}")
    lines.append("")
    lines.append(f"{'class':16s} {'PQ':>6s} {'SQ':>6s} {'RQ':>6s} {'TP':>5s} {'FP':>5s} {'FN':>5s}")
    for name, v in summary["per_class"].items():
        lines.append(f"{name:16s} {100 * v['pq']:6.2f} {100 * v['sq']:6.2f} {100 * v['rq']:6.2f} "
                     f"{v['tp']:5d} {v['fp']:5d} {v['fn']:5d}")
    return "\n".join(lines)
