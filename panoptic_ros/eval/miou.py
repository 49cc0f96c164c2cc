"""Semantic mean IoU from a confusion matrix (void ground truth ignored).

A pixel the prediction leaves void (unknown, or no segment) counts as a miss for its ground-truth
class: the node publishes void there, so that is what a user gets. Per class
IoU = TP / (TP + FP + FN); the mean is over the classes that occur in the ground truth or the
prediction.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from panoptic_ros.categories import VOID, CategoryTable


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
        """``{"miou": float, "per_class": {name: iou}}`` (fractions)."""
        tp = np.diag(self.confusion[:, : self.k]).astype(float)
        gt = self.confusion.sum(axis=1)
        pred = self.confusion[:, : self.k].sum(axis=0)
        union = gt + pred - tp
        seen = union > 0
        per_class = {c.name: float(tp[k] / union[k]) for k, c in enumerate(self.categories.categories) if seen[k]}
        return {"miou": float(np.mean(list(per_class.values()))) if per_class else 0.0, "per_class": per_class}
