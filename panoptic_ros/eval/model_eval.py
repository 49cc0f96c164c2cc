"""Evaluate a model directly on a sample source: PQ, semantic mIoU and latency per image."""
from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch

from panoptic_ros.categories import VOID
from panoptic_ros.data.dataset import SampleSource
from panoptic_ros.data.sample import PanopticSample, panoptic_ids
from panoptic_ros.eval.miou import IoUAccumulator
from panoptic_ros.eval.pq import PQAccumulator
from panoptic_ros.device import synchronize
from panoptic_ros.heads import HeadKind
from panoptic_ros.inference.predictor import predict_at
from panoptic_ros.model.network import PanopticNet
from panoptic_ros.structures import COCO_ID_OFFSET, COCO_VOID_ID, category_of


def panoptic_to_segments(panoptic: np.ndarray) -> tuple[np.ndarray, dict[int, int]]:
    """Our panoptic image (``structures.panoptic_id``; ``VOID_ID`` void) -> (COCO segment ids, 0 void,
    id -> category)."""
    seg = panoptic.astype(np.int64) + COCO_ID_OFFSET
    return seg, {int(i): int(category_of(i - COCO_ID_OFFSET)) for i in np.unique(seg) if i != COCO_VOID_ID}


def semantic_from_panoptic(panoptic: np.ndarray) -> np.ndarray:
    """Our panoptic image -> the semantic image the node publishes beside it (category id, ``VOID``)."""
    return np.where(panoptic >= 0, category_of(panoptic), VOID).astype(np.uint8)


def semantic_map(sample: PanopticSample) -> np.ndarray:
    """The sample's ground truth as a semantic map of category ids (``VOID`` where unlabelled)."""
    return semantic_from_panoptic(panoptic_ids(sample.segments, sample.categories, set()))


def _same_size_batches(samples: Iterable[PanopticSample], batch_size: int) -> Iterator[list[PanopticSample]]:
    """Consecutive samples in batches of up to ``batch_size``, a new batch wherever the image size changes."""
    batch: list[PanopticSample] = []
    for sample in samples:
        if batch and (len(batch) == batch_size or sample.image.shape != batch[0].image.shape):
            yield batch
            batch = []
        batch.append(sample)
    if batch:
        yield batch


@torch.no_grad()
def evaluate_model(model: PanopticNet, source: SampleSource, head: HeadKind, mask_cues: bool,
                   limit: int | None = None, batch_size: int = 1,
                   inference_size: tuple[int, int] | None = None) -> dict[str, Any]:
    """PQ summary of ``model`` on the first ``limit`` samples, with ``miou`` (of the published semantic
    map, per class in ``miou_per_class``; where each class's pixels went in ``confusion``, see
    ``IoUAccumulator.summary``), ``latency_ms`` and ``fps``.

    ``inference_size``: see ``inference.predictor.predict_at`` (scored against the unchanged ground truth
    at each image's own size; the resize counts in the latency).
    """
    device = model.device
    acc = PQAccumulator(source.categories)
    iou = IoUAccumulator(source.categories)
    n = len(source) if limit is None else min(limit, len(source))
    seconds = 0.0
    for samples in _same_size_batches((source[i] for i in range(n)), batch_size):
        images = torch.from_numpy(np.stack([s.image for s in samples])).permute(0, 3, 1, 2).to(device)
        synchronize(device)
        t0 = time.perf_counter()
        results = [r.write_maps() for r in predict_at(model, images, mask_cues, head, inference_size)]
        synchronize(device)
        seconds += time.perf_counter() - t0
        for s, r in zip(samples, results):
            pred, pred_cats = panoptic_to_segments(r.panoptic.cpu().numpy())
            acc.add(s.segments, s.categories, s.crowd, pred, pred_cats)
            iou.add(semantic_map(s), r.semantic.cpu().numpy())
    summary = acc.summary()
    semantic = iou.summary()
    summary["miou"], summary["miou_per_class"] = semantic["miou"], semantic["per_class"]
    summary["confusion"] = semantic["confusion"]
    summary["latency_ms"] = 1000 * seconds / max(n, 1)
    summary["fps"] = n / seconds if seconds else 0.0
    summary["images"] = n
    return summary
