"""Semantic mean IoU from a confusion matrix (void ground truth ignored).

A pixel the prediction leaves void (unknown, or no segment) counts as a miss for its ground-truth
class: the node publishes void there, so that is what a user gets. Per class
IoU = TP / (TP + FP + FN); the mean is over the classes that occur in the ground truth or the
prediction. The same matrix says where each class's pixels went (``confusion``): on a camera of your
own, that tells a class the model misses from one it takes for another.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from panoptic_ros.categories import VOID, CategoryTable

VOID_NAME = "void"  # the predicted "class" of a pixel left without a segment, in ``confusion``


class IoUAccumulator:
    """Per-class IoU over many images from one confusion matrix (void ground truth ignored; a
    pixel the prediction leaves void counts as a miss)."""

    def __init__(self, categories: CategoryTable) -> None:
        self.categories = categories
        self.index = np.full(VOID + 1, -1, np.int64)  # category id -> confusion row; VOID -> last column
        for k, c in enumerate(categories.categories):
            self.index[c.id] = k
        self.k = len(categories.categories)
        self.index[VOID] = self.k
        self.confusion = np.zeros((self.k, self.k + 1), np.int64)  # [gt class, predicted class or void]

    def add(self, gt: np.ndarray, pred: np.ndarray) -> None:
        """One image: semantic maps of category ids (uint8, ``VOID`` = 255) of one size."""
        if gt.shape != pred.shape:
            raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in size")
        g = self.index[gt.astype(np.int64).ravel()]
        p = self.index[pred.astype(np.int64).ravel()]
        labelled = (g >= 0) & (g < self.k)
        p = np.where(p >= 0, p, self.k)  # an id outside the table counts as void
        self.confusion += np.bincount(g[labelled] * (self.k + 1) + p[labelled],
                                      minlength=self.k * (self.k + 1)).reshape(self.k, self.k + 1)

    def merge(self, other: "IoUAccumulator") -> None:
        """Add ``other``'s images (over the same categories): one confusion matrix for both."""
        if other.categories != self.categories:
            raise ValueError("IoU accumulators over different categories cannot be merged")
        self.confusion += other.confusion

    def summary(self) -> dict[str, Any]:
        """``{"miou": float, "per_class": {name: iou}, "confusion": {gt name: {predicted name: pixels}}}``
        (IoUs as fractions). ``confusion`` has a row for each class with labelled pixels: how many of them
        were predicted as each class (``VOID_NAME``: left void), zeros left out."""
        tp = np.diag(self.confusion[:, : self.k]).astype(float)
        gt = self.confusion.sum(axis=1)
        pred = self.confusion[:, : self.k].sum(axis=0)
        union = gt + pred - tp
        seen = union > 0
        per_class = {c.name: float(tp[k] / union[k]) for k, c in enumerate(self.categories.categories) if seen[k]}
        names = [c.name for c in self.categories.categories] + [VOID_NAME]
        confusion = {names[k]: {names[j]: int(self.confusion[k, j]) for j in np.flatnonzero(self.confusion[k])}
                     for k in np.flatnonzero(gt)}
        return {"miou": float(np.mean(list(per_class.values()))) if per_class else 0.0, "per_class": per_class,
                "confusion": confusion}


def _largest(pixels: dict[str, int], total: int) -> str:
    """``"name share %"`` of the largest entry of ``pixels`` (share of ``total``), or ``"-"``."""
    name = max(pixels, key=pixels.__getitem__, default=None)
    return f"{name} {100 * pixels[name] / total:.1f} %" if name else "-"


def format_iou_table(per_class: dict[str, float], confusion: dict[str, dict[str, int]]) -> str:
    """A fixed-width text table (percent) of ``IoUAccumulator.summary``'s ``per_class`` and ``confusion``.

    Per class: its IoU; ``found``, the share of its labelled pixels given its label (recall); ``right``,
    the share of the pixels given its label that are it (precision); the class its own pixels were most
    often taken for (share of its pixels), and the class whose pixels most often got its label (share
    of the pixels given its label). IoU falls for either reason; the last two columns say which.
    """
    given = {name: {gt: row[name] for gt, row in confusion.items() if gt != name and row.get(name)}
             for name in per_class}  # per class: the other classes' pixels that got its label
    lines = [f"{'class':16s} {'IoU':>6s} {'found':>6s} {'right':>6s}  {'its pixels taken for':24s} its label given to"]
    for name, iou in per_class.items():
        row = confusion.get(name, {})
        labelled, hits = sum(row.values()), row.get(name, 0)
        predicted = hits + sum(given[name].values())
        found = f"{100 * hits / labelled:6.2f}" if labelled else f"{'-':>6s}"
        right = f"{100 * hits / predicted:6.2f}" if predicted else f"{'-':>6s}"
        taken = _largest({k: v for k, v in row.items() if k != name}, labelled)
        lines.append(f"{name:16s} {100 * iou:6.2f} {found} {right}  {taken:24s} {_largest(given[name], predicted)}")
    return "\n".join(lines)
